//! Policy OIDs from text (the config, a JSON request's `tsaPolicyOID`).

use der::asn1::ObjectIdentifier;

/// Arcs from text stay below 2^28, four base-128 bytes. `const-oid` builds
/// an OID from any 32-bit arcs, but its reader, which `Display` uses,
/// refuses most five-byte arcs and panics there: a JSON request naming
/// `1.3.6.1.4.1.572699994.2` killed its connection when the refusal quoted
/// the policy. (From DER, `der` reads the OID with that same reader, so it
/// never holds such an arc.) Checking the text first also keeps a longer arc
/// from overflowing `ObjectIdentifier::new`'s unguarded arithmetic.
const ARC_LIMIT: u32 = 1 << 28;

/// Parses dotted-decimal `text`.
pub fn parse_oid(text: &str) -> Result<ObjectIdentifier, String> {
    for arc in text.split('.') {
        if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
            return Err("arcs must be decimal numbers separated by dots".into());
        }
        if arc.parse::<u32>().map_or(true, |arc| arc >= ARC_LIMIT) {
            return Err(format!("arc {arc} is not below {ARC_LIMIT}"));
        }
    }
    ObjectIdentifier::new(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed_and_oversized_arcs_and_reads_good_ones() {
        assert_eq!(
            parse_oid("1.3.6.1.4.1.57264.2").unwrap().to_string(),
            "1.3.6.1.4.1.57264.2"
        );
        for bad in [
            "",
            "1..2",
            "1.2.",
            "a.b",
            "1.2.99999999999999999999999",
            "1.2.4294967296",
            "1.3.6.1.4.1.572699994.2",
            "1.2.268435456",
        ] {
            assert!(parse_oid(bad).is_err(), "{bad:?}");
        }
        // The largest arc accepted is one the reader reads back.
        let widest = parse_oid("1.2.268435455").unwrap();
        assert_eq!(widest.to_string(), "1.2.268435455");
    }
}
