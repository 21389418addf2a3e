//! What a monitor daemon exports on /metrics.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::monitor::Outcome;

#[derive(Clone)]
pub struct MonitorMetrics {
    alerts: IntCounterVec,
    checks: IntCounterVec,
    verified_size: IntGauge,
    matches: IntCounter,
    scanned: IntCounter,
}

impl MonitorMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let alerts = IntCounterVec::new(
            Opts::new(
                "atesto_monitor_alerts_total",
                "Alerts raised against the log, by kind",
            ),
            &["kind"],
        )?;
        let checks = IntCounterVec::new(
            Opts::new(
                "atesto_monitor_checks_total",
                "Checks run, by result (verified, alert, error)",
            ),
            &["result"],
        )?;
        let verified_size = IntGauge::new(
            "atesto_monitor_verified_tree_size",
            "Size of the last tree head verified consistent",
        )?;
        let matches = IntCounter::new(
            "atesto_monitor_identity_matches_total",
            "Entries signed by a watched identity (one per identity matched)",
        )?;
        let scanned = IntCounter::new(
            "atesto_monitor_scanned_entries_total",
            "Entries read by the identity watch",
        )?;
        registry.register(Box::new(matches.clone()))?;
        registry.register(Box::new(scanned.clone()))?;
        registry.register(Box::new(alerts.clone()))?;
        registry.register(Box::new(checks.clone()))?;
        registry.register(Box::new(verified_size.clone()))?;
        // Every alert kind shows from the start, at 0: an alerting rule on
        // `increase()` needs the series to exist before the first alert.
        for kind in crate::alert::Alert::KINDS {
            alerts.with_label_values(&[kind]);
        }
        Ok(Self {
            alerts,
            checks,
            verified_size,
            matches,
            scanned,
        })
    }

    /// Counts one check's result.
    pub fn record(&self, result: &Result<Outcome, crate::MonitorError>) {
        match result {
            Ok(Outcome::Verified { head, .. }) => {
                self.checks.with_label_values(&["verified"]).inc();
                self.verified_size
                    .set(i64::try_from(head.size).unwrap_or(i64::MAX));
            }
            Ok(Outcome::Alert(alert)) => {
                self.checks.with_label_values(&["alert"]).inc();
                self.alerts.with_label_values(&[alert.kind()]).inc();
            }
            Err(_) => self.checks.with_label_values(&["error"]).inc(),
        }
    }

    /// Counts one identity scan.
    pub fn record_scan(&self, summary: &crate::scan::ScanSummary) {
        self.matches.inc_by(summary.matches);
        self.scanned.inc_by(summary.entries);
    }
}
