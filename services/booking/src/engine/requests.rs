//! What booking keeps of each referral it was asked to book.

use crate::schema::referral_requests;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_requests)]
pub struct ReferralRequest {
    pub referral_id: Uuid,
    pub trainer_id: Uuid,
    pub client_id: Uuid,
    pub body_region: String,
    /// `urgent` or `routine`: emergencies are never sent to booking.
    pub priority: String,
    pub lat: f64,
    pub lon: f64,
    pub requested_at: DateTime<Utc>,
    /// When the client should have been seen by (triage's target).
    pub target_by: Option<DateTime<Utc>>,
    pub attempt: i32,
    /// `pending`, `waitlisted`, `booked` or `cancelled`.
    pub state: String,
}

pub mod state {
    pub const PENDING: &str = "pending";
    pub const WAITLISTED: &str = "waitlisted";
    pub const BOOKED: &str = "booked";
    pub const CANCELLED: &str = "cancelled";
}

pub async fn insert(conn: &mut AsyncPgConnection, request: &ReferralRequest) -> QueryResult<()> {
    diesel::insert_into(referral_requests::table)
        .values(request)
        .execute(conn)
        .await
        .map(|_| ())
}
