//! What booking hears from the saga: referrals to book, referrals cancelled,
//! in two lanes (see `lanes`).

use crate::appointments::model::Appointment;
use crate::deadline;
use crate::domain::AppointmentStatus;
use crate::engine::book::{Outcome, Rules, book_or_waitlist};
use crate::engine::cancel::{CancelError, Cancellation, Then, cancel};
use crate::engine::diary_lock::lock_referral;
use crate::engine::follow_up::{self, Guidance};
use crate::engine::requests::{self, ReferralRequest, RequestState};
use crate::lanes::{Lane, LaneMetrics};
use crate::schema::{appointments, referral_cancellations, referral_requests};
use crate::urgent_first::UrgentFirst;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::Event;
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_contracts::convert::{Malformed, optional_time, time, uuid};
use spotter_contracts::referral::v1::{
    GuidanceShared, ReferralCancellationReason, ReferralCancelled, ReferralRequested,
};
use spotter_messaging::topology::routing_keys_of;
use spotter_messaging::{ConsumerSpec, HandlerError, Incoming};
use spotter_platform::vocabulary::{BodyRegion, Priority};
use std::sync::Arc;

/// Guidance from the referral service: its review dates become follow-ups.
const FOLLOW_UPS: &str = "booking.follow-ups";

/// One consumer per lane, the same handler behind both, and one for the
/// follow-ups. `rules`: what the settings decide (`engine::book::Rules`);
/// `urgent_first`: how the lanes share the database (`urgent_first`).
pub fn specs(metrics: &LaneMetrics, rules: Rules, urgent_first: &UrgentFirst) -> Vec<ConsumerSpec> {
    let follow_ups = ConsumerSpec {
        name: FOLLOW_UPS.to_owned(),
        routing_keys: routing_keys_of(FOLLOW_UPS),
        handler: Arc::new(|conn, incoming| Box::pin(on_guidance(conn, incoming))),
        concurrency: 2,
        batch: 1,
        admission: None,
    };
    Lane::ALL
        .into_iter()
        .map(|lane| {
            let metrics = metrics.clone();
            let gate = urgent_first.clone();
            ConsumerSpec {
                name: lane.queue().to_owned(),
                routing_keys: routing_keys_of(lane.queue()),
                handler: Arc::new(move |conn, incoming| {
                    let (metrics, gate) = (metrics.clone(), gate.clone());
                    Box::pin(
                        async move { handle(conn, incoming, lane, &metrics, &gate, rules).await },
                    )
                }),
                concurrency: lane.concurrency(),
                batch: 1,
                admission: Some(urgent_first.admission(lane)),
            }
        })
        .chain([follow_ups])
        .collect()
}

async fn on_guidance(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
) -> Result<(), HandlerError> {
    if incoming.message_type != GuidanceShared::TYPE_NAME {
        return Err(HandlerError::permanent(format!(
            "{FOLLOW_UPS} does not handle {}",
            incoming.message_type
        )));
    }
    let event: GuidanceShared = incoming.decode()?;
    let review_on = match event.review_on.as_str() {
        "" => None,
        date => Some(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| Malformed::new("review_on", "is not a YYYY-MM-DD date"))?,
        ),
    };
    let version = i32::try_from(event.version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| Malformed::new("version", "must be 1 or more"))?;
    let guidance = Guidance {
        referral_id: uuid("referral_id", &event.referral_id)?,
        physio_id: uuid("physio_id", &event.physio_id)?,
        version,
        review_on,
        discharges: event.discharges,
    };
    match follow_up::on_guidance(conn, guidance).await? {
        follow_up::Outcome::Contended => Err(HandlerError::Transient(anyhow::anyhow!(
            "the follow-up is being changed meanwhile; retrying"
        ))),
        _ => Ok(()),
    }
}

impl From<CancelError> for HandlerError {
    fn from(err: CancelError) -> Self {
        match err {
            CancelError::Database(db) => HandlerError::from(db),
            illegal => HandlerError::permanent(illegal.to_string()),
        }
    }
}

async fn handle(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
    lane: Lane,
    metrics: &LaneMetrics,
    urgent_first: &UrgentFirst,
    rules: Rules,
) -> Result<(), HandlerError> {
    match incoming.message_type.as_str() {
        ReferralRequested::TYPE_NAME => {
            // Since it was requested (a re-request too), not since the flag.
            if let Some(enqueued_at) = incoming.enqueued_at {
                metrics.taken(lane, Utc::now() - enqueued_at);
            }
            if lane == Lane::Urgent {
                urgent_first.mark_running(conn).await?;
            }
            on_requested(conn, incoming.decode()?, rules).await
        }
        ReferralCancelled::TYPE_NAME => on_cancelled(conn, incoming.decode()?).await,
        other => Err(HandlerError::permanent(format!(
            "booking does not handle {other}"
        ))),
    }
}

async fn on_requested(
    conn: &mut AsyncPgConnection,
    event: ReferralRequested,
    rules: Rules,
) -> Result<(), HandlerError> {
    let priority = Priority::try_from(event.priority())?;
    if priority == Priority::Emergency {
        // Red flags go to urgent care, never to a diary.
        return Err(HandlerError::permanent(
            "cannot book an emergency".to_owned(),
        ));
    }
    let location = event
        .trainer_location
        .ok_or_else(|| Malformed::new("trainer_location", "is missing"))?;
    let request = ReferralRequest {
        referral_id: uuid("referral_id", &event.referral_id)?,
        trainer_id: uuid("trainer_id", &event.trainer_id)?,
        client_id: uuid("client_id", &event.client_id)?,
        body_region: BodyRegion::try_from(event.body_region())?,
        priority,
        lat: location.lat,
        lon: location.lon,
        requested_at: time("requested_at", event.requested_at)?,
        target_by: optional_time(event.target_by),
        attempt: i32::try_from(event.attempt.max(1)).unwrap_or(i32::MAX),
        state: RequestState::Pending,
        only_clinic_id: match event.only_clinic_id.as_str() {
            "" => None,
            id => Some(uuid("only_clinic_id", id)?),
        },
    };
    lock_referral(conn, request.referral_id).await?;
    if requests::cancelled(conn, request.referral_id).await? {
        tracing::info!(referral_id = %request.referral_id, "request for a cancelled referral ignored");
        return Ok(());
    }
    let known: Option<ReferralRequest> = referral_requests::table
        .find(request.referral_id)
        .select(ReferralRequest::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match known {
        // An older attempt arriving late, or this one again.
        Some(known) if known.attempt >= request.attempt => {
            tracing::info!(referral_id = %request.referral_id, "stale referral request ignored");
            return Ok(());
        }
        Some(_) => {
            diesel::update(referral_requests::table.find(request.referral_id))
                .set((
                    referral_requests::attempt.eq(request.attempt),
                    referral_requests::state.eq(RequestState::Pending),
                    referral_requests::only_clinic_id.eq(request.only_clinic_id),
                    referral_requests::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
        }
        None => requests::insert(conn, &request).await?,
    }
    match book_or_waitlist(conn, &request, true, rules).await? {
        Outcome::Contended => Err(HandlerError::Transient(anyhow::anyhow!(
            "every offer was taken by concurrent bookings; retrying"
        ))),
        _ => Ok(()),
    }
}

async fn on_cancelled(
    conn: &mut AsyncPgConnection,
    event: ReferralCancelled,
) -> Result<(), HandlerError> {
    let referral_id = uuid("referral_id", &event.referral_id)?;
    lock_referral(conn, referral_id).await?;
    diesel::insert_into(referral_cancellations::table)
        .values(referral_cancellations::referral_id.eq(referral_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    diesel::update(referral_requests::table.find(referral_id))
        .set((
            referral_requests::state.eq(RequestState::Cancelled),
            referral_requests::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    deadline::clear(conn, referral_id).await?;
    let active: Option<Appointment> = appointments::table
        .filter(appointments::referral_id.eq(referral_id))
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .select(Appointment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if let Some(appointment) = active {
        let reason = match event.reason_code() {
            ReferralCancellationReason::ConsentWithdrawn => {
                AppointmentCancellationReason::ConsentWithdrawn
            }
            _ => AppointmentCancellationReason::TrainerCancelled,
        };
        let how = Cancellation {
            by: CancelledBy::Trainer,
            reason,
            note: None,
            then: Then::Ends,
        };
        cancel(conn, &appointment, how).await?;
    }
    // After the appointment (the order a clinic's cancellation takes them
    // in, so the two never wait on each other).
    follow_up::close(conn, referral_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lanes_take_exactly_the_events_handled_here() {
        let sorted = |lane: Lane| {
            let mut keys = routing_keys_of(lane.queue());
            keys.sort();
            keys
        };
        let mut urgent_request = ReferralRequested::default();
        urgent_request.set_priority(Priority::Urgent.into());
        let mut routine_request = ReferralRequested::default();
        routine_request.set_priority(Priority::Routine.into());
        assert_eq!(
            sorted(Lane::Urgent),
            [
                ReferralCancelled::ROUTING_KEY.to_owned(),
                urgent_request.routing_key(),
            ]
        );
        // The un-laned key: requests from a referral service before lanes.
        assert_eq!(
            sorted(Lane::Routine),
            [
                ReferralRequested::ROUTING_KEY.to_owned(),
                routine_request.routing_key(),
            ]
        );
    }
}
