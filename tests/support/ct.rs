//! A standalone `atesto ct` for tests that need one beside other services.

use std::path::Path;

use super::{Tlog, ca::keygen, free_addr};

/// `atesto ct` with a fresh key under `dir`, logging chains that end at
/// the root certificate in the file `root`.
pub fn start_ct(dir: &Path, root: &Path) -> Tlog {
    let key = dir.join("ct-key.pem");
    keygen(&key);
    Tlog::start_service(
        "ct",
        &dir.join("data"),
        &free_addr(),
        &[
            "--key",
            key.to_str().unwrap(),
            "--roots",
            root.to_str().unwrap(),
        ],
    )
}
