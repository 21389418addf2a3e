//! `atesto bench tsa` and `atesto bench rekor-v2` as an operator runs them,
//! over HTTP/1.1 and with `--http2 N`: every request answered and checked
//! (the benches count a wrong answer as `other`), and a figure beside its
//! bound in the summary line, with the CPU its server and its load
//! generator each used.

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

/// `atesto bench COMMAND COUNT_FLAG COUNT` with 8 in flight, one short round.
/// The load must last about a second or more: thread CPU is counted in
/// 10 ms ticks, and a shorter run may charge the load generator none.
fn short_run<'a>(command: &'a str, count_flag: &'a str, count: &'a str) -> Vec<&'a str> {
    vec![
        "bench",
        command,
        count_flag,
        count,
        "--concurrency",
        "8",
        "--bound-secs",
        "1",
        "--rounds",
        "1",
    ]
}

#[test]
fn the_tsa_bench_gets_every_timestamp_over_http1_and_http2() {
    let base = short_run("tsa", "--requests", "6000");
    all_answered(&bench(&base), "timestamps", 6000);
    let http2 = [base.as_slice(), &["--http2", "2"]].concat();
    all_answered(&bench(&http2), "timestamps", 6000);
}

#[test]
fn the_rekor_v2_bench_gets_every_entry_over_http1_and_http2() {
    let base = short_run("rekor-v2", "--entries", "2000");
    all_answered(&bench(&base), "created", 2000);
    let http2 = [base.as_slice(), &["--http2", "1"]].concat();
    all_answered(&bench(&http2), "created", 2000);
}
