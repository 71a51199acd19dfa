//! What a trainer is told while a referral waits to be booked. Booking takes
//! requests in lanes (urgent first) and, under a burst, a backlog drains for
//! a while: the flag is accepted at once (`awaiting_booking`), and the
//! referral says it is queued and when it is expected to be booked, from how
//! long the most recent bookings of the same priority took. The referral
//! service learns those times from booking's own events, so no service reads
//! another's queue.

use crate::domain::vocabulary::Priority;
use crate::schema::referrals;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use utoipa::ToSchema;

/// How many recent bookings the estimate is drawn from, and how recent they
/// must be to say anything about the queue now.
const RECENT_BOOKINGS: i64 = 50;
const RECENT_WINDOW: Duration = Duration::hours(1);

/// A booked referral's flag, clearance (if a doctor saw the client first)
/// and first booking.
type WaitTimes = (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Present while the referral is `awaiting_booking`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingQueue {
    /// Always `queued`: the referral waits its turn in booking's lane.
    pub state: &'static str,
    /// How long the latest bookings of this priority took from the flag (or
    /// from a doctor's clearance, for a referral sent to a doctor first;
    /// median of the last 50 within the hour); null when there were none.
    pub typical_wait_seconds: Option<i64>,
    /// When it should be booked by at that pace: the flag's (or the
    /// clearance's) time plus the typical wait, never in the past (a referral waiting longer than usual
    /// is expected any moment). Null when there is no recent pace to go by.
    pub expected_by: Option<DateTime<Utc>>,
}

/// The estimate for a referral of `priority` waiting since `waiting_since`
/// (`Referral::waiting_since`).
pub async fn estimate(
    conn: &mut AsyncPgConnection,
    priority: Priority,
    waiting_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<BookingQueue> {
    let recent: Vec<WaitTimes> = referrals::table
        .filter(referrals::priority.eq(priority.as_str()))
        .filter(referrals::first_booked_at.gt(now - RECENT_WINDOW))
        .order(referrals::first_booked_at.desc())
        .limit(RECENT_BOOKINGS)
        .select((
            referrals::created_at,
            referrals::booking_requested_at,
            referrals::first_booked_at,
        ))
        .load(conn)
        .await?;
    let waits: Vec<Duration> = recent
        .into_iter()
        .filter_map(|(flagged, cleared, booked)| {
            let since = cleared.unwrap_or(flagged);
            booked.map(|b| (b - since).max(Duration::zero()))
        })
        .collect();
    let typical = median(waits);
    Ok(BookingQueue {
        state: "queued",
        typical_wait_seconds: typical.map(|d| d.num_seconds()),
        expected_by: typical.map(|d| (waiting_since + d).max(now)),
    })
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_recent_waits() {
        let s = Duration::seconds;
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![s(3)]), Some(s(3)));
        assert_eq!(median(vec![s(9), s(1), s(4)]), Some(s(4)));
    }
}
