//! Signed hashedrekord entries for unique artifacts, pre-signed on every
//! core: Rekor v1 ProposedEntries and Rekor v2 CreateEntryRequests.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::BenchError;

/// A handful of signers, as a real log sees many clients but few keys per run.
const SIGNING_KEYS: usize = 8;

/// One artifact's digest signed by one of the factory's keys.
struct Signed<'a> {
    hash: Vec<u8>,
    signature: Vec<u8>,
    /// Base64 of the key's PEM (Rekor v1 entries carry it).
    pem_b64: &'a str,
    /// Base64 of the key's DER SPKI (Rekor v2 requests carry it).
    spki_b64: &'a str,
}

/// Makes signed hashedrekord entries for unique artifacts.
pub(super) struct EntryFactory {
    /// Each key with the base64 of its PEM public key (v1 entries carry it)
    /// and of its DER SPKI (v2 requests do).
    keys: Vec<(EcdsaKeyPair, String, String)>,
    /// Part of every artifact, so that runs do not collide.
    run: u64,
}

impl EntryFactory {
    pub(super) fn new(run: u64) -> Result<Self, BenchError> {
        let keys = (0..SIGNING_KEYS)
            .map(|_| {
                let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(|_| BenchError::Crypto("generating a key"))?;
                let der = key
                    .public_key()
                    .as_der()
                    .map_err(|_| BenchError::Crypto("encoding a public key"))?;
                let pem = public_key_pem(der.as_ref());
                Ok((key, STANDARD.encode(pem), STANDARD.encode(der.as_ref())))
            })
            .collect::<Result<_, BenchError>>()?;
        Ok(Self { keys, run })
    }

    /// Artifact number `n`'s SHA-256, its signature and its signer's keys.
    fn signed(&self, n: u64) -> Result<Signed<'_>, BenchError> {
        let artifact = format!("atesto bench artifact {:016x} {n}", self.run);
        let hash = digest(&SHA256, artifact.as_bytes());
        let (key, pem, spki) = &self.keys[(n % self.keys.len() as u64) as usize];
        // Signing the digest is signing the artifact: hashedrekord verifies
        // the signature against the artifact's SHA-256.
        let signature = key
            .sign_digest(&hash)
            .map_err(|_| BenchError::Crypto("signing an artifact"))?;
        Ok(Signed {
            hash: hash.as_ref().to_vec(),
            signature: signature.as_ref().to_vec(),
            pem_b64: pem,
            spki_b64: spki,
        })
    }

    /// The Rekor v2 CreateEntryRequest JSON for artifact number `n`.
    pub(super) fn v2_body(&self, n: u64) -> Result<Vec<u8>, BenchError> {
        let Signed {
            hash,
            signature,
            spki_b64: spki,
            ..
        } = self.signed(n)?;
        let request = serde_json::json!({"hashedRekordRequestV002": {
            "digest": STANDARD.encode(hash),
            "signature": {
                "content": STANDARD.encode(signature),
                "verifier": {"publicKey": {"rawBytes": spki}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
            },
        }});
        Ok(serde_json::to_vec(&request)?)
    }

    /// The ProposedEntry JSON for artifact number `n`.
    pub(super) fn body(&self, n: u64) -> Result<Vec<u8>, BenchError> {
        let Signed {
            hash,
            signature,
            pem_b64: public_key,
            ..
        } = self.signed(n)?;
        let proposed = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(hash)}},
                "signature": {
                    "content": STANDARD.encode(signature),
                    "publicKey": {"content": public_key}
                }
            }
        });
        Ok(serde_json::to_vec(&proposed)?)
    }
}

pub(super) fn public_key_pem(der: &[u8]) -> String {
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for (n, c) in STANDARD.encode(der).chars().enumerate() {
        if n > 0 && n % 64 == 0 {
            pem.push('\n');
        }
        pem.push(c);
    }
    pem.push_str("\n-----END PUBLIC KEY-----\n");
    pem
}

pub(super) fn threads() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// Signs `count` entries on every core.
pub(super) fn presign(factory: &EntryFactory, count: u64) -> Result<Vec<Vec<u8>>, BenchError> {
    presign_with(factory, count, EntryFactory::body)
}

/// Signs `count` bodies made by `make` on every core.
pub(super) fn presign_with(
    factory: &EntryFactory,
    count: u64,
    make: fn(&EntryFactory, u64) -> Result<Vec<u8>, BenchError>,
) -> Result<Vec<Vec<u8>>, BenchError> {
    let chunk = count.div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(chunk as usize)
            .map(|first| {
                let last = (first + chunk).min(count);
                scope.spawn(move || {
                    (first..last)
                        .map(|n| make(factory, n))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut bodies = Vec::with_capacity(count as usize);
        for worker in workers {
            bodies.extend(worker.join().map_err(|_| BenchError::Worker)??);
        }
        Ok(bodies)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_unique_and_well_formed() {
        let factory = EntryFactory::new(7).unwrap();
        let bodies = presign(&factory, 20).unwrap();
        assert_eq!(bodies.len(), 20);
        let unique: std::collections::HashSet<_> = bodies.iter().collect();
        assert_eq!(unique.len(), 20);
        let first: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(first["kind"], "hashedrekord");
        let pem = STANDARD
            .decode(
                first["spec"]["signature"]["publicKey"]["content"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert!(
            String::from_utf8(pem)
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
    }
}
