//! How push and webhook attempts end, for `/metrics` (the push failure rate
//! and webhook give-ups alert on these; docs/runbook.md). Every series starts
//! at zero so a rate exists before the first attempt.

use prometheus::core::Collector;
use prometheus::{IntCounterVec, Opts};

/// Every provider's series exist, configured or not: a zero for a provider
/// this deployment does not use is harmless, and the exported names do not
/// depend on the configuration (deploy/observability/metrics.txt).
const PROVIDERS: [&str; 2] = ["apns", "fcm"];
/// The outcomes `push::policy::outcome` records.
const PUSH_OUTCOMES: [&str; 6] = [
    "delivered",
    "retry",
    "gave_up",
    "refused",
    "device_gone",
    "turned_off",
];
/// The outcomes `webhooks::delivery` records.
const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retry", "gave_up"];

#[derive(Clone)]
pub struct AttemptMetrics {
    push: IntCounterVec,
    webhooks: IntCounterVec,
}

impl AttemptMetrics {
    pub fn new() -> anyhow::Result<Self> {
        let push = IntCounterVec::new(
            Opts::new(
                "push_attempts_total",
                "Push attempts made by this replica, by provider and how they ended",
            ),
            &["provider", "outcome"],
        )?;
        for provider in PROVIDERS {
            for outcome in PUSH_OUTCOMES {
                push.with_label_values(&[provider, outcome]);
            }
        }
        let webhooks = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Webhook deliveries attempted by this replica, by how they ended",
            ),
            &["outcome"],
        )?;
        for outcome in WEBHOOK_OUTCOMES {
            webhooks.with_label_values(&[outcome]);
        }
        Ok(Self { push, webhooks })
    }

    pub fn push(&self, provider: &str, outcome: &str) {
        self.push.with_label_values(&[provider, outcome]).inc();
    }

    pub fn webhook(&self, outcome: &str) {
        self.webhooks.with_label_values(&[outcome]).inc();
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![Box::new(self.push.clone()), Box::new(self.webhooks.clone())]
    }
}
