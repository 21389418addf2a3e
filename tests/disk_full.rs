//! A full disk under a running `atesto tlog`: writes answer 503 with
//! Retry-After and /readyz says not ready while the store cannot commit;
//! once space is back, writes resume on their own, without a restart, and
//! nothing acknowledged is lost.
//!
//! The data directory sits on a small tmpfs mounted for the test, which
//! needs root (CI runs as root). If mounting fails the test fails: it never
//! passes without having filled a disk.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// A tmpfs of `size` mounted on a new temporary directory; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => Tmpfs { dir },
            Ok(output) => panic!(
                "this test needs to mount a tmpfs (run it as root): mount said {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(err) => panic!("this test needs `mount` to make a small filesystem: {err}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the filesystem refuses more; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create filler");
    let chunk = vec![0xa5u8; 64 << 10];
    loop {
        match file.write_all(&chunk).and_then(|()| file.sync_all()) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(28) => return path, // ENOSPC
            Err(err) => panic!("filling the disk failed otherwise: {err}"),
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_full_disk_is_a_503_and_writes_resume_once_space_is_back() {
    let disk = Tmpfs::mount("16m");
    let tlog = Tlog::start(&disk.path().join("data"), &[]);
    let key = tlog.public_key();
    let signer = Signer::new();
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let entry = tlog.submit(&signer.hashedrekord(format!("before {i}").as_bytes()), &key);
        acknowledged.push(entry);
    }

    let filler = fill(disk.path());
    // The store may still have free pages inside its file: write until it needs more.
    let mut refused = None;
    for i in 0..2000 {
        let artifact = format!("while full {i} {}", "x".repeat(512));
        let reply = tlog.post(
            "/api/v1/log/entries",
            &signer.hashedrekord(artifact.as_bytes()),
        );
        match reply.status {
            201 => acknowledged.push(LogEntry::from_reply(&reply.text)),
            _ => {
                refused = Some(reply);
                break;
            }
        }
    }
    let refused = refused.expect("a full disk never refused a write");
    let message = refused.expect_error(503);
    assert!(message.contains("retry"), "{message}");
    assert_eq!(refused.header("Retry-After"), Some("1"));
    let reply = tlog.get("/readyz");
    assert_eq!(reply.status, 503, "ready on a full disk: {}", reply.text);
    assert_eq!(tlog.get("/healthz").status, 200, "the process is alive");
    // Reads go on.
    let first = &acknowledged[0];
    let reply = tlog.get(&format!("/api/v1/log/entries/{}", first.id));
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Still full a few recovery attempts later: still not ready, still 503.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(tlog.get("/readyz").status, 503);
    tlog.post("/api/v1/log/entries", &signer.hashedrekord(b"still full"))
        .expect_error(503);

    std::fs::remove_file(&filler).expect("free the space");
    // No write needed: the log finds out by itself that it can commit again.
    wait_for(
        "ready again once space is back",
        Duration::from_secs(10),
        || tlog.get("/readyz").status == 200,
    );
    let after = tlog.submit(&signer.hashedrekord(b"after the disk was full"), &key);
    let last = acknowledged.last().expect("entries were acknowledged");
    assert!(after.log_index > last.log_index);
    assert!(after.tree_size > last.tree_size, "the checkpoint moved on");
    // Every acknowledged entry is still there, at the index it was given.
    for entry in &acknowledged {
        let reply = tlog.get(&format!("/api/v1/log/entries?logIndex={}", entry.log_index));
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(LogEntry::from_reply(&reply.text).id, entry.id);
    }
}
