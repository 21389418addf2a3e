//! A fresh SoftHSM2 token in a directory of its own, for the tests of the
//! PKCS#11 signers (the CA's and the TSA's). Fails (does not skip) when
//! SoftHSM2 is missing: CI installs the Debian package `softhsm2`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `softhsm2` installs the PKCS#11 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The user PIN of every test token.
pub const USER_PIN: &str = "5678";
const SO_PIN: &str = "1234";

/// An initialised token; its objects live under the directory given to `init`.
pub struct SoftHsm {
    /// The config file naming the token directory: `SOFTHSM2_CONF` of
    /// whichever process loads the module.
    pub conf: PathBuf,
    pub token_label: String,
}

impl SoftHsm {
    /// Initialises a token labelled `token_label` under `dir`, user PIN `USER_PIN`.
    pub fn init(dir: &Path, token_label: &str) -> SoftHsm {
        assert!(
            Path::new(MODULE).exists(),
            "SoftHSM2 module {MODULE} is missing: install the Debian package softhsm2"
        );
        let tokens = dir.join("softhsm-tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = SoftHsm {
            conf,
            token_label: token_label.to_owned(),
        };
        hsm.util(&[
            "--init-token",
            "--free",
            "--label",
            token_label,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ]);
        hsm
    }

    /// Imports the PKCS#8 PEM private key in `key_pem` (its private and
    /// public objects) under `label`, object id `id` (hex).
    pub fn import(&self, key_pem: &Path, label: &str, id: &str) {
        self.util(&[
            "--import",
            key_pem.to_str().unwrap(),
            "--token",
            &self.token_label,
            "--label",
            label,
            "--id",
            id,
            "--pin",
            USER_PIN,
        ]);
    }

    /// Runs `softhsm2-util ARGS` against this token directory, asserting success.
    fn util(&self, args: &[&str]) {
        let output = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .expect("softhsm2-util is not installed: apt-get install softhsm2");
        assert!(
            output.status.success(),
            "softhsm2-util {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
