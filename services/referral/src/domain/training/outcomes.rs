//! Outcome measures and when a change in them matters (docs/training.md,
//! "Outcome measures"): the numeric pain rating scale (NPRS, 0–10, lower is
//! better) and the Patient-Specific Functional Scale (PSFS: up to three
//! activities the client names, each 0–10, higher is better).

use serde::Serialize;
use spotter_platform::coded;
use utoipa::ToSchema;

/// NPRS: a change of 2 points is the minimal clinically important
/// difference. Childs JD, Piva SR, Fritz JM. Responsiveness of the numeric
/// pain rating scale in patients with low back pain. Spine 2005;30:1331–4;
/// Farrar JT et al. Pain 2001;94:149–58 (2 points, or 30 %).
pub const NPRS_MCID: i64 = 2;

/// PSFS: a change of 2 points in the average score is the minimal
/// clinically important difference. Stratford P, Gill C, Westaway M,
/// Binkley J. Assessing disability and change on individual patients: a
/// report of a patient specific measure. Physiotherapy Canada
/// 1995;47:258–63.
pub const PSFS_MCID: f64 = 2.0;

/// The most activities one PSFS names.
pub const PSFS_ACTIVITIES: usize = 3;

/// One scoring of the measures.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub nprs: i64,
    /// `(activity, score)`, the activity as the client named it.
    pub psfs: Vec<(String, i64)>,
}

coded! {
    /// How a measure moved since the baseline.
    pub enum Change {
        /// Better by at least the minimal clinically important difference.
        Improved = "improved",
        /// Worse by at least that much.
        Worsened = "worsened",
        /// Less than that either way.
        NotMeaningful = "not_meaningful",
    }
}

/// One measure against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Movement {
    /// Later minus baseline, in the scale's points (an average for PSFS).
    pub by: f64,
    pub change: Change,
}

/// Both measures against the baseline; PSFS only when the two scorings
/// share an activity (the same activity, named alike, is compared).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Comparison {
    pub nprs: Movement,
    pub psfs: Option<Movement>,
}

impl Comparison {
    /// A meaningful improvement on either measure, and no meaningful
    /// worsening on the other.
    pub fn meaningfully_improved(&self) -> bool {
        let changes = [Some(self.nprs.change), self.psfs.map(|m| m.change)];
        changes.contains(&Some(Change::Improved)) && !changes.contains(&Some(Change::Worsened))
    }
}

pub fn compare(baseline: &Scores, later: &Scores) -> Comparison {
    // Pain falls as the client gets better: an improvement is a drop.
    let nprs_by = later.nprs - baseline.nprs;
    let nprs = Movement {
        by: nprs_by as f64,
        change: judged(-(nprs_by as f64), NPRS_MCID as f64),
    };
    let shared: Vec<(i64, i64)> = baseline
        .psfs
        .iter()
        .filter_map(|(activity, before)| {
            later
                .psfs
                .iter()
                .find(|(other, _)| same_name(activity, other))
                .map(|(_, after)| (*before, *after))
        })
        .collect();
    let psfs = (!shared.is_empty()).then(|| {
        let count = shared.len() as f64;
        let before = shared.iter().map(|(b, _)| *b as f64).sum::<f64>() / count;
        let after = shared.iter().map(|(_, a)| *a as f64).sum::<f64>() / count;
        let by = ((after - before) * 100.0).round() / 100.0;
        Movement {
            by,
            change: judged(by, PSFS_MCID),
        }
    });
    Comparison { nprs, psfs }
}

/// `gain` is positive when the client is better.
fn judged(gain: f64, mcid: f64) -> Change {
    if gain >= mcid {
        Change::Improved
    } else if gain <= -mcid {
        Change::Worsened
    } else {
        Change::NotMeaningful
    }
}

/// "Running", " running " and "RUNNING" are one activity (or exercise).
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(nprs: i64, psfs: &[(&str, i64)]) -> Scores {
        Scores {
            nprs,
            psfs: psfs.iter().map(|(a, s)| ((*a).to_owned(), *s)).collect(),
        }
    }

    #[test]
    fn pain_must_fall_by_two_points_to_count() {
        let cases = [
            (7, 5, Change::Improved),
            (7, 6, Change::NotMeaningful),
            (7, 7, Change::NotMeaningful),
            (3, 4, Change::NotMeaningful),
            (3, 5, Change::Worsened),
            (10, 0, Change::Improved),
        ];
        for (before, after, expected) in cases {
            let found = compare(&scores(before, &[]), &scores(after, &[]));
            assert_eq!(found.nprs.change, expected, "{before} → {after}");
            assert_eq!(found.nprs.by, (after - before) as f64);
            assert_eq!(found.psfs, None);
        }
    }

    #[test]
    fn function_must_rise_by_two_points_on_average_to_count() {
        let baseline = scores(5, &[("Running", 2), ("Stairs", 4), ("Squatting", 3)]);
        let cases = [
            // average 3 → 5
            (
                vec![("running", 4), ("Stairs ", 6), ("squatting", 5)],
                Some((2.0, Change::Improved)),
            ),
            // average 3 → 4.67
            (
                vec![("Running", 4), ("Stairs", 6), ("Squatting", 4)],
                Some((1.67, Change::NotMeaningful)),
            ),
            // average 3 → 1
            (
                vec![("Running", 0), ("Stairs", 2), ("Squatting", 1)],
                Some((-2.0, Change::Worsened)),
            ),
            // only the shared activity counts: 2 → 5
            (
                vec![("Running", 5), ("Cycling", 0)],
                Some((3.0, Change::Improved)),
            ),
            // nothing in common: nothing to compare
            (vec![("Cycling", 9)], None),
        ];
        for (later, expected) in cases {
            let found = compare(&baseline, &scores(5, &later));
            assert_eq!(found.psfs.map(|m| (m.by, m.change)), expected, "{later:?}");
        }
    }

    #[test]
    fn an_improvement_on_one_measure_counts_unless_the_other_worsened() {
        let baseline = scores(6, &[("Running", 3)]);
        let cases = [
            (scores(4, &[("Running", 3)]), true),
            (scores(6, &[("Running", 5)]), true),
            (scores(4, &[("Running", 1)]), false),
            (scores(5, &[("Running", 4)]), false),
            (scores(3, &[]), true),
        ];
        for (later, expected) in cases {
            assert_eq!(
                compare(&baseline, &later).meaningfully_improved(),
                expected,
                "{later:?}"
            );
        }
    }
}
