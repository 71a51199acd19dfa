//! An appointment as stored, and as the app sees it.

use crate::domain::AppointmentStatus;
use crate::schema::appointments;
use chrono::{DateTime, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::Serialize;
use spotter_auth::Role;
use spotter_contracts::common::v1::CancelledBy;
use spotter_platform::vocabulary::{AppointmentKind, Priority};
use utoipa::ToSchema;
use uuid::Uuid;

spotter_platform::coded! {
    /// Who cancelled an appointment.
    // Stored as text under a CHECK of the same names.
    #[derive(AsExpression, FromSqlRow)]
    #[diesel(sql_type = Text)]
    pub enum Canceller {
        Trainer = "trainer",
        Physio = "physio",
        ClinicAdmin = "clinic_admin",
        /// Booking itself, or an event from before the canceller was recorded.
        System = "system",
    }
}

spotter_db::text_coded!(Canceller);

impl From<CancelledBy> for Canceller {
    fn from(by: CancelledBy) -> Self {
        match by {
            CancelledBy::Trainer => Self::Trainer,
            CancelledBy::Physio => Self::Physio,
            CancelledBy::ClinicAdmin => Self::ClinicAdmin,
            CancelledBy::System | CancelledBy::Unspecified => Self::System,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = appointments)]
pub struct Appointment {
    pub id: Uuid,
    pub referral_id: Uuid,
    pub trainer_id: Uuid,
    pub client_id: Uuid,
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
    #[diesel(deserialize_as = String)]
    pub priority: Priority,
    /// The first visit, or a follow-up booked from guidance's review date.
    #[diesel(deserialize_as = String)]
    pub kind: AppointmentKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[diesel(deserialize_as = String)]
    pub status: AppointmentStatus,
    /// Booked later than the priority's target window (48 h urgent, 7 days routine).
    pub target_missed: bool,
    /// Who cancelled it, once cancelled.
    pub cancelled_by: Option<Canceller>,
    /// The clinic's own note on a cancellation: shown to the clinic's
    /// physios and admins, never to the trainer.
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Appointment {
    /// The appointment as `role` may see it: a trainer is outside the clinic,
    /// so its free-text cancellation note is withheld.
    pub fn as_seen_by(mut self, role: Role) -> Self {
        if role == Role::Trainer {
            self.cancel_reason = None;
        }
        self
    }
}
