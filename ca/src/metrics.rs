//! Prometheus metrics of the CA, served at `/metrics`.

use std::sync::Arc;

use atesto_common::http::{HttpMetrics, render_metrics};
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    /// Certificates issued, by whether they embed an SCT.
    pub certificates: IntCounterVec,
    /// Refused requests, by the check that failed.
    pub refusals: IntCounterVec,
    /// Time the CT log took to answer add-pre-chain.
    pub ct_seconds: Histogram,
    pub http: Arc<HttpMetrics>,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("atesto_ca".into()), None)?;
        let certificates = IntCounterVec::new(
            Opts::new("certificates_total", "Certificates issued"),
            &["sct"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "refusals_total",
                "Signing requests refused, by failed check",
            ),
            &["check"],
        )?;
        let ct_seconds = Histogram::with_opts(
            HistogramOpts::new("ct_seconds", "CT log add-pre-chain round trip")
                .buckets(prometheus::exponential_buckets(0.0005, 2.0, 14)?),
        )?;
        registry.register(Box::new(certificates.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(ct_seconds.clone()))?;
        let http = Arc::new(HttpMetrics::register(&registry)?);
        Ok(Self {
            registry,
            certificates,
            refusals,
            ct_seconds,
            http,
        })
    }

    pub fn render(&self) -> String {
        render_metrics(&self.registry)
    }
}
