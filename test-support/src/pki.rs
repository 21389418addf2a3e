//! Test certificate authorities and leaf certificates, made with rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, PublicKeyData,
};

/// The CT poison extension's OID (RFC 6962 §3.1), as rcgen takes it.
pub const POISON_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];

/// A root and an intermediate that issues the leaves, both ECDSA P-256.
pub struct TestCa {
    pub root: Vec<u8>,
    pub root_pem: String,
    pub intermediate: Vec<u8>,
    /// DER SPKI of the intermediate, the precertificates' issuer.
    pub intermediate_spki: Vec<u8>,
    pub issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A fresh root and intermediate named `{name} root` and `{name} intermediate`.
    pub fn new(name: &str) -> TestCa {
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params(
            &format!("{name} root"),
            IsCa::Ca(BasicConstraints::Unconstrained),
        );
        let root = root_params.self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(root_params, root_key);
        let key = KeyPair::generate().unwrap();
        let params = ca_params(
            &format!("{name} intermediate"),
            IsCa::Ca(BasicConstraints::Constrained(0)),
        );
        let intermediate = params.signed_by(&key, &root_issuer).unwrap();
        TestCa {
            root: root.der().to_vec(),
            root_pem: root.pem(),
            intermediate: intermediate.der().to_vec(),
            intermediate_spki: key.subject_public_key_info(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The DER of `params` for `key`, issued by the intermediate.
    pub fn issue(&self, params: &CertificateParams, key: &KeyPair) -> Vec<u8> {
        params.signed_by(key, &self.issuer).unwrap().der().to_vec()
    }
}

/// A CA certificate's parameters: only a common name and the basic constraints.
pub fn ca_params(name: &str, is_ca: IsCa) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = is_ca;
    params
}

/// The critical CT poison extension that makes a certificate a precertificate.
pub fn poison() -> CustomExtension {
    let mut poison = CustomExtension::from_oid_content(POISON_OID, vec![5, 0]);
    poison.set_criticality(true);
    poison
}

/// A leaf for DNS name `name`: with EKU codeSigning when `code_signing`,
/// with the poison when `poisoned`.
pub fn leaf_params(name: &str, code_signing: bool, poisoned: bool) -> CertificateParams {
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    if code_signing {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    }
    if poisoned {
        params.custom_extensions.push(poison());
    }
    params
}
