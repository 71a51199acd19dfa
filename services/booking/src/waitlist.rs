//! The waitlist: referrals nothing could be found for, retried automatically
//! — most urgent, then oldest first — and follow-ups due to be booked (their
//! review date within the horizon, or no room found yet at their clinic:
//! `engine::follow_up`), whenever capacity may have appeared
//! (hours added, time off removed, an appointment cancelled, a clinic's
//! policy or radius changed).
//!
//! Whatever changes capacity records which clinic changed and sends a NOTIFY
//! in its transaction; it reaches every replica's worker at commit. A wake-up
//! retries only the referrals waiting within reach of the clinics that
//! changed (found through a spatial index), so a change in one town does not
//! retry the whole country's waitlist. Workers also sweep everyone on a
//! timer, so a missed notification only delays a retry. Several replicas
//! share the list with `FOR UPDATE SKIP LOCKED`: a referral is retried by one
//! at a time.

use crate::engine::book::{Outcome, Rules, book_or_waitlist};
use crate::engine::follow_up;
use crate::engine::requests::{ReferralRequest, RequestState};
use crate::schema::{capacity_changes, referral_requests};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use spotter_db::Pool;
use spotter_db::wake::{DueWork, run_when_due};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CAPACITY_CHANNEL: &str = "spotter_booking_capacity";

/// `FROM` clause: the waitlisted referrals `r` inside the (1%-padded) area of
/// clinic `c`, through the `waitlist_by_place` index on
/// `ll_to_earth(r.lat, r.lon)` (written as the index is); the exact distance
/// is the caller's to check. The caller filters `c`.
pub const WAITING_IN_CLINIC_AREA: &str = "FROM clinics c JOIN referral_requests r \
    ON ll_to_earth(r.lat, r.lon) <@ earth_box(ll_to_earth(c.lat, c.lon), c.service_radius_km * 1010.0) \
    AND r.state = 'waitlisted'";
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Tells the waitlist workers to look again around `clinic` once this
/// transaction commits.
pub async fn capacity_changed(conn: &mut AsyncPgConnection, clinic: Uuid) -> QueryResult<()> {
    diesel::insert_into(capacity_changes::table)
        .values(capacity_changes::clinic_id.eq(clinic))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    spotter_db::notify(conn, CAPACITY_CHANNEL).await
}

/// Retries the waitlist as capacity appears, until `shutdown`.
pub async fn run(
    pool: Pool,
    database_url: secrecy::SecretString,
    rules: Rules,
    shutdown: CancellationToken,
) {
    let worker = Waitlist {
        pool,
        rules,
        // Everyone at start: changes may predate this process.
        next_sweep: Mutex::new(Instant::now()),
    };
    run_when_due("waitlist", database_url, CAPACITY_CHANNEL, shutdown, worker).await;
}

/// On a NOTIFY, a targeted retry around the clinics that changed; every
/// minute, however often wake-ups come, a sweep of everyone: time passing
/// frees capacity too (a new day enters the horizon), and a failed targeted
/// retry is caught up.
struct Waitlist {
    pool: Pool,
    rules: Rules,
    next_sweep: Mutex<Instant>,
}

impl Waitlist {
    fn sweep_due(&self) -> bool {
        let mut next = self.next_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if Instant::now() < *next {
            return false;
        }
        *next = Instant::now() + SWEEP_EVERY;
        true
    }
}

impl DueWork for Waitlist {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            // The changes first, every time: a sweep leaves the capacity a
            // change made to that change's own pass (`retry`).
            retry_where_capacity_changed(&self.pool, self.rules).await?;
            if self.sweep_due() {
                retry_waitlist(&self.pool, self.rules).await?;
            }
            Ok(())
        })
    }

    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<Duration>>> {
        let next = *self.next_sweep.lock().unwrap_or_else(|e| e.into_inner());
        Box::pin(async move { Ok(Some(next.saturating_duration_since(Instant::now()))) })
    }
}

/// Retries the referrals waiting within reach of the clinics whose capacity
/// changed since the last look. Returns how many were booked.
pub async fn retry_where_capacity_changed(pool: &Pool, rules: Rules) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let changed: Vec<Uuid> = diesel::delete(capacity_changes::table)
        .returning(capacity_changes::clinic_id)
        .get_results(&mut conn)
        .await?;
    if changed.is_empty() {
        return Ok(0);
    }
    let waiting = waiting_in_order(&mut conn, Some(&changed)).await?;
    let follow_ups = follow_up::due(&mut conn, Some(&changed)).await?;
    drop(conn);
    Ok(retry(pool, waiting, rules).await? + retry_follow_ups(pool, follow_ups).await?)
}

/// The waiting referrals in waitlist order (most urgent, then longest
/// waiting): everyone, or only those inside the (1%-padded) area of any of
/// the clinics `near` (through the `waitlist_by_place` index on
/// `ll_to_earth(r.lat, r.lon)`; `book` checks the exact distance).
async fn waiting_in_order(
    conn: &mut AsyncPgConnection,
    near: Option<&[Uuid]>,
) -> QueryResult<Vec<Uuid>> {
    const ORDER: &str = "ORDER BY (r.priority = 'urgent') DESC, r.requested_at";
    let rows: Vec<Waiting> =
        match near {
            // DISTINCT: a referral inside two changed clinics' areas once. It
            // must select the ORDER BY expressions as written there.
            Some(clinics) => {
                diesel::sql_query(format!(
                    "SELECT DISTINCT r.referral_id, (r.priority = 'urgent'), r.requested_at \
             {WAITING_IN_CLINIC_AREA} WHERE c.id = ANY($1) {ORDER}"
                ))
                .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(clinics)
                .load(conn)
                .await?
            }
            None => diesel::sql_query(format!(
                "SELECT r.referral_id FROM referral_requests r WHERE r.state = 'waitlisted' {ORDER}"
            ))
            .load(conn)
            .await?,
        };
    Ok(rows.into_iter().map(|w| w.referral_id).collect())
}

#[derive(diesel::QueryableByName)]
struct Waiting {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    referral_id: Uuid,
}

/// One pass over the waitlist in priority order. Returns how many were booked.
pub async fn retry_waitlist(pool: &Pool, rules: Rules) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let waiting = waiting_in_order(&mut conn, None).await?;
    let follow_ups = follow_up::due(&mut conn, None).await?;
    drop(conn);
    Ok(retry(pool, waiting, rules).await? + retry_follow_ups(pool, follow_ups).await?)
}

/// Tries each follow-up due in turn, each in its own transaction.
async fn retry_follow_ups(pool: &Pool, waiting: Vec<Uuid>) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let mut booked = 0;
    for referral_id in waiting {
        let outcome = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                follow_up::retry_due(conn, referral_id).await
            })
            .await?;
        if let Some(follow_up::Outcome::Booked) = outcome {
            tracing::info!(%referral_id, "follow-up booked from the waitlist");
            booked += 1;
        }
    }
    Ok(booked)
}

/// Retries each referral in turn, each in its own transaction. The list was
/// read when the pass began; if a clinic's capacity changed since (a change
/// not yet taken by a pass), a booking there from this list could take the
/// new capacity ahead of a more urgent referral that joined the waitlist
/// meanwhile. So a booking into such a clinic is rolled back and left to
/// that change's own pass, which its NOTIFY has already asked for and which
/// reads the waitlist around that clinic afresh (the referral is in its
/// area: it was about to book there); the pass goes on with the rest. (A
/// capacity change and its `capacity_changes` row commit together, so a
/// booking that could see the new capacity sees the row.)
async fn retry(pool: &Pool, waiting: Vec<Uuid>, rules: Rules) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let mut booked = 0;
    for referral_id in waiting {
        let outcome = conn
            .transaction::<Option<Outcome>, diesel::result::Error, _>(async |conn| {
                let locked: Option<ReferralRequest> = referral_requests::table
                    .find(referral_id)
                    .filter(referral_requests::state.eq(RequestState::Waitlisted))
                    .select(ReferralRequest::as_select())
                    .for_update()
                    .skip_locked()
                    .first(conn)
                    .await
                    .optional()?;
                let Some(request) = locked else {
                    return Ok(None); // another replica has it, or it moved on
                };
                let outcome = book_or_waitlist(conn, &request, false, rules).await?;
                if let Outcome::Booked(appointment) = &outcome
                    && capacity_changed_at(conn, appointment.clinic_id).await?
                {
                    return Err(diesel::result::Error::RollbackTransaction);
                }
                Ok(Some(outcome))
            })
            .await;
        let outcome = match outcome {
            Err(diesel::result::Error::RollbackTransaction) => {
                tracing::info!(%referral_id, "its clinic's capacity changed during the pass; left to that change's pass");
                continue;
            }
            outcome => outcome?,
        };
        if let Some(Outcome::Booked(appointment)) = outcome {
            tracing::info!(%referral_id, appointment_id = %appointment.id, "booked from the waitlist");
            booked += 1;
        }
    }
    Ok(booked)
}

/// Whether `clinic`'s capacity changed in a way no pass has taken yet (one
/// probe of the primary key).
async fn capacity_changed_at(conn: &mut AsyncPgConnection, clinic: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(capacity_changes::table.find(clinic)))
        .get_result(conn)
        .await
}
