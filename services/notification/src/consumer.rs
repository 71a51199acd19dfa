//! Every event that concerns someone becomes notices in their inbox, once
//! (the consumer's inbox table absorbs redeliveries).

use crate::reminders;
use crate::store::{store, take_turn};
use crate::{deadline_notices, follow_up_notices, notices, training_notices};
use diesel_async::AsyncPgConnection;
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, DeadlineReached as BookingDeadlineReached, FollowUpBooked,
    FollowUpMoved, FollowUpWaitlisted, ReferralWaitlisted,
};
use spotter_contracts::convert::{Malformed, appointment_kind, time, uuid};
use spotter_contracts::referral::v1::{
    DeadlineReached as CareDeadlineReached, DoctorAdvised, EmergencyAdvised, GuidanceAcknowledged,
    GuidanceShared, OutcomeImproved, ReferralDischarged, TrainingBehind, TrainingFlared,
};
use spotter_messaging::topology::routing_keys_of;
use spotter_messaging::{ConsumerSpec, HandlerError, Incoming};
use spotter_platform::vocabulary::AppointmentKind;
use std::sync::Arc;

const QUEUE: &str = "notification.events";

/// `push_platforms`: where push reaches (`Providers::platforms`).
pub fn spec(push_platforms: Vec<&'static str>) -> ConsumerSpec {
    let push_platforms: Arc<[&'static str]> = push_platforms.into();
    ConsumerSpec {
        name: QUEUE.to_owned(),
        routing_keys: routing_keys_of(QUEUE),
        handler: Arc::new(move |conn, incoming| {
            let push_platforms = push_platforms.clone();
            Box::pin(async move { handle(conn, incoming, &push_platforms).await })
        }),
        // Its inserts take turns (`store::ORDER_LOCK`), so handlers running
        // side by side gained nothing; under load two workers each take up
        // to eight ready events into one transaction instead (one commit,
        // one turn at the lock's queue).
        concurrency: 16,
        batch: 8,
        admission: None,
    }
}

/// Each event is decoded once: its reminders follow the appointment, and
/// the notices it makes go to the inboxes of the people it concerns.
async fn handle(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
    push_platforms: &[&str],
) -> Result<(), HandlerError> {
    // First, before the reminders' rows (`store::take_turn`); within a
    // batch the turn is already this transaction's, and taking it again
    // returns at once.
    let turn = take_turn(conn).await?;
    let made = match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => {
            let e: AppointmentBooked = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                e.starts_at,
            )?;
            reminders::schedule(conn, &planned).await?;
            notices::booked(&e)?
        }
        AppointmentRescheduled::TYPE_NAME => {
            let e: AppointmentRescheduled = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                e.starts_at,
            )?;
            reminders::reschedule(conn, &planned).await?;
            notices::rescheduled(&e)?
        }
        AppointmentCancelled::TYPE_NAME => {
            let e: AppointmentCancelled = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
            match appointment_kind(e.kind()) {
                AppointmentKind::FollowUp => follow_up_notices::cancelled(&e)?,
                AppointmentKind::Assessment => notices::cancelled(&e)?,
            }
        }
        FollowUpBooked::TYPE_NAME => {
            let e: FollowUpBooked = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                e.starts_at,
            )?;
            reminders::schedule(conn, &planned).await?;
            follow_up_notices::booked(&e)?
        }
        FollowUpMoved::TYPE_NAME => {
            let e: FollowUpMoved = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                e.starts_at,
            )?;
            reminders::reschedule(conn, &planned).await?;
            follow_up_notices::moved(&e)?
        }
        FollowUpWaitlisted::TYPE_NAME => follow_up_notices::waitlisted(&incoming.decode()?)?,
        ReferralDischarged::TYPE_NAME => follow_up_notices::discharged(&incoming.decode()?)?,
        TrainingFlared::TYPE_NAME => training_notices::flared(&incoming.decode()?)?,
        OutcomeImproved::TYPE_NAME => training_notices::improved(&incoming.decode()?)?,
        TrainingBehind::TYPE_NAME => training_notices::behind(&incoming.decode()?)?,
        AppointmentNoShow::TYPE_NAME => {
            let e: AppointmentNoShow = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
            notices::no_show(&e)?
        }
        AppointmentCompleted::TYPE_NAME => {
            // What follows a completion (the guidance) is what people hear of.
            let e: AppointmentCompleted = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
            Vec::new()
        }
        ReferralWaitlisted::TYPE_NAME => notices::waitlisted(&incoming.decode()?)?,
        EmergencyAdvised::TYPE_NAME => notices::emergency(&incoming.decode()?)?,
        DoctorAdvised::TYPE_NAME => notices::doctor(&incoming.decode()?)?,
        GuidanceShared::TYPE_NAME => notices::guidance_shared(&incoming.decode()?)?,
        GuidanceAcknowledged::TYPE_NAME => notices::guidance_acknowledged(&incoming.decode()?)?,
        BookingDeadlineReached::TYPE_NAME => deadline_notices::booking(&incoming.decode()?)?,
        CareDeadlineReached::TYPE_NAME => deadline_notices::care(&incoming.decode()?)?,
        // Requests and cancellations concern no one's inbox: what follows
        // from them (a booking, a cancelled appointment) does.
        _ => Vec::new(),
    };
    store(conn, &turn, &made, push_platforms).await?;
    // The clinics' own systems hear of it too (docs/webhooks.md).
    crate::webhooks::endpoints::plan(conn, incoming).await?;
    Ok(())
}

/// The appointment as reminders need it, from an event's fields.
fn planned(
    appointment_id: &str,
    referral_id: &str,
    [trainer, physio]: [&str; 2],
    starts_at: Option<prost_types::Timestamp>,
) -> Result<reminders::Appointment, Malformed> {
    Ok(reminders::Appointment {
        appointment_id: uuid("appointment_id", appointment_id)?,
        referral_id: uuid("referral_id", referral_id)?,
        people: [uuid("trainer_id", trainer)?, uuid("physio_id", physio)?],
        starts_at: time("starts_at", starts_at)?,
    })
}
