//! Loads what the matching rules need, and only that: the clinics whose
//! service area covers the trainer (found through a GiST index on each
//! clinic's area, not by reading every clinic), their active physios who
//! treat the region (their diaries, a search window at a time, are in
//! `diaries`). A booking's reads so depend on the trainer's neighbourhood and
//! the window, never on the size of the network (docs/architecture.md,
//! "Booking").

use crate::domain::geo::{Location, distance_km};
use crate::domain::hours::WeeklyHours;
use crate::domain::matching::{BodyRegion, ClinicFacts, GENERAL, PhysioFacts};
use crate::domain::slots::SlotRules;
use crate::schema::{clinics, physios, weekly_hours};
use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use std::collections::HashMap;
use uuid::Uuid;

pub use super::diaries::{load_diaries, physio_diary};

/// Slots start on a quarter-hour grid of the clinic's local time.
pub const SLOT_STEP_MINUTES: i64 = 15;

/// "The clinic's area may cover the point": the bounding box of its service
/// area (`service_box`, stored: `earth_box` of its centre and radius, in
/// metres) contains the trainer's point. The box is 1% wider than the radius
/// because `earthdistance` measures on a slightly larger sphere than our
/// haversine (6,378.168 vs 6,371.009 km, 0.11% apart); the exact test is
/// `distance_km`, the same function as ever. The point comes bound, as
/// `earth_point` computes it, read as `(SELECT $n::cube)`: once per search,
/// and opaque to the planner, so the one plan the database keeps for the
/// statement is the plan for every trainer (see `covering`).
const AREA_COVERS: [&str; 2] = ["service_box @> (SELECT ", "::cube)"];

/// earthdistance's `earth()`: the radius of its sphere, in metres.
const EARTH_RADIUS_M: f64 = 6_378_168.0;

/// The point as earthdistance's `ll_to_earth(lat, lon)` gives it, in cube's
/// text form. Computed here: in the database `ll_to_earth` is an SQL
/// function that cannot be inlined (its search_path is pinned), so each
/// call is compiled afresh, which cost as much as the rest of the search.
pub fn earth_point(at: Location) -> String {
    let (lat, lon) = (at.lat.to_radians(), at.lon.to_radians());
    let x = EARTH_RADIUS_M * lat.cos() * lon.cos();
    let y = EARTH_RADIUS_M * lat.cos() * lon.sin();
    let z = EARTH_RADIUS_M * lat.sin();
    format!("({x}, {y}, {z})")
}

pub(super) const CLINIC_COLUMNS: (
    clinics::id,
    clinics::timezone,
    clinics::lat,
    clinics::lon,
    clinics::service_radius_km,
    clinics::accepts_referrals,
    clinics::assessment_minutes,
    clinics::follow_up_minutes,
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
    clinics::follow_up_minutes,
    clinics::buffer_minutes,
    clinics::min_notice_minutes,
    clinics::horizon_days,
);

#[derive(Queryable)]
pub(super) struct ClinicColumns {
    id: Uuid,
    timezone: String,
    lat: f64,
    lon: f64,
    service_radius_km: f64,
    accepts_referrals: bool,
    assessment_minutes: i32,
    follow_up_minutes: i32,
    buffer_minutes: i32,
    min_notice_minutes: i32,
    horizon_days: i32,
}

/// Which covering clinics a referral may go to: never one that refused it,
/// and only `only` when it is set (a rebooking after a missed appointment).
#[derive(Debug, Default, Clone, Copy)]
pub struct Allowed<'a> {
    pub refused_by: &'a [Uuid],
    pub only: Option<Uuid>,
}

impl Allowed<'_> {
    pub fn admits(&self, clinic: Uuid) -> bool {
        !self.refused_by.contains(&clinic) && self.only.is_none_or(|only| only == clinic)
    }
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

/// Clinics accepting referrals whose area covers `at`, but none of
/// `refused_by`, and their active physios who treat `body_region` (or
/// anything: `general`).
pub async fn candidates(
    conn: &mut AsyncPgConnection,
    body_region: BodyRegion,
    at: Location,
    allowed: &Allowed<'_>,
) -> QueryResult<Candidates> {
    let mut clinics = covering(conn, at).await?;
    clinics.retain(|c| allowed.admits(c.id));
    if clinics.is_empty() {
        return Ok(Candidates::default());
    }
    let clinic_ids: Vec<Uuid> = clinics.iter().map(|c| c.id).collect();
    let wanted = vec![body_region.to_string(), GENERAL.to_owned()];
    let physio_rows: Vec<(Uuid, Uuid, Vec<String>)> = physios::table
        .filter(physios::clinic_id.eq_any(&clinic_ids))
        .filter(physios::active.eq(true))
        .filter(physios::specialties.overlaps_with(&wanted))
        .select((physios::id, physios::clinic_id, physios::specialties))
        .load(conn)
        .await?;
    let physios = with_hours(conn, physio_rows).await?;
    Ok(Candidates { clinics, physios })
}

/// Active physios `(id, clinic, specialties)` with their weekly hours; their
/// diaries come per window from [`load_diaries`].
async fn with_hours(
    conn: &mut AsyncPgConnection,
    rows: Vec<(Uuid, Uuid, Vec<String>)>,
) -> QueryResult<Vec<PhysioFacts>> {
    let physio_ids: Vec<Uuid> = rows.iter().map(|(id, _, _)| *id).collect();
    let mut hours = load_hours(conn, &physio_ids).await?;
    Ok(rows
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
        .collect())
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

/// The clinics a waiting referral could still go to: those whose area
/// covers `at` and that `allowed` admits. Also says whether any clinic
/// covers it at all (all refused it, or none is there).
pub async fn clinics_that_could_take(
    conn: &mut AsyncPgConnection,
    at: Location,
    allowed: Allowed<'_>,
) -> QueryResult<(bool, Vec<Uuid>)> {
    let mut clinics = covering_clinics(conn, at).await?;
    let covered = !clinics.is_empty();
    clinics.retain(|c| allowed.admits(*c));
    Ok((covered, clinics))
}

/// The index narrows the search to clinics whose area's bounding box holds
/// the point; the great-circle distance then decides, exactly as before.
async fn covering(conn: &mut AsyncPgConnection, at: Location) -> QueryResult<Vec<ClinicFacts>> {
    // The fragment's text is constant, so the statement can stay prepared.
    // `accepts_referrals` is the column itself, not compared with a bound
    // `true`: the index is partial on it, and a plan kept for any value could
    // not use it, so the database planned this search afresh on every
    // booking (docs/architecture.md, "What one flow costs").
    let rows: Vec<ClinicColumns> = prepared(
        clinics::table
            .filter(clinics::accepts_referrals)
            .filter(
                sql::<Bool>(AREA_COVERS[0])
                    .bind::<Text, _>(earth_point(at))
                    .sql(AREA_COVERS[1]),
            )
            .select(CLINIC_COLUMNS),
    )
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

/// A clinic as a follow-up there needs it: its follow-up length, and
/// reachable whatever its radius or intake (the client is its patient
/// already). `None` for an unknown clinic or an invalid zone.
pub async fn clinic_for_follow_up(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
) -> QueryResult<Option<ClinicFacts>> {
    let row: Option<ClinicColumns> = clinics::table
        .find(clinic_id)
        .select(CLINIC_COLUMNS)
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let follow_up = Duration::minutes(i64::from(row.follow_up_minutes));
    Ok(clinic_facts(row).map(|mut clinic| {
        clinic.rules.length = follow_up;
        clinic.accepts_referrals = true;
        clinic
    }))
}

/// Who a follow-up is booked with: the treating physio while active; once
/// they are gone, the clinic's active physios who treat `body_region`.
pub async fn follow_up_physios(
    conn: &mut AsyncPgConnection,
    treating: Uuid,
    clinic_id: Uuid,
    body_region: BodyRegion,
) -> QueryResult<Vec<PhysioFacts>> {
    let active = || {
        physios::table
            .filter(physios::clinic_id.eq(clinic_id))
            .filter(physios::active.eq(true))
            .select((physios::id, physios::clinic_id, physios::specialties))
    };
    let mut rows: Vec<(Uuid, Uuid, Vec<String>)> =
        active().filter(physios::id.eq(treating)).load(conn).await?;
    if rows.is_empty() {
        let wanted = vec![body_region.to_string(), GENERAL.to_owned()];
        rows = active()
            .filter(physios::specialties.overlaps_with(&wanted))
            .load(conn)
            .await?;
    }
    with_hours(conn, rows).await
}

pub(super) fn clinic_facts(row: ClinicColumns) -> Option<ClinicFacts> {
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

pub(super) async fn load_hours(
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
