//! What booking keeps of each referral it was asked to book.

use crate::schema::referral_requests;
use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
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
    pub state: RequestState,
}

/// Where booking stands with a referral. Stored as text under a CHECK of the
/// same four values, mapped here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum RequestState {
    /// Being booked (or about to be).
    Pending,
    /// Nothing fitted; retried when capacity appears.
    Waitlisted,
    Booked,
    /// The trainer cancelled the referral: never booked again.
    Cancelled,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Waitlisted => "waitlisted",
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Waitlisted,
            Self::Booked,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

impl ToSql<Text, Pg> for RequestState {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.as_str(), &mut out.reborrow())
    }
}

impl FromSql<Text, Pg> for RequestState {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        // The column's CHECK allows nothing else; a new value needs a migration here too.
        Self::parse(&text).ok_or_else(|| format!("unknown referral request state {text:?}").into())
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, request: &ReferralRequest) -> QueryResult<()> {
    diesel::insert_into(referral_requests::table)
        .values(request)
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_written() {
        for state in [
            RequestState::Pending,
            RequestState::Waitlisted,
            RequestState::Booked,
            RequestState::Cancelled,
        ] {
            assert_eq!(RequestState::parse(state.as_str()), Some(state));
        }
        assert_eq!(RequestState::parse("lost"), None);
    }
}
