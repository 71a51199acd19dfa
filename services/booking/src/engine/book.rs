//! Books one referral: find who could take it, search their diaries forward
//! from now a window at a time, take the best offer under that physio's diary
//! lock, tell the saga. Runs inside the caller's transaction (a consumer's or
//! the waitlist worker's), so the appointment, the request's new state and
//! the event commit together.

use super::diary_lock::{lock_physio, try_lock_physio};
use super::events;
use super::facts::{self, Candidates};
use super::refusals;
use super::requests::{ReferralRequest, RequestState};
use crate::appointments::model::Appointment;
use crate::deadline;
use crate::domain::AppointmentStatus;
use crate::domain::matching::{Offer, Request, ranked_offers_within};
use crate::domain::slots::Interval;
use crate::schema::{appointments, referral_requests};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::WaitlistReason;
use spotter_db::prepared;
use spotter_platform::vocabulary::AppointmentKind;
use std::collections::HashSet;
use uuid::Uuid;

/// How many offers to rank: each refused one was taken by a concurrent
/// booking a moment ago, so a few suffice.
const OFFERS_TO_TRY: usize = 25;
/// Rounds of fresh offers per window before giving up for now (see
/// `Outcome::Contended`).
const ROUNDS: usize = 6;
/// Search windows, as days from now: most referrals book within the first,
/// whose diaries are small; a full network only costs the later ones.
const WINDOW_ENDS_DAYS: [i64; 4] = [2, 9, 30, 91];

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
    /// Refused by clinics too often: it waits for a platform admin
    /// (`refusals`), booking nothing by itself.
    NeedsReview,
}

/// What one attempt at the ranked offers came to.
enum Claim {
    Booked(Box<Appointment>),
    AlreadyBooked,
    /// The offer was stale (taken meanwhile): rank again from fresh diaries.
    Lost,
}

/// `refused_by`: clinics that refused this referral, never offered it again.
/// A request for one clinic only (`only_clinic_id`) is offered nowhere else.
pub async fn book(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    now: DateTime<Utc>,
    refused_by: &[Uuid],
) -> QueryResult<Outcome> {
    let allowed = request.allowed(refused_by);
    let wanted = Request {
        body_region: request.body_region,
        trainer_location: request.location(),
        priority: request.priority,
        target_by: request.target_by,
    };
    let mut candidates =
        facts::candidates(conn, request.body_region, wanted.trainer_location, &allowed).await?;
    if crate::domain::matching::candidates(&wanted, &candidates.clinics, &candidates.physios)
        .is_empty()
    {
        return Ok(Outcome::NoSlot(WaitlistReason::NoCandidatePhysio));
    }
    let span = Interval {
        start: now,
        end: candidates.horizon_end(now),
    };
    let kind = AppointmentKind::Assessment;
    let found = search(conn, request, kind, &wanted, &mut candidates, now, span).await?;
    match found {
        Found::Booked(appointment) => {
            mark(conn, request.referral_id, RequestState::Booked).await?;
            if request.state.is_waiting() {
                // Only a waiting request has a deadline running: a first
                // booking costs no statement more.
                deadline::clear(conn, request.referral_id).await?;
            }
            // The clinic booked is one of the candidates searched.
            let timezone = candidates
                .clinics
                .iter()
                .find(|c| c.id == appointment.clinic_id)
                .map_or("UTC", |c| c.tz.name());
            spotter_messaging::enqueue(conn, &events::booked(&appointment, timezone)).await?;
            Ok(Outcome::Booked(appointment))
        }
        Found::AlreadyBooked => Ok(Outcome::AlreadyBooked),
        Found::Contended => Ok(Outcome::Contended),
        Found::Nothing => Ok(Outcome::NoSlot(WaitlistReason::NoFreeSlotInHorizon)),
    }
}

/// What a search of the candidates' diaries came to.
pub(super) enum Found {
    Booked(Box<Appointment>),
    /// The referral already has a booked appointment (a redelivery).
    AlreadyBooked,
    /// Every offer was taken by concurrent bookings, round after round.
    Contended,
    /// No free slot in `span`.
    Nothing,
}

/// Searches the candidates' diaries forward through `span` a window at a
/// time and books the best offer as a `kind` appointment for `request`'s
/// referral: the one search behind first bookings and follow-ups.
#[allow(clippy::too_many_arguments)] // each is one of the search's inputs
pub(super) async fn search(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    kind: AppointmentKind,
    wanted: &Request,
    candidates: &mut Candidates,
    now: DateTime<Utc>,
    span: Interval,
) -> QueryResult<Found> {
    for window in windows(span.start, span.end) {
        let mut rounds = 0;
        loop {
            facts::load_diaries(conn, &mut candidates.physios, &candidates.clinics, window).await?;
            let offers = ranked_offers_within(
                wanted,
                &candidates.clinics,
                &candidates.physios,
                now,
                window,
                OFFERS_TO_TRY,
            );
            if offers.is_empty() {
                break; // this window is full: search the next one
            }
            let booking = Booking { request, kind };
            match claim(conn, booking, wanted, candidates, &offers, now, window).await? {
                Claim::Booked(appointment) => return Ok(Found::Booked(appointment)),
                Claim::AlreadyBooked => return Ok(Found::AlreadyBooked),
                Claim::Lost => {}
            }
            rounds += 1;
            if rounds == ROUNDS {
                return Ok(Found::Contended);
            }
        }
    }
    Ok(Found::Nothing)
}

/// The appointment being booked: for whom, and what kind.
#[derive(Clone, Copy)]
struct Booking<'a> {
    request: &'a ReferralRequest,
    kind: AppointmentKind,
}

/// Consecutive search windows from `from` to `end`.
fn windows(from: DateTime<Utc>, end: DateTime<Utc>) -> impl Iterator<Item = Interval> {
    let mut start = from;
    WINDOW_ENDS_DAYS.into_iter().map_while(move |days| {
        let window_end = (from + Duration::days(days)).min(end);
        let window = Interval {
            start,
            end: window_end,
        };
        start = window_end;
        (window.start < window.end).then_some(window)
    })
}

/// Books the best offer it can write, writing only a diary whose lock it
/// holds. A diary read after taking its lock is the whole truth (every writer
/// takes it), so the first physio whose lock is free gets their best slot
/// recomputed from a fresh read of that one diary, and that is booked: one
/// small query instead of a refused insert and a whole new round. Physios
/// whose diary another booking is writing are passed over; if every one is,
/// this waits for the best one's. So a booking holds one diary lock, and
/// more only when a physio it locked has filled up or left meanwhile.
async fn claim(
    conn: &mut AsyncPgConnection,
    booking: Booking<'_>,
    wanted: &Request,
    candidates: &mut Candidates,
    offers: &[Offer],
    now: DateTime<Utc>,
    window: Interval,
) -> QueryResult<Claim> {
    let mut tried: HashSet<Uuid> = HashSet::new();
    let mut locked_any = false;
    for offer in offers {
        if !tried.insert(offer.physio_id) || !try_lock_physio(conn, offer.physio_id).await? {
            continue;
        }
        locked_any = true;
        if let Some(best) =
            fresh_best_offer(conn, candidates, wanted, offer.physio_id, now, window).await?
        {
            return insert_offer(conn, booking, &best).await;
        }
    }
    if locked_any {
        return Ok(Claim::Lost); // every diary we could lock had filled up
    }
    // This booking usually holds no diary lock here; one it took in an
    // earlier round could close a cycle with another booking, which the
    // database then breaks (the wait gives up, and a fresh round follows).
    let best = offers[0].physio_id;
    if lock_physio(conn, best).await?
        && let Some(offer) = fresh_best_offer(conn, candidates, wanted, best, now, window).await?
    {
        return insert_offer(conn, booking, &offer).await;
    }
    Ok(Claim::Lost)
}

/// The physio's best offer in `window`, from their diary as it is now.
async fn fresh_best_offer(
    conn: &mut AsyncPgConnection,
    candidates: &mut Candidates,
    wanted: &Request,
    physio_id: Uuid,
    now: DateTime<Utc>,
    window: Interval,
) -> QueryResult<Option<Offer>> {
    let Candidates { clinics, physios } = candidates;
    let Some(physio) = physios.iter_mut().find(|p| p.id == physio_id) else {
        return Ok(None);
    };
    // Deactivated since the candidates were read? Then not theirs to take
    // (a deactivation holds this lock while it cancels their diary).
    if !facts::still_active(conn, physio_id).await? {
        return Ok(None);
    }
    facts::load_diaries(conn, std::slice::from_mut(physio), clinics, window).await?;
    let best = ranked_offers_within(
        wanted,
        clinics,
        std::slice::from_ref(physio),
        now,
        window,
        1,
    );
    Ok(best.into_iter().next())
}

async fn insert_offer(
    conn: &mut AsyncPgConnection,
    booking: Booking<'_>,
    offer: &Offer,
) -> QueryResult<Claim> {
    let request = booking.request;
    if let Some(appointment) = insert(conn, booking, offer).await? {
        return Ok(Claim::Booked(Box::new(appointment)));
    }
    // Refused by a constraint. This referral booked already (a redelivery)…
    let booked = appointments::table
        .filter(appointments::referral_id.eq(request.referral_id))
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .select(appointments::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    if booked.is_some() {
        return Ok(Claim::AlreadyBooked);
    }
    // …or a writer that took no diary lock got to that slot first: it is not
    // ours, and fresh diaries show what is.
    tracing::info!(physio_id = %offer.physio_id, "slot taken meanwhile; ranking again");
    Ok(Claim::Lost)
}

/// `None` when the diary's exclusion constraint or the one-booking-per-
/// referral index refuses it. `ON CONFLICT DO NOTHING` (no target: every
/// unique index and exclusion constraint) leaves the caller's transaction
/// usable without the savepoint's two extra round trips on every booking.
async fn insert(
    conn: &mut AsyncPgConnection,
    Booking { request, kind }: Booking<'_>,
    offer: &Offer,
) -> QueryResult<Option<Appointment>> {
    diesel::insert_into(appointments::table)
        .values((
            appointments::id.eq(Uuid::now_v7()),
            appointments::referral_id.eq(request.referral_id),
            appointments::trainer_id.eq(request.trainer_id),
            appointments::client_id.eq(request.client_id),
            appointments::physio_id.eq(offer.physio_id),
            appointments::clinic_id.eq(offer.clinic_id),
            appointments::priority.eq(request.priority.as_str()),
            appointments::starts_at.eq(offer.slot.start),
            appointments::ends_at.eq(offer.slot.end),
            appointments::blocked_until.eq(offer.slot.end + offer.buffer),
            appointments::target_missed.eq(offer.target_missed),
            appointments::kind.eq(kind.as_str()),
        ))
        .on_conflict_do_nothing()
        .returning(Appointment::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn mark(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    to: RequestState,
) -> QueryResult<()> {
    let waitlisted_at = (to == RequestState::Waitlisted).then(Utc::now);
    prepared(
        diesel::update(referral_requests::table.find(referral_id)).set((
            referral_requests::state.eq(to),
            referral_requests::waitlisted_at.eq(waitlisted_at),
            referral_requests::updated_at.eq(Utc::now()),
        )),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What the booking service's settings decide about one booking.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Refusals after which a referral waits for a platform admin.
    pub refusals_before_review: u32,
    /// Share of the target window left when the covering clinics are told
    /// a referral still waits (`crate::deadline`).
    pub deadline_reminder_share: f64,
}

/// Books `request` or puts it on the waitlist, telling the saga either way,
/// never at a clinic that refused it; one refused too often
/// (`rules.refusals_before_review`), or by every clinic within reach, goes to the
/// platform admins' worklist instead.
/// `announce_waitlist` is false when retrying from the waitlist: the trainer
/// and the saga already know it is waiting.
pub async fn book_or_waitlist(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    announce_waitlist: bool,
    rules: Rules,
) -> QueryResult<Outcome> {
    let refused = refusals::of(conn, request.referral_id, request.attempt).await?;
    if refused.needs_review(rules.refusals_before_review) {
        return hold_for_review(conn, request, rules).await;
    }
    let outcome = book(conn, request, Utc::now(), &refused.clinics).await?;
    if let Outcome::NoSlot(reason) = &outcome
        && announce_waitlist
    {
        // A clinic that refused it will not be asked again: nothing to tell it.
        let (covered, clinics) = facts::clinics_that_could_take(
            conn,
            request.location(),
            request.allowed(&refused.clinics),
        )
        .await?;
        if covered && clinics.is_empty() {
            // Every clinic within reach refused it: waiting would wait forever.
            return hold_for_review(conn, request, rules).await;
        }
        start_waiting(conn, request, RequestState::Waitlisted, rules).await?;
        let event = events::waitlisted(request, *reason, Utc::now(), &clinics);
        spotter_messaging::enqueue(conn, &event).await?;
    }
    Ok(outcome)
}

/// The request waits in `state`; a wait that begins starts its booking
/// deadline, while a referral released from review keeps the deadline it was
/// already waiting under.
async fn start_waiting(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    state: RequestState,
    rules: Rules,
) -> QueryResult<()> {
    mark(conn, request.referral_id, state).await?;
    if !request.state.is_waiting() {
        deadline::start(conn, request, rules.deadline_reminder_share).await?;
    }
    Ok(())
}

/// Onto the platform admins' worklist: it books nothing by itself from now
/// on, and the saga hears why (no clinic is told: none is asked).
async fn hold_for_review(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    rules: Rules,
) -> QueryResult<Outcome> {
    start_waiting(conn, request, RequestState::NeedsReview, rules).await?;
    let event = events::waitlisted(request, WaitlistReason::NeedsReview, Utc::now(), &[]);
    spotter_messaging::enqueue(conn, &event).await?;
    Ok(Outcome::NeedsReview)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_now_to_the_horizon_without_gaps() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let all: Vec<Interval> = windows(now, now + Duration::days(28)).collect();
        assert_eq!(all[0].start, now);
        assert_eq!(all.last().map(|w| w.end), Some(now + Duration::days(28)));
        assert!(all.windows(2).all(|pair| pair[0].end == pair[1].start));
        assert_eq!(all.len(), 3, "2, 9, then 28 days");
        assert_eq!(windows(now, now).count(), 0);
    }
}
