//! A CA key on a PKCS#11 token (an HSM, SoftHSM2 in tests).
//!
//! The key is found by label; its public half is read from the token's public
//! key object (CKA_EC_PARAMS + CKA_EC_POINT) and checked against the CA
//! certificate by the start-up self-check. Signing is CKM_ECDSA over a digest
//! computed here, and the token's raw `r || s` becomes a DER signature.
//!
//! Sessions are `Send` but not `Sync`, and a session runs one operation at a
//! time. A pool (`Mutex<Vec<Session>>`) lets concurrent issuances sign in
//! parallel on tokens that support it: a signer takes an idle session or opens
//! one, and puts it back afterwards, so the pool grows to the peak number of
//! concurrent signatures (bounded by the blocking threads that call in). The
//! mutex is held only to pop and push, never across a signature. Login state
//! belongs to the application, not to a session, and lasts while any session
//! is open: one session, opened to log in, stays open for that reason alone.

use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};

use super::IssuanceError;
use super::curve::CaCurve;
use super::signer_config::{Pkcs11Config, password_from_env};
use crate::principal::der_tlv;

/// DER OIDs of the supported curves, as CKA_EC_PARAMS holds them.
const EC_PARAMS_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const EC_PARAMS_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

pub struct Pkcs11Key {
    context: Pkcs11,
    slot: Slot,
    private_key: ObjectHandle,
    /// Uncompressed EC point.
    public_point: Vec<u8>,
    curve: CaCurve,
    idle_sessions: Mutex<Vec<Session>>,
    /// Keeps the login alive (see the module comment); never signs.
    _login_session: Mutex<Session>,
}

fn pkcs11_error(step: &'static str) -> impl Fn(CryptokiError) -> IssuanceError {
    move |error| IssuanceError::Pkcs11(format!("{step}: {error}"))
}

impl Pkcs11Key {
    /// Loads the module, logs in to the token and finds the key by label.
    pub fn open(config: &Pkcs11Config, module: &std::path::Path) -> Result<Self, IssuanceError> {
        let pin = password_from_env(&config.pin_env)?;
        let context = Pkcs11::new(module).map_err(|e| {
            IssuanceError::Pkcs11(format!(
                "loading the PKCS#11 module {}: {e}",
                module.display()
            ))
        })?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another signer of this process initialised the module already.
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => return Err(pkcs11_error("C_Initialize")(error)),
        }
        let slot = find_token(&context, &config.token_label)?;
        let login_session = context
            .open_ro_session(slot)
            .map_err(pkcs11_error("opening a session"))?;
        match login_session.login(UserType::User, Some(&AuthPin::from(pin))) {
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(error) => return Err(pkcs11_error("logging in to the token")(error)),
        }

        let label = || Attribute::Label(config.key_label.as_bytes().to_vec());
        let private_key = single_object(
            &login_session,
            &[Attribute::Class(ObjectClass::PRIVATE_KEY), label()],
            "private key",
            &config.key_label,
        )?;
        let public_key = single_object(
            &login_session,
            &[Attribute::Class(ObjectClass::PUBLIC_KEY), label()],
            "public key",
            &config.key_label,
        )?;
        let (curve, public_point) = read_ec_public_key(&login_session, public_key)?;
        Ok(Self {
            context,
            slot,
            private_key,
            public_point,
            curve,
            idle_sessions: Mutex::new(Vec::new()),
            _login_session: Mutex::new(login_session),
        })
    }

    pub fn curve(&self) -> CaCurve {
        self.curve
    }

    fn take_session(&self) -> Result<Session, IssuanceError> {
        let idle = self
            .idle_sessions
            .lock()
            .map_err(|_| IssuanceError::Pkcs11("the session pool is poisoned".into()))?
            .pop();
        match idle {
            Some(session) => Ok(session),
            None => self
                .context
                .open_ro_session(self.slot)
                .map_err(pkcs11_error("opening a session")),
        }
    }

    fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, IssuanceError> {
        let session = self.take_session()?;
        let raw = session
            .sign(&Mechanism::Ecdsa, self.private_key, digest)
            .map_err(pkcs11_error("C_Sign"))?;
        // A session that failed is dropped (closed); a good one goes back.
        if let Ok(mut idle) = self.idle_sessions.lock() {
            idle.push(session);
        }
        raw_ecdsa_to_der(&raw, self.curve.field_len())
    }
}

fn find_token(context: &Pkcs11, token_label: &str) -> Result<Slot, IssuanceError> {
    let slots = context
        .get_slots_with_token()
        .map_err(pkcs11_error("listing slots"))?;
    let mut labels = Vec::new();
    for slot in slots {
        let info = context
            .get_token_info(slot)
            .map_err(pkcs11_error("reading token info"))?;
        let label = info.label().trim_end().to_string();
        if label == token_label {
            return Ok(slot);
        }
        labels.push(label);
    }
    Err(IssuanceError::Pkcs11(format!(
        "no token labelled {token_label:?}; tokens present: {labels:?}"
    )))
}

fn single_object(
    session: &Session,
    template: &[Attribute],
    what: &str,
    key_label: &str,
) -> Result<ObjectHandle, IssuanceError> {
    let found = session
        .find_objects(template)
        .map_err(pkcs11_error("C_FindObjects"))?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(IssuanceError::Pkcs11(format!(
            "the token has no {what} labelled {key_label:?}"
        ))),
        many => Err(IssuanceError::Pkcs11(format!(
            "the token has {} objects of type {what} labelled {key_label:?}: labels must be unique",
            many.len()
        ))),
    }
}

fn read_ec_public_key(
    session: &Session,
    public_key: ObjectHandle,
) -> Result<(CaCurve, Vec<u8>), IssuanceError> {
    let attributes = session
        .get_attributes(
            public_key,
            &[AttributeType::EcParams, AttributeType::EcPoint],
        )
        .map_err(pkcs11_error("reading the public key"))?;
    let mut params = None;
    let mut point = None;
    for attribute in attributes {
        match attribute {
            Attribute::EcParams(value) => params = Some(value),
            Attribute::EcPoint(value) => point = Some(value),
            _ => {}
        }
    }
    let curve = match params.as_deref() {
        Some(EC_PARAMS_P256) => CaCurve::P256,
        Some(EC_PARAMS_P384) => CaCurve::P384,
        _ => return Err(IssuanceError::UnsupportedCaKey),
    };
    let point =
        point.ok_or_else(|| IssuanceError::Pkcs11("the public key has no CKA_EC_POINT".into()))?;
    let uncompressed_len = 1 + 2 * curve.field_len();
    // PKCS#11 says DER OCTET STRING; some modules return the bare point.
    let bare = if point.len() == uncompressed_len {
        point
    } else {
        let header = point.len().checked_sub(uncompressed_len);
        match header {
            Some(2) if point[0] == 0x04 && usize::from(point[1]) == uncompressed_len => {
                point[2..].to_vec()
            }
            _ => {
                return Err(IssuanceError::Pkcs11(
                    "CKA_EC_POINT is not an uncompressed point".into(),
                ));
            }
        }
    };
    if bare.first() != Some(&0x04) {
        return Err(IssuanceError::Pkcs11(
            "CKA_EC_POINT is not an uncompressed point".into(),
        ));
    }
    Ok((curve, bare))
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from raw `r || s`.
fn raw_ecdsa_to_der(raw: &[u8], field_len: usize) -> Result<Vec<u8>, IssuanceError> {
    if raw.len() != 2 * field_len {
        return Err(IssuanceError::Pkcs11(format!(
            "the token returned a {}-byte ECDSA signature, expected {}",
            raw.len(),
            2 * field_len
        )));
    }
    let integer = |scalar: &[u8]| {
        let trimmed = match scalar.iter().position(|b| *b != 0) {
            Some(first) => &scalar[first..],
            None => &[0u8][..],
        };
        // A set high bit would read as negative: prefix a zero byte.
        let mut value = Vec::with_capacity(trimmed.len() + 1);
        if trimmed[0] & 0x80 != 0 {
            value.push(0);
        }
        value.extend_from_slice(trimmed);
        der_tlv(0x02, &value)
    };
    let (r, s) = raw.split_at(field_len);
    let mut body = integer(r);
    body.extend(integer(s));
    Ok(der_tlv(0x30, &body))
}

impl PublicKeyData for Pkcs11Key {
    fn der_bytes(&self) -> &[u8] {
        &self.public_point
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.curve.rcgen_algorithm()
    }
}

impl SigningKey for Pkcs11Key {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let digest = self.curve.hash().digest(msg);
        self.sign_digest(&digest).map_err(|error| {
            tracing::error!(%error, "PKCS#11 signature failed");
            rcgen::Error::RemoteKeyError
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_signature_to_der() {
        let mut raw = vec![0u8; 64];
        raw[31] = 1; // r = 1
        raw[32] = 0x80; // s has its high bit set
        let der = raw_ecdsa_to_der(&raw, 32).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(der[8], 0x80);
        assert_eq!(der.len(), 2 + 3 + 35);
        assert!(raw_ecdsa_to_der(&raw[..63], 32).is_err());
    }
}
