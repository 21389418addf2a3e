//! Three `atesto tlog` replicas on one PostgreSQL database (a private
//! cluster: this test restarts it) under concurrent load through every
//! replica: SIGKILL random replicas (the integrator included) again and
//! again, SIGSTOP the integrator past its lease then SIGCONT it, restart
//! PostgreSQL. After each: every acknowledged entry is at its index on
//! every replica, no size has two roots (database, replies), every served
//! checkpoint is consistent with the current tree, a duplicate is 409 on
//! every replica, and writes resume by themselves.

mod support;

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::seq::SliceRandom;

use support::services::PrivatePostgres;
use support::*;

const REPLICAS: usize = 3;
const SUBMITTERS: usize = 6;
const KILLS: usize = 21;
/// The integrator lease: a stalled integrator is replaced after this long.
const LEASE_MS: u64 = 1000;

/// What the replicas promised; of each entry, the request that made it.
type Promises = support::promises::Promises<serde_json::Value>;

struct Cluster {
    dir: tempfile::TempDir,
    database: String,
    key_path: std::path::PathBuf,
    config: std::path::PathBuf,
    addrs: Vec<String>,
    /// `None` while a replica is down.
    replicas: Vec<Mutex<Option<Tlog>>>,
}

impl Cluster {
    fn start(database: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("log-key.pem");
        support::ca::keygen(&key_path);
        let config = write_config(
            dir.path(),
            &format!("replicas: {{lease_ms: {LEASE_MS}}}\nbatch: {{pool_size: 256}}\n"),
        );
        let addrs: Vec<String> = (0..REPLICAS).map(|_| free_addr()).collect();
        let cluster = Cluster {
            dir,
            database: database.to_owned(),
            key_path,
            config,
            replicas: (0..REPLICAS).map(|_| Mutex::new(None)).collect(),
            addrs,
        };
        for n in 0..REPLICAS {
            cluster.start_replica(n);
        }
        cluster
    }

    fn start_replica(&self, n: usize) {
        let addr = &self.addrs[n];
        let advertise = format!("http://{addr}");
        let tlog = Tlog::start_at(
            &self.dir.path().join(format!("replica{n}")),
            addr,
            &[
                "--config",
                self.config.to_str().unwrap(),
                "--database",
                &self.database,
                "--key",
                self.key_path.to_str().unwrap(),
                "--advertise-url",
                &advertise,
            ],
        );
        *self.replicas[n].lock().unwrap() = Some(tlog);
    }

    fn kill(&self, n: usize) {
        if let Some(mut tlog) = self.replicas[n].lock().unwrap().take() {
            tlog.kill();
        }
    }

    fn pid(&self, n: usize) -> Option<u32> {
        self.replicas[n]
            .lock()
            .unwrap()
            .as_ref()
            .map(|t| t.child.id())
    }

    /// The replica whose /metrics says it integrates, if one does.
    fn integrator(&self) -> Option<usize> {
        let http = client();
        (0..REPLICAS).find(|&n| {
            http.get(format!("http://{}/metrics", self.addrs[n]))
                .send()
                .and_then(|r| r.text())
                .is_ok_and(|text| text.lines().any(|l| l == "atesto_tlog_integrator 1"))
        })
    }

    fn live(&self) -> Vec<usize> {
        (0..REPLICAS)
            .filter(|&n| self.replicas[n].lock().unwrap().is_some())
            .collect()
    }
}

/// Posts unique entries to random replicas until told to stop.
fn submit_until_stopped(
    cluster: &Cluster,
    key: &LogKey,
    label: &str,
    promises: &Mutex<Promises>,
    stop: &AtomicBool,
    refused: &AtomicUsize,
) {
    let http = client();
    let signer = Signer::new();
    let mut rng = rand::thread_rng();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let proposed = signer.hashedrekord(format!("{label} entry {n}").as_bytes());
        let addr = &cluster.addrs[rng.gen_range(0..REPLICAS)];
        let sent = http
            .post(format!("http://{addr}/api/v1/log/entries"))
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&proposed).unwrap())
            .send();
        let Ok(response) = sent else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let status = response.status().as_u16();
        let Ok(text) = response.text() else { continue };
        match status {
            201 => {
                let entry = LogEntry::from_reply(&text);
                promises.lock().unwrap().saw_created(entry, key, proposed);
            }
            // Back-pressure, no integrator for now: the outcome is unknown.
            503 => {
                refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("submission to {addr} answered {other}: {text}"),
        }
    }
}

/// Reads checkpoints from every replica while the load runs.
fn watch_checkpoints(
    cluster: &Cluster,
    key: &LogKey,
    promises: &Mutex<Promises>,
    stop: &AtomicBool,
) {
    let http = client();
    while !stop.load(Ordering::Relaxed) {
        for addr in &cluster.addrs {
            let Ok(response) = http.get(format!("http://{addr}/checkpoint")).send() else {
                continue;
            };
            if response.status() != 200 {
                continue;
            }
            let Ok(note) = response.text() else { continue };
            let checkpoint = Checkpoint::parse(&note);
            checkpoint.verify(key);
            promises
                .lock()
                .unwrap()
                .saw_head(checkpoint.size, checkpoint.root);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `replica` takes a new entry, and returns it.
fn wait_for_writes(tlog: &Tlog, key: &LogKey, what: &str) -> LogEntry {
    let deadline = Instant::now() + Duration::from_secs(30);
    let signer = Signer::new();
    loop {
        let proposed = signer.hashedrekord(format!("probe after {what}").as_bytes());
        let reply = tlog.post("/api/v1/log/entries", &proposed);
        match reply.status {
            201 => {
                let entry = LogEntry::from_reply(&reply.text);
                entry.verify(key);
                return entry;
            }
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("writes did not resume after {what}: {other} {}", reply.text),
        }
    }
}

/// Every promise, on every live replica. `sample` limits the entries read
/// back (the newest ones and a random spread), `None` reads them all.
fn check_promises(
    cluster: &Cluster,
    key: &LogKey,
    promises: &Mutex<Promises>,
    what: &str,
    sample: Option<usize>,
) {
    let probe = {
        let live = cluster.live();
        let guard = cluster.replicas[live[0]].lock().unwrap();
        wait_for_writes(guard.as_ref().unwrap(), key, what)
    };
    let promises = promises.lock().unwrap();
    let mut acked = promises.acked.clone();
    if let Some(sample) = sample {
        let newest = acked.split_off(acked.len().saturating_sub(sample));
        let mut rng = rand::thread_rng();
        acked.shuffle(&mut rng);
        acked.truncate(sample);
        acked.extend(newest);
    }
    let mut heads: Vec<(u64, Hash)> = promises.heads.iter().map(|(s, r)| (*s, *r)).collect();
    if let Some(sample) = sample {
        let mut rng = rand::thread_rng();
        heads.shuffle(&mut rng);
        heads.truncate(sample);
    }
    for n in cluster.live() {
        let guard = cluster.replicas[n].lock().unwrap();
        let tlog = guard.as_ref().unwrap();
        // The replica's view catches up with the probe's tree.
        let deadline = Instant::now() + Duration::from_secs(10);
        let head = loop {
            let head = Checkpoint::parse(&tlog.get("/checkpoint").text);
            if head.size >= probe.tree_size || Instant::now() > deadline {
                break head;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        head.verify(key);
        assert!(
            head.size >= probe.tree_size,
            "{what}: replica {n} is stuck at {}",
            head.size
        );
        for &(size, root) in &heads {
            if size == 0 || size > head.size {
                continue;
            }
            if size == head.size {
                assert_eq!(
                    root, head.root,
                    "{what}: replica {n} serves another root for {size}"
                );
            } else {
                check_consistency(tlog, None, (size, root), (head.size, head.root));
            }
        }
        for entry in &acked {
            let reply = tlog.get(&format!("/api/v1/log/entries?logIndex={}", entry.index));
            assert_eq!(
                reply.status, 200,
                "{what}: replica {n} lacks entry {}: {}",
                entry.index, reply.text
            );
            let read = LogEntry::from_reply(&reply.text);
            assert_eq!(
                read.id, entry.id,
                "{what}: replica {n}: index {} changed",
                entry.index
            );
            read.verify(key);
        }
        // A duplicate is 409 whichever replica receives it.
        if let Some(entry) = acked.last() {
            let reply = tlog.post("/api/v1/log/entries", &entry.kept);
            reply.expect_error(409);
            assert_eq!(
                reply.header("Location"),
                Some(format!("/api/v1/log/entries/{}", entry.id).as_str())
            );
        }
    }
    let mut indexes: Vec<u64> = promises.acked.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    let count = indexes.len();
    indexes.dedup();
    assert_eq!(
        indexes.len(),
        count,
        "{what}: two acknowledged entries share an index"
    );
}

/// No tree size has two roots in the database's checkpoint history, and
/// the sizes are those of a growing tree.
fn check_database(database: &str, what: &str) {
    assert_eq!(
        support::services::psql(
            database,
            "SELECT count(*) FROM (SELECT size FROM tlog.checkpoints GROUP BY shard, size HAVING count(*) > 1) forks"
        ),
        "0",
        "{what}: two roots of one size in the database"
    );
}

/// Runs the load while `event` happens, then checks everything.
fn under_load(
    cluster: &Cluster,
    key: &LogKey,
    promises: &Mutex<Promises>,
    what: &str,
    sample: Option<usize>,
    event: impl FnOnce(),
) {
    let stop = AtomicBool::new(false);
    let refused = AtomicUsize::new(0);
    let before = promises.lock().unwrap().acked.len();
    std::thread::scope(|scope| {
        for t in 0..SUBMITTERS {
            let label = format!("{what} submitter {t}");
            let (stop, refused) = (&stop, &refused);
            scope
                .spawn(move || submit_until_stopped(cluster, key, &label, promises, stop, refused));
        }
        scope.spawn(|| watch_checkpoints(cluster, key, promises, &stop));
        // Once entries flow, the event.
        let flowing = Instant::now() + Duration::from_secs(20);
        while promises.lock().unwrap().acked.len() < before + 5 && Instant::now() < flowing {
            std::thread::sleep(Duration::from_millis(10));
        }
        event();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    let after = promises.lock().unwrap().acked.len();
    assert!(after > before, "{what}: no entry acknowledged");
    check_database(&cluster.database, what);
    check_promises(cluster, key, promises, what, sample);
    eprintln!(
        "{what}: {} acknowledged, {} refused with 503",
        after - before,
        refused.load(Ordering::Relaxed)
    );
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn replicas_survive_kills_a_stalled_integrator_and_a_database_restart() {
    let started = Instant::now();
    let postgres = PrivatePostgres::start();
    let cluster = Cluster::start(&postgres.url);
    let key = cluster.replicas[0]
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .public_key();
    let promises = Mutex::new(Promises::default());
    let mut rng = rand::thread_rng();

    // SIGKILL random replicas, the integrator every third time.
    for round in 0..KILLS {
        let victim = match cluster.integrator() {
            Some(integrator) if round % 3 == 0 => integrator,
            _ => rng.gen_range(0..REPLICAS),
        };
        let what = format!("kill {round} (replica {victim})");
        under_load(&cluster, &key, &promises, &what, Some(20), || {
            std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(50..400)));
            cluster.kill(victim);
        });
        cluster.start_replica(victim);
    }

    // The integrator stalls past its lease: another takes over, and the
    // stale one publishes nothing when it wakes up.
    let integrator = cluster.integrator().expect("an integrator");
    let pid = cluster.pid(integrator).unwrap();
    under_load(
        &cluster,
        &key,
        &promises,
        "SIGSTOP of the integrator",
        Some(50),
        || {
            signal(pid, "STOP");
            std::thread::sleep(Duration::from_millis(LEASE_MS * 3));
            signal(pid, "CONT");
        },
    );
    let now = cluster.integrator().expect("an integrator");
    assert_ne!(now, integrator, "the stalled integrator kept the lease");

    // PostgreSQL restarts under load.
    under_load(
        &cluster,
        &key,
        &promises,
        "PostgreSQL restart",
        Some(50),
        || {
            postgres.stop_server();
            std::thread::sleep(Duration::from_millis(1500));
            postgres.start_server();
        },
    );

    check_promises(&cluster, &key, &promises, "the end", None);
    eprintln!(
        "{} entries acknowledged in {:?}",
        promises.lock().unwrap().acked.len(),
        started.elapsed()
    );
}
