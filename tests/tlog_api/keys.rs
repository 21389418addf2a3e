//! The log's keys: keygen, a given signing key, the witness key.

use super::*;

#[test]
fn keygen_writes_private_pkcs8_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for key_type in ["ed25519", "ecdsa-p256"] {
        let path = dir.path().join(format!("{key_type}.pem"));
        let out = path.to_str().unwrap();
        let output = atesto(&["keygen", "--out", out, "--type", key_type]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key_type} key mode");
        }
        let pem = std::fs::read_to_string(&path).unwrap();
        let (label, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        let public_der = match key_type {
            "ed25519" => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .expect("an Ed25519 PKCS#8 key")
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                .expect("an ECDSA P-256 PKCS#8 key")
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        // It prints the public half.
        let (label, printed) = pem_rfc7468::decode_vec(&output.stdout).unwrap();
        assert_eq!((label, printed), ("PUBLIC KEY", public_der));

        let again = atesto(&["keygen", "--out", out, "--type", key_type]);
        assert!(!again.status.success(), "keygen overwrote {out}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            pem,
            "the key file changed"
        );
    }
    let bad = atesto(&[
        "keygen",
        "--out",
        dir.path().join("rsa.pem").to_str().unwrap(),
        "--type",
        "rsa",
    ]);
    assert!(!bad.status.success());
    assert!(!dir.path().join("rsa.pem").exists());
}

#[test]
fn tlog_signs_with_the_key_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("log.pem");
    assert!(
        atesto(&["keygen", "--out", key_path.to_str().unwrap()])
            .status
            .success()
    );
    let der = pem_rfc7468::decode_vec(std::fs::read(&key_path).unwrap().as_slice())
        .unwrap()
        .1;
    let expected = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
        .unwrap()
        .public_key()
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec();

    let (_data, tlog, key) = fresh_log("", &["--key", key_path.to_str().unwrap()]);
    assert_eq!(key.der, expected);
    let entry = tlog.submit(&Signer::new().hashedrekord(b"keyed"), &key);
    assert_eq!(entry.log_id, hex::encode(Sha256::digest(&expected)));
    drop(tlog);

    // An Ed25519 key cannot be the log key: clients need ECDSA P-256.
    let ed_path = dir.path().join("ed.pem");
    assert!(
        atesto(&[
            "keygen",
            "--out",
            ed_path.to_str().unwrap(),
            "--type",
            "ed25519"
        ])
        .status
        .success()
    );
    let mut child = Tlog::spawn(
        &dir.path().join("data2"),
        &free_addr(),
        &["--key", ed_path.to_str().unwrap()],
    );
    let status =
        wait_exit(&mut child, std::time::Duration::from_secs(20)).expect("refuses to start");
    assert!(!status.success());
    assert!(read_stderr(&mut child).contains("ECDSA P-256"));
}

#[test]
fn witness_key_adds_a_second_checkpoint_signature_only_on_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let witness_path = dir.path().join("witness.pem");
    let output = atesto(&[
        "keygen",
        "--out",
        witness_path.to_str().unwrap(),
        "--type",
        "ed25519",
    ]);
    assert!(output.status.success());
    let der = pem_rfc7468::decode_vec(std::fs::read(&witness_path).unwrap().as_slice())
        .unwrap()
        .1;
    let witness = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();

    let config = format!("witness_key: {}\n", witness_path.display());
    let (_data, tlog, key) = fresh_log(&config, &[]);
    let entry = tlog.submit(&Signer::new().hashedrekord(b"witnessed"), &key);

    let note = tlog.get("/checkpoint").text;
    let checkpoint = Checkpoint::parse(&note);
    assert_eq!(checkpoint.signatures.len(), 2, "{note}");
    checkpoint.verify(&key);
    checkpoint.verify_ed25519(HOSTNAME, witness.public_key().as_ref());
    assert_eq!(checkpoint.signatures[1].0, HOSTNAME);

    // Rekor v1 replies keep only the ECDSA line, for sigstore-rs.
    let info = tlog.log_info();
    let head = tree_head(&info, &key);
    assert_eq!(head.text, checkpoint.text);
    assert_eq!(entry.checkpoint.signatures.len(), 1);
    assert!(note.starts_with(info["signedTreeHead"].as_str().unwrap()));
}
