//! The booking deadline (docs/architecture.md, "Deadlines"): a referral
//! that waits to be booked (waitlisted, or held for review) against its
//! target time. When a quarter of the target window is left (a setting) the
//! clinics that could take it are told; when the target passes, the
//! trainer is. It starts when the request starts waiting and is cleared
//! when it is booked or cancelled; a first booking never touches it.

use crate::domain::geo::Location;
use crate::engine::events;
use crate::engine::facts::covering_clinics;
use crate::engine::refusals;
use crate::engine::requests::ReferralRequest;
use crate::schema::referral_requests;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use spotter_contracts::common::v1::DeadlineStage;
use spotter_db::deadlines::{self, After, Due, Expiry};
use uuid::Uuid;

/// The deadline's kind in the `deadlines` table.
pub const KIND: &str = "booking";

/// The request has just started waiting: its deadline runs from when this
/// attempt was requested (for the first, the flag) to `target_by`. A wait
/// that begins already past a stage starts at that stage, due now.
pub async fn start(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    reminder_share: f64,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let Some(target_by) = request.target_by else {
        return Ok(());
    };
    let (stage, due) = first_stage(request.requested_at, target_by, reminder_share, now);
    deadlines::start_at_stage(
        conn,
        request.referral_id,
        KIND,
        stage,
        request.requested_at,
        due,
    )
    .await
}

/// Which stage comes first, and when: the reminder when `share` of the
/// window is left, the escalation at the target; one already past is due now.
fn first_stage(
    since: DateTime<Utc>,
    target_by: DateTime<Utc>,
    share: f64,
    now: DateTime<Utc>,
) -> (i16, DateTime<Utc>) {
    if now >= target_by {
        return (1, now);
    }
    let window_ms = (target_by - since).num_milliseconds().max(0) as f64;
    let reminder = target_by - chrono::Duration::milliseconds((window_ms * share) as i64);
    (0, reminder.max(now))
}

/// The wait is over (booked, or cancelled): nothing more to tell.
pub async fn clear(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<()> {
    deadlines::clear(conn, referral_id, KIND).await
}

pub struct BookingDeadline;

impl Expiry for BookingDeadline {
    fn fire<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<After>> {
        Box::pin(fire(conn, due))
    }
}

async fn fire(conn: &mut AsyncPgConnection, due: &Due) -> QueryResult<After> {
    let request: Option<ReferralRequest> = referral_requests::table
        .find(due.subject_id)
        .select(ReferralRequest::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some((request, target_by)) = request.and_then(|r| r.target_by.map(|t| (r, t))) else {
        return Ok(After::Done);
    };
    if !request.state.is_waiting() {
        // Booked or cancelled without the deadline being cleared: not late.
        return Ok(After::Done);
    }
    let stage = if due.stage == 0 {
        DeadlineStage::Reminder
    } else {
        DeadlineStage::Escalation
    };
    let at = Location {
        lat: request.lat,
        lon: request.lon,
    };
    let refused = refusals::of(conn, request.referral_id, request.attempt).await?;
    let mut clinics = covering_clinics(conn, at).await?;
    clinics.retain(|c| !refused.clinics.contains(c));
    let event = events::booking_deadline_reached(&request, target_by, stage, &clinics);
    spotter_messaging::enqueue(conn, &event).await?;
    Ok(match stage {
        DeadlineStage::Reminder => After::Next(target_by),
        _ => After::Done,
    })
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
        assert_eq!(first_stage(at(0), at(48), 0.25, at(1)), (0, at(36)));
    }

    #[test]
    fn a_wait_begun_past_the_reminder_reminds_now() {
        assert_eq!(first_stage(at(0), at(48), 0.25, at(40)), (0, at(40)));
    }

    #[test]
    fn a_wait_begun_past_the_target_escalates_now() {
        assert_eq!(first_stage(at(0), at(48), 0.25, at(50)), (1, at(50)));
        assert_eq!(first_stage(at(0), at(48), 0.25, at(48)), (1, at(48)));
    }
}
