//! When to try a webhook message again, as pure rules (docs/webhooks.md,
//! "Delivery"): exponential back-off with jitter, `Retry-After` honoured,
//! given up once the message would be older than the give-up window.

use std::time::Duration;

/// 5 s, doubling, at most 3 hours apart: about 19 attempts in a day.
fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(12);
    (Duration::from_secs(5) * 2u32.pow(doublings)).min(Duration::from_secs(3 * 3600))
}

/// The wait before the next attempt, or `None` to give up. `jitter` in
/// [0, 1) spreads the back-off by ±20% so that endpoints that failed
/// together are not retried together; a `Retry-After` is taken as given
/// (at least a second).
pub fn retry_in(
    attempts: i32,
    retry_after: Option<Duration>,
    age: Duration,
    give_up_after: Duration,
    jitter: f64,
) -> Option<Duration> {
    let wait = match retry_after {
        // Capped: a receiver's number must not overflow the sum below.
        Some(after) => after.clamp(Duration::from_secs(1), give_up_after),
        None => backoff(attempts).mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)),
    };
    age.checked_add(wait)
        .filter(|at| *at <= give_up_after)
        .map(|_| wait)
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn back_off_doubles_with_jitter_to_a_cap() {
        let young = Duration::from_secs(60);
        assert_eq!(
            retry_in(1, None, young, DAY, 0.5),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_in(3, None, young, DAY, 0.5),
            Some(Duration::from_secs(20))
        );
        // ±20%.
        assert_eq!(
            retry_in(3, None, young, DAY, 0.0),
            Some(Duration::from_secs(16))
        );
        assert_eq!(
            retry_in(30, None, young, DAY, 0.5),
            Some(Duration::from_secs(3 * 3600))
        );
    }

    #[test]
    fn retry_after_is_honoured_and_a_day_old_message_given_up() {
        let young = Duration::from_secs(60);
        let after = Some(Duration::from_secs(120));
        assert_eq!(
            retry_in(1, after, young, DAY, 0.9),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_in(1, Some(Duration::ZERO), young, DAY, 0.9),
            Some(Duration::from_secs(1))
        );
        // Any number a receiver sends is safe.
        assert_eq!(
            retry_in(1, Some(Duration::from_secs(u64::MAX)), young, DAY, 0.5),
            None
        );
        let almost = DAY - Duration::from_secs(5);
        assert_eq!(retry_in(2, None, almost, DAY, 0.5), None);
        // The schedule spans about a day: the attempts until the give-up.
        let (mut age, mut attempts) = (Duration::ZERO, 1);
        while let Some(wait) = retry_in(attempts, None, age, DAY, 0.5) {
            age += wait;
            attempts += 1;
        }
        assert!((17..=21).contains(&attempts), "{attempts} attempts");
        assert!(age > Duration::from_secs(20 * 3600), "{age:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 10:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
