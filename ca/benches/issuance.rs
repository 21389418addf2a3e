//! Per-certificate cost of issuance with a file key: precertificate, then
//! the final certificate with an SCT made here (the CT round trip is not
//! the CA's CPU work).

use std::path::Path;

use atesto_ca::issuance::{CertificateIssuer, InitOptions, init_chain};
use atesto_ca::principal::{FulcioExtension, Principal, SubjectAltName};
use atesto_common::ct::Sct;
use criterion::{Criterion, criterion_group, criterion_main};

fn issuance(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = init_chain(
        dir.path(),
        &InitOptions {
            p384: false,
            organization: "bench".into(),
            common_name: "bench CA".into(),
            validity_years: 1,
            password_env: None,
        },
    )
    .expect("init_chain");
    let issuer = CertificateIssuer::load(&ca.signer_config, Path::new("/")).expect("load");
    let subject =
        rcgen::PublicKeyData::subject_public_key_info(&rcgen::KeyPair::generate().expect("key"));
    let principal = Principal {
        challenge: "repo:org/repo:ref:refs/heads/main".into(),
        san: SubjectAltName::Uri(
            "https://github.com/org/repo/.github/workflows/ci.yml@refs/heads/main".into(),
        ),
        extensions: (9..=23)
            .map(|arc| FulcioExtension::utf8_string(arc, "https://github.com/org/repo"))
            .chain([FulcioExtension::raw(
                1,
                "https://token.actions.githubusercontent.com",
            )])
            .collect(),
    };
    // A DigitallySigned of typical size (ECDSA P-256 DER is 70-72 bytes).
    let mut digitally_signed = vec![4, 3, 0, 71];
    digitally_signed.extend_from_slice(&[0x30; 71]);
    let sct = Sct::new(&[7; 32], 1_700_000_000_000, &digitally_signed);

    c.bench_function("precertificate + finish (P-256 file key)", |b| {
        b.iter(|| {
            let precert = issuer
                .precertificate(&subject, &principal)
                .expect("precert");
            issuer.finish(precert, &sct).expect("finish")
        })
    });
    c.bench_function("issue_without_sct (P-256 file key)", |b| {
        b.iter(|| {
            issuer
                .issue_without_sct(&subject, &principal)
                .expect("issue")
        })
    });
}

criterion_group!(benches, issuance);
criterion_main!(benches);
