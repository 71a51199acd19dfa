//! Loads what the matching rules need: candidate clinics and physios with
//! their hours, time off and booked appointments from now on.

use crate::domain::geo::{Location, distance_km};
use crate::domain::hours::WeeklyHours;
use crate::domain::matching::{ClinicFacts, PhysioFacts};
use crate::domain::slots::{Interval, SlotRules};
use crate::schema::{appointments, clinics, physios, time_off, weekly_hours};
use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

/// Slots start on a quarter-hour grid of the clinic's local time.
pub const SLOT_STEP_MINUTES: i64 = 15;

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

/// Clinics accepting referrals, and their active physios who treat
/// `body_region` (or anything: `general`). The radius is the domain's check.
pub async fn load(
    conn: &mut AsyncPgConnection,
    body_region: &str,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<ClinicFacts>, Vec<PhysioFacts>)> {
    let clinic_rows: Vec<ClinicColumns> = clinics::table
        .filter(clinics::accepts_referrals.eq(true))
        .select(CLINIC_COLUMNS)
        .load(conn)
        .await?;
    let clinics: Vec<ClinicFacts> = clinic_rows.into_iter().filter_map(clinic_facts).collect();
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
    let mut away = load_intervals_time_off(conn, &physio_ids, now).await?;
    let mut booked = load_booked(conn, &physio_ids, now).await?;
    let physios = physio_rows
        .into_iter()
        .map(|(id, clinic_id, specialties)| PhysioFacts {
            id,
            clinic_id,
            active: true,
            specialties,
            hours: hours.remove(&id).unwrap_or_default(),
            time_off: away.remove(&id).unwrap_or_default(),
            booked: booked.remove(&id).unwrap_or_default(),
        })
        .collect();
    Ok((clinics, physios))
}

/// Clinics accepting referrals whose service area covers `at`: those whose
/// waitlist shows a referral from there.
pub async fn covering_clinics(
    conn: &mut AsyncPgConnection,
    at: Location,
) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<(Uuid, f64, f64, f64)> = clinics::table
        .filter(clinics::accepts_referrals.eq(true))
        .select((
            clinics::id,
            clinics::lat,
            clinics::lon,
            clinics::service_radius_km,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|&(_, lat, lon, radius)| distance_km(Location { lat, lon }, at) <= radius)
        .map(|(id, ..)| id)
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
    let ids = [physio_id];
    let booked = load_booked(conn, &ids, now)
        .await?
        .remove(&physio_id)
        .unwrap_or_default();
    let moving_interval: Option<(DateTime<Utc>, DateTime<Utc>)> = appointments::table
        .find(moving)
        .select((appointments::starts_at, appointments::ends_at))
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
        time_off: load_intervals_time_off(conn, &ids, now)
            .await?
            .remove(&physio_id)
            .unwrap_or_default(),
        booked: booked
            .into_iter()
            .filter(|i| Some((i.start, i.end)) != moving_interval)
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

async fn load_intervals_time_off(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Vec<Interval>>> {
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = time_off::table
        .filter(time_off::physio_id.eq_any(physio_ids))
        .filter(time_off::ends_at.gt(now))
        .select((time_off::physio_id, time_off::starts_at, time_off::ends_at))
        .load(conn)
        .await?;
    Ok(group(rows))
}

async fn load_booked(
    conn: &mut AsyncPgConnection,
    physio_ids: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<HashMap<Uuid, Vec<Interval>>> {
    let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = appointments::table
        .filter(appointments::physio_id.eq_any(physio_ids))
        .filter(appointments::status.eq("booked"))
        .filter(appointments::ends_at.gt(now))
        .select((
            appointments::physio_id,
            appointments::starts_at,
            appointments::ends_at,
        ))
        .load(conn)
        .await?;
    Ok(group(rows))
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
