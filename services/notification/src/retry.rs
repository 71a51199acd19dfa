//! When to try a push or a webhook again, as one rule for both (pure; the
//! queues apply it): exponential back-off from a first wait to a cap, an
//! optional spread so that failures that came together are not retried
//! together, the other side's `Retry-After` honoured, and a give-up once
//! the message would be too old at its next attempt.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    /// The longest wait between two attempts.
    pub cap: Duration,
    /// A message older than this at its next attempt is given up.
    pub give_up_after: Duration,
    /// Each back-off is spread by up to this share either way (0.2: ±20%).
    pub spread: f64,
}

impl Backoff {
    /// The `attempts`-th back-off, before spreading: `first`, doubling, to `cap`.
    fn after(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.first.saturating_mul(2u32.pow(doublings)).min(self.cap)
    }

    /// The wait before the next attempt, or `None` to give up. `retry_after`
    /// is taken as given, at least a second and never past the give-up
    /// window (a number from the other side must not overflow the sum);
    /// `draw` in [0, 1) places the back-off within its spread.
    pub fn retry_in(
        &self,
        attempts: i32,
        retry_after: Option<Duration>,
        age: Duration,
        draw: f64,
    ) -> Option<Duration> {
        let wait = match retry_after {
            Some(after) => after.clamp(Duration::from_secs(1), self.give_up_after),
            None => {
                let factor = 1.0 + self.spread * (2.0 * draw.clamp(0.0, 1.0) - 1.0);
                self.after(attempts)
                    .mul_f64(factor)
                    .max(Duration::from_secs(1))
            }
        };
        age.checked_add(wait)
            .filter(|at| *at <= self.give_up_after)
            .map(|_| wait)
    }
}

/// `Retry-After` in seconds or as an HTTP date (a date already past: now).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const MINUTE: Duration = Duration::from_secs(60);

    fn plain(cap: Duration) -> Backoff {
        Backoff {
            first: Duration::from_secs(5),
            cap,
            give_up_after: DAY,
            spread: 0.0,
        }
    }

    #[test]
    fn back_off_doubles_to_its_cap_and_spreads_either_way() {
        let b = plain(Duration::from_secs(600));
        assert_eq!(
            b.retry_in(1, None, MINUTE, 0.9),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            b.retry_in(3, None, MINUTE, 0.9),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            b.retry_in(40, None, MINUTE, 0.9),
            Some(Duration::from_secs(600))
        );
        let spread = Backoff { spread: 0.2, ..b };
        assert_eq!(
            spread.retry_in(3, None, MINUTE, 0.0),
            Some(Duration::from_secs(16))
        );
        assert_eq!(
            spread.retry_in(3, None, MINUTE, 0.5),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            spread.retry_in(3, None, MINUTE, 1.0),
            Some(Duration::from_secs(24))
        );
    }

    #[test]
    fn retry_after_is_honoured_but_never_overflows() {
        let b = plain(Duration::from_secs(600));
        let after = |s| Some(Duration::from_secs(s));
        assert_eq!(b.retry_in(1, after(30), MINUTE, 0.5), after(30));
        // Never a busy loop, even for `Retry-After: 0`.
        assert_eq!(b.retry_in(1, after(0), MINUTE, 0.5), after(1));
        // Any number the other side sends is safe: past the window, given up.
        assert_eq!(b.retry_in(1, after(u64::MAX), MINUTE, 0.5), None);
        assert_eq!(b.retry_in(1, Some(DAY), Duration::from_secs(1), 0.5), None);
    }

    #[test]
    fn a_message_is_given_up_once_it_would_be_a_day_old() {
        let b = plain(Duration::from_secs(600));
        let almost = DAY - Duration::from_secs(30);
        // The third attempt's 20 s fits; the fourth's 40 s does not.
        assert_eq!(
            b.retry_in(3, None, almost, 0.5),
            Some(Duration::from_secs(20))
        );
        assert_eq!(b.retry_in(4, None, almost, 0.5), None);
        // A 3-hour cap: about 19 attempts in a day.
        let webhooks = plain(Duration::from_secs(3 * 3600));
        let (mut age, mut attempts) = (Duration::ZERO, 1);
        while let Some(wait) = webhooks.retry_in(attempts, None, age, 0.5) {
            age += wait;
            attempts += 1;
        }
        assert_eq!(attempts, 19);
        assert!(age > Duration::from_secs(20 * 3600), "{age:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let after = retry_after(&headers).unwrap();
        assert!(after > Duration::from_secs(100) && after <= Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
