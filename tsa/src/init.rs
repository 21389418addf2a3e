//! `atesto tsa init`: a root CA and a TSA certificate that fit the profile
//! (`chain`): the leaf has keyUsage digitalSignature and extendedKeyUsage
//! timeStamping only, both critical. Options, keys, the root and the files
//! are `atesto ca init`'s (`atesto_ca::issuance::init`).

use std::path::{Path, PathBuf};

use atesto_ca::issuance::init::ca_params;
use atesto_ca::issuance::signer::{FileKey, write_new_file};
use atesto_ca::issuance::{InitOptions, IssuanceError, SignerConfig};
use rcgen::{BasicConstraints, CustomExtension, IsCa, Issuer, KeyUsagePurpose};

use crate::TsaError;

/// extendedKeyUsage (2.5.29.37) holding id-kp-timeStamping alone.
const EKU_OID: &[u64] = &[2, 5, 29, 37];
const EKU_TIME_STAMPING_DER: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];

/// The files written, and the signer configuration that uses them.
#[derive(Debug, Clone)]
pub struct InitOutput {
    pub files: Vec<PathBuf>,
    pub signer_config: SignerConfig,
}

/// Writes `root.pem`, `root-key.pem`, `tsa.pem`, `tsa-key.pem` (keys mode
/// 0600) and `chain.pem` (TSA certificate, root) into `dir`, refusing to
/// replace any of them. The TSA certificate's CN is the root's plus
/// " timestamping"; `options` are those of `atesto ca init`.
pub fn init_chain(dir: &Path, options: &InitOptions) -> Result<InitOutput, TsaError> {
    let files = [
        "root.pem",
        "root-key.pem",
        "tsa.pem",
        "tsa-key.pem",
        "chain.pem",
    ]
    .map(|name| dir.join(name));
    let password = options.prepare(dir, &files.iter().collect::<Vec<_>>())?;
    let [root_cert, root_key_path, tsa_cert, tsa_key_path, chain] = &files;
    let signing = |e| TsaError::Signer(IssuanceError::Signing(e));

    let root_key = FileKey::generate(options.curve())?;
    let root_params = ca_params(
        options,
        options.common_name.clone(),
        BasicConstraints::Unconstrained,
    )?;
    let root = root_params.self_signed(&root_key).map_err(signing)?;

    let tsa_key = FileKey::generate(options.curve())?;
    let mut tsa_params = ca_params(
        options,
        format!("{} timestamping", options.common_name),
        BasicConstraints::Unconstrained,
    )?;
    tsa_params.is_ca = IsCa::ExplicitNoCa;
    tsa_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    tsa_params.use_authority_key_identifier_extension = true;
    let mut eku = CustomExtension::from_oid_content(EKU_OID, EKU_TIME_STAMPING_DER.to_vec());
    eku.set_criticality(true);
    tsa_params.custom_extensions = vec![eku];
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let tsa = tsa_params
        .signed_by(&tsa_key, &root_issuer)
        .map_err(signing)?;

    root_key.write_new(root_key_path, password.as_deref())?;
    tsa_key.write_new(tsa_key_path, password.as_deref())?;
    write_new_file(root_cert, root.pem().as_bytes(), 0o644)?;
    write_new_file(tsa_cert, tsa.pem().as_bytes(), 0o644)?;
    write_new_file(
        chain,
        format!("{}{}", tsa.pem(), root.pem()).as_bytes(),
        0o644,
    )?;
    Ok(InitOutput {
        signer_config: SignerConfig {
            chain: chain.clone(),
            key: Some(tsa_key_path.clone()),
            key_password_env: options.password_env.clone(),
            pkcs11: None,
        },
        files: files.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tsa;
    use crate::config::TsaConfig;
    use crate::request::TimestampRequest;

    fn options() -> InitOptions {
        InitOptions {
            p384: false,
            organization: "Atesto test".into(),
            common_name: "atesto test".into(),
            validity_years: 1,
            password_env: None,
        }
    }

    #[test]
    fn a_new_chain_passes_the_self_check_and_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let output = init_chain(dir.path(), &options()).unwrap();
        assert!(
            init_chain(dir.path(), &options()).is_err(),
            "never overwrites"
        );
        let tsa = Tsa::open(&TsaConfig::new(output.signer_config)).unwrap();
        assert_eq!(tsa.chain_der().len(), 2);
        let json = serde_json::json!({
            "artifactHash": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]),
            "hashAlgorithm": "sha256",
        });
        let request = TimestampRequest::from_json(json.to_string().as_bytes()).unwrap();
        assert!(!tsa.timestamp(&request).unwrap().is_empty());
    }

    #[test]
    fn a_chain_that_breaks_the_profile_is_refused() {
        // The CA's chain: its leaf is a CA with EKU codeSigning.
        let dir = tempfile::tempdir().unwrap();
        let ca = atesto_ca::issuance::init_chain(dir.path(), &options()).unwrap();
        let refused = Tsa::open(&TsaConfig::new(ca.signer_config)).err().unwrap();
        assert!(refused.to_string().contains("chain[0]"), "{refused}");

        // A TSA key that is not the certificate's.
        let tsa_dir = tempfile::tempdir().unwrap();
        let mut good = init_chain(tsa_dir.path(), &options())
            .unwrap()
            .signer_config;
        good.key = Some(tsa_dir.path().join("root-key.pem"));
        let refused = Tsa::open(&TsaConfig::new(good)).err().unwrap();
        assert!(
            matches!(refused, TsaError::KeyDoesNotMatchCertificate),
            "{refused}"
        );
    }
}
