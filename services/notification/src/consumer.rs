//! Every event that concerns someone becomes notices in their inbox, once
//! (the consumer's inbox table absorbs redeliveries).

use crate::notices;
use crate::reminders;
use crate::store::store;
use diesel_async::AsyncPgConnection;
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, ReferralWaitlisted,
};
use spotter_contracts::referral::v1::{EmergencyAdvised, GuidanceAcknowledged, GuidanceShared};
use spotter_messaging::topology::routing_keys_of;
use spotter_messaging::{ConsumerSpec, HandlerError, Incoming};
use std::sync::Arc;
use uuid::Uuid;

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
        concurrency: 4,
    }
}

async fn handle(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
    push_platforms: &[&str],
) -> Result<(), HandlerError> {
    plan_reminders(conn, incoming).await?;
    let made = match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => notices::booked(&incoming.decode()?),
        ReferralWaitlisted::TYPE_NAME => notices::waitlisted(&incoming.decode()?),
        EmergencyAdvised::TYPE_NAME => notices::emergency(&incoming.decode()?),
        AppointmentCancelled::TYPE_NAME => notices::cancelled(&incoming.decode()?),
        AppointmentRescheduled::TYPE_NAME => notices::rescheduled(&incoming.decode()?),
        AppointmentNoShow::TYPE_NAME => notices::no_show(&incoming.decode()?),
        GuidanceShared::TYPE_NAME => notices::guidance_shared(&incoming.decode()?),
        GuidanceAcknowledged::TYPE_NAME => notices::guidance_acknowledged(&incoming.decode()?),
        // Requests, cancellations and completions concern no one's inbox:
        // what follows from them (a booking, a cancelled appointment, the
        // guidance) does.
        _ => Ok(Vec::new()),
    };
    let made = made.map_err(|reason| HandlerError::Permanent(anyhow::anyhow!(reason)))?;
    store(conn, &made, push_platforms).await?;
    Ok(())
}

fn uuid(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|_| HandlerError::Permanent(anyhow::anyhow!("{field} is not a UUID")))
}

fn start(
    value: &Option<prost_types::Timestamp>,
) -> Result<chrono::DateTime<chrono::Utc>, HandlerError> {
    value
        .as_ref()
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("starts_at is missing")))
}

/// The appointment as reminders need it, from an event's fields.
fn planned(
    appointment_id: &str,
    referral_id: &str,
    [trainer, physio]: [&str; 2],
    starts_at: &Option<prost_types::Timestamp>,
) -> Result<reminders::Appointment, HandlerError> {
    Ok(reminders::Appointment {
        appointment_id: uuid("appointment_id", appointment_id)?,
        referral_id: uuid("referral_id", referral_id)?,
        people: [uuid("trainer_id", trainer)?, uuid("physio_id", physio)?],
        starts_at: start(starts_at)?,
    })
}

/// Reminders follow the appointment: planned when booked, moved when it
/// moves, dropped when it is cancelled, completed or missed.
async fn plan_reminders(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
) -> Result<(), HandlerError> {
    match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => {
            let e: AppointmentBooked = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                &e.starts_at,
            )?;
            reminders::schedule(conn, &planned).await?;
        }
        AppointmentRescheduled::TYPE_NAME => {
            let e: AppointmentRescheduled = incoming.decode()?;
            let planned = planned(
                &e.appointment_id,
                &e.referral_id,
                [&e.trainer_id, &e.physio_id],
                &e.starts_at,
            )?;
            reminders::reschedule(conn, &planned).await?;
        }
        AppointmentCancelled::TYPE_NAME => {
            let e: AppointmentCancelled = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
        }
        AppointmentCompleted::TYPE_NAME => {
            let e: AppointmentCompleted = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
        }
        AppointmentNoShow::TYPE_NAME => {
            let e: AppointmentNoShow = incoming.decode()?;
            reminders::cancel(conn, uuid("appointment_id", &e.appointment_id)?).await?;
        }
        _ => {}
    }
    Ok(())
}
