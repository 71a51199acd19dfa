//! A referral's visits (assessment, follow-ups) as booking reports them: the
//! course view lists them (docs/architecture.md, "The course of a referral").
//! Booking owns appointments; this is the referral's own record of them,
//! written by the consumer as events arrive, so a repeat writes the same.

use crate::schema::visits;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use spotter_platform::vocabulary::{AppointmentKind, AppointmentStatus};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = visits)]
pub struct Visit {
    pub appointment_id: Uuid,
    #[diesel(deserialize_as = String)]
    pub kind: AppointmentKind,
    #[diesel(deserialize_as = String)]
    pub status: AppointmentStatus,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
}

/// A newly booked visit (a redelivery leaves it as it is).
pub async fn booked(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    visit: &Visit,
) -> QueryResult<()> {
    diesel::insert_into(visits::table)
        .values((
            visits::appointment_id.eq(visit.appointment_id),
            visits::referral_id.eq(referral_id),
            visits::kind.eq(visit.kind.as_str()),
            visits::status.eq(AppointmentStatus::Booked.as_str()),
            visits::starts_at.eq(visit.starts_at),
            visits::ends_at.eq(visit.ends_at),
            visits::physio_id.eq(visit.physio_id),
            visits::clinic_id.eq(visit.clinic_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|_| ())
}

/// How a booked visit ended (completed, missed, cancelled); a visit this
/// service never heard booked (from before visits were recorded) is skipped.
pub async fn ended(
    conn: &mut AsyncPgConnection,
    appointment_id: Uuid,
    status: AppointmentStatus,
) -> QueryResult<()> {
    diesel::update(visits::table.find(appointment_id))
        .set((
            visits::status.eq(status.as_str()),
            visits::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn moved(
    conn: &mut AsyncPgConnection,
    appointment_id: Uuid,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    diesel::update(visits::table.find(appointment_id))
        .set((
            visits::starts_at.eq(starts_at),
            visits::ends_at.eq(ends_at),
            visits::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The referral's visits in time order (through `visits_of_referral`).
pub async fn of(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<Vec<Visit>> {
    visits::table
        .filter(visits::referral_id.eq(referral_id))
        .order((visits::starts_at.asc(), visits::appointment_id.asc()))
        .select(Visit::as_select())
        .load(conn)
        .await
}
