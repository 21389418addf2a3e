//! `atesto bench tsa`: timestamps per second from an in-process `atesto tsa`
//! (a fresh chain from `atesto tsa init`, served on a loopback port, DER
//! requests over HTTP on keep-alive connections, every reply checked),
//! beside the crypto bound measured in the same run: ECDSA signatures per
//! second with the same key on every core, one per timestamp. The load
//! generator shares the cores with the server, so the ratio is a lower
//! bound on what a separate TSA host reaches; the same run also times the
//! TSA in-process (no HTTP) on every core, to show what HTTP costs.
//! Each round's slice of the bound is followed by one of in-process
//! timestamping (`in_process.rs` says why the run alternates).
//!
//! With `--url`, the same load and checks go to another TSA instead (such
//! as sigstore's timestamp-authority, serving a chain from `atesto tsa
//! init`): the bound signs with its key (`--key`), and its CPU is read
//! from `/proc` (`--server-pid`). There is no in-process figure then.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use atesto_ca::issuance::InitOptions;
use atesto_common::keys::PrivateKey;
use atesto_tsa::Tsa;
use atesto_tsa::api::{TIMESTAMP_PATH, TIMESTAMP_QUERY};
use atesto_tsa::config::TsaConfig;
use atesto_tsa::init::init_chain;
use atesto_tsa::request::TimestampRequest;
use aws_lc_rs::digest::{SHA256, digest};
use reqwest::StatusCode;
use serde::Serialize;
use tempfile::TempDir;

use super::cpu_split::{ServerShare, process_cpu_of};
use super::driver::{Latency, Rate, Tally, per_second, per_second_on_every_core, print_json};
use super::error::BenchError;
use super::in_process::{
    InProcessArgs, loopback_listener, print_cpu_and_latency, scratch_dir, serve,
};
use super::keep_alive::{Call, Calls, address, drive_calls};

const MAX_REQUESTS: u64 = 10_000_000;
/// About the size of the signed attributes a timestamp signs.
const SIGNED_ATTRIBUTES_LEN: usize = 150;
/// A granted TimeStampResp starts its PKIStatusInfo with status 0.
const GRANTED: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x00];

#[derive(clap::Args)]
pub struct TsaLoadArgs {
    /// Timestamp requests to send.
    #[arg(long, default_value_t = 50_000)]
    requests: u64,
    /// Load the TSA at this timestamp URL (`http://HOST:PORT/api/v1/timestamp`)
    /// instead of one served in this process.
    #[arg(long, requires_all = ["key", "server_pid"])]
    url: Option<String>,
    /// With --url: the PKCS#8 key that TSA signs with, for the bound.
    #[arg(long, requires = "url")]
    key: Option<PathBuf>,
    /// With --url: that TSA's process, whose CPU the run reads.
    #[arg(long, requires = "url")]
    server_pid: Option<u32>,
    #[command(flatten)]
    load: InProcessArgs,
}

#[derive(Serialize)]
struct TsaSummary {
    bench: &'static str,
    requests: u64,
    concurrency: usize,
    secs: f64,
    timestamps: u64,
    timestamps_per_s: f64,
    /// Answers other than a checked 200 (status 0: a 200 that failed the check).
    other: u64,
    transport_errors: u64,
    /// ECDSA P-256 signatures per second on every core, same key, same run.
    bound_signatures_per_s: f64,
    /// timestamps_per_s / bound_signatures_per_s.
    fraction_of_bound: f64,
    /// `Tsa::timestamp` per second on every core: no HTTP, no pool hand-off
    /// (none for a TSA at --url).
    in_process_per_s: Option<f64>,
    /// in_process_per_s / bound_signatures_per_s.
    in_process_fraction: Option<f64>,
    #[serde(flatten)]
    cpu: ServerShare,
    latency_ms: Option<Latency>,
}

/// The nonce of request `n` as a DER INTEGER: a leading 0x01 keeps it
/// minimal and positive.
fn nonce(n: u64) -> [u8; 11] {
    let mut der = [0u8; 11];
    der[..3].copy_from_slice(&[0x02, 0x09, 0x01]);
    der[3..].copy_from_slice(&n.to_be_bytes());
    der
}

fn artifact_hash(n: u64) -> aws_lc_rs::digest::Digest {
    digest(&SHA256, format!("atesto bench tsa {n}").as_bytes())
}

/// A DER TimeStampReq (RFC 3161) for the SHA-256 digest of artifact `n`,
/// nonce `nonce(n)`, certReq true.
fn request_body(n: u64) -> Vec<u8> {
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut imprint = vec![0x30, 0x31];
    imprint.extend_from_slice(&algorithm);
    imprint.extend_from_slice(&[0x04, 0x20]);
    imprint.extend_from_slice(artifact_hash(n).as_ref());
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend(imprint);
    body.extend(nonce(n));
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut request = vec![0x30, body.len() as u8];
    request.extend(body);
    request
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Whether `reply` is a granted TimeStampResp for request `n`: the granted
/// status right after the outer header, and the request's imprint and
/// nonce inside. (The TSA's tests check the rest with `openssl ts -verify`.)
fn granted_for(n: u64, reply: &[u8]) -> bool {
    let status_at = match reply.get(1) {
        Some(0x82) => 4,
        Some(0x81) => 3,
        _ => 2,
    };
    reply.first() == Some(&0x30)
        && reply.get(status_at..status_at + GRANTED.len()) == Some(&GRANTED[..])
        && contains(reply, artifact_hash(n).as_ref())
        && contains(reply, &nonce(n))
}

/// ECDSA signatures per second with `key` on every core for `time`.
fn signature_bound(key: &PrivateKey, time: Duration) -> Result<Rate, BenchError> {
    let message = [0x31u8; SIGNED_ATTRIBUTES_LEN];
    per_second_on_every_core(time, || {
        key.sign(&message)
            .map(drop)
            .map_err(|_| BenchError::Crypto("signing"))
    })
}

/// The TSA a run loads.
enum Target {
    /// An `atesto tsa` this process serves, and timestamps without HTTP.
    InProcess {
        tsa: Arc<Tsa>,
        request: TimestampRequest,
        /// Holds the chain and key while the run lasts.
        _dir: TempDir,
    },
    /// Another TSA's process.
    External { pid: u32 },
}

/// A fresh chain (`atesto tsa init`) served by an in-process `atesto tsa` on
/// a loopback port: its address and timestamp path, key and target.
async fn serve_in_process() -> Result<(SocketAddr, String, PathBuf, Target), BenchError> {
    let dir = scratch_dir()?;
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
    let tsa = state.tsa.clone();
    let (listener, addr) = loopback_listener().await?;
    serve(listener, atesto_tsa::api::router(state, &options));
    let request =
        TimestampRequest::from_der(&request_body(u64::MAX)).map_err(|e| failed("a request", &e))?;
    let target = Target::InProcess {
        tsa,
        request,
        _dir: dir,
    };
    Ok((addr, TIMESTAMP_PATH.into(), key_path, target))
}

pub async fn load(args: TsaLoadArgs) -> Result<(), BenchError> {
    args.load.check("--requests", args.requests, MAX_REQUESTS)?;
    let (addr, path, key_path, target) = match (&args.url, &args.key, args.server_pid) {
        (Some(url), Some(key), Some(pid)) => {
            let (addr, path) = address(url)?;
            (addr, path, key.clone(), Target::External { pid })
        }
        _ => serve_in_process().await?,
    };
    let key = PrivateKey::load(&key_path)
        .map_err(|e| BenchError::Args(format!("the TSA key {}: {e}", key_path.display())))?;
    let key = Arc::new(key);
    let target = Arc::new(target);
    let slice = args.load.bound_slice();
    let mut tally = Tally::default();
    let (mut secs, mut bounds, mut in_process_rates) = (0.0, Vec::new(), Vec::new());
    for (first, count) in args.load.rounds(args.requests) {
        let external_before = match *target {
            Target::External { pid } => Some(process_cpu_of(pid)?),
            Target::InProcess { .. } => None,
        };
        let path = path.clone();
        let mut this = drive_calls(Calls {
            addr,
            count,
            load: args.load.load(),
            success: StatusCode::OK,
            call: move |n| Call::Post {
                path: path.clone(),
                content_type: TIMESTAMP_QUERY,
                body: request_body(first + n),
            },
            check: move |n: u64, reply: &[u8]| granted_for(first + n, reply),
        })
        .await?;
        if let (Target::External { pid }, Some(before)) = (&*target, external_before) {
            this.server_cpu_secs = process_cpu_of(*pid)? - before;
        }
        secs += this.elapsed.as_secs_f64();
        tally.merge(this);
        let (key, target) = (key.clone(), target.clone());
        let (bound, in_process) = tokio::task::spawn_blocking(move || {
            let bound = signature_bound(&key, slice)?;
            let in_process = match &*target {
                Target::InProcess { tsa, request, .. } => {
                    Some(per_second_on_every_core(slice, || {
                        tsa.timestamp(request)
                            .map(drop)
                            .map_err(|_| BenchError::Crypto("timestamping"))
                    })?)
                }
                Target::External { .. } => None,
            };
            Ok::<_, BenchError>((bound, in_process))
        })
        .await??;
        bounds.push(bound);
        in_process_rates.extend(in_process);
    }
    let timestamps = tally.status(StatusCode::OK);
    let answered: u64 = tally.statuses.values().sum();
    let bound_rate = Rate::mean(&bounds);
    let bound = bound_rate.per_second;
    let in_process =
        (!in_process_rates.is_empty()).then(|| Rate::mean(&in_process_rates).per_second);
    let of_bound = |rate: f64| if bound > 0.0 { rate / bound } else { 0.0 };
    let timestamps_per_s = per_second(timestamps, secs);
    let summary = TsaSummary {
        bench: "tsa",
        requests: args.requests,
        concurrency: args.load.concurrency(),
        secs,
        timestamps,
        timestamps_per_s,
        other: answered - timestamps,
        transport_errors: tally.transport_errors,
        bound_signatures_per_s: bound,
        fraction_of_bound: of_bound(timestamps_per_s),
        in_process_per_s: in_process,
        in_process_fraction: in_process.map(of_bound),
        cpu: ServerShare::of(
            (tally.server_cpu_secs, tally.load_cpu_secs),
            secs,
            timestamps_per_s,
            bound_rate.per_cpu_second,
        ),
        latency_ms: Latency::of(tally.latencies_us),
    };
    let in_process = match (summary.in_process_per_s, summary.in_process_fraction) {
        (Some(rate), Some(fraction)) => {
            format!("; in-process {rate:.0}/s ({:.0}%)", fraction * 100.0)
        }
        _ => String::new(),
    };
    println!(
        "{} in flight: {timestamps} timestamps in {secs:.2} s: {:.0}/s; crypto bound {:.0} signatures/s ({:.0}%){in_process}; \
         other: {} {:?}",
        summary.concurrency,
        summary.timestamps_per_s,
        summary.bound_signatures_per_s,
        summary.fraction_of_bound * 100.0,
        summary.other,
        tally.statuses,
    );
    print_cpu_and_latency(&summary.cpu, StatusCode::OK, summary.latency_ms.as_ref());
    print_json(&summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_carry_their_nonce() {
        let request = TimestampRequest::from_der(&request_body(0x0102)).unwrap();
        assert!(request.cert_req);
        assert_eq!(
            request.nonce.unwrap().as_bytes(),
            &[0x01, 0, 0, 0, 0, 0, 0, 0x01, 0x02]
        );
    }
}
