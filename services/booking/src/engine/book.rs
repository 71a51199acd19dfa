//! Books one referral: rank the offers, insert the first one the database
//! accepts, tell the saga. Runs inside the caller's transaction (a consumer's
//! or the waitlist worker's), so the appointment, the request's new state and
//! the event commit together.

use super::events;
use super::facts;
use super::requests::{ReferralRequest, state};
use crate::appointments::model::Appointment;
use crate::domain::geo::Location;
use crate::domain::matching::{Offer, Priority, Request, ranked_offers};
use crate::schema::{appointments, referral_requests};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::WaitlistReason;
use spotter_db::is_exclusion_violation;
use std::collections::BTreeSet;
use uuid::Uuid;

/// How many offers to try before waitlisting: each refused one was taken by a
/// concurrent booking a moment ago, so a few suffice.
const OFFERS_TO_TRY: usize = 25;
/// Rounds of fresh offers before giving up for now (see `Outcome::Contended`).
const ROUNDS: usize = 5;

#[derive(Debug)]
pub enum Outcome {
    Booked(Box<Appointment>),
    /// Nothing free within any candidate clinic's horizon (or no candidate).
    NoSlot(WaitlistReason),
    /// The referral already has a booked appointment (a redelivery).
    AlreadyBooked,
    /// Every offer was taken by concurrent bookings, round after round: free
    /// capacity may remain, so this is worth retrying, not a waitlisting.
    Contended,
}

pub async fn book(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    now: DateTime<Utc>,
) -> QueryResult<Outcome> {
    let priority = match request.priority.as_str() {
        "urgent" => Priority::Urgent,
        _ => Priority::Routine,
    };
    let wanted = Request {
        body_region: request.body_region.clone(),
        trainer_location: Location {
            lat: request.lat,
            lon: request.lon,
        },
        priority,
        requested_at: request.requested_at,
    };
    // Bookings into the same clinics take turns: without this, concurrent
    // inserts wait on each other's uncommitted rows under the exclusion
    // constraint, deadlock, and each deadlock costs the database's detection
    // delay. Locks are taken in id order, so taking them cannot deadlock.
    let (clinics, physios) = facts::load(conn, &request.body_region, now).await?;
    let involved: BTreeSet<Uuid> = crate::domain::matching::candidates(&wanted, &clinics, &physios)
        .into_iter()
        .map(|(clinic, _)| clinic.id)
        .collect();
    for clinic in involved {
        lock_clinic_diary(conn, clinic).await?;
    }
    // The constraint stays the last word: a refusal means a booking that took
    // no lock (or a stale read) got there first; fresh facts show it.
    for _round in 0..ROUNDS {
        let (clinics, physios) = facts::load(conn, &request.body_region, now).await?;
        let offers = ranked_offers(&wanted, &clinics, &physios, now, OFFERS_TO_TRY);
        if offers.is_empty() {
            let any_candidate =
                !crate::domain::matching::candidates(&wanted, &clinics, &physios).is_empty();
            let reason = if any_candidate {
                WaitlistReason::NoFreeSlotInHorizon
            } else {
                WaitlistReason::NoCandidatePhysio
            };
            return Ok(Outcome::NoSlot(reason));
        }
        for offer in offers {
            match insert(conn, request, &offer).await {
                Ok(appointment) => {
                    mark(conn, request.referral_id, state::BOOKED).await?;
                    spotter_messaging::enqueue(conn, &events::booked(&appointment)).await?;
                    return Ok(Outcome::Booked(Box::new(appointment)));
                }
                // Taken meanwhile, or two bookings each waiting on the
                // other's tentative row (exclusion checks can deadlock):
                // either way that slot is not ours; the savepoint is undone.
                Err(DbError::DatabaseError(_, info))
                    if is_exclusion_violation(info.message())
                        || info.message().contains("deadlock detected") =>
                {
                    tracing::info!(physio_id = %offer.physio_id, "slot taken meanwhile; trying the next");
                }
                Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    return Ok(Outcome::AlreadyBooked);
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(Outcome::Contended)
}

/// Held until the caller's transaction ends: who may write a clinic's diary now.
pub async fn lock_clinic_diary(conn: &mut AsyncPgConnection, clinic: Uuid) -> QueryResult<()> {
    // The random half of the id: two clinics sharing a key only take turns.
    let (_, random) = clinic.as_u64_pair();
    let key = i64::from_ne_bytes(random.to_ne_bytes()) ^ DIARY_LOCK_SALT;
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps diary locks apart from the other advisory locks in the database.
const DIARY_LOCK_SALT: i64 = 0x0044_6961_7279_0000;

/// In a savepoint, so a refused insert leaves the caller's transaction usable.
async fn insert(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    offer: &Offer,
) -> QueryResult<Appointment> {
    conn.transaction(async |conn| {
        diesel::insert_into(appointments::table)
            .values((
                appointments::id.eq(Uuid::now_v7()),
                appointments::referral_id.eq(request.referral_id),
                appointments::trainer_id.eq(request.trainer_id),
                appointments::client_id.eq(request.client_id),
                appointments::physio_id.eq(offer.physio_id),
                appointments::clinic_id.eq(offer.clinic_id),
                appointments::priority.eq(&request.priority),
                appointments::starts_at.eq(offer.slot.start),
                appointments::ends_at.eq(offer.slot.end),
                appointments::blocked_until.eq(offer.slot.end + offer.buffer),
                appointments::target_missed.eq(offer.target_missed),
            ))
            .returning(Appointment::as_returning())
            .get_result(conn)
            .await
    })
    .await
}

pub async fn mark(conn: &mut AsyncPgConnection, referral_id: Uuid, to: &str) -> QueryResult<()> {
    let waitlisted_at = (to == state::WAITLISTED).then(Utc::now);
    diesel::update(referral_requests::table.find(referral_id))
        .set((
            referral_requests::state.eq(to),
            referral_requests::waitlisted_at.eq(waitlisted_at),
            referral_requests::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Books `request` or puts it on the waitlist, telling the saga either way.
/// `announce_waitlist` is false when retrying from the waitlist: the trainer
/// has been told once.
pub async fn book_or_waitlist(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    announce_waitlist: bool,
) -> QueryResult<Outcome> {
    let outcome = book(conn, request, Utc::now()).await?;
    if let Outcome::NoSlot(reason) = &outcome
        && announce_waitlist
    {
        mark(conn, request.referral_id, state::WAITLISTED).await?;
        let at = Location {
            lat: request.lat,
            lon: request.lon,
        };
        let clinics = facts::covering_clinics(conn, at).await?;
        let event = events::waitlisted(request, *reason, Utc::now(), &clinics);
        spotter_messaging::enqueue(conn, &event).await?;
    }
    Ok(outcome)
}
