//! The booking deadline (docs/architecture.md, "Deadlines"): a referral
//! that waits to be booked (waitlisted, or held for review) against its
//! target time. When a quarter of the target window is left (a setting) the
//! clinics that could take it are told; when the target passes, the
//! trainer is. It starts when the request starts waiting and is cleared
//! when it is booked or cancelled; a first booking never touches it.

use crate::engine::events;
use crate::engine::facts;
use crate::engine::refusals;
use crate::engine::requests::{ReferralRequest, RequestState};
use crate::schema::referral_requests;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use spotter_db::deadlines::{self, DeadlineKind, Due, Expiry, Fired, Wait};
use uuid::Uuid;

/// The request has just started waiting: its deadline runs from when this
/// attempt was requested (for the first, the flag) to `target_by`; the
/// clinics are reminded when `reminder_share` of that window is left.
pub async fn start(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    reminder_share: f64,
) -> QueryResult<()> {
    let Some(target_by) = request.target_by else {
        return Ok(());
    };
    let wait = wait(request.requested_at, target_by, reminder_share);
    deadlines::start(conn, request.referral_id, DeadlineKind::Booking, wait).await
}

fn wait(since: DateTime<Utc>, target_by: DateTime<Utc>, share: f64) -> Wait {
    let window_ms = (target_by - since).num_milliseconds().max(0) as f64;
    Wait {
        started_at: since,
        remind_at: target_by - chrono::Duration::milliseconds((window_ms * share) as i64),
        escalate_at: target_by,
    }
}

/// The wait is over (booked, or cancelled): nothing more to tell.
pub async fn clear(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<()> {
    deadlines::clear(conn, referral_id, DeadlineKind::Booking).await
}

pub struct BookingDeadline;

impl Expiry for BookingDeadline {
    fn fire<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<Fired>> {
        Box::pin(fire(conn, due))
    }
}

async fn fire(conn: &mut AsyncPgConnection, due: &Due) -> QueryResult<Fired> {
    let request: Option<ReferralRequest> = referral_requests::table
        .find(due.subject_id)
        .select(ReferralRequest::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?;
    let Some(request) = request else {
        // Being booked, cancelled or released right now, or gone.
        return Ok(Fired::when_not_locked(exists(conn, due.subject_id).await?));
    };
    if !request.state.is_waiting() {
        // Booked or cancelled without the deadline being cleared: not late.
        return Ok(Fired::NoLongerAwaited);
    }
    // Held for review, it waits for a platform admin, not for a clinic's
    // hours: no clinic is asked.
    let clinics = if request.state == RequestState::NeedsReview {
        Vec::new()
    } else {
        let refused = refusals::of(conn, request.referral_id, request.attempt).await?;
        let allowed = request.allowed(&refused.clinics);
        facts::clinics_that_could_take(conn, request.location(), allowed)
            .await?
            .1
    };
    // The wait escalates at the target (`wait` above).
    let event = events::deadline_reached(&request, due.escalate_at, due.stage, &clinics);
    spotter_messaging::enqueue(conn, &event).await?;
    Ok(Fired::Told)
}

async fn exists(conn: &mut AsyncPgConnection, referral: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(referral_requests::table.find(referral)))
        .get_result(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    #[test]
    fn the_reminder_falls_when_a_quarter_of_the_window_is_left() {
        // Urgent: 48 h from the flag; a quarter left is 36 h in.
        let wait = wait(at(0), at(48), 0.25);
        assert_eq!((wait.remind_at, wait.escalate_at), (at(36), at(48)));
    }
}
