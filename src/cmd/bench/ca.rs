//! `atesto bench ca`: signing requests against a running CA. This command
//! serves a development OIDC issuer on `--issuer-addr` (configure it in the
//! CA's issuers file as an email issuer) and mints the tokens itself.

use std::sync::Arc;
use std::time::Duration;

use atesto_ca::identity::dev_issuer::DevIssuer;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::driver::{
    Latency, Plan, check_concurrency, check_count, check_rate, drive, http_client, loop_mode,
    loopback_url, per_second, print_json,
};
use super::entries::public_key_pem;
use super::error::BenchError;

const MAX_REQUESTS: u64 = 2_000_000;
/// Tokens live this long: longer than any run.
const TOKEN_LIFETIME_SECS: u64 = 3 * 3600;

#[derive(clap::Args)]
pub struct CaLoadArgs {
    /// Base URL of the CA, e.g. http://127.0.0.1:5555.
    #[arg(long)]
    url: String,
    /// Where this command serves its OIDC issuer; the CA's issuers file must
    /// list `http://<this address>` as an email issuer.
    #[arg(long, default_value = "127.0.0.1:5560")]
    issuer_addr: String,
    /// Signing requests to send.
    #[arg(long)]
    requests: u64,
    /// Distinct identities (key, token, proof), used in turn.
    #[arg(long, default_value_t = 256)]
    identities: u64,
    /// Requests in flight (closed loop), or at most in flight (open loop).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop: offer this many requests per second on a fixed schedule.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(Serialize)]
struct CaSummary {
    bench: &'static str,
    mode: &'static str,
    requests: u64,
    concurrency: usize,
    offered_per_s: Option<f64>,
    sent: u64,
    secs: f64,
    /// 200s per second: certificates with an embedded SCT.
    certificates_per_s: f64,
    certificates: u64,
    other: u64,
    transport_errors: u64,
    /// Of the 200s.
    latency_ms: Option<Latency>,
}

pub async fn load(args: CaLoadArgs) -> Result<(), BenchError> {
    let base = loopback_url(&args.url)?;
    check_concurrency(args.concurrency)?;
    check_count("--requests", args.requests, MAX_REQUESTS)?;
    if args.identities == 0 || args.identities > args.requests {
        return Err(BenchError::Args(
            "--identities must be between 1 and --requests".into(),
        ));
    }
    check_rate(args.rate)?;
    let issuer_url = format!("http://{}", args.issuer_addr);
    let issuer = Arc::new(DevIssuer::new(issuer_url.clone()));
    let listener = tokio::net::TcpListener::bind(&args.issuer_addr)
        .await
        .map_err(|source| BenchError::Io {
            what: format!("listening on {}", args.issuer_addr),
            source,
        })?;
    let router = issuer.router();
    tokio::spawn(atesto_common::serve::serve(
        listener,
        router,
        atesto_common::serve::ConnectionLimits::default(),
        std::future::pending(),
    ));

    let bodies = Arc::new(
        (0..args.identities)
            .map(|n| request_body(&issuer, &issuer_url, n))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let client = http_client(args.concurrency)?;
    let url = format!("{base}/api/v2/signingCert");
    let plan = Plan {
        count: args.requests,
        concurrency: args.concurrency,
        rate: args.rate,
        max_time: Duration::from_secs(args.max_secs),
        success: StatusCode::OK,
    };
    let tally = drive(plan, move |n| {
        client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bodies[(n % bodies.len() as u64) as usize].clone())
    })
    .await?;
    let secs = tally.elapsed.as_secs_f64();
    let certificates = tally.status(StatusCode::OK);
    let answered: u64 = tally.statuses.values().sum();
    let summary = CaSummary {
        bench: "ca",
        mode: loop_mode(args.rate),
        requests: args.requests,
        concurrency: args.concurrency,
        offered_per_s: args.rate,
        sent: tally.sent,
        secs,
        certificates_per_s: per_second(certificates, secs),
        certificates,
        other: answered - certificates,
        transport_errors: tally.transport_errors,
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} loop, {} in flight: sent {} in {secs:.2} s; certificates/s: {:.0}; 200: {certificates}, other: {} {:?}",
        summary.mode,
        summary.concurrency,
        summary.sent,
        summary.certificates_per_s,
        summary.other,
        tally.statuses,
    );
    println!(
        "latency of 200s: {}",
        Latency::line(summary.latency_ms.as_ref())
    );
    print_json(&summary)
}

/// A v2 request with the token in the body (as sigstore-js sends it), a new
/// P-256 key and its proof over the email.
fn request_body(issuer: &DevIssuer, issuer_url: &str, n: u64) -> Result<Vec<u8>, BenchError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| BenchError::Crypto("generating a key"))?;
    let public_key = key
        .public_key()
        .as_der()
        .map_err(|_| BenchError::Crypto("encoding a public key"))?;
    let email = format!("bench-{n}@atesto.invalid");
    let proof = key
        .sign(&SystemRandom::new(), email.as_bytes())
        .map_err(|_| BenchError::Crypto("signing the challenge"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let token = issuer.mint(json!({
        "iss": issuer_url,
        "aud": "sigstore",
        "sub": format!("bench-{n}"),
        "email": email,
        "email_verified": true,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME_SECS,
    }));
    Ok(serde_json::to_vec(&json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": public_key_pem(public_key.as_ref())},
            "proofOfPossession": STANDARD.encode(proof.as_ref()),
        }
    }))?)
}
