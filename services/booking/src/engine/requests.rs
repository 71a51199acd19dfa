//! What booking keeps of each referral it was asked to book.

use crate::domain::geo::Location;
use crate::engine::facts::Allowed;
use crate::schema::referral_requests;
use chrono::{DateTime, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use spotter_platform::vocabulary::{BodyRegion, Priority};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = referral_requests)]
pub struct ReferralRequest {
    pub referral_id: Uuid,
    pub trainer_id: Uuid,
    pub client_id: Uuid,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub body_region: BodyRegion,
    /// Urgent or routine: emergencies are never sent to booking.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub priority: Priority,
    pub lat: f64,
    pub lon: f64,
    pub requested_at: DateTime<Utc>,
    /// When the client should have been seen by (triage's target).
    pub target_by: Option<DateTime<Utc>>,
    pub attempt: i32,
    pub state: RequestState,
    /// Book at this clinic only (a rebooking after a missed appointment).
    pub only_clinic_id: Option<Uuid>,
}

impl ReferralRequest {
    /// Where the client trains (the trainer's location).
    pub fn location(&self) -> Location {
        Location {
            lat: self.lat,
            lon: self.lon,
        }
    }

    /// The clinics it may go to, given those that refused it.
    pub fn allowed<'a>(&self, refused_by: &'a [Uuid]) -> Allowed<'a> {
        Allowed {
            refused_by,
            only: self.only_clinic_id,
        }
    }
}

spotter_platform::coded! {
    /// Where booking stands with a referral.
    // Stored as text under a CHECK of the same values (tests/api/vocabulary.rs
    // compares them).
    #[derive(AsExpression, FromSqlRow)]
    #[diesel(sql_type = Text)]
    pub enum RequestState {
        /// Being booked (or about to be).
        Pending = "pending",
        /// Nothing fitted; retried when capacity appears.
        Waitlisted = "waitlisted",
        Booked = "booked",
        /// The trainer cancelled the referral: never booked again.
        Cancelled = "cancelled",
        /// Refused by clinics too often: on the platform admins' worklist,
        /// booked again only when one of them releases it.
        NeedsReview = "needs_review",
    }
}

spotter_db::text_coded!(RequestState);

impl RequestState {
    /// Waiting to be booked: its booking deadline runs (`crate::deadline`).
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Waitlisted | Self::NeedsReview)
    }
}

/// Whether the trainer cancelled the referral: nothing is booked for it again.
pub async fn cancelled(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<bool> {
    use crate::schema::referral_cancellations;
    let found = referral_cancellations::table
        .find(referral_id)
        .select(referral_cancellations::referral_id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

pub async fn insert(conn: &mut AsyncPgConnection, request: &ReferralRequest) -> QueryResult<()> {
    prepared(diesel::insert_into(referral_requests::table).values(request.clone()))
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_written() {
        for &state in RequestState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
        assert!("lost".parse::<RequestState>().is_err());
    }
}
