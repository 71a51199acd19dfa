//! The waitlist: referrals nothing could be found for, retried automatically
//! — most urgent, then oldest first — whenever capacity may have appeared
//! (hours added, time off removed, an appointment cancelled, a clinic's
//! policy or radius changed).
//!
//! Whatever changes capacity sends a NOTIFY in its transaction; it reaches
//! every replica's worker at commit. Workers also sweep on a timer, so a
//! missed notification only delays a retry. Several replicas share the list
//! with `FOR UPDATE SKIP LOCKED`: a referral is retried by one at a time.

use crate::engine::book::{Outcome, book_or_waitlist};
use crate::engine::requests::{ReferralRequest, state};
use crate::schema::referral_requests;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use spotter_db::Pool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CAPACITY_CHANNEL: &str = "spotter_booking_capacity";
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Tells the waitlist workers to look again once this transaction commits.
pub async fn capacity_changed(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    spotter_db::notify(conn, CAPACITY_CHANNEL).await
}

pub async fn run(pool: Pool, database_url: secrecy::SecretString, shutdown: CancellationToken) {
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(spotter_db::listen(
        database_url,
        CAPACITY_CHANNEL,
        wake_tx,
        shutdown.clone(),
    ));
    loop {
        if let Err(err) = retry_waitlist(&pool).await {
            tracing::warn!(error = %err, "waitlist retry failed; trying again later");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = wake_rx.recv() => {}
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// One pass over the waitlist in priority order. Returns how many were booked.
pub async fn retry_waitlist(pool: &Pool) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let waiting: Vec<Uuid> = referral_requests::table
        .filter(referral_requests::state.eq(state::WAITLISTED))
        .order((
            diesel::dsl::sql::<diesel::sql_types::Bool>("priority = 'urgent'").desc(),
            referral_requests::requested_at.asc(),
        ))
        .select(referral_requests::referral_id)
        .load(&mut conn)
        .await?;
    let mut booked = 0;
    for referral_id in waiting {
        let outcome = conn
            .transaction::<Option<Outcome>, diesel::result::Error, _>(async |conn| {
                let locked: Option<ReferralRequest> = referral_requests::table
                    .find(referral_id)
                    .filter(referral_requests::state.eq(state::WAITLISTED))
                    .select(ReferralRequest::as_select())
                    .for_update()
                    .skip_locked()
                    .first(conn)
                    .await
                    .optional()?;
                match locked {
                    Some(request) => Ok(Some(book_or_waitlist(conn, &request, false).await?)),
                    None => Ok(None), // another replica has it, or it moved on
                }
            })
            .await?;
        if let Some(Outcome::Booked(appointment)) = outcome {
            tracing::info!(%referral_id, appointment_id = %appointment.id, "booked from the waitlist");
            booked += 1;
        }
    }
    Ok(booked)
}
