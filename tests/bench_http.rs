//! `atesto bench tsa` and `atesto bench rekor-v2` as an operator runs them,
//! over HTTP/1.1 and with `--http2 N`: every request answered and checked
//! (the benches count a wrong answer as `other`), and a figure beside its
//! bound in the summary line, with the CPU its server and its load
//! generator each used; `atesto bench tsa --url` against a TSA process of
//! its own. `atesto bench tlog` and `tlog-proofs` against a running log, in
//! a closed and an open loop.

mod support;

use serde_json::Value;

use support::*;

/// Runs a bench; its JSON summary (the last line of stdout).
fn bench(args: &[&str]) -> Value {
    let out = atesto(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().rev().find(|l| l.starts_with('{'));
    serde_json::from_str(last.expect("a JSON summary")).expect("JSON")
}

fn all_answered(summary: &Value, count_field: &str, expected: u64) {
    assert_eq!(summary[count_field], expected, "{summary}");
    assert_eq!(summary["other"], 0, "{summary}");
    assert_eq!(summary["transport_errors"], 0, "{summary}");
    // The CPU split: both sides used some, and the rate is set against the
    // bound of the server's CPU too.
    for field in [
        "fraction_of_bound",
        "server_cores",
        "load_cores",
        "fraction_of_server_cpu_bound",
    ] {
        assert!(summary[field].as_f64().unwrap() > 0.0, "{field}: {summary}");
    }
}

/// 8 in flight, one round, a bound measured for 1 s.
const ONE_SHORT_ROUND: [&str; 6] = ["--concurrency", "8", "--bound-secs", "1", "--rounds", "1"];

/// `atesto bench COMMAND COUNT_FLAG COUNT` with 8 in flight, one short round,
/// over HTTP/1.1 and then with `--http2 STREAMS`; every request answered
/// (`COUNT_FIELD` of the summary). The load must last about a second or
/// more: thread CPU is counted in 10 ms ticks, and a shorter run may charge
/// the load generator none.
fn answered_over_http1_and_http2(
    command: &str,
    count_flag: &str,
    count: u64,
    count_field: &str,
    streams: &str,
) {
    let count_arg = count.to_string();
    let base = [
        ["bench", command, count_flag, &count_arg].as_slice(),
        &ONE_SHORT_ROUND,
    ]
    .concat();
    all_answered(&bench(&base), count_field, count);
    let http2 = [base.as_slice(), &["--http2", streams]].concat();
    all_answered(&bench(&http2), count_field, count);
}

#[test]
fn the_tsa_bench_gets_every_timestamp_over_http1_and_http2() {
    answered_over_http1_and_http2("tsa", "--requests", 6000, "timestamps", "2");
}

/// `--url`: the same load against a TSA in a process of its own (here an
/// `atesto tsa`; sigstore's timestamp-authority is loaded the same way), its
/// CPU read from `/proc`, and no in-process figure.
#[test]
fn the_tsa_bench_loads_another_process_at_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = support::tsa::Tsa::start(dir.path(), "");
    let url = tsa.server.url(support::tsa::TIMESTAMP_PATH);
    let key = dir.path().join("tsa/tsa-key.pem");
    let pid = tsa.server.child.id().to_string();
    let summary = bench(
        &[
            ["bench", "tsa"].as_slice(),
            &ONE_SHORT_ROUND,
            &[
                "--url",
                &url,
                "--key",
                key.to_str().unwrap(),
                "--server-pid",
                &pid,
                "--requests",
                "6000",
            ],
        ]
        .concat(),
    );
    all_answered(&summary, "timestamps", 6000);
    assert!(summary["in_process_per_s"].is_null(), "{summary}");

    // Without its key and process the run refuses to start.
    let out = atesto(&["bench", "tsa", "--url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--key") && stderr.contains("--server-pid"),
        "{stderr}"
    );
}

#[test]
fn the_rekor_v2_bench_gets_every_entry_over_http1_and_http2() {
    answered_over_http1_and_http2("rekor-v2", "--entries", 2000, "created", "1");
}

#[test]
fn the_proof_bench_reads_every_proof_in_a_closed_and_an_open_loop() {
    let data = tempfile::tempdir().unwrap();
    let tlog = Tlog::start(data.path(), &[]);
    let url = tlog.url("");
    let url = url.trim_end_matches('/');
    let filled = bench(&[
        "bench",
        "tlog",
        "--url",
        url,
        "--entries",
        "300",
        "--concurrency",
        "8",
    ]);
    assert_eq!(filled["created"], 300, "{filled}");

    let proofs = |extra: &[&str]| {
        let base = [
            "bench",
            "tlog-proofs",
            "--url",
            url,
            "--requests",
            "400",
            "--concurrency",
            "4",
        ];
        bench(&[base.as_slice(), extra].concat())
    };
    let closed = proofs(&[]);
    assert_eq!(closed["mode"], "closed", "{closed}");
    assert_eq!(closed["ok"], 400, "{closed}");
    assert_eq!(closed["tree_size"], 300, "{closed}");
    assert!(
        closed["load_cpu_us_per_request"].as_f64().unwrap() > 0.0,
        "{closed}"
    );

    // 400 requests offered at 500/s take 0.8 s whatever the server's speed
    // (a closed loop takes a fraction of that): the schedule sets the pace.
    let open = proofs(&["--rate", "500"]);
    assert_eq!(open["mode"], "open", "{open}");
    assert_eq!(open["offered_per_s"], 500.0, "{open}");
    assert_eq!(open["ok"], 400, "{open}");
    let secs = open["secs"].as_f64().unwrap();
    assert!((0.79..5.0).contains(&secs), "{open}");
    assert!(open["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{open}");

    let refused = atesto(&[
        "bench",
        "tlog-proofs",
        "--url",
        url,
        "--requests",
        "1",
        "--rate",
        "0",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--rate must be a positive number"));
}
