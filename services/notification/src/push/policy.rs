//! What becomes of a push attempt, as pure rules: the delivery's new status,
//! the attempt's outcome for the record, and when to try again. The store
//! (`delivery.rs`) applies them; nothing here does I/O.

use super::{Answer, Verdict};
use std::time::Duration;

/// A push older than this is given up: the news is stale (APNs drops it
/// after a day too).
pub(super) const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Why a delivery ends without a send.
pub(super) enum Skip {
    DeviceGone,
    TurnedOff,
}

/// Seconds until the next attempt, or None to give up (the push is stale by
/// then). `Retry-After` is honoured as given; without one, 5 s doubling to
/// 10 minutes.
fn retry_in(attempts: i32, after: Option<Duration>, age: Duration) -> Option<Duration> {
    let wait = after
        .unwrap_or_else(|| backoff(attempts))
        .max(Duration::from_secs(1));
    (age + wait <= GIVE_UP_AFTER).then_some(wait)
}

fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(7);
    (Duration::from_secs(5) * 2u32.pow(doublings)).min(Duration::from_secs(600))
}

/// What the attempt comes to: the delivery's status, the attempt's outcome,
/// and when to try again.
pub(super) fn outcome(
    attempts: i32,
    age: Duration,
    answer: &Result<Answer, Skip>,
) -> (&'static str, &'static str, Option<Duration>) {
    match answer {
        Err(Skip::DeviceGone) => ("dropped", "device_gone", None),
        Err(Skip::TurnedOff) => ("dropped", "turned_off", None),
        Ok(answer) => match answer.verdict {
            Verdict::Delivered => ("delivered", "delivered", None),
            Verdict::DeviceGone => ("dropped", "device_gone", None),
            Verdict::Refused => ("failed", "refused", None),
            Verdict::Retry { after } => match retry_in(attempts, after, age) {
                Some(wait) => ("pending", "retry", Some(wait)),
                None => ("failed", "gave_up", None),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_and_back_off_doubles_to_a_cap() {
        let young = Duration::from_secs(60);
        assert_eq!(
            retry_in(1, Some(Duration::from_secs(30)), young),
            Some(Duration::from_secs(30))
        );
        // Never a busy loop, even for `Retry-After: 0`.
        assert_eq!(
            retry_in(1, Some(Duration::ZERO), young),
            Some(Duration::from_secs(1))
        );
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(3), Duration::from_secs(20));
        assert_eq!(backoff(20), Duration::from_secs(600));
        assert_eq!(retry_in(20, None, young), Some(Duration::from_secs(600)));
    }

    #[test]
    fn a_push_is_given_up_once_its_news_would_be_a_day_old() {
        let almost_a_day = GIVE_UP_AFTER - Duration::from_secs(30);
        // The third attempt's 20 s fits; the fourth's 40 s does not.
        assert_eq!(
            retry_in(3, None, almost_a_day),
            Some(Duration::from_secs(20))
        );
        assert_eq!(retry_in(4, None, almost_a_day), None);
        // A Retry-After reaching past the day is not cut short: given up.
        assert_eq!(
            retry_in(1, Some(GIVE_UP_AFTER), Duration::from_secs(1)),
            None
        );
    }
}
