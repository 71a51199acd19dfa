//! How a referral looks to the app.

use super::model::{Referral, TimelineEntry};
use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::{BodyRegion, ConsentMethod, Priority, RedFlag, Side};
use crate::guidance::GuidanceView;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// No health detail: safe for lists and for clinic admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralSummary {
    pub id: Uuid,
    pub client_id: Uuid,
    pub status: Status,
    pub priority: Priority,
    /// When the client should have been seen by (none for emergencies).
    pub target_by: Option<DateTime<Utc>>,
    pub appointment: Option<AppointmentSummary>,
    /// When it was found still unbooked past `target_by` (kept once booked).
    pub overdue_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentSummary {
    pub id: Uuid,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub physio_id: Option<Uuid>,
    pub clinic_id: Option<Uuid>,
    /// Booked later than the priority's target window.
    pub target_missed: Option<bool>,
}

impl From<&Referral> for ReferralSummary {
    fn from(r: &Referral) -> Self {
        Self {
            id: r.id,
            client_id: r.client_id,
            status: r.status,
            priority: r.priority,
            target_by: r.target_by,
            appointment: r.appointment_id.map(|id| AppointmentSummary {
                id,
                starts_at: r.appointment_starts_at,
                ends_at: r.appointment_ends_at,
                physio_id: r.physio_id,
                clinic_id: r.clinic_id,
                target_missed: r.target_missed,
            }),
            overdue_since: r.overdue_since,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InjuryView {
    pub body_region: BodyRegion,
    pub side: Side,
    pub pain_level: i16,
    pub onset_date: NaiveDate,
    pub mechanism: String,
    pub description: String,
    pub red_flags: Vec<RedFlag>,
    pub consent_method: ConsentMethod,
    pub consent_recorded_at: DateTime<Utc>,
}

/// `GET /v1/referrals/{id}`: the client, the injury and the guidance only for
/// the trainer and the assigned physio (null for anyone else who may see it).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralDetail {
    #[serde(flatten)]
    pub summary: ReferralSummary,
    pub timeline: Vec<TimelineEntry>,
    pub client: Option<ClientView>,
    pub injury: Option<InjuryView>,
    /// What the referral was triaged with (the questionnaire version and
    /// every answer) and what the rules decided; like the injury, only for
    /// the trainer and the assigned physio. Null for referrals flagged
    /// before the questionnaire.
    pub triage: Option<crate::screening::store::Screening>,
    /// The current (latest) version.
    pub guidance: Option<GuidanceView>,
    /// While `awaiting_booking`: queued, and when booking is expected.
    pub booking_queue: Option<super::queue::BookingQueue>,
    /// What the referral is waiting for, from whom, and when it is chased
    /// next (docs/architecture.md, "Deadlines"); empty when nothing is owed.
    pub awaiting: Vec<crate::deadlines::Awaiting>,
    /// Every visit, assessment and follow-ups, in time order; a clinic's
    /// physios and admins see their own clinic's only.
    pub visits: Vec<super::visits::Visit>,
    /// The discharged referral for the same client and body region that
    /// this one follows; like the injury, only for the trainer and the
    /// treating physio.
    pub previous_referral_id: Option<Uuid>,
    /// Every guidance version, oldest first (when, and when acknowledged).
    pub guidance_versions: Vec<crate::guidance::GuidanceVersion>,
    /// How long each step of the course took.
    pub durations: Durations,
    /// NPRS and PSFS from the flag on, each against the baseline
    /// (docs/training.md); like the injury, only for the trainer and the
    /// treating physio.
    pub outcomes: Option<crate::training::measures::Outcomes>,
}

/// Seconds to each milestone the referral reached (null until it does),
/// from the flag or, for a referral triage sent to a doctor first, from the
/// doctor's clearance: how long the client waited for each step of their
/// care.
#[derive(Debug, Serialize, ToSchema)]
pub struct Durations {
    pub to_booking_seconds: Option<i64>,
    pub to_first_guidance_seconds: Option<i64>,
    /// To the first acknowledgement of any guidance version.
    pub to_acknowledgement_seconds: Option<i64>,
    pub to_discharge_seconds: Option<i64>,
}

impl Durations {
    pub fn of(r: &Referral, first_acknowledged_at: Option<DateTime<Utc>>) -> Self {
        let since = r.waiting_since();
        let since_flag = |at: Option<DateTime<Utc>>| at.map(|at| (at - since).num_seconds());
        Self {
            to_booking_seconds: since_flag(r.first_booked_at),
            to_first_guidance_seconds: since_flag(r.first_guidance_at),
            to_acknowledgement_seconds: since_flag(first_acknowledged_at),
            to_discharge_seconds: since_flag(r.discharged_at),
        }
    }
}
