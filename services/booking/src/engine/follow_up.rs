//! Follow-ups (docs/architecture.md, "Follow-ups"): the review date in a
//! physio's guidance becomes an appointment with that physio, the clinic's
//! follow-up length, in the first free slot on or after that date within the
//! clinic's horizon. A date beyond the horizon waits, untold, until it comes
//! within it. Newer guidance moves the follow-up to its own date or, without
//! one, cancels it. A clinic-side cancellation books it again with the same
//! physio, or a colleague at the same clinic once that physio is gone; with
//! no room it waits for capacity at that clinic, never dropped.
//!
//! Locks: the referral's (`lock_referral`) for guidance; then the request
//! row; an appointment only without waiting (`NOWAIT`) while that row is
//! held, because a cancellation holds its appointment and then takes the
//! row.

use super::book::{Found, search};
use super::cancel::{CancelError, Cancellation, Then, cancel};
use super::diary_lock::{lock_physio, lock_referral};
use super::facts::{self, Candidates};
use super::moves;
use super::requests::{self, ReferralRequest};
use crate::appointments::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::domain::matching::{ClinicFacts, Request};
use crate::domain::slots::{Interval, earliest_free_slots_within};
use crate::schema::{appointments, follow_up_requests, physios, referral_requests};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_db::is_lock_unavailable;
use spotter_platform::vocabulary::AppointmentKind;
use uuid::Uuid;

spotter_platform::coded! {
    /// Where booking stands with a referral's follow-up.
    // Stored as text under a CHECK of the same values.
    #[derive(AsExpression, FromSqlRow)]
    #[diesel(sql_type = Text)]
    pub enum FollowUpState {
        /// To be booked from `bookable_from` (the review date minus the
        /// clinic's horizon), or again after a busy moment; no one is told.
        Scheduled = "scheduled",
        /// Booked (the appointment says what became of it since).
        Booked = "booked",
        /// No room from the review date to the horizon: the physio and the
        /// clinic's admins were told; retried as capacity appears.
        Waitlisted = "waitlisted",
        /// No review wanted (the latest guidance set none), or the referral
        /// ended.
        Closed = "closed",
    }
}

spotter_db::text_coded!(FollowUpState);

/// The follow-up the referral's latest guidance asks for.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = follow_up_requests)]
pub struct FollowUpRequest {
    pub referral_id: Uuid,
    /// The treating physio, asked first.
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
    /// `None`: no review wanted.
    pub review_on: Option<NaiveDate>,
    pub guidance_version: i32,
    pub state: FollowUpState,
}

/// Guidance as booking hears of it (`GuidanceShared`).
#[derive(Debug, Clone, Copy)]
pub struct Guidance {
    pub referral_id: Uuid,
    pub physio_id: Uuid,
    pub version: i32,
    /// `None`: no review wanted (which includes a discharge).
    pub review_on: Option<NaiveDate>,
    /// Closes the referral (full training, no review).
    pub discharges: bool,
}

#[derive(Debug)]
pub enum Outcome {
    Booked,
    /// The booked follow-up moved to the new review date.
    Moved,
    /// The booked follow-up already suits (or nothing later is free).
    Kept,
    /// Its date is not within the clinic's horizon yet (or the diaries were
    /// busy): the waitlist books it when due.
    Scheduled,
    Waitlisted,
    /// No review wanted any more: the booked follow-up was cancelled.
    Cancelled,
    /// Older guidance than booking has seen, or a referral that ended.
    Ignored,
    /// A row it needs is being changed right now: worth retrying.
    Contended,
}

/// What newer guidance means for the referral's follow-up. Every version is
/// recorded, with or without a date, so an older one arriving later (a
/// retried delivery) never books what a newer one cancelled.
pub async fn on_guidance(
    conn: &mut AsyncPgConnection,
    guidance: Guidance,
) -> Result<Outcome, CancelError> {
    let referral_id = guidance.referral_id;
    lock_referral(conn, referral_id).await?;
    let Some(request) = open_request(conn, referral_id).await? else {
        return Ok(Outcome::Ignored);
    };
    let known = find(conn, referral_id).await?;
    if known
        .as_ref()
        .is_some_and(|k| k.guidance_version >= guidance.version)
    {
        tracing::info!(%referral_id, "older guidance than the follow-up's: ignored");
        return Ok(Outcome::Ignored);
    }
    let Some(clinic_id) = physio_clinic(conn, guidance.physio_id).await? else {
        tracing::warn!(%referral_id, "guidance from a physio booking does not know: no follow-up");
        return Ok(Outcome::Ignored);
    };
    let state = match guidance.review_on {
        Some(_) => FollowUpState::Scheduled,
        None => FollowUpState::Closed,
    };
    let follow_up = FollowUpRequest {
        referral_id,
        physio_id: guidance.physio_id,
        clinic_id,
        review_on: guidance.review_on,
        guidance_version: guidance.version,
        state,
    };
    save(conn, &follow_up).await?;
    // Read after the row is ours: a booking that held it has committed.
    let booked = match booked_follow_up(conn, referral_id).await {
        Err(err) if is_lock_unavailable(&err) => return Ok(Outcome::Contended),
        other => other?,
    };
    match (guidance.review_on, booked) {
        (Some(review_on), Some(appointment)) => {
            set_state(conn, referral_id, FollowUpState::Booked).await?;
            Ok(move_to_review(conn, &appointment, review_on).await?)
        }
        (Some(_), None) => Ok(book(conn, &request, &follow_up, None).await?),
        (None, Some(appointment)) => {
            let reason = if guidance.discharges {
                AppointmentCancellationReason::Discharged
            } else {
                AppointmentCancellationReason::ReviewNotNeeded
            };
            let how = Cancellation {
                by: CancelledBy::System,
                reason,
                note: None,
                then: Then::Ends,
            };
            cancel(conn, &appointment, how).await?;
            Ok(Outcome::Cancelled)
        }
        (None, None) => Ok(Outcome::Ignored),
    }
}

/// After a clinic-side cancellation of a follow-up: booked again with the
/// same physio or, once they are gone, a colleague, after the cancelled
/// slot; or waitlisted.
pub async fn rebook_cancelled(
    conn: &mut AsyncPgConnection,
    cancelled: &Appointment,
) -> QueryResult<Outcome> {
    let Some(follow_up) = find(conn, cancelled.referral_id).await? else {
        tracing::warn!(referral_id = %cancelled.referral_id, "a follow-up without its request");
        return Ok(Outcome::Ignored);
    };
    if follow_up.state == FollowUpState::Closed {
        return Ok(Outcome::Ignored);
    }
    let Some(request) = open_request(conn, cancelled.referral_id).await? else {
        return Ok(Outcome::Ignored);
    };
    book(conn, &request, &follow_up, Some(cancelled)).await
}

/// A follow-up due to be booked (scheduled and now within reach, or
/// waitlisted), tried by the waitlist (`None`: another replica has it, or
/// it is no longer due).
pub async fn retry_due(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<Outcome>> {
    let due: Option<FollowUpRequest> = follow_up_requests::table
        .find(referral_id)
        .filter(
            follow_up_requests::state.eq_any([FollowUpState::Scheduled, FollowUpState::Waitlisted]),
        )
        .select(FollowUpRequest::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?;
    let Some(follow_up) = due else {
        return Ok(None);
    };
    let Some(request) = open_request(conn, referral_id).await? else {
        set_state(conn, referral_id, FollowUpState::Closed).await?;
        return Ok(None);
    };
    book(conn, &request, &follow_up, None).await.map(Some)
}

/// Follow-ups due to be booked today, longest due first: all, or those at
/// `clinics` (through the partial indexes on `bookable_from` and
/// `clinic_id`, so the work follows what is due, not every follow-up ahead).
pub async fn due(conn: &mut AsyncPgConnection, clinics: Option<&[Uuid]>) -> QueryResult<Vec<Uuid>> {
    let mut query = follow_up_requests::table
        .filter(
            follow_up_requests::state.eq_any([FollowUpState::Scheduled, FollowUpState::Waitlisted]),
        )
        .filter(follow_up_requests::bookable_from.le(Utc::now().date_naive()))
        .order((
            follow_up_requests::bookable_from,
            follow_up_requests::referral_id,
        ))
        .select(follow_up_requests::referral_id)
        .into_boxed();
    if let Some(clinics) = clinics {
        query = query.filter(follow_up_requests::clinic_id.eq_any(clinics));
    }
    query.load(conn).await
}

/// The referral stops: nothing more is booked for it.
pub async fn close(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<()> {
    set_state(conn, referral_id, FollowUpState::Closed).await
}

/// Books `follow_up` from its review date (after `replacing`, the
/// follow-up the clinic just cancelled, when there is one), schedules it
/// while its date is beyond the clinic's horizon, or waitlists it, telling
/// the saga when it starts to wait.
async fn book(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    follow_up: &FollowUpRequest,
    replacing: Option<&Appointment>,
) -> QueryResult<Outcome> {
    let Some(review_on) = follow_up.review_on else {
        return Ok(Outcome::Ignored);
    };
    let Some(clinic) = facts::clinic_for_follow_up(conn, follow_up.clinic_id).await? else {
        return waitlist(conn, request, follow_up).await;
    };
    let now = Utc::now();
    let horizon = now + Duration::days(i64::from(clinic.rules.horizon_days));
    let review_starts = review_starts(clinic.tz, review_on);
    if review_starts >= horizon {
        set_state(conn, follow_up.referral_id, FollowUpState::Scheduled).await?;
        return Ok(Outcome::Scheduled);
    }
    let after = replacing.map_or(now, |cancelled| cancelled.ends_at);
    let span = Interval {
        start: review_starts.max(now).max(after),
        end: horizon,
    };
    match search_clinic(conn, request, follow_up, clinic, now, span).await? {
        Found::Booked(appointment) => {
            set_state(conn, follow_up.referral_id, FollowUpState::Booked).await?;
            let replaces = replacing.map(|cancelled| cancelled.id);
            let event = super::events::follow_up_booked(&appointment, follow_up, replaces);
            spotter_messaging::enqueue(conn, &event).await?;
            Ok(Outcome::Booked)
        }
        Found::AlreadyBooked => Ok(Outcome::Kept),
        Found::Contended => {
            // The waitlist books it in a moment (the capacity change that
            // freed a slot, or the minute's sweep, finds it due).
            set_state(conn, follow_up.referral_id, FollowUpState::Scheduled).await?;
            Ok(Outcome::Contended)
        }
        Found::Nothing => waitlist(conn, request, follow_up).await,
    }
}

/// The treating physio's diary (or, once they are gone, their colleagues')
/// searched through `span`.
async fn search_clinic(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    follow_up: &FollowUpRequest,
    clinic: ClinicFacts,
    now: DateTime<Utc>,
    span: Interval,
) -> QueryResult<Found> {
    let physios =
        facts::follow_up_physios(conn, follow_up.physio_id, clinic.id, request.body_region).await?;
    if physios.is_empty() || span.start >= span.end {
        return Ok(Found::Nothing);
    }
    let wanted = Request {
        body_region: request.body_region,
        // The client is the clinic's patient already: its radius does not
        // apply (`facts::clinic_for_follow_up` lets it take them).
        trainer_location: clinic.location,
        priority: request.priority,
        target_by: None,
    };
    let mut candidates = Candidates {
        clinics: vec![clinic],
        physios,
    };
    let kind = AppointmentKind::FollowUp;
    search(conn, request, kind, &wanted, &mut candidates, now, span).await
}

/// No room: it waits, and the saga hears so once, when it starts waiting (a
/// retry that still finds no room writes nothing).
async fn waitlist(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    follow_up: &FollowUpRequest,
) -> QueryResult<Outcome> {
    if follow_up.state != FollowUpState::Waitlisted {
        set_state(conn, follow_up.referral_id, FollowUpState::Waitlisted).await?;
        let event = super::events::follow_up_waitlisted(request, follow_up, Utc::now());
        spotter_messaging::enqueue(conn, &event).await?;
    }
    Ok(Outcome::Waitlisted)
}

/// Moves the booked follow-up to the first free slot on or after the new
/// review date in its physio's diary; keeps it when it is on that day
/// already, or when nothing from that date is free within the horizon (a
/// follow-up booked is better than one waiting).
async fn move_to_review(
    conn: &mut AsyncPgConnection,
    appointment: &Appointment,
    review_on: NaiveDate,
) -> QueryResult<Outcome> {
    if !lock_physio(conn, appointment.physio_id).await? {
        return Ok(Outcome::Contended);
    }
    let now = Utc::now();
    let Some((clinic, physio)) =
        facts::physio_diary(conn, appointment.physio_id, appointment.id, now).await?
    else {
        return Ok(Outcome::Kept);
    };
    if appointment.starts_at.with_timezone(&clinic.tz).date_naive() == review_on {
        return Ok(Outcome::Kept);
    }
    let mut rules = clinic.rules;
    rules.length = appointment.ends_at - appointment.starts_at;
    let from = Interval {
        start: review_starts(clinic.tz, review_on),
        end: DateTime::<Utc>::MAX_UTC,
    };
    let free = earliest_free_slots_within(
        clinic.tz,
        &physio.hours,
        &physio.time_off,
        &physio.booked,
        &rules,
        now,
        from,
        1,
    );
    let Some(slot) = free.into_iter().next() else {
        tracing::info!(appointment_id = %appointment.id, "nothing free from the new review date: follow-up kept");
        return Ok(Outcome::Kept);
    };
    match moves::to_slot(conn, appointment, slot, rules.buffer).await? {
        Some(_) => Ok(Outcome::Moved),
        None => Ok(Outcome::Contended),
    }
}

/// The start of the review date in the clinic's zone: local midnight, or
/// the first whole hour that exists when a DST change skips midnight.
fn review_starts(tz: Tz, review_on: NaiveDate) -> DateTime<Utc> {
    (0..3)
        .filter_map(|hour| review_on.and_hms_opt(hour, 0, 0))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(
            || review_on.and_time(NaiveTime::MIN).and_utc(),
            |at| at.with_timezone(&Utc),
        )
}

/// The referral booking was asked to book, unless the trainer cancelled it.
async fn open_request(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<ReferralRequest>> {
    if requests::cancelled(conn, referral_id).await? {
        return Ok(None);
    }
    referral_requests::table
        .find(referral_id)
        .select(ReferralRequest::as_select())
        .first(conn)
        .await
        .optional()
}

/// The request row, locked: whoever books or closes a follow-up holds it.
async fn find(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<FollowUpRequest>> {
    follow_up_requests::table
        .find(referral_id)
        .select(FollowUpRequest::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The booked follow-up, locked without waiting (see the module's note on
/// locks): a cancellation holding it makes this `Contended`.
async fn booked_follow_up(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<Appointment>> {
    appointments::table
        .filter(appointments::referral_id.eq(referral_id))
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .filter(appointments::kind.eq(AppointmentKind::FollowUp.as_str()))
        .select(Appointment::as_select())
        .for_update()
        .no_wait()
        .first(conn)
        .await
        .optional()
}

async fn physio_clinic(conn: &mut AsyncPgConnection, physio_id: Uuid) -> QueryResult<Option<Uuid>> {
    physios::table
        .find(physio_id)
        .select(physios::clinic_id)
        .first(conn)
        .await
        .optional()
}

/// Records the latest guidance's follow-up; `bookable_from` is its review
/// date less the clinic's horizon, when the waitlist should start trying.
async fn save(conn: &mut AsyncPgConnection, follow_up: &FollowUpRequest) -> QueryResult<()> {
    use diesel::sql_types::{Date, Integer, Nullable, Uuid as SqlUuid};
    diesel::sql_query(
        "INSERT INTO follow_up_requests \
           (referral_id, physio_id, clinic_id, review_on, guidance_version, state, bookable_from) \
         SELECT $1, $2, $3, $4, $5, $6, $4 - c.horizon_days FROM clinics c WHERE c.id = $3 \
         ON CONFLICT (referral_id) DO UPDATE SET physio_id = EXCLUDED.physio_id, \
           clinic_id = EXCLUDED.clinic_id, review_on = EXCLUDED.review_on, \
           guidance_version = EXCLUDED.guidance_version, state = EXCLUDED.state, \
           bookable_from = EXCLUDED.bookable_from, updated_at = now()",
    )
    .bind::<SqlUuid, _>(follow_up.referral_id)
    .bind::<SqlUuid, _>(follow_up.physio_id)
    .bind::<SqlUuid, _>(follow_up.clinic_id)
    .bind::<Nullable<Date>, _>(follow_up.review_on)
    .bind::<Integer, _>(follow_up.guidance_version)
    .bind::<Text, _>(follow_up.state.as_str())
    .execute(conn)
    .await
    .map(|_| ())
}

/// The clinic's horizon changed: each waiting follow-up becomes bookable
/// its review date less the new horizon (through the partial index on the
/// clinic's waiting follow-ups).
pub async fn horizon_changed(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    horizon_days: i32,
) -> QueryResult<()> {
    use diesel::sql_types::{Integer, Uuid as SqlUuid};
    diesel::sql_query(
        "UPDATE follow_up_requests SET bookable_from = review_on - $2, updated_at = now() \
          WHERE clinic_id = $1 AND state IN ('scheduled', 'waitlisted')",
    )
    .bind::<SqlUuid, _>(clinic_id)
    .bind::<Integer, _>(horizon_days)
    .execute(conn)
    .await
    .map(|_| ())
}

async fn set_state(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    to: FollowUpState,
) -> QueryResult<()> {
    diesel::update(follow_up_requests::table.find(referral_id))
        .filter(follow_up_requests::state.ne(to))
        .set((
            follow_up_requests::state.eq(to),
            follow_up_requests::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_date_starts_at_the_clinics_local_midnight() {
        let day = NaiveDate::from_ymd_opt(2030, 6, 3).unwrap();
        let london: Tz = "Europe/London".parse().unwrap();
        // British Summer Time: local midnight is 23:00 UTC the day before.
        assert_eq!(
            review_starts(london, day),
            Utc.with_ymd_and_hms(2030, 6, 2, 23, 0, 0).unwrap()
        );
        // Every day of a year, in zones whose clocks change at midnight
        // (Santiago, Havana) or not at all, starts on that very local day.
        for zone in ["America/Santiago", "America/Havana", "Asia/Kolkata", "UTC"] {
            let tz: Tz = zone.parse().unwrap();
            for day in NaiveDate::from_ymd_opt(2030, 1, 1)
                .unwrap()
                .iter_days()
                .take(365)
            {
                let start = review_starts(tz, day).with_timezone(&tz);
                assert_eq!(start.date_naive(), day, "{zone} {day}");
                assert!(start.time() < NaiveTime::from_hms_opt(3, 0, 0).unwrap());
            }
        }
    }

    #[test]
    fn every_state_reads_back_as_written() {
        for &state in FollowUpState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
    }
}
