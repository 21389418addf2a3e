//! Signature forms aws-lc-rs does not take directly: Ed25519ph over a
//! digest, and raw `r || s` ECDSA signatures; the strict DER check Go's
//! `ecdsa.VerifyASN1` makes.

/// Verifies an Ed25519ph (RFC 8032 HashEdDSA, empty context) signature over a
/// SHA-512 digest, as Go's `ed25519.VerifyWithOptions` does for sigstore.
pub(super) fn ed25519ph_verify_digest(
    public_key: &[u8; 32],
    digest: &[u8; 64],
    signature: &[u8; 64],
) -> bool {
    let context: [u8; 0] = [];
    // SAFETY: aws-lc reads exactly 64 bytes of `digest`, 64 of `signature`,
    // 32 of `public_key` (each a reference to an array of that size, alive for
    // the call) and `context_len` = 0 bytes of `context`; it keeps no pointer.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify_digest(
            digest.as_ptr(),
            signature.as_ptr(),
            public_key.as_ptr(),
            context.as_ptr(),
            0,
        )
    };
    ok == 1
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a raw signature of exactly
/// `2 * scalar_len` bytes.
pub(super) fn ecdsa_fixed_to_der(signature: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    if signature.len() != 2 * scalar_len {
        return None;
    }
    let (r, s) = signature.split_at(scalar_len);
    let mut body = Vec::with_capacity(signature.len() + 6);
    for scalar in [r, s] {
        let start = scalar.iter().position(|&b| b != 0).unwrap_or(scalar.len());
        let magnitude = scalar.get(start..).unwrap_or_default();
        let pad = magnitude.first().is_none_or(|&b| b & 0x80 != 0);
        body.push(0x02);
        push_der_length(&mut body, magnitude.len() + usize::from(pad));
        if pad {
            body.push(0);
        }
        body.extend_from_slice(magnitude);
    }
    let mut der = vec![0x30];
    push_der_length(&mut der, body.len());
    der.extend(body);
    Some(der)
}

fn push_der_length(out: &mut Vec<u8>, len: usize) {
    // Lengths here never exceed 2 * 67 + 4 bytes, so one length byte suffices.
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x81);
        out.push(len as u8);
    }
}

/// `SEQUENCE { INTEGER r, INTEGER s }` in DER: definite minimal lengths,
/// positive minimal integers, nothing after.
pub(super) fn is_der_ecdsa_signature(der: &[u8]) -> bool {
    /// Splits one DER length off `bytes`: short form, or `0x81` then a byte >= 0x80.
    fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
        match bytes {
            [short, rest @ ..] if *short < 0x80 => Some((usize::from(*short), rest)),
            [0x81, long, rest @ ..] if *long >= 0x80 => Some((usize::from(*long), rest)),
            _ => None,
        }
    }
    fn integer(bytes: &[u8]) -> Option<&[u8]> {
        let [0x02, rest @ ..] = bytes else {
            return None;
        };
        let (len, rest) = length(rest)?;
        let (value, rest) = (rest.get(..len)?, rest.get(len..)?);
        let minimal_positive = match value {
            [] => false,
            [0x00] => true,
            [0x00, next, ..] => *next >= 0x80,
            [first, ..] => *first < 0x80,
        };
        minimal_positive.then_some(rest)
    }
    let [0x30, rest @ ..] = der else {
        return false;
    };
    let Some((len, content)) = length(rest) else {
        return false;
    };
    content.len() == len
        && integer(content)
            .and_then(integer)
            .is_some_and(<[u8]>::is_empty)
}
