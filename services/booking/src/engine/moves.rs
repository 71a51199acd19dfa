//! Moving a booked appointment to another slot of the same physio's diary,
//! whoever asks (a reschedule, a follow-up's new review date). The caller
//! holds the physio's diary lock and chose a slot free in that diary.

use super::events;
use crate::appointments::model::Appointment;
use crate::domain::slots::Interval;
use crate::schema::appointments;
use crate::waitlist;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use spotter_db::is_exclusion_violation;
use spotter_platform::vocabulary::AppointmentKind;

/// Moves `appointment` to `slot`, tells the saga (`AppointmentRescheduled`,
/// or `FollowUpMoved` for a follow-up) and the waitlist (its old time is
/// free). `None` when the exclusion constraint refuses it (a writer that took
/// no diary lock got there first): in a savepoint, so the caller's
/// transaction stays usable either way.
pub async fn to_slot(
    conn: &mut AsyncPgConnection,
    appointment: &Appointment,
    slot: Interval,
    buffer: Duration,
) -> QueryResult<Option<Appointment>> {
    let moved = conn
        .transaction::<Appointment, diesel::result::Error, _>(async |conn| {
            diesel::update(appointments::table.find(appointment.id))
                .set((
                    appointments::starts_at.eq(slot.start),
                    appointments::ends_at.eq(slot.end),
                    appointments::blocked_until.eq(slot.end + buffer),
                    appointments::updated_at.eq(Utc::now()),
                ))
                .returning(Appointment::as_returning())
                .get_result(conn)
                .await
        })
        .await;
    let moved = match moved {
        Ok(moved) => moved,
        Err(diesel::result::Error::DatabaseError(_, info))
            if is_exclusion_violation(info.message()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    let before = appointment.starts_at;
    match moved.kind {
        AppointmentKind::FollowUp => {
            spotter_messaging::enqueue(conn, &events::follow_up_moved(&moved, before)).await?;
        }
        AppointmentKind::Assessment => {
            spotter_messaging::enqueue(conn, &events::rescheduled(&moved, before)).await?;
        }
    }
    waitlist::capacity_changed(conn, appointment.clinic_id).await?;
    Ok(Some(moved))
}
