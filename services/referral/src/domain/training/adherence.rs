//! Adherence (docs/training.md, "Adherence"): for each prescribed exercise,
//! the sessions that included it against the `per_week` prescribed, per ISO
//! week in the clinic's time zone (Monday to Sunday where the clinic is).

use super::outcomes::same_name;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

/// The most weeks one answer covers (the latest ones).
pub const MAX_WEEKS: i64 = 12;

/// An exercise of the guidance in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prescribed<'a> {
    pub name: &'a str,
    pub per_week: i64,
}

/// A logged session: when, and the names of the exercises done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged<'a> {
    pub performed_at: DateTime<Utc>,
    pub exercises: Vec<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Week {
    /// ISO 8601 week, e.g. `2026-W49`.
    pub week: String,
    /// Its Monday, in the clinic's time zone.
    pub starts_on: NaiveDate,
    /// Over (its Sunday has ended where the clinic is).
    pub complete: bool,
    pub exercises: Vec<ExerciseWeek>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ExerciseWeek {
    pub name: String,
    pub per_week: i64,
    /// Sessions that week that included the exercise.
    pub sessions: i64,
    /// `sessions` as a share of `per_week`, in whole percent.
    pub percent: i64,
    /// A whole week under this guidance that is over with fewer than half
    /// the sessions prescribed: the trainer is shown it.
    pub below_half: bool,
}

/// The Monday of the week `at` falls in, where the clinic is.
pub fn monday_of(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let local = at.with_timezone(&tz).date_naive();
    local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
}

/// When that local Monday starts, as an instant (the first valid local
/// time of the day, should a DST change skip midnight).
pub fn start_of(monday: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = monday.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=3)
        .find_map(|hour| {
            tz.from_local_datetime(&(midnight + Duration::hours(hour)))
                .earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |t| t.with_timezone(&Utc),
        )
}

/// The first Monday counted: the week the guidance was shared in, or
/// [`MAX_WEEKS`] back from now, whichever is later. Sessions before its
/// start need not be read.
pub fn first_week(since: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let earliest = monday_of(now, tz) - Duration::weeks(MAX_WEEKS - 1);
    monday_of(since, tz).max(earliest)
}

/// Every week from [`first_week`] to the one `now` falls in, newest first.
/// `since`: when the guidance in force was shared; the week it was shared
/// in is only partly under it and is never flagged.
pub fn weekly(
    prescribed: &[Prescribed],
    sessions: &[Logged],
    tz: Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Week> {
    let first = first_week(since, now, tz);
    let last = monday_of(now, tz);
    let mut weeks = Vec::new();
    let mut monday = last;
    while monday >= first {
        let next = monday + Duration::weeks(1);
        let complete = start_of(next, tz) <= now;
        let whole = start_of(monday, tz) >= since;
        let in_week: Vec<&Logged> = sessions
            .iter()
            .filter(|s| monday_of(s.performed_at, tz) == monday)
            .collect();
        let exercises = prescribed
            .iter()
            .map(|p| {
                let done = in_week
                    .iter()
                    .filter(|s| s.exercises.iter().any(|e| same_name(e, p.name)))
                    .count() as i64;
                ExerciseWeek {
                    name: p.name.to_owned(),
                    per_week: p.per_week,
                    sessions: done,
                    percent: done * 100 / p.per_week.max(1),
                    below_half: complete && whole && done * 2 < p.per_week,
                }
            })
            .collect();
        let iso = monday.iso_week();
        weeks.push(Week {
            week: format!("{}-W{:02}", iso.year(), iso.week()),
            starts_on: monday,
            complete,
            exercises,
        });
        monday -= Duration::weeks(1);
    }
    weeks
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const SQUAT: Prescribed = Prescribed {
        name: "Goblet squat",
        per_week: 3,
    };

    #[test]
    fn a_session_counts_in_the_clinic_s_week_not_utc_s() {
        // Sunday 23:30 in Sydney is Sunday 12:30 UTC; Monday 00:30 in
        // Sydney is still Sunday in UTC.
        let sydney: Tz = "Australia/Sydney".parse().unwrap();
        let sessions = [
            Logged {
                performed_at: at("2026-12-13T12:30:00Z"),
                exercises: vec!["goblet squat"],
            },
            Logged {
                performed_at: at("2026-12-13T13:30:00Z"),
                exercises: vec!["Goblet squat", "Plank"],
            },
        ];
        let weeks = weekly(
            &[SQUAT],
            &sessions,
            sydney,
            at("2026-11-30T00:00:00Z"),
            at("2026-12-15T00:00:00Z"),
        );
        let found: Vec<(&str, i64)> = weeks
            .iter()
            .map(|w| (w.week.as_str(), w.exercises[0].sessions))
            .collect();
        assert_eq!(found, [("2026-W51", 1), ("2026-W50", 1), ("2026-W49", 0)]);
        // In UTC both fall on Sunday the 13th: one week, two sessions.
        let utc = weekly(
            &[SQUAT],
            &sessions,
            Tz::UTC,
            at("2026-11-30T00:00:00Z"),
            at("2026-12-15T00:00:00Z"),
        );
        assert_eq!(utc[1].exercises[0].sessions, 2);
    }

    #[test]
    fn only_a_whole_week_that_is_over_is_flagged_under_half() {
        let london: Tz = "Europe/London".parse().unwrap();
        // Shared on Wednesday 2 December; now Tuesday 22 December.
        let since = at("2026-12-02T10:00:00Z");
        let now = at("2026-12-22T10:00:00Z");
        let session = |day: &str| Logged {
            performed_at: at(day),
            exercises: vec!["Goblet squat"],
        };
        let sessions = [
            session("2026-12-08T09:00:00Z"),
            session("2026-12-10T09:00:00Z"), // W50: 2 of 3
            session("2026-12-16T09:00:00Z"), // W51: 1 of 3
        ];
        let weeks = weekly(&[SQUAT], &sessions, london, since, now);
        let found: Vec<(&str, bool, i64, i64, bool)> = weeks
            .iter()
            .map(|w| {
                let e = &w.exercises[0];
                (
                    w.week.as_str(),
                    w.complete,
                    e.sessions,
                    e.percent,
                    e.below_half,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("2026-W52", false, 0, 0, false), // under way
                ("2026-W51", true, 1, 33, true),
                ("2026-W50", true, 2, 66, false),
                ("2026-W49", true, 0, 0, false), // shared mid-week
            ]
        );
    }

    #[test]
    fn at_most_the_latest_weeks_are_counted() {
        let weeks = weekly(
            &[SQUAT],
            &[],
            Tz::UTC,
            at("2025-01-01T00:00:00Z"),
            at("2026-12-22T10:00:00Z"),
        );
        assert_eq!(weeks.len() as i64, MAX_WEEKS);
        assert_eq!(
            weeks[0].starts_on,
            NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()
        );
    }
}
