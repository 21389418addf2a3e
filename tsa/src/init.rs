//! `atesto tsa init`: a root CA and a TSA certificate that fit the profile
//! (`chain`): the leaf has keyUsage digitalSignature and extendedKeyUsage
//! timeStamping only, both critical. Keys and files as `atesto ca init`
//! writes them (`atesto_ca::issuance::signer`).

use std::path::{Path, PathBuf};

use atesto_ca::issuance::IssuanceError;
use atesto_ca::issuance::SignerConfig;
use atesto_ca::issuance::profile::random_serial;
use atesto_ca::issuance::signer::{CaCurve, FileKey, password_from_env, write_new_file};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyUsagePurpose,
};

use crate::TsaError;

/// extendedKeyUsage (2.5.29.37) holding id-kp-timeStamping alone.
const EKU_OID: &[u64] = &[2, 5, 29, 37];
const EKU_TIME_STAMPING_DER: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];

#[derive(Debug, Clone)]
pub struct InitOptions {
    /// ECDSA P-384 keys (with SHA-384 signatures) instead of P-256.
    pub p384: bool,
    pub organization: String,
    /// The root's CN; the TSA certificate's is this plus " timestamping".
    pub common_name: String,
    pub validity_years: u32,
    /// Environment variable holding a password: both keys are then written
    /// encrypted (PKCS#8 PBES2).
    pub password_env: Option<String>,
}

/// The files written, and the signer configuration that uses them.
#[derive(Debug, Clone)]
pub struct InitOutput {
    pub files: Vec<PathBuf>,
    pub signer_config: SignerConfig,
}

fn params(
    options: &InitOptions,
    common_name: String,
    is_ca: IsCa,
) -> Result<CertificateParams, TsaError> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, options.organization.as_str());
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = is_ca;
    params.serial_number = Some(random_serial());
    let not_before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(|e| TsaError::Internal(e.to_string()))?;
    params.not_before = not_before;
    params.not_after = not_before + time::Duration::days(365 * i64::from(options.validity_years));
    Ok(params)
}

/// Writes `root.pem`, `root-key.pem`, `tsa.pem`, `tsa-key.pem` (keys mode
/// 0600) and `chain.pem` (TSA certificate, root) into `dir`, refusing to
/// replace any of them.
pub fn init_chain(dir: &Path, options: &InitOptions) -> Result<InitOutput, TsaError> {
    if options.validity_years == 0 {
        return Err(TsaError::Internal(
            "validity must be at least one year".into(),
        ));
    }
    let password = options
        .password_env
        .as_deref()
        .map(password_from_env)
        .transpose()?;
    let [root_cert, root_key_path, tsa_cert, tsa_key_path, chain] = [
        "root.pem",
        "root-key.pem",
        "tsa.pem",
        "tsa-key.pem",
        "chain.pem",
    ]
    .map(|name| dir.join(name));
    let files = vec![
        root_cert.clone(),
        root_key_path.clone(),
        tsa_cert.clone(),
        tsa_key_path.clone(),
        chain.clone(),
    ];
    // Checked before writing anything, so a refusal leaves no half-made chain.
    if let Some(existing) = files.iter().find(|path| path.exists()) {
        return Err(IssuanceError::Exists {
            path: existing.display().to_string(),
        }
        .into());
    }
    std::fs::create_dir_all(dir).map_err(|source| IssuanceError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let curve = if options.p384 {
        CaCurve::P384
    } else {
        CaCurve::P256
    };
    let signing = |e| TsaError::Signer(IssuanceError::Signing(e));

    let root_key = FileKey::generate(curve)?;
    let mut root_params = params(
        options,
        options.common_name.clone(),
        IsCa::Ca(BasicConstraints::Unconstrained),
    )?;
    root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root = root_params.self_signed(&root_key).map_err(signing)?;

    let tsa_key = FileKey::generate(curve)?;
    let mut tsa_params = params(
        options,
        format!("{} timestamping", options.common_name),
        IsCa::ExplicitNoCa,
    )?;
    tsa_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    tsa_params.use_authority_key_identifier_extension = true;
    let mut eku = CustomExtension::from_oid_content(EKU_OID, EKU_TIME_STAMPING_DER.to_vec());
    eku.set_criticality(true);
    tsa_params.custom_extensions = vec![eku];
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let tsa = tsa_params
        .signed_by(&tsa_key, &root_issuer)
        .map_err(signing)?;

    root_key.write_new(&root_key_path, password.as_deref())?;
    tsa_key.write_new(&tsa_key_path, password.as_deref())?;
    write_new_file(&root_cert, root.pem().as_bytes(), 0o644)?;
    write_new_file(&tsa_cert, tsa.pem().as_bytes(), 0o644)?;
    write_new_file(
        &chain,
        format!("{}{}", tsa.pem(), root.pem()).as_bytes(),
        0o644,
    )?;
    Ok(InitOutput {
        files,
        signer_config: SignerConfig {
            chain,
            key: Some(tsa_key_path),
            key_password_env: options.password_env.clone(),
            pkcs11: None,
        },
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
        let ca = atesto_ca::issuance::init_chain(
            dir.path(),
            &atesto_ca::issuance::InitOptions {
                p384: false,
                organization: "Atesto test".into(),
                common_name: "atesto test".into(),
                validity_years: 1,
                password_env: None,
            },
        )
        .unwrap();
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
