//! The limits a deployment tunes: deadline intervals, per-user rate limits,
//! fair-use quotas and live-stream bounds, each with defaults and a check
//! run at start (a service refuses to start with a limit that makes no sense).

use serde::Deserialize;

/// When each deadline's two stages fall due (docs/architecture.md,
/// "Deadlines"). The defaults are those clinics chase by hand today.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)] // a file or variable may set one interval and keep the others
pub struct DeadlineSettings {
    /// The booking service: the covering clinics are told when this share
    /// of a waiting referral's target window (flag to `target_by`) is left.
    pub booking_reminder_share: f64,
    /// After an assessment without guidance: the physio is reminded …
    pub guidance_reminder_hours: u32,
    /// … and then the clinic's admins are told.
    pub guidance_escalation_hours: u32,
    /// After new guidance the trainer has not acknowledged: they are
    /// reminded …
    pub acknowledgement_reminder_hours: u32,
    /// … and then the physio is told it has not been read.
    pub acknowledgement_escalation_hours: u32,
}

impl DeadlineSettings {
    /// A reminder that comes after its escalation, or at the start of the
    /// wait, would silently reorder or flood what people are told.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.booking_reminder_share > 0.0 && self.booking_reminder_share < 1.0,
            "deadlines.booking_reminder_share must be between 0 and 1"
        );
        anyhow::ensure!(
            0 < self.guidance_reminder_hours
                && self.guidance_reminder_hours < self.guidance_escalation_hours
                && 0 < self.acknowledgement_reminder_hours
                && self.acknowledgement_reminder_hours < self.acknowledgement_escalation_hours,
            "deadlines: each reminder must be at least 1 hour and before its escalation"
        );
        Ok(())
    }
}

impl Default for DeadlineSettings {
    fn default() -> Self {
        Self {
            booking_reminder_share: 0.25,
            guidance_reminder_hours: 24,
            guidance_escalation_hours: 72,
            acknowledgement_reminder_hours: 48,
            acknowledgement_escalation_hours: 96,
        }
    }
}

/// Token buckets per authenticated user and replica (`rate_limit.rs`). The
/// defaults are far above what the app sends for one person (a screen loads
/// a handful of reads; a trainer writes a few times a minute) and stop a loop.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)] // a file or variable may set one limit and keep the others
pub struct RateLimitSettings {
    pub reads_per_minute: u32,
    /// Reads allowed at once before the rate applies.
    pub read_burst: u32,
    pub writes_per_minute: u32,
    pub write_burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            reads_per_minute: 600,
            read_burst: 120,
            writes_per_minute: 120,
            write_burst: 60,
        }
    }
}

/// Fair-use quotas (docs/architecture.md, "Fair use"). The defaults let a
/// busy trainer with dozens of clients work and stop a script.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)] // a file or variable may set one limit and keep the others
pub struct QuotaSettings {
    /// Referrals a trainer may have open at once (not yet acknowledged,
    /// cancelled, no-show or sent to emergency care).
    pub open_referrals_per_trainer: u32,
    /// Clients a trainer may add in any 24 hours.
    pub new_clients_per_day: u32,
    /// The widest service radius a clinic may have (the booking service;
    /// never more than 500). Only platform admins set a clinic's radius.
    pub max_service_radius_km: f64,
    /// Declines and clinic-side cancellations of one referral after which it
    /// stops auto-booking and waits on the platform admins' worklist.
    pub refusals_before_review: u32,
}

impl QuotaSettings {
    /// Refuses limits that would silently mean something else: a quota of 0
    /// would let nobody work, and a radius beyond 500 km is no local clinic.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.open_referrals_per_trainer > 0
                && self.new_clients_per_day > 0
                && self.refusals_before_review > 0,
            "quotas must be at least 1 (open_referrals_per_trainer, new_clients_per_day, refusals_before_review)"
        );
        anyhow::ensure!(
            (0.1..=500.0).contains(&self.max_service_radius_km),
            "quotas.max_service_radius_km must be at least 0.1 (the least radius a clinic may have) and at most 500"
        );
        Ok(())
    }
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self {
            open_referrals_per_trainer: 50,
            new_clients_per_day: 100,
            max_service_radius_km: 50.0,
            refusals_before_review: 3,
        }
    }
}

/// Limits on `GET /v1/notifications/stream`, per replica.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)] // a file or variable may set one limit and keep the others
pub struct StreamSettings {
    /// Open streams per user; one more closes that user's oldest.
    pub max_per_user: usize,
    /// Open streams in all; beyond it a new one is refused with 503.
    pub max_per_replica: usize,
    /// A comment line this often keeps proxies from closing an idle stream,
    /// and is how the server notices an app that went away (its slot frees
    /// at the first write that fails, within two heartbeats).
    pub heartbeat_seconds: u64,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_per_user: 5,
            max_per_replica: 2_000,
            heartbeat_seconds: 15,
        }
    }
}

/// Webhooks to clinics' own systems (the notification service;
/// docs/webhooks.md).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Accept `http://` endpoints and loopback, link-local and private
    /// addresses: for development and tests only (the dev stack turns it
    /// on; production never should).
    pub allow_private_addresses: bool,
    /// An attempt without a complete answer within this is a failure.
    pub timeout_seconds: u64,
    /// After a rotation the previous secret still signs for this long.
    pub secret_overlap_hours: u32,
    /// A message still undelivered this long after its event is given up,
    /// and an endpoint failing this long is turned off.
    pub give_up_after_hours: u32,
}

impl WebhookSettings {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=30).contains(&self.timeout_seconds),
            "webhooks.timeout_seconds must be 1 to 30"
        );
        anyhow::ensure!(
            self.give_up_after_hours >= 1 && self.secret_overlap_hours <= 24 * 7,
            "webhooks: give_up_after_hours at least 1, secret_overlap_hours at most a week"
        );
        Ok(())
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            timeout_seconds: 10,
            secret_overlap_hours: 24,
            give_up_after_hours: 24,
        }
    }
}
