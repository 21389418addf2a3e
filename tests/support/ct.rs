//! A standalone `atesto ct` for tests that need one beside other services.

use std::path::Path;

use super::{Tlog, ca::keygen, free_addr};

/// `atesto ct` with a fresh key under `dir`, logging chains that end at
/// the root certificate in the file `root`.
pub fn start_ct(dir: &Path, root: &Path) -> Tlog {
    start_ct_with(dir, root, &[])
}

/// `start_ct` with `extra` flags (`--object-store URL`, ...).
pub fn start_ct_with(dir: &Path, root: &Path, extra: &[&str]) -> Tlog {
    let key = dir.join("ct-key.pem");
    keygen(&key);
    let mut args = vec![
        "--key",
        key.to_str().unwrap(),
        "--roots",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Tlog::start_service("ct", &dir.join("data"), &free_addr(), &args)
}
