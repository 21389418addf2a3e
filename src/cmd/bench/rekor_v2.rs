//! `atesto bench rekor-v2`: durable entries per second of an in-process
//! Rekor v2 log (a fresh store and Ed25519 checkpoint key, served on a
//! loopback port, pre-signed hashedrekord 0.0.2 requests over HTTP), beside
//! the crypto bound measured in the same run: one ECDSA P-256 verification
//! per entry plus one Ed25519 checkpoint signature per batch, on every core.
//! The load generator shares the cores with the log, so the ratio is a
//! lower bound on what a separate log host reaches.

use std::sync::Arc;
use std::time::Duration;

use atesto_common::keys::{KeyType, PrivateKey};
use atesto_rekor_v2::config::RekorV2Config;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use rand::Rng;
use reqwest::StatusCode;
use serde::Serialize;

use super::driver::{
    Latency, Plan, check_concurrency, drive, http_client, per_second_on_every_core, print_json,
};
use super::entries::{EntryFactory, presign_with};
use super::error::BenchError;

const MAX_ENTRIES: u64 = 2_000_000;

#[derive(clap::Args)]
pub struct RekorV2LoadArgs {
    /// Entries to pre-sign and submit.
    #[arg(long, default_value_t = 20_000)]
    entries: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of each crypto measurement for the bound.
    #[arg(long, default_value_t = 5)]
    bound_secs: u64,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
}

#[derive(Serialize)]
struct RekorV2Summary {
    bench: &'static str,
    entries: u64,
    concurrency: usize,
    secs: f64,
    created: u64,
    /// 201s per second: durable entries.
    created_per_s: f64,
    other: u64,
    transport_errors: u64,
    batches: u64,
    /// ECDSA P-256 verifications per second on every core.
    bound_verifies_per_s: f64,
    /// Ed25519 signatures per second on every core.
    bound_checkpoint_signs_per_s: f64,
    /// Entries per second the crypto alone allows at this run's batch sizes.
    bound_entries_per_s: f64,
    /// created_per_s / bound_entries_per_s.
    fraction_of_bound: f64,
    latency_ms: Option<Latency>,
}

/// ECDSA P-256 verifications per second over a digest, as the log makes one per entry.
fn verify_bound(secs: u64) -> Result<f64, BenchError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|_| BenchError::Crypto("generating a key"))?;
    let message = b"atesto bench rekor-v2 artifact";
    let signature = key
        .sign(&SystemRandom::new(), message)
        .map_err(|_| BenchError::Crypto("signing"))?;
    let spki = key
        .public_key()
        .as_der()
        .map_err(|_| BenchError::Crypto("encoding a public key"))?;
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, spki.as_ref().to_vec());
    let hash = digest(&SHA256, message);
    per_second_on_every_core(secs, || {
        let digest =
            aws_lc_rs::digest::Digest::import_less_safe(hash.as_ref(), &aws_lc_rs::digest::SHA256)
                .map_err(|_| BenchError::Crypto("importing a digest"))?;
        public
            .verify_digest(&digest, signature.as_ref())
            .map_err(|_| BenchError::Crypto("verifying"))
    })
}

/// Ed25519 signatures per second over a checkpoint-sized text.
fn checkpoint_sign_bound(secs: u64) -> Result<f64, BenchError> {
    let key = PrivateKey::generate(KeyType::Ed25519)
        .map_err(|_| BenchError::Crypto("generating a key"))?;
    let text = [0x31u8; 80];
    per_second_on_every_core(secs, || {
        key.sign(&text)
            .map(drop)
            .map_err(|_| BenchError::Crypto("signing"))
    })
}

pub async fn load(args: RekorV2LoadArgs) -> Result<(), BenchError> {
    check_concurrency(args.concurrency)?;
    if args.entries == 0 || args.entries > MAX_ENTRIES {
        return Err(BenchError::Args(format!(
            "--entries must be between 1 and {MAX_ENTRIES}"
        )));
    }
    let dir = tempfile::tempdir().map_err(|source| BenchError::Io {
        what: "a temporary directory".into(),
        source,
    })?;
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
    let config = RekorV2Config {
        data: Some(dir.path().to_owned()),
        addr: addr.to_string(),
        ..RekorV2Config::default()
    };
    let failed = |what: &str, e: &dyn std::fmt::Display| BenchError::Args(format!("{what}: {e}"));
    let log = crate::cmd::tlog::open_v2(&config)
        .await
        .map_err(|e| failed("starting the Rekor v2 log", &e))?;
    let batch_size = log.log.metrics().batch_size.clone();
    let options = crate::cmd::api_options(config.body_limit, config.request_timeout_secs);
    tokio::spawn(atesto_common::serve::serve(
        listener,
        atesto_rekor_v2::router(log, &options),
        atesto_common::serve::ConnectionLimits::default(),
        std::future::pending(),
    ));

    let factory = EntryFactory::new(rand::thread_rng().r#gen())?;
    let count = args.entries;
    let bodies = Arc::new(
        tokio::task::spawn_blocking(move || presign_with(&factory, count, EntryFactory::v2_body))
            .await??,
    );
    let client = http_client(args.concurrency)?;
    let url = format!("http://{addr}/api/v2/log/entries");
    let plan = Plan {
        count,
        concurrency: args.concurrency,
        rate: None,
        max_time: Duration::from_secs(args.max_secs),
        success: StatusCode::CREATED,
    };
    let tally = drive(plan, move |n| {
        client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bodies[n as usize].clone())
    })
    .await?;
    let secs = tally.elapsed.as_secs_f64();
    let created = tally.status(StatusCode::CREATED);
    let answered: u64 = tally.statuses.values().sum();
    let batches = batch_size.get_sample_count();

    let bound_secs = args.bound_secs.max(1);
    let verifies = tokio::task::spawn_blocking(move || verify_bound(bound_secs)).await??;
    let signs = tokio::task::spawn_blocking(move || checkpoint_sign_bound(bound_secs)).await??;
    // Core-seconds per entry: its verification and its share of its batch's
    // checkpoint signature.
    let per_entry = 1.0 / verifies + batches as f64 / (created.max(1) as f64 * signs);
    let bound = 1.0 / per_entry;
    let created_per_s = if secs > 0.0 {
        created as f64 / secs
    } else {
        0.0
    };
    let summary = RekorV2Summary {
        bench: "rekor-v2",
        entries: count,
        concurrency: args.concurrency,
        secs,
        created,
        created_per_s,
        other: answered - created,
        transport_errors: tally.transport_errors,
        batches,
        bound_verifies_per_s: verifies,
        bound_checkpoint_signs_per_s: signs,
        bound_entries_per_s: bound,
        fraction_of_bound: created_per_s / bound,
        latency_ms: Latency::of(tally.latencies_us),
    };
    println!(
        "{} in flight: {created} durable entries in {secs:.2} s: {created_per_s:.0}/s in {batches} batches; \
         crypto bound {bound:.0} entries/s ({verifies:.0} verifications/s, {signs:.0} checkpoint signatures/s): {:.0}%; other: {} {:?}",
        summary.concurrency,
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
