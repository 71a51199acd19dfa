//! Per-user request budgets (docs/architecture.md, "Fair use"): a token
//! bucket per authenticated user, one for reads and one for writes, so a
//! script can neither flood writes nor starve a phone's reads. Refusals are
//! `429` problem+json with `Retry-After` (`ApiError::RateLimited`).
//!
//! Checked once per request where the caller is first verified (the auth
//! extractors), per replica: N replicas allow N times the budget, which the
//! defaults allow for.

use crate::settings::RateLimitSettings;
use actix_web::http::Method;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct RateLimiter {
    reads: DefaultKeyedRateLimiter<Uuid>,
    writes: DefaultKeyedRateLimiter<Uuid>,
}

/// How often users whose buckets are full again are forgotten, so memory
/// follows the users active in the last minutes, not all ever seen. Off the
/// request path: a sweep visits every user held.
const FORGET_EVERY: Duration = Duration::from_secs(60);

impl RateLimiter {
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<Self> {
        let quota = |per_minute: u32, burst: u32, what: &str| -> anyhow::Result<Quota> {
            let positive = |n: u32| {
                NonZeroU32::new(n)
                    .ok_or_else(|| anyhow::anyhow!("rate_limits: {what} must be above 0"))
            };
            Ok(Quota::per_minute(positive(per_minute)?).allow_burst(positive(burst)?))
        };
        Ok(Self {
            reads: DefaultKeyedRateLimiter::keyed(quota(
                settings.reads_per_minute,
                settings.read_burst,
                "reads",
            )?),
            writes: DefaultKeyedRateLimiter::keyed(quota(
                settings.writes_per_minute,
                settings.write_burst,
                "writes",
            )?),
        })
    }

    /// The background sweep ([`FORGET_EVERY`]), until `shutdown`.
    pub async fn forget_idle_users(self: Arc<Self>, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(FORGET_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {
                    self.reads.retain_recent();
                    self.writes.retain_recent();
                }
            }
        }
    }

    /// Takes one request from `user`'s budget for `method` (GET and HEAD are
    /// reads, the rest writes), or says how long until there is room.
    pub fn check(&self, user: Uuid, method: &Method) -> Result<(), Duration> {
        let bucket = if matches!(*method, Method::GET | Method::HEAD) {
            &self.reads
        } else {
            &self.writes
        };
        bucket
            .check_key(&user)
            .map_err(|not_until| not_until.wait_time_from(bucket.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            reads_per_minute: 60,
            read_burst: burst,
            writes_per_minute: 60,
            write_burst: burst,
        }
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_the_wait_and_budgets_are_separate() {
        let limiter = RateLimiter::new(&limits(2)).unwrap();
        let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(limiter.check(user, &Method::POST).is_ok());
        assert!(limiter.check(user, &Method::PATCH).is_ok());
        let wait = limiter.check(user, &Method::POST).unwrap_err();
        // 60 a minute: one more after at most a second.
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limiter.check(user, &Method::GET).is_ok(),
            "reads have their own budget"
        );
        assert!(
            limiter.check(other, &Method::POST).is_ok(),
            "users have their own"
        );
    }

    #[test]
    fn zero_is_refused_at_start() {
        assert!(RateLimiter::new(&limits(0)).is_err());
    }
}
