//! Moving a booked appointment to another slot of the same physio's diary,
//! whoever asks (a reschedule, a follow-up's new review date). The caller
//! holds the physio's diary lock and chose a slot free in that diary.

use crate::appointments::model::Appointment;
use crate::domain::slots::Interval;
use crate::schema::appointments;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use spotter_db::is_exclusion_violation;
use uuid::Uuid;

/// `None` when the exclusion constraint refuses it (a writer that took no
/// diary lock got there first). In a savepoint, so the caller's transaction
/// stays usable either way.
pub async fn to_slot(
    conn: &mut AsyncPgConnection,
    appointment: Uuid,
    slot: Interval,
    buffer: Duration,
) -> QueryResult<Option<Appointment>> {
    let moved = conn
        .transaction::<Appointment, diesel::result::Error, _>(async |conn| {
            diesel::update(appointments::table.find(appointment))
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
    match moved {
        Ok(moved) => Ok(Some(moved)),
        Err(diesel::result::Error::DatabaseError(_, info))
            if is_exclusion_violation(info.message()) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}
