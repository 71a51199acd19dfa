//! Loads what the matching rules need, and only that: the clinics whose
//! service area covers the trainer (found through a GiST index on each
//! clinic's area, not by reading every clinic), their active physios who
//! treat the region, and those physios' diaries one search window at a time.
//! A booking's reads so depend on the trainer's neighbourhood and the window,
//! never on the size of the network (docs/architecture.md, "Booking").

use crate::domain::geo::{Location, distance_km};
use crate::domain::hours::WeeklyHours;
use crate::domain::matching::{ClinicFacts, PhysioFacts};
use crate::domain::slots::{Interval, SlotRules};
use crate::schema::{appointments, clinics, physios, time_off, weekly_hours};
use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Float8};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

/// Slots start on a quarter-hour grid of the clinic's local time.
pub const SLOT_STEP_MINUTES: i64 = 15;

/// "The clinic's area may cover the point": the bounding box of its service
/// area (`earth_box`, in metres) contains the trainer. Written exactly as the
/// `clinics_service_area` index expression so the planner uses the index.
/// The box is 1% wider than the radius because `earthdistance` measures on a
/// slightly larger sphere than our haversine (6,378.168 vs 6,371.009 km, 0.11%
/// apart); the exact test is `distance_km`, the same function as ever.
const AREA_COVERS: &str =
    "earth_box(ll_to_earth(lat, lon), service_radius_km * 1010.0) @> ll_to_earth(";

/// An appointment is at most 4 h plus a 2 h buffer long (the policy's caps),
/// so one that starts more than this before a window cannot reach into it.
const LONGEST_BLOCK: Duration = Duration::days(1);
/// A physio's load on a slot's local day counts appointments up to two days
/// either side (see `DayLoad`): diaries are read that much beyond the window.
const DAY_REACH: Duration = Duration::days(2);

const CLINIC_COLUMNS: (
    clinics::id,
    clinics::timezone,
    clinics::lat,
    clinics::lon,
    clinics::service_radius_km,
    clinics::accepts_referrals,
    clinics::assessment_minutes,
    clinics::buffer_minutes,
    clinics::min_notice_minutes,
    clinics::horizon_days,
) = (
    clinics::id,
    clinics::timezone,
    clinics::lat,
    clinics::lon,
    clinics::service_radius_km,
    clinics::accepts_referrals,
    clinics::assessment_minutes,
    clinics::buffer_minutes,
    clinics::min_notice_minutes,
    clinics::horizon_days,
);

#[derive(Queryable)]
struct ClinicColumns {
    id: Uuid,
    timezone: String,
    lat: f64,
    lon: f64,
    service_radius_km: f64,
    accepts_referrals: bool,
    assessment_minutes: i32,
    buffer_minutes: i32,
    min_notice_minutes: i32,
    horizon_days: i32,
}

/// Who could take a referral: covering clinics and their suitable physios,
/// with weekly hours; diaries (`time_off`, `booked`) come per window from
/// [`load_diaries`].
#[derive(Debug, Default)]
pub struct Candidates {
    pub clinics: Vec<ClinicFacts>,
    pub physios: Vec<PhysioFacts>,
}

impl Candidates {
    /// The furthest any candidate clinic books ahead, from `now`.
    pub fn horizon_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let days = self
            .clinics
            .iter()
            .map(|c| c.rules.horizon_days)
            .max()
            .unwrap_or(0);
        now + Duration::days(i64::from(days))
    }
}

/// Clinics accepting referrals whose area covers `at`, and their active
/// physios who treat `body_region` (or anything: `general`).
pub async fn candidates(
    conn: &mut AsyncPgConnection,
    body_region: &str,
    at: Location,
) -> QueryResult<Candidates> {
    let clinics = covering(conn, at).await?;
    if clinics.is_empty() {
        return Ok(Candidates::default());
    }
    let clinic_ids: Vec<Uuid> = clinics.iter().map(|c| c.id).collect();
    let wanted = vec![body_region.to_owned(), "general".to_owned()];
    let physio_rows: Vec<(Uuid, Uuid, Vec<String>)> = physios::table
        .filter(physios::clinic_id.eq_any(&clinic_ids))
        .filter(physios::active.eq(true))
        .filter(physios::specialties.overlaps_with(&wanted))
        .select((physios::id, physios::clinic_id, physios::specialties))
        .load(conn)
        .await?;
    let physio_ids: Vec<Uuid> = physio_rows.iter().map(|(id, _, _)| *id).collect();
    let mut hours = load_hours(conn, &physio_ids).await?;
    let physios = physio_rows
        .into_iter()
        .map(|(id, clinic_id, specialties)| PhysioFacts {
            id,
            clinic_id,
            active: true,
            specialties,
            hours: hours.remove(&id).unwrap_or_default(),
            time_off: Vec::new(),
            booked: Vec::new(),
        })
        .collect();
    Ok(Candidates { clinics, physios })
}

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
    let (from, until) = (window.start - DAY_REACH, window.end + DAY_REACH);
    let mut away = load_time_off(conn, &ids, from, until).await?;
    let mut booked = load_booked(conn, &ids, from, until).await?;
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

/// Whether the physio still takes appointments (read after taking their
/// diary lock, so a deactivation that committed meanwhile is seen).
pub async fn still_active(conn: &mut AsyncPgConnection, physio: Uuid) -> QueryResult<bool> {
    Ok(physios::table
        .find(physio)
        .select(physios::active)
        .first::<bool>(conn)
        .await
        .optional()?
        .unwrap_or(false))
}

/// Ids of the clinics accepting referrals whose area covers `at`: those whose
/// admins hear of a referral waitlisted from there.
pub async fn covering_clinics(
    conn: &mut AsyncPgConnection,
    at: Location,
) -> QueryResult<Vec<Uuid>> {
    Ok(covering(conn, at)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect())
}

/// The index narrows the search to clinics whose area's bounding box holds
/// the point; the great-circle distance then decides, exactly as before.
async fn covering(conn: &mut AsyncPgConnection, at: Location) -> QueryResult<Vec<ClinicFacts>> {
    let rows: Vec<ClinicColumns> = clinics::table
        .filter(clinics::accepts_referrals.eq(true))
        .filter(
            sql::<Bool>(AREA_COVERS)
                .bind::<Float8, _>(at.lat)
                .sql(", ")
                .bind::<Float8, _>(at.lon)
                .sql(")"),
        )
        .select(CLINIC_COLUMNS)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            distance_km(
                Location {
                    lat: row.lat,
                    lon: row.lon,
                },
                at,
            ) <= row.service_radius_km
        })
        .filter_map(clinic_facts)
        .collect())
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

fn clinic_facts(row: ClinicColumns) -> Option<ClinicFacts> {
    // A zone is validated on write; a row that still fails to parse is skipped
    // (and logged) rather than breaking booking for every other clinic.
    let tz = match row.timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            tracing::error!(clinic_id = %row.id, "clinic has an invalid time zone; skipped");
            return None;
        }
    };
    Some(ClinicFacts {
        id: row.id,
        tz,
        location: Location {
            lat: row.lat,
            lon: row.lon,
        },
        service_radius_km: row.service_radius_km,
        accepts_referrals: row.accepts_referrals,
        rules: SlotRules {
            length: Duration::minutes(i64::from(row.assessment_minutes)),
            buffer: Duration::minutes(i64::from(row.buffer_minutes)),
            min_notice: Duration::minutes(i64::from(row.min_notice_minutes)),
            horizon_days: u32::try_from(row.horizon_days).unwrap_or(1),
            step: Duration::minutes(SLOT_STEP_MINUTES),
        },
    })
}

async fn load_hours(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<WeeklyHours>>> {
    let rows: Vec<(Uuid, i16, NaiveTime, NaiveTime)> = weekly_hours::table
        .filter(weekly_hours::physio_id.eq_any(physio_ids))
        .select((
            weekly_hours::physio_id,
            weekly_hours::weekday,
            weekly_hours::start_time,
            weekly_hours::end_time,
        ))
        .load(conn)
        .await?;
    let mut by_physio: HashMap<Uuid, Vec<WeeklyHours>> = HashMap::new();
    for (physio_id, weekday, start, end) in rows {
        if let Some(weekday) = weekday_from_number(weekday) {
            by_physio.entry(physio_id).or_default().push(WeeklyHours {
                weekday,
                start,
                end,
            });
        }
    }
    Ok(by_physio)
}

/// 1 = Monday … 7 = Sunday, as the API and the table store it.
pub fn weekday_from_number(n: i16) -> Option<Weekday> {
    match n {
        1 => Some(Weekday::Mon),
        2 => Some(Weekday::Tue),
        3 => Some(Weekday::Wed),
        4 => Some(Weekday::Thu),
        5 => Some(Weekday::Fri),
        6 => Some(Weekday::Sat),
        7 => Some(Weekday::Sun),
        _ => None,
    }
}

pub fn weekday_number(weekday: Weekday) -> i16 {
    i16::try_from(weekday.number_from_monday()).unwrap_or(1)
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
    Ok(group(rows))
}

/// A booked appointment as the database holds it: the time it takes and the
/// buffer after it that it was booked with (`blocked_until`).
#[derive(Queryable)]
struct BookedSpan {
    physio_id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    blocked_until: DateTime<Utc>,
}

impl BookedSpan {
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

/// Booked appointments whose blocked time overlaps `[from, until)`.
async fn load_booked(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Vec<BookedSpan>>> {
    let rows: Vec<BookedSpan> = appointments::table
        .filter(appointments::physio_id.eq_any(physio_ids))
        .filter(appointments::status.eq("booked"))
        // A lower bound on starts_at keeps this a range scan of the index.
        .filter(appointments::starts_at.ge(from - LONGEST_BLOCK))
        .filter(appointments::starts_at.lt(until))
        .filter(appointments::blocked_until.gt(from))
        .select((
            appointments::physio_id,
            appointments::starts_at,
            appointments::ends_at,
            appointments::blocked_until,
        ))
        .load(conn)
        .await?;
    let mut by_physio: HashMap<Uuid, Vec<BookedSpan>> = HashMap::new();
    for row in rows {
        by_physio.entry(row.physio_id).or_default().push(row);
    }
    Ok(by_physio)
}

fn group(rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)>) -> HashMap<Uuid, Vec<Interval>> {
    let mut by_physio: HashMap<Uuid, Vec<Interval>> = HashMap::new();
    for (physio_id, start, end) in rows {
        by_physio
            .entry(physio_id)
            .or_default()
            .push(Interval { start, end });
    }
    by_physio
}
