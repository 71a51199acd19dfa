//! What becomes of a push attempt, as pure rules: the delivery's new status,
//! the attempt's outcome for the record, and when to try again. The store
//! (`delivery.rs`) applies them; nothing here does I/O.

use super::{Answer, Verdict};
use crate::retry::Backoff;
use std::time::Duration;

/// A push older than this is given up: the news is stale (APNs drops it
/// after a day too).
pub(super) const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Why a delivery ends without a send.
pub(super) enum Skip {
    DeviceGone,
    TurnedOff,
}

/// 5 s doubling to 10 minutes between attempts (or the provider's
/// `Retry-After`), until the push is stale; no spread: each phone's pushes
/// are its own.
const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(5),
    cap: Duration::from_secs(600),
    give_up_after: GIVE_UP_AFTER,
    spread: 0.0,
};

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
            Verdict::Retry { after } => match BACKOFF.retry_in(attempts, after, age, 0.5) {
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
    fn a_retry_waits_as_the_provider_says_and_a_refusal_ends_it() {
        let busy = Answer {
            verdict: Verdict::Retry {
                after: Some(Duration::from_secs(30)),
            },
            http_status: Some(429),
            reason: None,
        };
        let young = Duration::from_secs(60);
        assert_eq!(
            outcome(1, young, &Ok(busy)),
            ("pending", "retry", Some(Duration::from_secs(30)))
        );
        let stale = Answer {
            verdict: Verdict::Retry { after: None },
            http_status: Some(503),
            reason: None,
        };
        assert_eq!(
            outcome(9, GIVE_UP_AFTER, &Ok(stale)),
            ("failed", "gave_up", None)
        );
        let refused = Answer {
            verdict: Verdict::Refused,
            http_status: Some(400),
            reason: None,
        };
        assert_eq!(outcome(1, young, &Ok(refused)), ("failed", "refused", None));
    }
}
