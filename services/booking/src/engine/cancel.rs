//! Cancelling an appointment, whoever asks: the trainer (through the referral
//! service), the physio, the clinic, or the clinic's own changes (time off,
//! a physio deactivated). Frees the slot for the waitlist.

use super::events;
use super::refusals::{self, DeclineReason};
use crate::appointments::model::{Appointment, Canceller};
use crate::domain::status::{AppointmentAction, AppointmentStatus, IllegalTransition, transition};
use crate::schema::appointments;
use crate::waitlist;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;

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
    /// The clinic side cancelled: the referral is to be booked again.
    pub rebook: bool,
    /// A physio or clinic admin turned the referral away themselves (a
    /// decline or a cancellation): a refusal (`refusals`), so it is never
    /// booked at this clinic again. Time off or a deactivation only moves
    /// it, possibly to a colleague at the same clinic.
    pub refused: bool,
    /// The physio or clinic declined the referral, and why.
    pub decline: Option<DeclineReason>,
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
    if how.rebook && how.refused {
        refusals::record(conn, &cancelled, how.decline).await?;
    }
    let event = events::cancelled(&cancelled, &how);
    spotter_messaging::enqueue(conn, &event).await?;
    waitlist::capacity_changed(conn, appointment.clinic_id).await?;
    Ok(cancelled)
}
