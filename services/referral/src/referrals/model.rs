//! A referral as stored, its timeline, and the one way its status changes.

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::{Priority, TimelineCause};
use crate::schema::{referral_timeline, referrals};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use spotter_db::prepared;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = referrals)]
pub struct Referral {
    pub id: Uuid,
    pub trainer_id: Uuid,
    pub client_id: Uuid,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    #[diesel(deserialize_as = String)]
    pub priority: Priority,
    pub attempt: i32,
    pub target_by: Option<DateTime<Utc>>,
    pub appointment_id: Option<Uuid>,
    pub appointment_starts_at: Option<DateTime<Utc>>,
    pub appointment_ends_at: Option<DateTime<Utc>>,
    pub physio_id: Option<Uuid>,
    pub clinic_id: Option<Uuid>,
    pub target_missed: Option<bool>,
    pub first_booked_at: Option<DateTime<Utc>>,
    pub first_guidance_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A physio deactivated while holding the referral: no longer theirs to see.
    pub physio_access_ended_for: Option<Uuid>,
    /// Still unbooked when its target passed (booking's deadline).
    pub overdue_since: Option<DateTime<Utc>>,
    /// Appointments the client missed.
    pub no_shows: i32,
    /// When the physio discharged the client (full training, no review).
    pub discharged_at: Option<DateTime<Utc>>,
    /// The discharged referral for the same client and body region that
    /// this one follows.
    pub previous_referral_id: Option<Uuid>,
    /// The booked clinic's IANA time zone; none before a booking (and for
    /// referrals booked before booking named it).
    pub clinic_timezone: Option<String>,
    /// When a doctor's clearance put a medically advised referral to
    /// booking; none when the flag did.
    pub booking_requested_at: Option<DateTime<Utc>>,
}

impl Referral {
    /// Since when the client has waited for a physio: the flag, or the
    /// doctor's clearance for a referral triage sent to a doctor first
    /// (the days with the doctor are not a wait for a physio). Every
    /// timing of the referral's care counts from here.
    pub fn waiting_since(&self) -> DateTime<Utc> {
        self.booking_requested_at.unwrap_or(self.created_at)
    }
}

/// `waiting_since` in SQL, for timings computed in the database.
pub const WAITING_SINCE_SQL: &str = "coalesce(booking_requested_at, created_at)";

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = referral_timeline)]
pub struct TimelineEntry {
    #[diesel(deserialize_as = String)]
    pub status: Status,
    #[diesel(deserialize_as = String)]
    pub cause: TimelineCause,
    /// The guidance version a `guidance_shared` or `guidance_acknowledged`
    /// entry concerns.
    pub guidance_version: Option<i32>,
    pub at: DateTime<Utc>,
}

/// What a timeline entry records besides the status: its cause and, for
/// guidance, the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Because {
    pub cause: TimelineCause,
    pub guidance_version: Option<i32>,
}

impl Because {
    pub fn guidance(cause: TimelineCause, version: i32) -> Self {
        Self {
            cause,
            guidance_version: Some(version),
        }
    }
}

impl From<TimelineCause> for Because {
    fn from(cause: TimelineCause) -> Self {
        Self {
            cause,
            guidance_version: None,
        }
    }
}

pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Referral>> {
    referrals::table
        .find(id)
        .select(Referral::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Moves the referral to `to` and appends the change to its timeline.
pub async fn move_to(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    to: Status,
    because: impl Into<Because>,
) -> QueryResult<Referral> {
    let moved = prepared(
        diesel::update(referrals::table.find(id))
            .set((
                referrals::status.eq(to.as_str()),
                referrals::updated_at.eq(Utc::now()),
            ))
            .returning(Referral::as_returning()),
    )
    .get_result(conn)
    .await?;
    append_timeline(conn, id, to, because).await?;
    Ok(moved)
}

pub async fn append_timeline(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: Status,
    because: impl Into<Because>,
) -> QueryResult<()> {
    let because = because.into();
    diesel::insert_into(referral_timeline::table)
        .values((
            referral_timeline::referral_id.eq(id),
            referral_timeline::status.eq(status.as_str()),
            referral_timeline::cause.eq(because.cause.as_str()),
            referral_timeline::guidance_version.eq(because.guidance_version),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn timeline(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Vec<TimelineEntry>> {
    referral_timeline::table
        .filter(referral_timeline::referral_id.eq(id))
        .order(referral_timeline::id.asc())
        .select(TimelineEntry::as_select())
        .load(conn)
        .await
}
