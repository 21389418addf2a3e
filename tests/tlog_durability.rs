//! Crash safety of `atesto tlog`: SIGKILL under concurrent load must lose no
//! acknowledged entry and never move a served checkpoint backwards, and one
//! data directory admits one process.

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use support::*;

const ROUNDS: usize = 5;
const SUBMITTERS: usize = 8;
/// Each submitter's ceiling per round, so a round is bounded in count as well as time.
const MAX_PER_SUBMITTER: usize = 2_000;
/// Threads re-reading entries and proofs after each restart.
const CHECKERS: usize = 4;

/// Everything the log has promised so far; of each entry, its body.
type Promises = support::promises::Promises<Vec<u8>>;

/// Posts unique entries until told to stop or the server goes away.
fn submit_until_stopped(
    addr: &str,
    key: &LogKey,
    label: &str,
    promises: &Mutex<Promises>,
    stop: &AtomicBool,
    deadline: Instant,
) {
    let http = client();
    let signer = Signer::new();
    let url = format!("http://{addr}/api/v1/log/entries");
    for n in 0..MAX_PER_SUBMITTER {
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            return;
        }
        let proposed = signer.hashedrekord(format!("{label} entry {n}").as_bytes());
        let sent = http
            .post(&url)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&proposed).unwrap())
            .send();
        // A transport error means the server was killed: the outcome is unknown, not promised.
        let Ok(response) = sent else { return };
        let status = response.status().as_u16();
        let Ok(text) = response.text() else { return };
        match status {
            201 => {
                let entry = LogEntry::from_reply(&text);
                let body = entry.body.clone();
                promises.lock().unwrap().saw_created(entry, key, body);
            }
            // Back-pressure is allowed; try another entry.
            503 => {}
            other => panic!("submission answered {other}: {text}"),
        }
    }
}

/// Reads the published checkpoint repeatedly while the load runs.
fn watch_checkpoints(
    addr: &str,
    key: &LogKey,
    promises: &Mutex<Promises>,
    stop: &AtomicBool,
    deadline: Instant,
) {
    let http = client();
    let url = format!("http://{addr}/checkpoint");
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let Ok(response) = http.get(&url).send() else {
            return;
        };
        let Ok(note) = response.text() else { return };
        let checkpoint = Checkpoint::parse(&note);
        checkpoint.verify(key);
        promises
            .lock()
            .unwrap()
            .saw_head(checkpoint.size, checkpoint.root);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Verifies, after a restart, every promise made before it.
fn check_promises(tlog: &Tlog, key: &LogKey, promises: &Mutex<Promises>, round: usize) {
    let info = tlog.log_info();
    let head = Checkpoint::parse(info["signedTreeHead"].as_str().unwrap());
    head.verify(key);
    let promises = promises.lock().unwrap();
    let largest = promises.heads.keys().max().copied().unwrap_or(0);
    assert!(
        head.size >= largest,
        "round {round}: the log served a tree of size {largest} before the kill and {} after",
        head.size
    );

    let heads: Vec<(u64, Hash)> = promises.heads.iter().map(|(s, r)| (*s, *r)).collect();
    std::thread::scope(|scope| {
        for c in 0..CHECKERS {
            let heads = &heads;
            let acked = &promises.acked;
            let head = &head;
            scope.spawn(move || {
                for &(size, root) in heads.iter().skip(c).step_by(CHECKERS) {
                    if size == 0 {
                        continue;
                    }
                    if size == head.size {
                        assert_eq!(root, head.root, "round {round}: size {size} has a new root");
                    } else {
                        check_consistency(tlog, None, (size, root), (head.size, head.root));
                    }
                }
                for entry in acked.iter().skip(c).step_by(CHECKERS) {
                    let reply = tlog.get(&format!("/api/v1/log/entries?logIndex={}", entry.index));
                    assert_eq!(
                        reply.status, 200,
                        "round {round}: acknowledged entry {} is gone: {}",
                        entry.index, reply.text
                    );
                    let read = LogEntry::from_reply(&reply.text);
                    assert_eq!(
                        read.id, entry.id,
                        "round {round}: index {} changed",
                        entry.index
                    );
                    assert_eq!(
                        read.body, entry.kept,
                        "round {round}: index {} changed",
                        entry.index
                    );
                }
            });
        }
    });

    let mut indexes: Vec<u64> = promises.acked.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    let count = indexes.len();
    indexes.dedup();
    assert_eq!(
        indexes.len(),
        count,
        "two acknowledged entries share an index"
    );
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_entry() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = free_addr();
    let mut tlog = Tlog::start_at(&data, &addr, &[]);
    let key = tlog.public_key();
    let promises = Mutex::new(Promises::default());
    let mut rng = rand::thread_rng();

    for round in 0..ROUNDS {
        let info = tlog.log_info();
        let head = Checkpoint::parse(info["signedTreeHead"].as_str().unwrap());
        head.verify(&key);
        promises.lock().unwrap().saw_head(head.size, head.root);
        let acked_before = promises.lock().unwrap().acked.len();

        let stop = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_secs(15);
        std::thread::scope(|scope| {
            for t in 0..SUBMITTERS {
                let label = format!("round {round} submitter {t}");
                let (addr, key, promises, stop) = (&addr, &key, &promises, &stop);
                scope.spawn(move || {
                    submit_until_stopped(addr, key, &label, promises, stop, deadline)
                });
            }
            scope.spawn(|| watch_checkpoints(&addr, &key, &promises, &stop, deadline));

            // Kill mid-load: once entries are flowing, at a random moment.
            let flowing = Instant::now() + Duration::from_secs(10);
            while promises.lock().unwrap().acked.len() == acked_before && Instant::now() < flowing {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(50..1200)));
            tlog.kill();
            stop.store(true, Ordering::Relaxed);
        });
        let acked_now = promises.lock().unwrap().acked.len();
        assert!(
            acked_now > acked_before,
            "round {round}: no entry was acknowledged"
        );

        tlog = Tlog::start_at(&data, &addr, &[]);
        eprintln!(
            "round {round}: {} entries acknowledged, {} tree sizes served",
            acked_now - acked_before,
            promises.lock().unwrap().heads.len()
        );
        assert_eq!(
            tlog.public_key().der,
            key.der,
            "the log key changed across a restart"
        );
        check_promises(&tlog, &key, &promises, round);
    }

    // The restarted log still takes entries, after everything before it.
    let largest = *promises.lock().unwrap().heads.keys().max().unwrap();
    let entry = tlog.submit(&Signer::new().hashedrekord(b"after the crashes"), &key);
    assert!(entry.log_index >= largest);
    assert!(
        started.elapsed() < Duration::from_secs(150),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_second_process_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Tlog::start(&data, &[]);
    let key = first.public_key();
    first.submit(&Signer::new().hashedrekord(b"before"), &key);

    let mut second = Tlog::spawn(&data, &free_addr(), &[]);
    let status = wait_exit(&mut second, Duration::from_secs(20))
        .expect("the second process should exit, not serve");
    assert!(!status.success());
    let stderr = read_stderr(&mut second);
    assert!(stderr.contains("in use"), "stderr: {stderr}");

    // The first is undisturbed.
    let entry = first.submit(&Signer::new().hashedrekord(b"after"), &key);
    assert_eq!(entry.log_index, 1);
    assert_eq!(first.log_info()["treeSize"], 2);
}
