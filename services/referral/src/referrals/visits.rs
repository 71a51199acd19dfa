//! A referral's visits (assessment, follow-ups) as booking reports them: the
//! course view lists them (docs/architecture.md, "The course of a referral").
//! Booking owns appointments; this is the referral's own record of them,
//! written by the consumer as events arrive, so a repeat writes the same.

use crate::schema::{referrals, visits};
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

/// What an event from booking says about one of the referral's visits.
#[derive(Debug, Clone)]
pub enum VisitNews {
    /// Not about a particular appointment (a referral waitlisted).
    Nothing,
    /// A newly booked visit; `replaces` the follow-up it books again,
    /// whose own news must have arrived first.
    Booked {
        visit: Visit,
        replaces: Option<Uuid>,
    },
    Moved {
        appointment: Uuid,
        starts_at: Option<DateTime<Utc>>,
        ends_at: Option<DateTime<Utc>>,
    },
    /// Completed, missed or cancelled.
    Ended {
        appointment: Uuid,
        status: AppointmentStatus,
    },
}

impl VisitNews {
    /// The appointment whose standing decides the event: the one it is
    /// about, or the one a booking replaces.
    pub fn about(&self) -> Option<Uuid> {
        match self {
            Self::Nothing => None,
            Self::Booked { replaces, .. } => *replaces,
            Self::Moved { appointment, .. } | Self::Ended { appointment, .. } => Some(*appointment),
        }
    }

    /// Records it. A cancelled follow-up stops being the referral's
    /// current appointment (booking books its replacement, or none is
    /// wanted), so the summary never shows it as the next visit.
    pub async fn record(&self, conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<()> {
        match self {
            Self::Nothing => Ok(()),
            Self::Booked { visit, .. } => booked(conn, referral_id, visit).await,
            Self::Moved {
                appointment,
                starts_at,
                ends_at,
            } => {
                diesel::update(visits::table.find(appointment))
                    .set((
                        visits::starts_at.eq(starts_at),
                        visits::ends_at.eq(ends_at),
                        visits::updated_at.eq(Utc::now()),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            }
            Self::Ended {
                appointment,
                status,
            } => {
                let kind: Option<String> = diesel::update(visits::table.find(appointment))
                    .set((
                        visits::status.eq(status.as_str()),
                        visits::updated_at.eq(Utc::now()),
                    ))
                    .returning(visits::kind)
                    .get_result(conn)
                    .await
                    .optional()?;
                if *status == AppointmentStatus::Cancelled
                    && kind.as_deref() == Some(AppointmentKind::FollowUp.as_str())
                {
                    diesel::update(
                        referrals::table
                            .find(referral_id)
                            .filter(referrals::appointment_id.eq(appointment)),
                    )
                    .set((
                        referrals::appointment_id.eq(None::<Uuid>),
                        referrals::appointment_starts_at.eq(None::<DateTime<Utc>>),
                        referrals::appointment_ends_at.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?;
                }
                Ok(())
            }
        }
    }
}

/// Whether the referral has heard of `appointment` being booked.
pub async fn known(conn: &mut AsyncPgConnection, appointment: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(visits::table.find(appointment)))
        .get_result(conn)
        .await
}

/// A newly booked visit (a redelivery leaves it as it is).
async fn booked(conn: &mut AsyncPgConnection, referral_id: Uuid, visit: &Visit) -> QueryResult<()> {
    diesel::insert_into(visits::table)
        .values((
            visits::appointment_id.eq(visit.appointment_id),
            visits::referral_id.eq(referral_id),
            visits::kind.eq(visit.kind.as_str()),
            visits::status.eq(visit.status.as_str()),
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

/// The referral's visits in time order (through `visits_of_referral`).
pub async fn of(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<Vec<Visit>> {
    visits::table
        .filter(visits::referral_id.eq(referral_id))
        .order((visits::starts_at.asc(), visits::appointment_id.asc()))
        .select(Visit::as_select())
        .load(conn)
        .await
}
