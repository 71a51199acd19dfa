//! Adherence as it is read and as it is told (docs/training.md,
//! "Adherence"): the weeks under the guidance in force, counted from the
//! session log; and, at the end of each whole week, a `TrainingBehind`
//! event when an exercise was done in under half its prescribed sessions.
//! The end of each week is a durable deadline of its own
//! (`adherence_week`), started when guidance with exercises is shared and
//! coming round every week while the client is under care, so it is told
//! once per week however many replicas run.

use super::access::UNDER_CARE;
use super::sessions::DoneExercise;
use crate::domain::lifecycle::Status;
use crate::domain::training::adherence::{
    Logged, Prescribed, Week, first_week, monday_of, start_of, weekly,
};
use crate::events;
use crate::guidance::{self, GuidanceView};
use crate::referrals::model::Referral;
use crate::schema::training_sessions;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::deadlines::{self, DeadlineKind, Due, Fired, Wait};
use spotter_platform::ApiError;

/// The zone weeks are counted in: the clinic's, UTC until one is known.
pub fn clinic_zone(referral: &Referral) -> Tz {
    referral
        .clinic_timezone
        .as_deref()
        .and_then(|name| name.parse().ok())
        .unwrap_or(Tz::UTC)
}

/// The weeks of `guidance` up to `now`, newest first, read from the
/// session log from the first week shown on (bounded: at most 12 weeks).
pub async fn weeks(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    guidance: &GuidanceView,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Week>> {
    let tz = clinic_zone(referral);
    let from = start_of(first_week(guidance.created_at, now, tz), tz);
    weeks_counting_from(conn, referral, guidance, from, now).await
}

/// The same weeks, counting only the sessions performed from `from` on
/// (the weeks before it show none).
async fn weeks_counting_from(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    guidance: &GuidanceView,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Week>> {
    let tz = clinic_zone(referral);
    let rows: Vec<(DateTime<Utc>, serde_json::Value)> = training_sessions::table
        .filter(training_sessions::referral_id.eq(referral.id))
        .filter(training_sessions::performed_at.ge(from))
        .select((
            training_sessions::performed_at,
            training_sessions::exercises,
        ))
        .load(conn)
        .await?;
    let done: Vec<(DateTime<Utc>, Vec<DoneExercise>)> = rows
        .into_iter()
        .map(|(at, exercises)| {
            serde_json::from_value(exercises)
                .map(|e| (at, e))
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
        })
        .collect::<QueryResult<_>>()?;
    let sessions: Vec<Logged> = done
        .iter()
        .map(|(at, exercises)| Logged {
            performed_at: *at,
            exercises: exercises.iter().map(|e| e.name.as_str()).collect(),
        })
        .collect();
    let prescribed: Vec<Prescribed> = guidance
        .exercises
        .iter()
        .map(|e| Prescribed {
            name: e.name.as_str(),
            per_week: e.per_week.get(),
        })
        .collect();
    Ok(weekly(&prescribed, &sessions, tz, guidance.created_at, now))
}

/// When the first whole week under guidance shared `since` ends: the week
/// it was shared in is only partly under it, and is never told of.
pub fn first_week_end(since: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let monday = monday_of(since, tz);
    let first_whole = if start_of(monday, tz) >= since {
        monday
    } else {
        monday + Duration::weeks(1)
    };
    start_of(first_whole + Duration::weeks(1), tz)
}

/// One step, due at the end of a week.
fn wait_until(since: DateTime<Utc>, end: DateTime<Utc>) -> Wait {
    Wait {
        started_at: since,
        remind_at: end,
        escalate_at: end,
    }
}

/// New guidance was shared: its weeks are counted from now on. Guidance
/// without exercises (or a discharge: sessions stop) has nothing to count.
pub async fn guidance_shared(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    has_exercises: bool,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let kind = DeadlineKind::AdherenceWeek;
    if has_exercises && UNDER_CARE.contains(&referral.status) {
        let end = first_week_end(at, clinic_zone(referral));
        deadlines::start(conn, referral.id, kind, wait_until(at, end)).await
    } else {
        deadlines::clear(conn, referral.id, kind).await
    }
}

/// While a referral waits for its next visit (a missed follow-up being
/// booked again), sessions cannot be logged: its weeks are passed over
/// untold, and counted again once the client is back under care.
const BETWEEN_VISITS: [Status; 4] = [
    Status::AwaitingBooking,
    Status::Waitlisted,
    Status::Booked,
    Status::NoShow,
];

/// A week ended: tells the trainer when it fell short, and waits for the
/// next one while the care goes on.
///
/// The week is the one whose end was scheduled (`escalate_at`, which
/// neither a busy referral nor a failed firing moves, unlike `due_at`), so
/// a worker catching up after a pause counts one week per round. It is
/// found three days before that end, wherever the clinic is now: a clinic
/// zone learnt since the round was scheduled (UTC until a booking names
/// one) moves the end by hours, never into another week, so no week is
/// told twice or skipped.
pub async fn week_ended(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    due: &Due,
) -> QueryResult<Fired> {
    let tz = clinic_zone(referral);
    let ended_week = monday_of(due.escalate_at - Duration::days(3), tz);
    let ended_at = start_of(ended_week + Duration::weeks(1), tz);
    let next = wait_until(
        due.started_at,
        start_of(ended_week + Duration::weeks(2), tz),
    );
    if BETWEEN_VISITS.contains(&referral.status) {
        return Ok(Fired::Again { told: false, next });
    }
    if !UNDER_CARE.contains(&referral.status) {
        return Ok(Fired::NoLongerAwaited);
    }
    let Some(guidance) = guidance::current(conn, referral.id)
        .await
        .map_err(as_query_error)?
    else {
        return Ok(Fired::NoLongerAwaited);
    };
    if guidance.exercises.is_empty() {
        return Ok(Fired::NoLongerAwaited);
    }
    // That week's sessions only.
    let from = start_of(ended_week, tz);
    let weeks = weeks_counting_from(conn, referral, &guidance, from, ended_at).await?;
    let ended = weeks.iter().find(|w| w.starts_on == ended_week);
    let behind = ended.map_or(0, |w| w.exercises.iter().filter(|e| e.below_half).count());
    if let (Some(week), true) = (ended, behind > 0) {
        let facts = events::BehindFacts {
            guidance_version: guidance.version,
            week: week.week.clone(),
            exercises_behind: behind,
            week_ended_at: ended_at,
        };
        spotter_messaging::enqueue(conn, &events::training_behind(referral, &facts)).await?;
    }
    Ok(Fired::Again {
        told: behind > 0,
        next,
    })
}

/// Guidance that cannot be read fails the firing, which is tried again in
/// a minute (the deadline worker's rule for any error).
fn as_query_error(error: ApiError) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(Box::new(error))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_first_week_told_of_is_the_first_whole_one() {
        let london: Tz = "Europe/London".parse().unwrap();
        // Shared on Wednesday 2 December: that week is partly under it, so
        // the first week told of is 7–13 December, ending Monday the 14th.
        assert_eq!(
            first_week_end(at("2026-12-02T10:00:00Z"), london),
            at("2026-12-14T00:00:00Z")
        );
        // Shared at the very start of a Monday: that week is whole.
        assert_eq!(
            first_week_end(at("2026-12-07T00:00:00Z"), london),
            at("2026-12-14T00:00:00Z")
        );
    }

    #[test]
    fn weeks_end_at_midnight_where_the_clinic_is() {
        let sydney: Tz = "Australia/Sydney".parse().unwrap();
        // Monday 14 December 00:00 in Sydney (UTC+11) is Sunday 13:00 UTC.
        let end = first_week_end(at("2026-12-02T10:00:00Z"), sydney);
        assert_eq!(end, at("2026-12-13T13:00:00Z"));
        // Across the end of daylight saving (Sunday 4 April 2027; UTC+10
        // after): Monday 5 April 00:00 is 14:00 UTC the day before.
        let monday = monday_of(at("2027-03-29T00:00:00Z"), sydney);
        assert_eq!(
            start_of(monday + Duration::weeks(1), sydney),
            at("2027-04-04T14:00:00Z")
        );
    }

    #[test]
    fn the_week_that_ended_is_found_wherever_the_clinic_turns_out_to_be() {
        // Scheduled in UTC (no zone known yet): Monday 14 December 00:00.
        let end = at("2026-12-14T00:00:00Z");
        for zone in [
            "UTC",
            "America/New_York",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let ended = monday_of(end - Duration::days(3), tz);
            assert_eq!(ended.to_string(), "2026-12-07", "{zone}");
        }
    }
}
