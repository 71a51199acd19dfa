//! Cancelling an appointment, whoever asks: the trainer (through the referral
//! service), the physio, the clinic, or the clinic's own changes (time off,
//! a physio deactivated). Frees the slot for the waitlist.

use super::refusals::{self, DeclineReason};
use super::{events, follow_up};
use crate::appointments::model::{Appointment, Canceller};
use crate::domain::status::{AppointmentAction, AppointmentStatus, IllegalTransition, transition};
use crate::schema::appointments;
use crate::waitlist;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_platform::vocabulary::AppointmentKind;

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub struct Cancellation<'a> {
    pub by: CancelledBy,
    pub reason: AppointmentCancellationReason,
    /// Free text from the person cancelling; stays in this service.
    pub note: Option<&'a str>,
    pub then: Then,
}

/// What becomes of the referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The trainer's side cancelled: the referral ends with it.
    Ends,
    /// The clinic's circumstances (time off, a physio deactivated): booked
    /// again, perhaps with a colleague at the same clinic.
    Rebook,
    /// A physio or clinic admin turned it away themselves, declining (with
    /// a reason) or cancelling: a refusal (`refusals`), booked again but
    /// never at this clinic.
    Refused(Option<DeclineReason>),
}

impl Then {
    /// Whether the referral goes back to be booked (the event's `rebook`).
    pub fn rebooks(self) -> bool {
        self != Then::Ends
    }
}

/// Cancels `appointment` (locked by the caller or freshly read in its
/// transaction), records why, and emits `AppointmentCancelled`.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    appointment: &Appointment,
    how: Cancellation<'_>,
) -> Result<Appointment, CancelError> {
    transition(appointment.status, AppointmentAction::Cancel)?;
    let cancelled = diesel::update(appointments::table.find(appointment.id))
        .set((
            appointments::status.eq(AppointmentStatus::Cancelled.as_str()),
            appointments::cancelled_by.eq(Canceller::from(how.by)),
            appointments::cancel_reason.eq(how.note),
            appointments::updated_at.eq(Utc::now()),
        ))
        .returning(Appointment::as_returning())
        .get_result(conn)
        .await?;
    let follow_up = cancelled.kind == AppointmentKind::FollowUp;
    if let Then::Refused(decline) = how.then
        && !follow_up
    {
        refusals::record(conn, &cancelled, decline).await?;
    }
    let event = events::cancelled(&cancelled, &how);
    spotter_messaging::enqueue(conn, &event).await?;
    waitlist::capacity_changed(conn, appointment.clinic_id).await?;
    if follow_up && how.then.rebooks() {
        // The client's own physio (or a colleague): never a refusal, and
        // booking rebooks it itself (docs/architecture.md, "Follow-ups").
        follow_up::rebook_cancelled(conn, &cancelled).await?;
    }
    Ok(cancelled)
}
