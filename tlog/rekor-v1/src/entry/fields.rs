//! Reading a proposed entry's JSON: fields with their paths, Go-compatible
//! base64, keys, signature encodings and echoed client text.

use atesto_common::pubkey::PublicKey;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::error::EntryError;

/// Client text for an error message, cut short.
pub(super) use atesto_common::error::echo;

/// A JSON object being read, with its dotted path for error messages.
/// A null member counts as missing, as in Rekor's decoders.
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    pub(super) fn root(value: &'a Value) -> Result<Self, EntryError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: String::new(),
            }),
            _ => Err(EntryError::WrongType {
                field: "(the request body)".into(),
                expected: "a JSON object",
            }),
        }
    }

    /// The dotted path of member `name`.
    pub(super) fn path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub(super) fn require(&self, name: &str) -> Result<&'a Value, EntryError> {
        self.get(name)
            .ok_or_else(|| EntryError::MissingField(self.path(name)))
    }

    pub(super) fn object(&self, name: &str) -> Result<Fields<'a>, EntryError> {
        let path = self.path(name);
        match self.require(name)? {
            Value::Object(map) => Ok(Fields { map, path }),
            _ => Err(EntryError::WrongType {
                field: path,
                expected: "an object",
            }),
        }
    }

    pub(super) fn string(&self, name: &str) -> Result<&'a str, EntryError> {
        self.opt_string(name)?
            .ok_or_else(|| EntryError::MissingField(self.path(name)))
    }

    pub(super) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, EntryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(EntryError::WrongType {
                field: self.path(name),
                expected: "a string",
            }),
        }
    }

    pub(super) fn array(&self, name: &str) -> Result<&'a [Value], EntryError> {
        match self.require(name)? {
            Value::Array(items) => Ok(items),
            _ => Err(EntryError::WrongType {
                field: self.path(name),
                expected: "an array",
            }),
        }
    }

    /// A non-empty base64 string member, decoded.
    pub(super) fn base64(&self, name: &str) -> Result<Vec<u8>, EntryError> {
        let path = self.path(name);
        let text = self.string(name)?;
        if text.is_empty() {
            return Err(EntryError::MissingField(path));
        }
        decode_base64(text, &path)
    }
}

/// Go's `StdEncoding` and `URLEncoding` decoders: padding required, stray
/// bits in the last character tolerated.
pub(super) const GO_STD: GeneralPurpose = go_engine(&base64::alphabet::STANDARD);
pub(super) const GO_URL: GeneralPurpose = go_engine(&base64::alphabet::URL_SAFE);

pub(super) const fn go_engine(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    )
}

/// Decodes base64 with `engine`, skipping line breaks as Go does.
pub(super) fn go_decode(
    engine: &GeneralPurpose,
    text: &str,
) -> Result<Vec<u8>, base64::DecodeError> {
    if text.contains(['\r', '\n']) {
        let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        engine.decode(compact)
    } else {
        engine.decode(text)
    }
}

/// Decodes the standard base64 of `field`.
pub(super) fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, EntryError> {
    go_decode(&GO_STD, text).map_err(|e| EntryError::Base64 {
        field: field.to_string(),
        reason: e.to_string(),
    })
}

pub(super) fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Parses the key or certificate in `bytes`, naming `field` on failure.
pub(super) fn parse_key(bytes: &[u8], field: &str) -> Result<PublicKey, EntryError> {
    PublicKey::parse(bytes).map_err(|source| EntryError::Key {
        field: field.to_string(),
        source,
    })
}
