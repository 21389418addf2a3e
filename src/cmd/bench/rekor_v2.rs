//! `atesto bench rekor-v2`: durable entries per second of an in-process
//! Rekor v2 log (a fresh store and Ed25519 checkpoint key, served on a
//! loopback port, pre-signed hashedrekord 0.0.2 requests over HTTP on
//! keep-alive connections, every answer checked), beside
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
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::cpu_split::ServerShare;
use super::driver::{Latency, Rate, Tally, per_second, per_second_on_every_core, print_json};
use super::entries::{EntryFactory, presign_with};
use super::error::BenchError;
use super::in_process::{
    InProcessArgs, loopback_listener, print_cpu_and_latency, scratch_dir, serve,
};
use super::keep_alive::{Call, Calls, drive_calls};

const MAX_ENTRIES: u64 = 2_000_000;

#[derive(clap::Args)]
pub struct RekorV2LoadArgs {
    /// Entries to pre-sign and submit.
    #[arg(long, default_value_t = 20_000)]
    entries: u64,
    #[command(flatten)]
    load: InProcessArgs,
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
    #[serde(flatten)]
    cpu: ServerShare,
    latency_ms: Option<Latency>,
}

/// Whether `answer` is a TransparencyLogEntry for `request`: a hashedrekord
/// 0.0.2 whose canonical body carries the request's signature, with an
/// inclusion proof under a checkpoint.
fn logged(request: &[u8], answer: &[u8]) -> bool {
    let (Ok(request), Ok(answer)) = (
        serde_json::from_slice::<Value>(request),
        serde_json::from_slice::<Value>(answer),
    ) else {
        return false;
    };
    let body = answer["canonicalizedBody"]
        .as_str()
        .and_then(|body| STANDARD.decode(body).ok())
        .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
        .unwrap_or_default();
    let signature = |value: &Value| value["signature"]["content"].as_str().map(str::to_owned);
    answer["kindVersion"]["kind"] == "hashedrekord"
        && answer["kindVersion"]["version"] == "0.0.2"
        && answer["logIndex"].as_str().is_some()
        && answer["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .is_some_and(|envelope| !envelope.is_empty())
        && signature(&body["spec"]["hashedRekordV002"]).is_some()
        && signature(&body["spec"]["hashedRekordV002"])
            == signature(&request["hashedRekordRequestV002"])
}

/// ECDSA P-256 verifications per second over a digest, as the log makes one per entry.
fn verify_bound(time: Duration) -> Result<Rate, BenchError> {
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
    per_second_on_every_core(time, || {
        let digest =
            aws_lc_rs::digest::Digest::import_less_safe(hash.as_ref(), &aws_lc_rs::digest::SHA256)
                .map_err(|_| BenchError::Crypto("importing a digest"))?;
        public
            .verify_digest(&digest, signature.as_ref())
            .map_err(|_| BenchError::Crypto("verifying"))
    })
}

/// Ed25519 signatures per second over a checkpoint-sized text.
fn checkpoint_sign_bound(time: Duration) -> Result<Rate, BenchError> {
    let key = PrivateKey::generate(KeyType::Ed25519)
        .map_err(|_| BenchError::Crypto("generating a key"))?;
    let text = [0x31u8; 80];
    per_second_on_every_core(time, || {
        key.sign(&text)
            .map(drop)
            .map_err(|_| BenchError::Crypto("signing"))
    })
}

pub async fn load(args: RekorV2LoadArgs) -> Result<(), BenchError> {
    args.load.check("--entries", args.entries, MAX_ENTRIES)?;
    let dir = scratch_dir()?;
    let (listener, addr) = loopback_listener().await?;
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
    serve(listener, atesto_rekor_v2::router(log, &options));

    let factory = EntryFactory::new(rand::thread_rng().r#gen())?;
    let count = args.entries;
    let bodies = Arc::new(
        tokio::task::spawn_blocking(move || presign_with(&factory, count, EntryFactory::v2_body))
            .await??,
    );
    let slice = args.load.bound_slice();
    let mut tally = Tally::default();
    let (mut secs, mut verify_rates, mut sign_rates) = (0.0, Vec::new(), Vec::new());
    for (first, this_round) in args.load.rounds(count) {
        let (sent, checked) = (bodies.clone(), bodies.clone());
        let this = drive_calls(Calls {
            addr,
            count: this_round,
            load: args.load.load(),
            success: StatusCode::CREATED,
            call: move |n| Call::Post {
                path: "/api/v2/log/entries".into(),
                content_type: "application/json",
                body: sent[(first + n) as usize].clone(),
            },
            check: move |n: u64, answer: &[u8]| logged(&checked[(first + n) as usize], answer),
        })
        .await?;
        secs += this.elapsed.as_secs_f64();
        tally.merge(this);
        verify_rates.push(tokio::task::spawn_blocking(move || verify_bound(slice)).await??);
        sign_rates.push(tokio::task::spawn_blocking(move || checkpoint_sign_bound(slice)).await??);
    }
    let created = tally.status(StatusCode::CREATED);
    let answered: u64 = tally.statuses.values().sum();
    let batches = batch_size.get_sample_count();
    let (verify_rate, sign_rate) = (Rate::mean(&verify_rates), Rate::mean(&sign_rates));
    let (verifies, signs) = (verify_rate.per_second, sign_rate.per_second);
    // Seconds per entry: its verification and its share of its batch's
    // checkpoint signature.
    let entry_rate = |verifies: f64, signs: f64| {
        1.0 / (1.0 / verifies + batches as f64 / (created.max(1) as f64 * signs))
    };
    let bound = entry_rate(verifies, signs);
    let created_per_s = per_second(created, secs);
    let summary = RekorV2Summary {
        bench: "rekor-v2",
        entries: count,
        concurrency: args.load.concurrency(),
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
        cpu: ServerShare::of(
            (tally.server_cpu_secs, tally.load_cpu_secs),
            secs,
            created_per_s,
            entry_rate(verify_rate.per_cpu_second, sign_rate.per_cpu_second),
        ),
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
    print_cpu_and_latency(
        &summary.cpu,
        StatusCode::CREATED,
        summary.latency_ms.as_ref(),
    );
    print_json(&summary)
}
