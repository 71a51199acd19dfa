//! Physios' diaries as slot generation needs them: time off and booked
//! appointments, read through the `(physio_id, starts_at)` indexes for one
//! search window at a time, so the cost follows the window, not the diary
//! (docs/architecture.md, "Booking").

use super::facts::{CLINIC_COLUMNS, ClinicColumns, clinic_facts, load_hours};
use crate::domain::matching::{ClinicFacts, LOCAL_DAY_REACH, PhysioFacts};
use crate::domain::slots::Interval;
use crate::schema::{appointments, clinics, physios, time_off};
use chrono::{DateTime, Duration, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use std::collections::HashMap;
use uuid::Uuid;

/// An appointment is at most 4 h plus a 2 h buffer long (the policy's caps),
/// so one that starts more than this before a window cannot reach into it.
const LONGEST_BLOCK: Duration = Duration::days(1);

/// Fills each physio's time off and booked appointments that matter to slots
/// starting within `window` (and to the day-load tie-break around them),
/// replacing what an earlier window or round loaded. Read through the
/// `(physio_id, starts_at)` indexes: the cost follows the window, not the diary.
pub async fn load_diaries(
    conn: &mut AsyncPgConnection,
    physios: &mut [PhysioFacts],
    clinics: &[ClinicFacts],
    window: Interval,
) -> QueryResult<()> {
    let ids: Vec<Uuid> = physios.iter().map(|p| p.id).collect();
    let (from, until) = (window.start - LOCAL_DAY_REACH, window.end + LOCAL_DAY_REACH);
    let (mut away, mut booked) = load_time_off_and_booked(conn, &ids, from, until).await?;
    for physio in physios {
        let buffer = clinics
            .iter()
            .find(|c| c.id == physio.clinic_id)
            .map_or(Duration::zero(), |c| c.rules.buffer);
        physio.time_off = away.remove(&physio.id).unwrap_or_default();
        physio.booked = booked
            .remove(&physio.id)
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.as_seen_with(buffer))
            .collect();
    }
    Ok(())
}

/// One physio's diary and their clinic's rules (for a reschedule), leaving
/// out the appointment being moved.
pub async fn physio_diary(
    conn: &mut AsyncPgConnection,
    physio_id: Uuid,
    moving: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Option<(ClinicFacts, PhysioFacts)>> {
    let (clinic_id, specialties, active): (Uuid, Vec<String>, bool) = physios::table
        .find(physio_id)
        .select((physios::clinic_id, physios::specialties, physios::active))
        .first(conn)
        .await?;
    let row: ClinicColumns = clinics::table
        .find(clinic_id)
        .select(CLINIC_COLUMNS)
        .first(conn)
        .await?;
    let Some(clinic) = clinic_facts(row) else {
        return Ok(None);
    };
    // A reschedule may land anywhere within the clinic's horizon.
    let until = now + Duration::days(i64::from(clinic.rules.horizon_days) + 1);
    let ids = [physio_id];
    let buffer = clinic.rules.buffer;
    let booked: Vec<Interval> = load_booked(conn, &ids, now, until)
        .await?
        .remove(&physio_id)
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.as_seen_with(buffer))
        .collect();
    // A physio's booked appointments never share a start (the constraint).
    let moving_start: Option<DateTime<Utc>> = appointments::table
        .find(moving)
        .select(appointments::starts_at)
        .first(conn)
        .await
        .optional()?;
    let physio = PhysioFacts {
        id: physio_id,
        clinic_id,
        active,
        specialties,
        hours: load_hours(conn, &ids)
            .await?
            .remove(&physio_id)
            .unwrap_or_default(),
        time_off: load_time_off(conn, &ids, now, until)
            .await?
            .remove(&physio_id)
            .unwrap_or_default(),
        booked: booked
            .into_iter()
            .filter(|i| Some(i.start) != moving_start)
            .collect(),
    };
    Ok(Some((clinic, physio)))
}

async fn load_time_off(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Vec<Interval>>> {
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = time_off::table
        .filter(time_off::physio_id.eq_any(physio_ids))
        .filter(time_off::ends_at.gt(from))
        .filter(time_off::starts_at.lt(until))
        .select((time_off::physio_id, time_off::starts_at, time_off::ends_at))
        .load(conn)
        .await?;
    Ok(by_physio(rows.into_iter().map(
        |(physio_id, start, end)| (physio_id, Interval { start, end }),
    )))
}

/// A booked appointment as the database holds it: the time it takes and the
/// buffer after it that it was booked with (`blocked_until`).
struct BookedSpan {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    blocked_until: DateTime<Utc>,
}

impl BookedSpan {
    fn from_row((physio_id, start, end, blocked_until, _): SpanRow) -> (Uuid, Self) {
        let span = Self {
            start,
            end,
            blocked_until,
        };
        (physio_id, span)
    }

    /// The interval slot generation keeps `buffer` away from. Slots pad each
    /// appointment with the clinic's buffer *now*; an appointment booked under
    /// a longer buffer still blocks its own (the exclusion constraint holds
    /// `blocked_until`), so its end is stretched to keep that clear too.
    fn as_seen_with(&self, buffer: Duration) -> Interval {
        Interval {
            start: self.start,
            end: self.end.max(self.blocked_until - buffer),
        }
    }
}

/// `status = 'booked'` as the diary index's predicate reads.
const BOOKED: &str = "\"appointments\".\"status\" = 'booked'";

/// Booked appointments whose blocked time overlaps `[from, until)`.
async fn load_booked(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Vec<BookedSpan>>> {
    // The SQL fragment's text is constant: the statement stays prepared.
    let rows: Vec<SpanRow> = prepared(booked_within(physio_ids, from, until))
        .load(conn)
        .await?;
    Ok(by_physio(rows.into_iter().map(BookedSpan::from_row)))
}

/// The query behind `load_booked`.
fn booked_within<'a>(
    physio_ids: &'a [Uuid],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> BoxedSpans<'a> {
    appointments::table
        .filter(appointments::physio_id.eq_any(physio_ids))
        // Written out, not bound: the plan kept for this statement then
        // reads the partial index `appointments_booked_diary`, which holds
        // every column read here (an index-only scan).
        .filter(sql::<Bool>(BOOKED))
        // A lower bound on starts_at keeps this a range scan of the index.
        .filter(appointments::starts_at.ge(from - LONGEST_BLOCK))
        .filter(appointments::starts_at.lt(until))
        .filter(appointments::blocked_until.gt(from))
        .select((
            appointments::physio_id,
            appointments::starts_at,
            appointments::ends_at,
            appointments::blocked_until,
            true.into_sql::<Bool>(),
        ))
        .into_boxed()
}

type SpanRow = (Uuid, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, bool);
type BoxedSpans<'a> = diesel::internal::table_macro::BoxedSelectStatement<
    'a,
    (SqlUuid, Timestamptz, Timestamptz, Timestamptz, Bool),
    diesel::internal::table_macro::FromClause<appointments::table>,
    diesel::pg::Pg,
>;

/// Time off and booked appointments overlapping `[from, until)` in one round
/// trip (`UNION ALL`): a booking reads a diary at least twice, so the round
/// trips count (docs/architecture.md, "What one flow costs").
async fn load_time_off_and_booked(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<(HashMap<Uuid, Vec<Interval>>, HashMap<Uuid, Vec<BookedSpan>>)> {
    let away = time_off::table
        .filter(time_off::physio_id.eq_any(physio_ids))
        .filter(time_off::ends_at.gt(from))
        .filter(time_off::starts_at.lt(until))
        .select((
            time_off::physio_id,
            time_off::starts_at,
            time_off::ends_at,
            time_off::ends_at,
            false.into_sql::<Bool>(),
        ));
    let rows: Vec<SpanRow> = prepared(booked_within(physio_ids, from, until).union_all(away))
        .load(conn)
        .await?;
    let (booked, away): (Vec<SpanRow>, Vec<SpanRow>) =
        rows.into_iter().partition(|&(.., is_booking)| is_booking);
    Ok((
        by_physio(
            away.into_iter()
                .map(|(physio_id, start, end, ..)| (physio_id, Interval { start, end })),
        ),
        by_physio(booked.into_iter().map(BookedSpan::from_row)),
    ))
}

fn by_physio<T>(rows: impl IntoIterator<Item = (Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (physio_id, row) in rows {
        grouped.entry(physio_id).or_default().push(row);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::BOOKED;
    use crate::domain::AppointmentStatus;

    #[test]
    fn the_written_out_status_is_the_booked_status() {
        let quoted = format!("'{}'", AppointmentStatus::Booked.as_str());
        assert!(BOOKED.ends_with(&quoted), "{BOOKED}");
    }
}
