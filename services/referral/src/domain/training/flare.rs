//! A flare: a logged session that went past the guidance's limits
//! (docs/training.md, "Flares"). The physio hears of it at once; two in a
//! week suggest seeing the client sooner.

use chrono::Duration;
use spotter_platform::coded;

coded! {
    /// What made a session a flare.
    pub enum FlareSign {
        /// Pain during the session, or the day after, above the ceiling.
        PainAboveCeiling = "pain_above_ceiling",
        /// The session's RPE above the guidance's maximum.
        RpeAboveMax = "rpe_above_max",
    }
}

/// The guidance's load limits, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    pub max_rpe: i64,
    pub pain_ceiling: i64,
}

/// What the trainer reported for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub session_rpe: i64,
    pub pain_during: i64,
    /// Known the next day; none until then.
    pub pain_after: Option<i64>,
}

/// How far back flares are counted for an earlier review.
pub const FLARE_WINDOW: Duration = Duration::days(7);

/// Flares within [`FLARE_WINDOW`] (this one included) that suggest an
/// earlier review.
pub const FLARES_FOR_EARLIER_REVIEW: i64 = 2;

/// The signs of a flare in a session; empty when it stayed within limits.
/// Reaching the ceiling is within it ("stop when pain reaches this").
pub fn signs(limits: LoadLimits, reported: Reported) -> Vec<FlareSign> {
    let mut found = Vec::new();
    let worst_pain = reported.pain_after.map_or(reported.pain_during, |after| {
        after.max(reported.pain_during)
    });
    if worst_pain > limits.pain_ceiling {
        found.push(FlareSign::PainAboveCeiling);
    }
    if reported.session_rpe > limits.max_rpe {
        found.push(FlareSign::RpeAboveMax);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pain_or_effort_above_the_limits_is_a_flare() {
        let limits = LoadLimits {
            max_rpe: 6,
            pain_ceiling: 3,
        };
        let cases = [
            ("within limits", (6, 3, None), vec![]),
            ("at both limits", (6, 3, Some(3)), vec![]),
            (
                "pain during above",
                (5, 4, None),
                vec![FlareSign::PainAboveCeiling],
            ),
            (
                "pain the day after above",
                (5, 2, Some(4)),
                vec![FlareSign::PainAboveCeiling],
            ),
            ("too hard", (7, 0, Some(0)), vec![FlareSign::RpeAboveMax]),
            (
                "both",
                (9, 8, Some(9)),
                vec![FlareSign::PainAboveCeiling, FlareSign::RpeAboveMax],
            ),
        ];
        for (name, (session_rpe, pain_during, pain_after), expected) in cases {
            let reported = Reported {
                session_rpe,
                pain_during,
                pain_after,
            };
            assert_eq!(signs(limits, reported), expected, "{name}");
        }
    }
}
