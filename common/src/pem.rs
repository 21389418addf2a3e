//! PEM files of certificates (CA chains, CT roots).

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// One CERTIFICATE block: its PEM text (with a final newline) and its DER.
#[derive(Debug, Clone)]
pub struct PemCertificate {
    pub pem: String,
    pub der: Vec<u8>,
}

/// Every CERTIFICATE block of `text`, in order; text between blocks (as in
/// files with comments or `openssl x509 -text` output) is skipped. At least
/// one block is required.
pub fn certificates(text: &str) -> Result<Vec<PemCertificate>, String> {
    let mut certificates = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let end = rest[start..]
            .find(END)
            .map(|at| start + at + END.len())
            .ok_or("unterminated PEM certificate")?;
        let block = &rest[start..end];
        let (label, der) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| format!("malformed PEM certificate: {e}"))?;
        if label != "CERTIFICATE" {
            return Err(format!("unexpected PEM label {label:?}"));
        }
        certificates.push(PemCertificate {
            pem: format!("{block}\n"),
            der,
        });
        rest = &rest[end..];
    }
    if certificates.is_empty() {
        return Err("no PEM certificate".into());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_blocks_and_skips_text_between_them() {
        let block = |bytes: &[u8]| {
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, bytes).unwrap()
        };
        let text = format!("subject=a\n{}comment\n{}", block(&[1, 2]), block(&[3]));
        let found = certificates(&text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].der, vec![1, 2]);
        assert_eq!(found[1].der, vec![3]);
        assert!(found[1].pem.starts_with(BEGIN) && found[1].pem.ends_with("-----\n"));
        assert!(certificates("nothing").unwrap_err().contains("no PEM"));
        assert!(
            certificates(&format!("{BEGIN}\nAAAA\n"))
                .unwrap_err()
                .contains("unterminated")
        );
    }
}
