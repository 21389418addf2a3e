//! `atesto tsa` signing through PKCS#11 (`signer.pkcs11`, as the CA's): the
//! TSA key from `atesto tsa init` imported into a fresh SoftHSM2 token and
//! removed from disk, so only the token can sign. Its timestamps verify with
//! `openssl ts -verify` against the served chain; a token key that is not the
//! TSA certificate's is refused at start. Fails (does not skip) when SoftHSM2
//! is missing: CI installs `softhsm2`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use atesto_test_support::softhsm::{MODULE, SoftHsm, USER_PIN};
use support::tsa::{Tsa, init_chain, openssl_query, openssl_verify};
use support::{atesto_bin, free_addr, read_stderr, wait_exit};

const TOKEN: &str = "atesto-tsa-test";
const PIN_ENV: &str = "ATESTO_TSA_TEST_HSM_PIN";
const QUERY: &str = "application/timestamp-query";

/// A TSA config signing with the token key labelled `key_label`.
fn pkcs11_config(dir: &Path, key_label: &str) -> PathBuf {
    let path = dir.join(format!("tsa-{key_label}.yaml"));
    std::fs::write(
        &path,
        format!(
            "signer:\n  chain: tsa/chain.pem\n  pkcs11:\n    module: {MODULE}\n    \
             token_label: {TOKEN}\n    pin_env: {PIN_ENV}\n    key_label: {key_label}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn timestamps_signed_on_a_softhsm_token_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    init_chain(&dir.path().join("tsa"));
    let other = dir.path().join("other");
    init_chain(&other);
    let hsm = SoftHsm::init(dir.path(), TOKEN);
    for (key, label, id) in [
        (dir.path().join("tsa/tsa-key.pem"), "tsa", "01"),
        (other.join("tsa-key.pem"), "other", "02"),
    ] {
        hsm.import(&key, label, id);
        std::fs::remove_file(&key).unwrap();
    }
    let conf = hsm.conf.to_str().unwrap();
    let env = [("SOFTHSM2_CONF", conf), (PIN_ENV, USER_PIN)];

    // Another TSA's key on the token: the start-up self-check refuses it.
    let mut refused = std::process::Command::new(atesto_bin())
        .args(["tsa", "--config"])
        .arg(pkcs11_config(dir.path(), "other"))
        .args(["--addr", &free_addr()])
        .envs(env)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut refused, Duration::from_secs(30)).expect("exits");
    assert!(!status.success());
    let stderr = read_stderr(&mut refused);
    assert!(stderr.contains("does not match"), "{stderr}");

    // The TSA certificate's own key on the token: timestamps verify.
    let tsa = Tsa::serve(dir.path(), &pkcs11_config(dir.path(), "tsa"), &env);
    let chain = tsa.server.get("/api/v1/timestamp/certchain").text;
    let data = dir.path().join("artifact.txt");
    std::fs::write(&data, b"signed on a token").unwrap();
    let reply_path = dir.path().join("reply.tsr");
    for flags in [&["-sha256", "-cert"][..], &["-sha384"][..]] {
        let reply = tsa.post(QUERY, openssl_query(dir.path(), &data, flags));
        assert_eq!(reply.status, 200, "{flags:?}: {}", reply.text);
        std::fs::write(&reply_path, &reply.bytes).unwrap();
        let (ok, text) = openssl_verify(&reply_path, &data, &chain, dir.path());
        assert!(ok && text.contains("Verification: OK"), "{flags:?}: {text}");
    }
    // Several signatures at once through the token's session pool.
    let replies: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|n| {
                let (tsa, dir) = (&tsa, dir.path());
                scope.spawn(move || {
                    let data = dir.join(format!("artifact-{n}.txt"));
                    std::fs::write(&data, format!("artifact {n}")).unwrap();
                    let query = openssl_query_to(dir, &data, n);
                    tsa.post(QUERY, query).status
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(replies, [200; 4]);
    let metrics = tsa.server.get("/metrics").text;
    assert!(
        metrics.contains("atesto_tsa_signing_seconds_count{key=\"pkcs11\"} 6"),
        "{metrics}"
    );
    // The same reply does not verify for another artifact.
    let (ok, text) = openssl_verify(
        &reply_path,
        &dir.path().join("artifact-0.txt"),
        &chain,
        dir.path(),
    );
    assert!(!ok, "verified for another artifact: {text}");
}

/// `openssl_query` in a directory of its own per thread (its output file is fixed).
fn openssl_query_to(dir: &Path, data: &Path, n: usize) -> Vec<u8> {
    let own = dir.join(format!("query-{n}"));
    std::fs::create_dir_all(&own).unwrap();
    openssl_query(&own, data, &["-sha256"])
}
