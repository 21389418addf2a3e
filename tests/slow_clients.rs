//! Clients that hold connections without completing requests, against real
//! `atesto` processes: headers sent slowly or not at all, idle keep-alive
//! and HTTP/2 connections, more connections than the cap, a body declared
//! larger than the limit. Each is cut off or refused promptly, while a
//! well-behaved client on the same listener is served.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use support::ca::CaStack;
use support::dev::Dev;
use support::raw_http::*;
use support::*;

/// A log whose listener has short limits, so the tests run in seconds.
const SHORT_LIMITS: &str =
    "connections:\n  header_read_timeout_secs: 2\n  idle_timeout_secs: 3\n  max_connections: 4\n";

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// The repro of the issue: headers trickling in, one line at a time.
fn trickle_headers(addr: &str, every: Duration, for_at_most: Duration) -> Option<Duration> {
    let mut stream = connect(addr, Duration::from_secs(1));
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut line = 0;
    while started.elapsed() < for_at_most {
        std::thread::sleep(every);
        line += 1;
        let sent = stream.write_all(format!("X-Slow-{line}: {line}\r\n").as_bytes());
        if sent.is_err() || is_closed_now(&mut stream) {
            return Some(started.elapsed());
        }
    }
    None
}

fn is_closed_now(stream: &mut std::net::TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    is_closed(stream)
}

#[test]
fn headers_sent_slowly_are_cut_off_at_the_header_timeout() {
    let (_dir, log, _key) = fresh_log(SHORT_LIMITS, &[]);
    let cut = trickle_headers(
        &log.addr,
        Duration::from_millis(400),
        Duration::from_secs(10),
    )
    .expect("a client trickling headers kept its connection for 10 s");
    assert!(cut < Duration::from_secs(5), "cut after {cut:?}");
    // The same request sent whole is answered.
    let (status, _) = exchange(&log.addr, HEALTHZ, Duration::from_secs(5)).expect("answer");
    assert_eq!(status, 200);
}

#[test]
fn a_silent_connection_is_closed_at_the_header_timeout() {
    let (_dir, log, _key) = fresh_log(SHORT_LIMITS, &[]);
    let mut silent = connect(&log.addr, Duration::from_secs(1));
    let closed = closed_within(&mut silent, Duration::from_secs(10))
        .expect("a silent connection stayed open for 10 s");
    assert!(
        closed >= Duration::from_millis(1500),
        "closed after {closed:?}"
    );
    assert!(closed < Duration::from_secs(5), "closed after {closed:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let (_dir, log, _key) = fresh_log(SHORT_LIMITS, &[]);
    let mut stream = connect(&log.addr, Duration::from_secs(5));
    for _ in 0..2 {
        stream.write_all(HEALTHZ).unwrap();
        let (status, _) = read_response(&mut stream).expect("keep-alive answer");
        assert_eq!(status, 200);
    }
    let closed = closed_within(&mut stream, Duration::from_secs(10))
        .expect("an idle keep-alive connection stayed open for 10 s");
    assert!(closed < Duration::from_secs(5), "closed after {closed:?}");
}

#[test]
fn cleartext_http2_is_served_and_closed_when_idle() {
    let (_dir, log, _key) = fresh_log(SHORT_LIMITS, &[]);
    let mut stream = connect(&log.addr, Duration::from_secs(10));
    stream.write_all(H2C_PREFACE).unwrap();
    read_h2_frame(&mut stream, H2_SETTINGS).expect("the server's SETTINGS frame");
    // Nothing more is sent: the server says GOAWAY after the idle timeout.
    let started = Instant::now();
    read_h2_frame(&mut stream, H2_GOAWAY).expect("GOAWAY on an idle HTTP/2 connection");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let (_dir, log, _key) = fresh_log(SHORT_LIMITS, &[]);
    // Let the start-up probes' connections close.
    std::thread::sleep(Duration::from_millis(500));
    let holders: Vec<_> = (0..4)
        .map(|_| connect(&log.addr, Duration::from_secs(1)))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (status, _) = exchange(&log.addr, HEALTHZ, Duration::from_secs(10))
        .expect("a fifth client is served once a slot frees");
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "served after {waited:?}: the cap of 4 was not applied"
    );
    assert!(waited < Duration::from_secs(6), "served after {waited:?}");
    drop(holders);
}

#[test]
fn a_declared_oversized_body_is_refused_at_once() {
    let (_dir, log, _key) = fresh_log("", &[]);
    let started = Instant::now();
    let (status, body) = exchange(
        &log.addr,
        b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 10000000000\r\n\r\n",
        Duration::from_secs(10),
    )
    .expect("an answer before the body");
    assert_eq!(status, 413, "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(error["code"], 413, "{body}");
    // A declared length within the limit is read and judged on its content.
    let (status, body) = exchange(
        &log.addr,
        b"POST /api/v1/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 2\r\n\r\n{}",
        Duration::from_secs(10),
    )
    .expect("answer");
    assert!(
        (400..500).contains(&status) && status != 413,
        "{status} {body}"
    );
}

#[test]
fn the_ca_applies_its_configured_header_timeout() {
    let stack = CaStack::start_with("connections:\n  header_read_timeout_secs: 2\n");
    let cut = trickle_headers(
        &stack.ca.addr,
        Duration::from_millis(400),
        Duration::from_secs(10),
    )
    .expect("the CA kept a trickling client for 10 s");
    assert!(cut < Duration::from_secs(5), "cut after {cut:?}");
    let (status, _) = exchange(&stack.ca.addr, HEALTHZ, Duration::from_secs(5)).expect("answer");
    assert_eq!(status, 200);
}

/// `atesto dev` with its defaults: both listeners cut a silent client at
/// the default header timeout of 10 s.
#[test]
fn dev_listeners_close_silent_connections_by_default() {
    let dev = Dev::start();
    let mut silent: Vec<_> = [&dev.ca, &dev.tlog]
        .into_iter()
        .map(|addr| connect(addr, Duration::from_secs(1)))
        .collect();
    for stream in &mut silent {
        let closed = closed_within(stream, Duration::from_secs(20))
            .expect("a silent connection to atesto dev stayed open for 20 s");
        assert!(closed < Duration::from_secs(13), "closed after {closed:?}");
    }
    let (status, _) = exchange(&dev.ca, HEALTHZ, Duration::from_secs(5)).expect("answer");
    assert_eq!(status, 200);
}

#[test]
fn sigterm_with_an_idle_connection_open_stops_promptly() {
    let (_dir, mut log, _key) = fresh_log(
        "connections:\n  header_read_timeout_secs: 30\n  idle_timeout_secs: 60\n",
        &[],
    );
    let mut idle = connect(&log.addr, Duration::from_secs(5));
    idle.write_all(HEALTHZ).unwrap();
    assert_eq!(read_response(&mut idle).expect("answer").0, 200);
    let pid = log.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = wait_exit(&mut log.child, Duration::from_secs(10))
        .expect("the server waited on an idle keep-alive connection after SIGTERM");
    assert!(exited.success(), "{exited:?}");
    assert!(closed_within(&mut idle, Duration::from_secs(2)).is_some());
}
