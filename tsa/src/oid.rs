//! Policy OIDs from text (the config, a JSON request's `tsaPolicyOID`).

use der::asn1::ObjectIdentifier;

/// Parses dotted-decimal `text`. Every arc is checked to fit the 32 bits an
/// arc may have before `ObjectIdentifier::new` sees it: its parser does not
/// guard its arithmetic, so a longer arc would overflow (a panic in a debug
/// build, a different OID in a release build) instead of being refused.
pub fn parse_oid(text: &str) -> Result<ObjectIdentifier, String> {
    for arc in text.split('.') {
        if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
            return Err("arcs must be decimal numbers separated by dots".into());
        }
        if arc.parse::<u32>().is_err() {
            return Err(format!("arc {arc} is larger than 4294967295"));
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
        ] {
            assert!(parse_oid(bad).is_err(), "{bad:?}");
        }
    }
}
