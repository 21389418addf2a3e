//! `atesto bench tsa`: timestamps per second from an in-process `atesto tsa`
//! (a fresh chain from `atesto tsa init`, served on a loopback port, DER
//! requests over HTTP), beside the crypto bound measured in the same run:
//! ECDSA signatures per second with the same key on every core, one per
//! timestamp. The load generator shares the cores with the server, so the
//! ratio is a lower bound on what a separate TSA host reaches.

use std::time::Duration;

use atesto_ca::issuance::InitOptions;
use atesto_common::keys::PrivateKey;
use atesto_tsa::config::TsaConfig;
use atesto_tsa::init::init_chain;
use aws_lc_rs::digest::{SHA256, digest};
use reqwest::StatusCode;
use serde::Serialize;

use super::driver::{
    Latency, Plan, check_concurrency, drive, http_client, per_second_on_every_core, print_json,
};
use super::error::BenchError;

const MAX_REQUESTS: u64 = 10_000_000;
/// About the size of the signed attributes a timestamp signs.
const SIGNED_ATTRIBUTES_LEN: usize = 150;

#[derive(clap::Args)]
pub struct TsaLoadArgs {
    /// Timestamp requests to send.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of signing for the crypto bound.
    #[arg(long, default_value_t = 5)]
    bound_secs: u64,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(Serialize)]
struct TsaSummary {
    bench: &'static str,
    requests: u64,
    concurrency: usize,
    secs: f64,
    timestamps: u64,
    timestamps_per_s: f64,
    other: u64,
    transport_errors: u64,
    /// ECDSA P-256 signatures per second on every core, same key, same run.
    bound_signatures_per_s: f64,
    /// timestamps_per_s / bound_signatures_per_s.
    fraction_of_bound: f64,
    latency_ms: Option<Latency>,
}

/// A DER TimeStampReq (RFC 3161) for a SHA-256 digest of request `n`,
/// a nonce made of `n`, certReq true.
fn request_body(n: u64) -> Vec<u8> {
    let hash = digest(&SHA256, format!("atesto bench tsa {n}").as_bytes());
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut imprint = vec![0x30, 0x31];
    imprint.extend_from_slice(&algorithm);
    imprint.extend_from_slice(&[0x04, 0x20]);
    imprint.extend_from_slice(hash.as_ref());
    // A leading 0x01 keeps the INTEGER minimal (DER) and positive.
    let mut nonce = vec![0x02, 0x09, 0x01];
    nonce.extend_from_slice(&n.to_be_bytes());
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend(imprint);
    body.extend(nonce);
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut request = vec![0x30, body.len() as u8];
    request.extend(body);
    request
}

/// ECDSA signatures per second with `key` on every core for `secs`.
fn signature_bound(key: &PrivateKey, secs: u64) -> Result<f64, BenchError> {
    let message = [0x31u8; SIGNED_ATTRIBUTES_LEN];
    per_second_on_every_core(secs, || {
        key.sign(&message)
            .map(drop)
            .map_err(|_| BenchError::Crypto("signing"))
    })
}

pub async fn load(args: TsaLoadArgs) -> Result<(), BenchError> {
    check_concurrency(args.concurrency)?;
    if args.requests == 0 || args.requests > MAX_REQUESTS {
        return Err(BenchError::Args(format!(
            "--requests must be between 1 and {MAX_REQUESTS}"
        )));
    }
    let dir = tempfile::tempdir().map_err(|source| BenchError::Io {
        what: "a temporary directory".into(),
        source,
    })?;
    let failed = |what: &str, e: &dyn std::fmt::Display| BenchError::Args(format!("{what}: {e}"));
    let output = init_chain(
        dir.path(),
        &InitOptions {
            p384: false,
            organization: "Atesto bench".into(),
            common_name: "atesto bench".into(),
            validity_years: 1,
            password_env: None,
        },
    )
    .map_err(|e| failed("making the TSA chain", &e))?;
    let key_path = output.signer_config.key.clone().unwrap_or_default();
    let config = TsaConfig::new(output.signer_config);
    let options = crate::cmd::api_options(config.body_limit, config.request_timeout_secs);
    let state = crate::cmd::tsa::open(config)
        .await
        .map_err(|e| failed("starting the TSA", &e))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| BenchError::Io {
            what: "binding a loopback port".into(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BenchError::Io {
        what: "the loopback port".into(),
        source,
    })?;
    tokio::spawn(atesto_common::serve::serve(
        listener,
        atesto_tsa::api::router(state, &options),
        atesto_common::serve::ConnectionLimits::default(),
        std::future::pending(),
    ));

    let client = http_client(args.concurrency)?;
    let url = format!("http://{addr}/api/v1/timestamp");
    let plan = Plan {
        count: args.requests,
        concurrency: args.concurrency,
        rate: None,
        max_time: Duration::from_secs(args.max_secs),
        success: StatusCode::CREATED,
    };
    let tally = drive(plan, move |n| {
        client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .body(request_body(n))
    })
    .await?;
    let secs = tally.elapsed.as_secs_f64();
    let timestamps = tally.status(StatusCode::CREATED);
    let answered: u64 = tally.statuses.values().sum();

    let key = PrivateKey::load(&key_path).map_err(|e| failed("the TSA key", &e))?;
    let bound_secs = args.bound_secs.max(1);
    let bound = tokio::task::spawn_blocking(move || signature_bound(&key, bound_secs)).await??;
    let timestamps_per_s = if secs > 0.0 {
        timestamps as f64 / secs
    } else {
        0.0
    };
    let summary = TsaSummary {
        bench: "tsa",
        requests: args.requests,
        concurrency: args.concurrency,
        secs,
        timestamps,
        timestamps_per_s,
        other: answered - timestamps,
        transport_errors: tally.transport_errors,
        bound_signatures_per_s: bound,
        fraction_of_bound: if bound > 0.0 {
            timestamps_per_s / bound
        } else {
            0.0
        },
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} in flight: {timestamps} timestamps in {secs:.2} s: {:.0}/s; crypto bound {:.0} signatures/s ({:.0}%); other: {} {:?}",
        summary.concurrency,
        summary.timestamps_per_s,
        summary.bound_signatures_per_s,
        summary.fraction_of_bound * 100.0,
        summary.other,
        tally.statuses,
    );
    println!(
        "latency of 201s: {}",
        Latency::line(summary.latency_ms.as_ref())
    );
    print_json(&summary)
}
