//! `atesto ca init`: a new root and intermediate that fit the leaf profile.
//!
//! Root: BasicConstraints cA (critical), KeyUsage keyCertSign|cRLSign
//! (critical), SKI. Intermediate: BasicConstraints cA pathLen 0 (critical),
//! the same KeyUsage, EKU codeSigning (sigstore-rs requires it along the
//! chain), SKI, AKI. Subjects are O + CN, UTF8String.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose,
};

use super::curve::CaCurve;
use super::profile::random_serial;
use super::signer::{FileKey, write_new_file};
use super::signer_config::password_from_env;
use super::{IssuanceError, SignerConfig};

/// What `init_chain` makes.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// ECDSA P-384 keys (with SHA-384 signatures) instead of P-256.
    pub p384: bool,
    pub organization: String,
    /// The root's CN; the intermediate's is this plus " intermediate".
    pub common_name: String,
    pub validity_years: u32,
    /// Environment variable holding a password: both keys are then written
    /// encrypted (PKCS#8 PBES2).
    pub password_env: Option<String>,
}

/// The files written, and the signer configuration that uses them.
#[derive(Debug, Clone)]
pub struct InitOutput {
    pub root_cert: PathBuf,
    pub root_key: PathBuf,
    pub intermediate_cert: PathBuf,
    pub intermediate_key: PathBuf,
    /// Intermediate then root: the `chain` of the signer configuration.
    pub chain: PathBuf,
    pub signer_config: SignerConfig,
    /// `signer_config` as YAML, ready to paste under the CA's `signer:`.
    pub signer_config_yaml: String,
}

impl InitOptions {
    /// The curve of every key these options make.
    pub fn curve(&self) -> CaCurve {
        if self.p384 {
            CaCurve::P384
        } else {
            CaCurve::P256
        }
    }

    /// Checks the options and that none of `files` exists, creates `dir`,
    /// and returns the password for the keys when they are to be encrypted.
    /// Checked before writing anything, so a refusal leaves nothing half-made.
    pub fn prepare(&self, dir: &Path, files: &[&PathBuf]) -> Result<Option<String>, IssuanceError> {
        if self.validity_years == 0 {
            return Err(IssuanceError::Config(
                "validity must be at least one year".into(),
            ));
        }
        let password = self
            .password_env
            .as_deref()
            .map(password_from_env)
            .transpose()?;
        if let Some(existing) = files.iter().find(|path| path.exists()) {
            return Err(IssuanceError::Exists {
                path: existing.display().to_string(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| IssuanceError::Write {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(password)
    }
}

/// A CA certificate's parameters: O and CN, cA with `constraints`, keyUsage
/// keyCertSign and cRLSign, a random serial, valid from now for the years asked.
pub fn ca_params(
    options: &InitOptions,
    common_name: String,
    constraints: BasicConstraints,
) -> Result<CertificateParams, IssuanceError> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, options.organization.as_str());
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial());
    let not_before = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .map_err(|e| IssuanceError::Encoding(e.to_string()))?;
    params.not_before = not_before;
    params.not_after = not_before + time::Duration::days(365 * i64::from(options.validity_years));
    Ok(params)
}

/// Writes `root.pem`, `root-key.pem`, `intermediate.pem`,
/// `intermediate-key.pem` (keys mode 0600) and `chain.pem` into `dir`,
/// refusing to replace any of them.
pub fn init_chain(dir: &Path, options: &InitOptions) -> Result<InitOutput, IssuanceError> {
    let root_cert = dir.join("root.pem");
    let root_key_path = dir.join("root-key.pem");
    let intermediate_cert = dir.join("intermediate.pem");
    let intermediate_key_path = dir.join("intermediate-key.pem");
    let chain = dir.join("chain.pem");
    let password = options.prepare(
        dir,
        &[
            &root_cert,
            &root_key_path,
            &intermediate_cert,
            &intermediate_key_path,
            &chain,
        ],
    )?;
    let curve = options.curve();
    let root_key = FileKey::generate(curve)?;
    let root_params = ca_params(
        options,
        options.common_name.clone(),
        BasicConstraints::Unconstrained,
    )?;
    let root = root_params
        .self_signed(&root_key)
        .map_err(IssuanceError::Signing)?;

    let intermediate_key = FileKey::generate(curve)?;
    let mut intermediate_params = ca_params(
        options,
        format!("{} intermediate", options.common_name),
        BasicConstraints::Constrained(0),
    )?;
    intermediate_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    intermediate_params.use_authority_key_identifier_extension = true;
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let intermediate = intermediate_params
        .signed_by(&intermediate_key, &root_issuer)
        .map_err(IssuanceError::Signing)?;

    root_key.write_new(&root_key_path, password.as_deref())?;
    intermediate_key.write_new(&intermediate_key_path, password.as_deref())?;
    write_new_file(&root_cert, root.pem().as_bytes(), 0o644)?;
    write_new_file(&intermediate_cert, intermediate.pem().as_bytes(), 0o644)?;
    let chain_pem = format!("{}{}", intermediate.pem(), root.pem());
    write_new_file(&chain, chain_pem.as_bytes(), 0o644)?;

    let signer_config = SignerConfig {
        chain: chain.clone(),
        key: Some(intermediate_key_path.clone()),
        key_password_env: options.password_env.clone(),
        pkcs11: None,
    };
    let signer_config_yaml = serde_yaml_ng::to_string(&signer_config)
        .map_err(|e| IssuanceError::Encoding(e.to_string()))?;
    Ok(InitOutput {
        root_cert,
        root_key: root_key_path,
        intermediate_cert,
        intermediate_key: intermediate_key_path,
        chain,
        signer_config,
        signer_config_yaml,
    })
}
