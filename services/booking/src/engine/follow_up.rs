//! Follow-ups (docs/architecture.md, "Follow-ups"): the review date in a
//! physio's guidance becomes an appointment with that physio, the clinic's
//! follow-up length, in the first free slot on or after that date within the
//! clinic's horizon. Newer guidance moves it to its own date or, without
//! one, cancels it. A clinic-side cancellation books it again with the same
//! physio, or a colleague at the same clinic once that physio is gone; with
//! no room it waits for capacity at that clinic, never dropped.

use super::book::{Found, search};
use super::cancel::{Cancellation, Then, cancel};
use super::diary_lock::{lock_physio, lock_referral};
use super::facts::{self, Candidates};
use super::requests::ReferralRequest;
use super::{events, moves};
use crate::appointments::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::domain::matching::Request;
use crate::domain::slots::{Interval, earliest_free_slots_within};
use crate::schema::{
    appointments, follow_up_requests, physios, referral_cancellations, referral_requests,
};
use crate::waitlist;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_platform::vocabulary::AppointmentKind;
use uuid::Uuid;

spotter_platform::coded! {
    /// Where booking stands with a referral's follow-up.
    // Stored as text under a CHECK of the same values.
    #[derive(AsExpression, FromSqlRow)]
    #[diesel(sql_type = Text)]
    pub enum FollowUpState {
        Booked = "booked",
        /// No room yet: retried as capacity appears at the clinic.
        Waitlisted = "waitlisted",
        /// Nothing wanted any more (no review date, or the referral ended).
        Closed = "closed",
    }
}

spotter_db::text_coded!(FollowUpState);

/// The follow-up the referral's latest guidance asks for.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = follow_up_requests)]
pub struct FollowUpRequest {
    pub referral_id: Uuid,
    /// The treating physio, asked first.
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
    pub review_on: NaiveDate,
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
}

#[derive(Debug)]
pub enum Outcome {
    Booked(Box<Appointment>),
    /// The booked follow-up moved to the new review date.
    Moved(Box<Appointment>),
    /// The booked follow-up already suits (or nothing earlier is free).
    Kept,
    Waitlisted,
    /// No review wanted any more: the booked follow-up was cancelled.
    Cancelled,
    /// Older guidance than booking has seen, or a referral that ended.
    Ignored,
    /// Every offer was taken by concurrent bookings: worth retrying.
    Contended,
}

/// What newer guidance means for the referral's follow-up.
pub async fn on_guidance(conn: &mut AsyncPgConnection, guidance: Guidance) -> QueryResult<Outcome> {
    let referral_id = guidance.referral_id;
    lock_referral(conn, referral_id).await?;
    let Some(request) = open_request(conn, referral_id).await? else {
        return Ok(Outcome::Ignored);
    };
    let known = find(conn, referral_id, false).await?;
    if known
        .as_ref()
        .is_some_and(|k| k.guidance_version >= guidance.version)
    {
        tracing::info!(%referral_id, "older guidance than the follow-up's: ignored");
        return Ok(Outcome::Ignored);
    }
    let booked = booked_follow_up(conn, referral_id).await?;
    let Some(review_on) = guidance.review_on else {
        if known.is_some() {
            set_state(
                conn,
                referral_id,
                FollowUpState::Closed,
                Some(guidance.version),
            )
            .await?;
        }
        let Some(appointment) = booked else {
            return Ok(Outcome::Ignored);
        };
        let how = Cancellation {
            by: CancelledBy::System,
            reason: AppointmentCancellationReason::ReviewNotNeeded,
            note: None,
            then: Then::Ends,
        };
        cancel(conn, &appointment, how)
            .await
            .map_err(into_query_error)?;
        return Ok(Outcome::Cancelled);
    };
    let Some(clinic_id) = physio_clinic(conn, guidance.physio_id).await? else {
        tracing::warn!(%referral_id, "guidance from a physio booking does not know: no follow-up");
        return Ok(Outcome::Ignored);
    };
    let follow_up = FollowUpRequest {
        referral_id,
        physio_id: guidance.physio_id,
        clinic_id,
        review_on,
        guidance_version: guidance.version,
        state: FollowUpState::Booked,
    };
    save(conn, &follow_up).await?;
    match booked {
        Some(appointment) => move_to_review(conn, &appointment, review_on).await,
        None => book(conn, &request, &follow_up, None, None).await,
    }
}

/// After a clinic-side cancellation of a follow-up: booked again with the
/// same physio or, once they are gone, a colleague; or waitlisted.
pub async fn rebook_cancelled(
    conn: &mut AsyncPgConnection,
    cancelled: &Appointment,
) -> QueryResult<Outcome> {
    let Some(follow_up) = find(conn, cancelled.referral_id, true).await? else {
        tracing::warn!(referral_id = %cancelled.referral_id, "a follow-up without its request");
        return Ok(Outcome::Ignored);
    };
    let Some(request) = open_request(conn, cancelled.referral_id).await? else {
        return Ok(Outcome::Ignored);
    };
    if follow_up.state == FollowUpState::Closed {
        return Ok(Outcome::Ignored);
    }
    // Not the slot just cancelled: the next free one after it.
    let after = Some(cancelled.ends_at);
    match book(conn, &request, &follow_up, Some(cancelled.id), after).await? {
        // Diaries busy right now: the waitlist books it in a moment.
        Outcome::Contended => {
            set_state(conn, follow_up.referral_id, FollowUpState::Waitlisted, None).await?;
            waitlist::capacity_changed(conn, follow_up.clinic_id).await?;
            Ok(Outcome::Waitlisted)
        }
        other => Ok(other),
    }
}

/// A waiting follow-up, tried again by the waitlist (`None`: another
/// replica has it, or it stopped waiting).
pub async fn retry_waiting(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<Outcome>> {
    let waiting: Option<FollowUpRequest> = follow_up_requests::table
        .find(referral_id)
        .filter(follow_up_requests::state.eq(FollowUpState::Waitlisted))
        .select(FollowUpRequest::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?;
    let Some(follow_up) = waiting else {
        return Ok(None);
    };
    let Some(request) = open_request(conn, referral_id).await? else {
        set_state(conn, referral_id, FollowUpState::Closed, None).await?;
        return Ok(None);
    };
    book(conn, &request, &follow_up, None, None).await.map(Some)
}

/// Waiting follow-ups, longest waiting first: all, or those at `clinics`.
pub async fn waiting(
    conn: &mut AsyncPgConnection,
    clinics: Option<&[Uuid]>,
) -> QueryResult<Vec<Uuid>> {
    let mut query = follow_up_requests::table
        .filter(follow_up_requests::state.eq(FollowUpState::Waitlisted))
        .order(follow_up_requests::updated_at)
        .select(follow_up_requests::referral_id)
        .into_boxed();
    if let Some(clinics) = clinics {
        query = query.filter(follow_up_requests::clinic_id.eq_any(clinics));
    }
    query.load(conn).await
}

/// The referral stops: nothing more is booked for it.
pub async fn close(conn: &mut AsyncPgConnection, referral_id: Uuid) -> QueryResult<()> {
    set_state(conn, referral_id, FollowUpState::Closed, None).await
}

/// Books `follow_up` from its review date (and not before `after`), or
/// waitlists it, telling the saga when it starts waiting.
async fn book(
    conn: &mut AsyncPgConnection,
    request: &ReferralRequest,
    follow_up: &FollowUpRequest,
    replaces: Option<Uuid>,
    after: Option<DateTime<Utc>>,
) -> QueryResult<Outcome> {
    let announce = follow_up.state != FollowUpState::Waitlisted;
    let now = Utc::now();
    let found = match facts::clinic_for_follow_up(conn, follow_up.clinic_id).await? {
        None => Found::Nothing,
        Some(clinic) => {
            let physios = facts::follow_up_physios(
                conn,
                follow_up.physio_id,
                follow_up.clinic_id,
                request.body_region,
            )
            .await?;
            let span = Interval {
                start: review_starts(clinic.tz, follow_up.review_on)
                    .max(now)
                    .max(after.unwrap_or(now)),
                end: now + Duration::days(i64::from(clinic.rules.horizon_days)),
            };
            let wanted = Request {
                body_region: request.body_region,
                // The client is the clinic's patient already: its radius
                // does not apply.
                trainer_location: clinic.location,
                priority: request.priority,
                target_by: None,
            };
            let mut candidates = Candidates {
                clinics: vec![clinic],
                physios,
            };
            if candidates.physios.is_empty() || span.start >= span.end {
                Found::Nothing
            } else {
                let kind = AppointmentKind::FollowUp;
                search(conn, request, kind, &wanted, &mut candidates, now, span).await?
            }
        }
    };
    match found {
        Found::Booked(appointment) => {
            set_state(conn, follow_up.referral_id, FollowUpState::Booked, None).await?;
            let event = events::follow_up_booked(&appointment, follow_up, replaces);
            spotter_messaging::enqueue(conn, &event).await?;
            Ok(Outcome::Booked(appointment))
        }
        Found::AlreadyBooked => Ok(Outcome::Kept),
        Found::Contended => Ok(Outcome::Contended),
        Found::Nothing => {
            set_state(conn, follow_up.referral_id, FollowUpState::Waitlisted, None).await?;
            if announce {
                let event = events::follow_up_waitlisted(request, follow_up, now);
                spotter_messaging::enqueue(conn, &event).await?;
            }
            Ok(Outcome::Waitlisted)
        }
    }
}

/// Moves the booked follow-up to the first free slot on or after the new
/// review date in its physio's diary; keeps it when it is on that day
/// already, or when nothing from that date is free (a follow-up booked is
/// better than one waiting).
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
    let hours = (&physio.hours, &physio.time_off, &physio.booked);
    let Some(slot) =
        earliest_free_slots_within(clinic.tz, hours.0, hours.1, hours.2, &rules, now, from, 1)
            .into_iter()
            .next()
    else {
        tracing::info!(appointment_id = %appointment.id, "nothing free from the new review date: follow-up kept");
        return Ok(Outcome::Kept);
    };
    let Some(moved) = moves::to_slot(conn, appointment.id, slot, rules.buffer).await? else {
        return Ok(Outcome::Contended);
    };
    let event = events::follow_up_moved(&moved, appointment.starts_at);
    spotter_messaging::enqueue(conn, &event).await?;
    waitlist::capacity_changed(conn, appointment.clinic_id).await?;
    Ok(Outcome::Moved(Box::new(moved)))
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
    let cancelled = referral_cancellations::table
        .find(referral_id)
        .select(referral_cancellations::referral_id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    if cancelled.is_some() {
        return Ok(None);
    }
    referral_requests::table
        .find(referral_id)
        .select(ReferralRequest::as_select())
        .first(conn)
        .await
        .optional()
}

async fn find(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    locked: bool,
) -> QueryResult<Option<FollowUpRequest>> {
    let query = follow_up_requests::table
        .find(referral_id)
        .select(FollowUpRequest::as_select());
    if locked {
        query.for_update().first(conn).await.optional()
    } else {
        query.first(conn).await.optional()
    }
}

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

async fn save(conn: &mut AsyncPgConnection, follow_up: &FollowUpRequest) -> QueryResult<()> {
    diesel::insert_into(follow_up_requests::table)
        .values(follow_up.clone())
        .on_conflict(follow_up_requests::referral_id)
        .do_update()
        .set((
            follow_up_requests::physio_id.eq(follow_up.physio_id),
            follow_up_requests::clinic_id.eq(follow_up.clinic_id),
            follow_up_requests::review_on.eq(follow_up.review_on),
            follow_up_requests::guidance_version.eq(follow_up.guidance_version),
            follow_up_requests::state.eq(follow_up.state),
            follow_up_requests::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// `version`: the guidance it now follows, when that changed.
async fn set_state(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    to: FollowUpState,
    version: Option<i32>,
) -> QueryResult<()> {
    diesel::update(follow_up_requests::table.find(referral_id))
        .set((
            follow_up_requests::state.eq(to),
            version.map(|v| follow_up_requests::guidance_version.eq(v)),
            follow_up_requests::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

fn into_query_error(err: super::cancel::CancelError) -> diesel::result::Error {
    match err {
        super::cancel::CancelError::Database(db) => db,
        // A follow-up found booked under its lock can always be cancelled.
        illegal => diesel::result::Error::QueryBuilderError(illegal.to_string().into()),
    }
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
