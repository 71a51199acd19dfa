//! What the referral service hears from booking, and how each event moves
//! the referral (the rules are `domain::lifecycle`).
//!
//! Events are handled one at a time (concurrency 1) so one referral's events
//! are applied in the order booking sent them; an event that still arrives
//! ahead of its predecessor (its predecessor failed and is being retried) is
//! retried itself rather than lost or misapplied.

use crate::domain::lifecycle::{Decision, Happening, Status, decide};
use crate::events::{self, Where};
use crate::referrals::model::{Referral, append_timeline, find_for_update, move_to};
use crate::referrals::store::body_region;
use crate::schema::{referrals, trainers};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, ReferralWaitlisted,
};
use spotter_contracts::convert::{optional_time, uuid};
use spotter_messaging::topology::routing_keys_of;
use spotter_messaging::{ConsumerSpec, HandlerError, Incoming};
use std::sync::Arc;
use uuid::Uuid;

const QUEUE: &str = "referral.booking-events";

pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        name: QUEUE.to_owned(),
        routing_keys: routing_keys_of(QUEUE),
        handler: Arc::new(|conn, incoming| Box::pin(handle(conn, incoming))),
        concurrency: 1,
    }
}

async fn handle(conn: &mut AsyncPgConnection, incoming: &Incoming) -> Result<(), HandlerError> {
    match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => on_booked(conn, incoming.decode()?).await,
        ReferralWaitlisted::TYPE_NAME => {
            let e: ReferralWaitlisted = incoming.decode()?;
            step(
                conn,
                &e.referral_id,
                None,
                Happening::Waitlisted,
                "waitlisted",
            )
            .await
        }
        AppointmentCompleted::TYPE_NAME => {
            let e: AppointmentCompleted = incoming.decode()?;
            step(
                conn,
                &e.referral_id,
                Some(&e.appointment_id),
                Happening::Completed,
                "appointment_completed",
            )
            .await
        }
        AppointmentNoShow::TYPE_NAME => {
            let e: AppointmentNoShow = incoming.decode()?;
            step(
                conn,
                &e.referral_id,
                Some(&e.appointment_id),
                Happening::NoShow,
                "appointment_no_show",
            )
            .await
        }
        AppointmentCancelled::TYPE_NAME => on_cancelled(conn, incoming.decode()?).await,
        AppointmentRescheduled::TYPE_NAME => on_rescheduled(conn, incoming.decode()?).await,
        other => Err(HandlerError::permanent(format!(
            "the referral service does not handle {other}"
        ))),
    }
}

/// The referral, locked; an event about a referral we never made is poison.
async fn load(conn: &mut AsyncPgConnection, referral_id: &str) -> Result<Referral, HandlerError> {
    let id = uuid("referral_id", referral_id)?;
    find_for_update(conn, id)
        .await?
        .ok_or_else(|| HandlerError::permanent(format!("no referral {id}")))
}

/// Whether an appointment event is about the referral's current appointment:
/// `Some(true)` yes, `Some(false)` an older one (stale), `None` the booking
/// of it has not arrived yet.
fn about_current(referral: &Referral, appointment_id: &str) -> Option<bool> {
    referral
        .appointment_id
        .map(|current| current.to_string() == appointment_id)
}

async fn step(
    conn: &mut AsyncPgConnection,
    referral_id: &str,
    appointment_id: Option<&str>,
    happening: Happening,
    cause: &str,
) -> Result<(), HandlerError> {
    let referral = load(conn, referral_id).await?;
    if let Some(appointment_id) = appointment_id {
        match about_current(&referral, appointment_id) {
            Some(true) => {}
            Some(false) => return ignore(&referral, cause),
            None => return retry(&referral, cause),
        }
    }
    match decide(referral.status, happening) {
        Decision::Apply(to) => {
            move_to(conn, referral.id, to, cause).await?;
            Ok(())
        }
        Decision::Ignore => ignore(&referral, cause),
        Decision::Retry => retry(&referral, cause),
    }
}

fn ignore(referral: &Referral, cause: &str) -> Result<(), HandlerError> {
    tracing::info!(referral_id = %referral.id, status = %referral.status, cause, "stale or repeated event ignored");
    Ok(())
}

fn retry(referral: &Referral, cause: &str) -> Result<(), HandlerError> {
    Err(HandlerError::Transient(anyhow::anyhow!(
        "{cause} arrived before the event it follows (referral {} is {})",
        referral.id,
        referral.status
    )))
}

async fn on_booked(conn: &mut AsyncPgConnection, e: AppointmentBooked) -> Result<(), HandlerError> {
    let referral = load(conn, &e.referral_id).await?;
    match decide(referral.status, Happening::Booked) {
        Decision::Apply(to) => {
            let now = Utc::now();
            diesel::update(referrals::table.find(referral.id))
                .set((
                    referrals::appointment_id.eq(uuid("appointment_id", &e.appointment_id)?),
                    referrals::appointment_starts_at.eq(optional_time(e.starts_at)),
                    referrals::appointment_ends_at.eq(optional_time(e.ends_at)),
                    referrals::physio_id.eq(uuid("physio_id", &e.physio_id)?),
                    referrals::clinic_id.eq(uuid("clinic_id", &e.clinic_id)?),
                    referrals::target_missed.eq(e.target_missed),
                    referrals::first_booked_at.eq(referral.first_booked_at.unwrap_or(now)),
                    // The move itself, in the same statement (what `move_to`
                    // writes): this runs once per booking.
                    referrals::status.eq(to.as_str()),
                    referrals::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            append_timeline(conn, referral.id, to, "appointment_booked").await?;
            Ok(())
        }
        Decision::Ignore => ignore(&referral, "appointment_booked"),
        Decision::Retry => retry(&referral, "appointment_booked"),
    }
}

async fn on_cancelled(
    conn: &mut AsyncPgConnection,
    e: AppointmentCancelled,
) -> Result<(), HandlerError> {
    if !e.rebook {
        // The trainer's side: the referral was cancelled here first.
        return step(
            conn,
            &e.referral_id,
            Some(&e.appointment_id),
            Happening::CancelledForGood,
            "appointment_cancelled",
        )
        .await;
    }
    let referral = load(conn, &e.referral_id).await?;
    match about_current(&referral, &e.appointment_id) {
        Some(true) => {}
        Some(false) => return ignore(&referral, "appointment_cancelled_by_clinic"),
        None => return retry(&referral, "appointment_cancelled_by_clinic"),
    }
    match decide(referral.status, Happening::CancelledByClinic) {
        Decision::Apply(to) => rebook(conn, &referral, to).await,
        Decision::Ignore => ignore(&referral, "appointment_cancelled_by_clinic"),
        Decision::Retry => retry(&referral, "appointment_cancelled_by_clinic"),
    }
}

/// The clinic cancelled: forget the appointment and ask booking again
/// (a new attempt, so booking knows it is not a duplicate).
async fn rebook(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    to: Status,
) -> Result<(), HandlerError> {
    diesel::update(referrals::table.find(referral.id))
        .set((
            referrals::appointment_id.eq(None::<Uuid>),
            referrals::appointment_starts_at.eq(None::<DateTime<Utc>>),
            referrals::appointment_ends_at.eq(None::<DateTime<Utc>>),
            referrals::physio_id.eq(None::<Uuid>),
            referrals::clinic_id.eq(None::<Uuid>),
            referrals::target_missed.eq(None::<bool>),
            referrals::attempt.eq(referral.attempt + 1),
        ))
        .execute(conn)
        .await?;
    let moved = move_to(conn, referral.id, to, "appointment_cancelled_by_clinic").await?;
    let region = body_region(conn, referral.id).await?;
    let (lat, lon): (f64, f64) = trainers::table
        .find(referral.trainer_id)
        .select((trainers::lat, trainers::lon))
        .first(conn)
        .await?;
    spotter_messaging::enqueue(conn, &events::requested(&moved, region, Where { lat, lon }))
        .await?;
    Ok(())
}

async fn on_rescheduled(
    conn: &mut AsyncPgConnection,
    e: AppointmentRescheduled,
) -> Result<(), HandlerError> {
    let referral = load(conn, &e.referral_id).await?;
    match about_current(&referral, &e.appointment_id) {
        Some(true) if referral.status == Status::Booked => {
            diesel::update(referrals::table.find(referral.id))
                .set((
                    referrals::appointment_starts_at.eq(optional_time(e.starts_at)),
                    referrals::appointment_ends_at.eq(optional_time(e.ends_at)),
                    referrals::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            append_timeline(conn, referral.id, Status::Booked, "appointment_rescheduled").await?;
            Ok(())
        }
        None => retry(&referral, "appointment_rescheduled"),
        _ => ignore(&referral, "appointment_rescheduled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_takes_every_booking_event_handled_here() {
        let mut keys = routing_keys_of(QUEUE);
        keys.sort();
        let mut handled = vec![
            AppointmentBooked::ROUTING_KEY,
            ReferralWaitlisted::ROUTING_KEY,
            AppointmentCompleted::ROUTING_KEY,
            AppointmentNoShow::ROUTING_KEY,
            AppointmentCancelled::ROUTING_KEY,
            AppointmentRescheduled::ROUTING_KEY,
        ];
        handled.sort();
        assert_eq!(keys, handled);
    }
}
