//! HTTP tests of `atesto ct` (RFC 6962 v1) against a real child process and
//! a test CA made with rcgen. SCTs, tree heads and proofs are verified from
//! the RFC: the signature inputs are rebuilt from the certificates by
//! atesto-test-support, not by the code under test.

mod support;

use atesto_test_support::ct::{precert_sct_input, tree_head_input, u24, x509_sct_input};
use atesto_test_support::der::tbs_of;
use atesto_test_support::pki::{TestCa, leaf_params};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, SerialNumber};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::*;

/// A leaf of `ca` for `key`: with the critical poison when `poisoned`, with
/// EKU codeSigning when `eku`. Fixed serial, so a precertificate and its final
/// certificate differ only by the poison.
fn leaf(ca: &TestCa, key: &KeyPair, poisoned: bool, eku: bool) -> Vec<u8> {
    let mut params = leaf_params("signer.test", eku, poisoned);
    params.serial_number = Some(SerialNumber::from_slice(&[7, 7, 7]));
    ca.issue(&params, key)
}

fn test_ca() -> TestCa {
    TestCa::new("atesto test")
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    STANDARD
        .decode(value.as_str().expect("a base64 string"))
        .unwrap()
}

fn chain_body(certs: &[&[u8]]) -> Value {
    json!({ "chain": certs.iter().map(|c| b64(c)).collect::<Vec<_>>() })
}

/// A running `atesto ct` with its key and the CA whose root it accepts.
struct Ct {
    dir: tempfile::TempDir,
    args: Vec<String>,
    server: Tlog,
    key: LogKey,
    ca: TestCa,
}

fn start_ct() -> Ct {
    let ca = test_ca();
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, &ca.root_pem).unwrap();
    let log_key = KeyPair::generate().unwrap();
    let key_path = dir.path().join("ct-key.pem");
    std::fs::write(&key_path, log_key.serialize_pem()).unwrap();
    let args = vec![
        "--roots".to_owned(),
        roots.to_str().unwrap().to_owned(),
        "--key".to_owned(),
        key_path.to_str().unwrap().to_owned(),
    ];
    let server = serve(&dir, &args);
    Ct {
        dir,
        args,
        server,
        key: LogKey::from_pem(&log_key.public_key_pem()),
        ca,
    }
}

fn serve(dir: &tempfile::TempDir, args: &[String]) -> Tlog {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Tlog::start_service("ct", &dir.path().join("data"), &free_addr(), &args)
}

struct Sth {
    size: u64,
    root: Hash,
}

impl Ct {
    /// Kills the server (no shutdown path) and starts it again on the same data.
    fn restart(&mut self) {
        self.server.kill();
        self.server = serve(&self.dir, &self.args);
    }

    /// POSTs a chain, expects 200 and checks the SCT's fixed fields and
    /// signature over `input(timestamp)`. Returns the timestamp.
    fn sct(&self, path: &str, certs: &[&[u8]], input: impl Fn(u64) -> Vec<u8>) -> u64 {
        let reply = self.server.post(path, &chain_body(certs));
        assert_eq!(reply.status, 200, "{}", reply.text);
        let sct = reply.json();
        assert_eq!(sct["sct_version"], 0);
        assert_eq!(unb64(&sct["id"]), Sha256::digest(&self.key.der).to_vec());
        assert_eq!(sct["extensions"], "");
        let timestamp = sct["timestamp"].as_u64().unwrap();
        let signed = unb64(&sct["signature"]);
        assert_eq!(&signed[..2], &[4, 3], "hash sha256, signature ecdsa");
        assert_eq!(
            u16::from_be_bytes([signed[2], signed[3]]) as usize,
            signed.len() - 4
        );
        assert!(
            self.key.verify(&input(timestamp), &signed[4..]),
            "the SCT signature does not verify"
        );
        timestamp
    }

    /// GET get-sth, with its signature verified.
    fn sth(&self) -> Sth {
        let reply = self.server.get("/ct/v1/get-sth");
        assert_eq!(reply.status, 200, "{}", reply.text);
        let sth = reply.json();
        let size = sth["tree_size"].as_u64().unwrap();
        let timestamp = sth["timestamp"].as_u64().unwrap();
        let root: Hash = unb64(&sth["sha256_root_hash"]).try_into().unwrap();
        let input = tree_head_input(timestamp, size, &root);
        let signed = unb64(&sth["tree_head_signature"]);
        assert_eq!(&signed[..2], &[4, 3]);
        assert!(self.key.verify(&input, &signed[4..]), "bad STH signature");
        Sth { size, root }
    }

    fn check_inclusion(&self, leaf_input: &[u8], expected_index: u64, sth: &Sth) {
        let hash = leaf_hash(leaf_input);
        let path = format!(
            "/ct/v1/get-proof-by-hash?hash={}&tree_size={}",
            urlencode(&b64(&hash)),
            sth.size
        );
        let reply = self.server.get(&path);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let proof = reply.json();
        assert_eq!(proof["leaf_index"], expected_index);
        let audit: Vec<Hash> = proof["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| unb64(h).try_into().unwrap())
            .collect();
        assert!(verify_inclusion(
            expected_index,
            sth.size,
            &hash,
            &audit,
            &sth.root
        ));
    }

    fn check_consistency(&self, first: &Sth, second: &Sth) {
        let path = format!(
            "/ct/v1/get-sth-consistency?first={}&second={}",
            first.size, second.size
        );
        let reply = self.server.get(&path);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let proof: Vec<Hash> = reply.json()["consistency"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| unb64(h).try_into().unwrap())
            .collect();
        assert!(verify_consistency(
            first.size,
            second.size,
            &proof,
            &first.root,
            &second.root
        ));
    }
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[test]
fn add_pre_chain_sct_proofs_and_entries_verify_independently() {
    let ct = start_ct();
    let ca = &ct.ca;
    let key = KeyPair::generate().unwrap();
    let precert = leaf(ca, &key, true, true);
    // The TBS the SCT signs: the final certificate's, which lacks only the poison.
    let final_cert = leaf(ca, &key, false, true);
    let tbs = tbs_of(&final_cert);
    assert_ne!(tbs, tbs_of(&precert));
    let precert_leaf = |t| precert_sct_input(t, &ca.intermediate_spki, &tbs);

    let empty = ct.sth();
    assert_eq!(empty.size, 0);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let timestamp = ct.sct(
        "/ct/v1/add-pre-chain",
        &[&precert, &ca.intermediate],
        precert_leaf,
    );
    assert!(timestamp >= before && timestamp < before + 60_000);

    // Answered only once integrated: the next tree head holds it.
    let one = ct.sth();
    assert_eq!(one.size, 1);
    ct.check_inclusion(&precert_leaf(timestamp), 0, &one);

    // A resubmission gets an SCT for the stored entry.
    let again = ct.sct(
        "/ct/v1/add-pre-chain",
        &[&precert, &ca.intermediate, &ca.root],
        precert_leaf,
    );
    assert_eq!(again, timestamp);
    assert_eq!(ct.sth().size, 1);

    // The final certificate, then more entries to prove consistency across.
    let x509_time = ct.sct("/ct/v1/add-chain", &[&final_cert, &ca.intermediate], |t| {
        x509_sct_input(t, &final_cert)
    });
    let mut leaves = vec![
        precert_leaf(timestamp),
        x509_sct_input(x509_time, &final_cert),
    ];
    let two = ct.sth();
    assert_eq!(two.size, 2);
    for _ in 0..5 {
        let cert = leaf(ca, &KeyPair::generate().unwrap(), false, true);
        let t = ct.sct("/ct/v1/add-chain", &[&cert, &ca.intermediate], |t| {
            x509_sct_input(t, &cert)
        });
        leaves.push(x509_sct_input(t, &cert));
    }
    let seven = ct.sth();
    assert_eq!(seven.size, 7);
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
    assert_eq!(merkle_root(&hashes), seven.root);
    for (index, leaf_input) in leaves.iter().enumerate() {
        ct.check_inclusion(leaf_input, index as u64, &seven);
    }
    ct.check_inclusion(&leaves[1], 1, &two);
    ct.check_consistency(&one, &seven);
    ct.check_consistency(&two, &seven);
    ct.check_consistency(&one, &two);

    // get-entries: the leaves and the chains kept beside them (root appended).
    let reply = ct.server.get("/ct/v1/get-entries?start=0&end=1");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let entries = reply.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(unb64(&entries[0]["leaf_input"]), leaves[0]);
    assert_eq!(unb64(&entries[1]["leaf_input"]), leaves[1]);
    let issuers = [u24(&ca.intermediate), u24(&ca.root)].concat();
    let mut precert_chain = u24(&precert);
    precert_chain.extend(u24(&issuers));
    assert_eq!(unb64(&entries[0]["extra_data"]), precert_chain);
    assert_eq!(unb64(&entries[1]["extra_data"]), u24(&issuers));
    // A range past the tree is cut at its end.
    let reply = ct.server.get("/ct/v1/get-entries?start=5&end=100");
    assert_eq!(reply.json()["entries"].as_array().unwrap().len(), 2);

    let roots = ct.server.get("/ct/v1/get-roots").json();
    assert_eq!(roots["certificates"], json!([b64(&ca.root)]));
}

#[test]
fn refusals_are_400_with_a_message() {
    let ct = start_ct();
    let ca = &ct.ca;
    let other = test_ca();
    let key = KeyPair::generate().unwrap();
    let precert = leaf(ca, &key, true, true);
    let final_cert = leaf(ca, &key, false, true);
    let refused =
        |path: &str, certs: &[&[u8]]| ct.server.post(path, &chain_body(certs)).expect_error(400);

    let foreign = leaf(&other, &key, false, true);
    let message = refused("/ct/v1/add-chain", &[&foreign, &other.intermediate]);
    assert!(message.contains("root"), "{message}");
    let no_eku = leaf(ca, &key, false, false);
    let message = refused("/ct/v1/add-chain", &[&no_eku, &ca.intermediate]);
    assert!(message.contains("codeSigning"), "{message}");
    let message = refused("/ct/v1/add-chain", &[&precert, &ca.intermediate]);
    assert!(message.contains("poison"), "{message}");
    let message = refused("/ct/v1/add-pre-chain", &[&final_cert, &ca.intermediate]);
    assert!(message.contains("poison"), "{message}");
    let message = refused("/ct/v1/add-chain", &[&final_cert, &other.intermediate]);
    assert!(message.contains("not signed"), "{message}");
    refused("/ct/v1/add-chain", &[]);
    refused("/ct/v1/add-chain", &[b"not a certificate"]);

    let message = ct
        .server
        .post("/ct/v1/add-chain", &json!({"chain": ["%%%"]}))
        .expect_error(400);
    assert!(message.contains("base64"), "{message}");
    ct.server
        .post_raw("/ct/v1/add-pre-chain", b"{not json".to_vec())
        .expect_error(400);
    ct.server
        .post("/ct/v1/add-chain", &json!({"chain": "nope"}))
        .expect_error(400);

    // Nothing was logged.
    assert_eq!(ct.server.get("/ct/v1/get-sth").json()["tree_size"], 0);
    ct.sct("/ct/v1/add-chain", &[&final_cert, &ca.intermediate], |t| {
        x509_sct_input(t, &final_cert)
    });

    for path in [
        "/ct/v1/get-entries?start=1&end=0",
        "/ct/v1/get-entries?start=1&end=5",
        "/ct/v1/get-entries?start=-1&end=0",
        "/ct/v1/get-entries?start=0",
        "/ct/v1/get-entries?start=0&end=99999999999999999999",
        "/ct/v1/get-sth-consistency?first=2&second=1",
        "/ct/v1/get-sth-consistency?first=1&second=2",
        "/ct/v1/get-sth-consistency?first=x&second=1",
        "/ct/v1/get-proof-by-hash?hash=%%%&tree_size=1",
        "/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=1",
        "/ct/v1/get-proof-by-hash?tree_size=1",
    ] {
        ct.server.get(path).expect_error(400);
    }
    let zero_hash = urlencode(&b64(&[0; 32]));
    ct.server
        .get(&format!(
            "/ct/v1/get-proof-by-hash?hash={zero_hash}&tree_size=0"
        ))
        .expect_error(400);
    ct.server
        .get(&format!(
            "/ct/v1/get-proof-by-hash?hash={zero_hash}&tree_size=1"
        ))
        .expect_error(404);
}

#[test]
fn get_entries_answers_at_most_256_entries() {
    let ct = start_ct();
    let ca = &ct.ca;
    // Concurrent submissions share batches, which keeps this quick.
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let client = client();
                for _ in 0..33 {
                    let cert = leaf(ca, &KeyPair::generate().unwrap(), false, true);
                    let reply = client
                        .post(ct.server.url("/ct/v1/add-chain"))
                        .json(&chain_body(&[&cert, &ca.intermediate]))
                        .send()
                        .unwrap();
                    assert_eq!(reply.status(), 200);
                }
            });
        }
    });
    assert_eq!(ct.sth().size, 264);
    let reply = ct.server.get("/ct/v1/get-entries?start=1&end=300");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let entries = reply.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 256);
    let second = ct.server.get("/ct/v1/get-entries?start=1&end=1").json();
    assert_eq!(second["entries"][0], entries[0]);
}

#[test]
fn the_tree_and_its_entries_survive_a_restart() {
    let mut ct = start_ct();
    let key = KeyPair::generate().unwrap();
    let precert = leaf(&ct.ca, &key, true, true);
    let tbs = tbs_of(&leaf(&ct.ca, &key, false, true));
    let spki = ct.ca.intermediate_spki.clone();
    let intermediate = ct.ca.intermediate.clone();
    let chain = [precert.as_slice(), intermediate.as_slice()];
    let timestamp = ct.sct("/ct/v1/add-pre-chain", &chain, |t| {
        precert_sct_input(t, &spki, &tbs)
    });
    let before = ct.sth();

    ct.restart();
    let after = ct.sth();
    assert_eq!((after.size, after.root), (before.size, before.root));
    let again = ct.sct("/ct/v1/add-pre-chain", &chain, |t| {
        precert_sct_input(t, &spki, &tbs)
    });
    assert_eq!(again, timestamp, "a resubmission after restart is found");

    let cert = leaf(&ct.ca, &KeyPair::generate().unwrap(), false, true);
    ct.sct("/ct/v1/add-chain", &[&cert, &ct.ca.intermediate], |t| {
        x509_sct_input(t, &cert)
    });
    let grown = ct.sth();
    assert_eq!(grown.size, 2);
    ct.check_consistency(&before, &grown);
}

/// RFC 6962 logs dedup by certificate: copies sent at once must not each get
/// a fresh timestamp and an entry of their own (the duplicate check used to
/// run outside the sequencer, so 40 copies made 2-4 entries).
#[test]
fn concurrent_copies_of_a_certificate_make_one_entry_and_one_sct() {
    let ct = start_ct();
    let ca = &ct.ca;
    for round in 1..=3 {
        let cert = leaf(ca, &KeyPair::generate().unwrap(), false, true);
        let timestamps: Vec<u64> = std::thread::scope(|scope| {
            let copies: Vec<_> = (0..40)
                .map(|_| {
                    scope.spawn(|| {
                        ct.sct("/ct/v1/add-chain", &[&cert, &ca.intermediate], |t| {
                            x509_sct_input(t, &cert)
                        })
                    })
                })
                .collect();
            copies.into_iter().map(|c| c.join().unwrap()).collect()
        });
        assert!(
            timestamps.iter().all(|&t| t == timestamps[0]),
            "round {round}: copies got different timestamps: {timestamps:?}"
        );
        let sth = ct.sth();
        assert_eq!(sth.size, round, "round {round}: one entry per certificate");
        ct.check_inclusion(&x509_sct_input(timestamps[0], &cert), round - 1, &sth);
    }
}

/// `GET /ct/public-key` serves the log key the SCTs and STHs verify under:
/// its SHA-256 is the log ID.
#[test]
fn the_log_key_is_served_as_pem() {
    let ct = start_ct();
    let reply = ct.server.get("/ct/public-key");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/x-pem-file"));
    let served = LogKey::from_pem(&reply.text);
    assert_eq!(served.der, ct.key.der);
    // The tree head verifies under it (`sth` checks the signature).
    assert_eq!(ct.sth().size, 0);
}
