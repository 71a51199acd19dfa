//! Clinics that refused a referral: a physio or clinic admin declined it, or
//! cancelled it on the clinic's side (time off or a deactivated physio is no
//! refusal: `cancel::Then`). A referral is never booked again at a
//! clinic that refused it, and after `quotas.refusals_before_review` refusals
//! it stops booking by itself and waits for a platform admin
//! (docs/architecture.md, "Fair use").

use crate::appointments::model::Appointment;
use crate::schema::{clinic_refusals, referral_requests};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
pub use spotter_platform::vocabulary::DeclineReason;
use uuid::Uuid;

spotter_platform::coded! {
    /// How a clinic refused a referral.
    pub enum RefusalKind {
        /// The physio or clinic declined it, with a coded reason.
        Declined = "declined",
        /// A physio or clinic admin cancelled it on the clinic's side.
        Cancelled = "cancelled",
    }
}

impl RefusalKind {
    /// A decline is a refusal with a reason (the only thing stored).
    pub fn of(decline: Option<DeclineReason>) -> Self {
        if decline.is_some() {
            Self::Declined
        } else {
            Self::Cancelled
        }
    }
}

/// Records that `appointment`'s clinic refused its referral; `decline` says
/// why when it was declined rather than cancelled.
pub async fn record(
    conn: &mut AsyncPgConnection,
    appointment: &Appointment,
    decline: Option<DeclineReason>,
) -> QueryResult<()> {
    diesel::insert_into(clinic_refusals::table)
        .values((
            clinic_refusals::appointment_id.eq(appointment.id),
            clinic_refusals::referral_id.eq(appointment.referral_id),
            clinic_refusals::clinic_id.eq(appointment.clinic_id),
            clinic_refusals::decline_reason.eq(decline.map(DeclineReason::as_str)),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// A referral's refusals so far.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Clinics never to book it at again.
    pub clinics: Vec<Uuid>,
    /// Refusals since a platform admin last released it from the worklist.
    pub unreviewed: u32,
}

impl Refusals {
    /// Whether it should wait for a platform admin instead of booking.
    pub fn needs_review(&self, refusals_before_review: u32) -> bool {
        self.unreviewed >= refusals_before_review
    }
}

/// What `referral` was refused. A first attempt has never had an appointment
/// to refuse (a rebooking raises the attempt), so it costs no query: the
/// common booking reads nothing more.
pub async fn of(
    conn: &mut AsyncPgConnection,
    referral: Uuid,
    attempt: i32,
) -> QueryResult<Refusals> {
    if attempt <= 1 {
        return Ok(Refusals::default());
    }
    let clinics: Vec<Uuid> = clinic_refusals::table
        .filter(clinic_refusals::referral_id.eq(referral))
        .select(clinic_refusals::clinic_id)
        .load(conn)
        .await?;
    if clinics.is_empty() {
        return Ok(Refusals::default());
    }
    let reviewed: i32 = referral_requests::table
        .find(referral)
        .select(referral_requests::refusals_reviewed)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(0);
    let total = u32::try_from(clinics.len()).unwrap_or(u32::MAX);
    let unreviewed = total.saturating_sub(u32::try_from(reviewed).unwrap_or(0));
    let mut clinics = clinics;
    clinics.sort_unstable();
    clinics.dedup();
    Ok(Refusals {
        clinics,
        unreviewed,
    })
}
