//! What the referral service hears from booking, and how each event moves
//! the referral (the rules are `domain::lifecycle`).
//!
//! One referral's events are handled one after another, in the order booking
//! sent them, while other referrals' run side by side
//! (`in_order_per_correlation`); an event that still arrives ahead of its
//! predecessor (its predecessor failed and is being retried, or another
//! replica holds it) is retried itself rather than lost or misapplied.

use crate::deadlines::CareDeadlines;
use crate::domain::lifecycle::{Decision, Happening, Naming, Status, admit};
use crate::domain::vocabulary::TimelineCause;
use crate::events;
use crate::referrals::model::{Referral, append_timeline, find_for_update, move_to};
use crate::referrals::store::send_back_to_booking;
use crate::referrals::visits::{self, Visit, VisitNews};
use crate::schema::referrals;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancellationReason, AppointmentCancelled, AppointmentCompleted,
    AppointmentNoShow, AppointmentRescheduled, DeadlineReached, FollowUpBooked, FollowUpMoved,
    FollowUpWaitlisted, PhysioAccessEnded, ReferralWaitlisted, WaitlistReason,
};
use spotter_contracts::common::v1::DeadlineStage;
use spotter_contracts::convert::{Malformed, appointment_kind, optional_time, uuid};
use spotter_db::prepared;
use spotter_messaging::topology::routing_keys_of;
use spotter_messaging::{ConsumerSpec, HandlerError, Incoming, in_order_per_correlation};
use spotter_platform::vocabulary::{AppointmentKind, AppointmentStatus};
use std::sync::Arc;
use uuid::Uuid;

const QUEUE: &str = "referral.booking-events";

pub fn spec(care: CareDeadlines) -> ConsumerSpec {
    ConsumerSpec {
        name: QUEUE.to_owned(),
        routing_keys: routing_keys_of(QUEUE),
        handler: Arc::new(move |conn, incoming| Box::pin(handle(conn, incoming, care))),
        // Under load, one at a time fell behind booking (thousands of events
        // in a bench run), and the trainer saw "awaiting booking" long after
        // the booking. Four workers, each holding a pool connection while it
        // runs, each taking up to four ready events into one transaction.
        concurrency: 16,
        batch: 4,
        admission: Some(in_order_per_correlation()),
    }
}

async fn handle(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
    care: CareDeadlines,
) -> Result<(), HandlerError> {
    match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => {
            let e: AppointmentBooked = incoming.decode()?;
            let booking = Booking::of(&e)?;
            let timezone = clinic_timezone(&e.clinic_timezone);
            let visit = booking.visit(AppointmentKind::Assessment, e.starts_at, e.ends_at);
            let news = VisitNews::Booked {
                visit: visit.clone(),
                replaces: None,
            };
            let step = Step::new(Happening::Booked, TimelineCause::AppointmentBooked);
            on_event(
                conn,
                &e.referral_id,
                news,
                step,
                async |conn, referral, to, cause| {
                    let target_missed = Some(booking.target_missed);
                    record_booking(conn, referral, to, cause, &visit, target_missed, timezone).await
                },
            )
            .await
        }
        ReferralWaitlisted::TYPE_NAME => {
            let e: ReferralWaitlisted = incoming.decode()?;
            // Refused by clinics too often: waiting for a platform admin, not
            // for capacity (the timeline says which).
            let cause = if e.reason() == WaitlistReason::NeedsReview {
                TimelineCause::WaitingForReview
            } else {
                TimelineCause::Waitlisted
            };
            let step = Step::new(Happening::Waitlisted, cause);
            on_event(conn, &e.referral_id, VisitNews::Nothing, step, just_move).await
        }
        PhysioAccessEnded::TYPE_NAME => end_physio_access(conn, &incoming.decode()?).await,
        FollowUpBooked::TYPE_NAME => {
            let e: FollowUpBooked = incoming.decode()?;
            let booking = Booking {
                appointment_id: uuid("appointment_id", &e.appointment_id)?,
                physio_id: uuid("physio_id", &e.physio_id)?,
                clinic_id: uuid("clinic_id", &e.clinic_id)?,
                target_missed: false,
            };
            let visit = booking.visit(AppointmentKind::FollowUp, e.starts_at, e.ends_at);
            let replaces = match e.replaces_appointment_id.as_str() {
                "" => None,
                id => Some(uuid("replaces_appointment_id", id)?),
            };
            let news = VisitNews::Booked {
                visit: visit.clone(),
                replaces,
            };
            let step = Step::new(Happening::FollowUpNews, TimelineCause::FollowUpBooked);
            on_event(
                conn,
                &e.referral_id,
                news,
                step,
                // The target concerned the first booking, not a review.
                async |conn, referral, to, cause| {
                    record_booking(conn, referral, to, cause, &visit, None, None).await
                },
            )
            .await
        }
        FollowUpMoved::TYPE_NAME => {
            let e: FollowUpMoved = incoming.decode()?;
            let news = moved(&e.appointment_id, e.starts_at, e.ends_at)?;
            let step = Step::new(Happening::FollowUpNews, TimelineCause::FollowUpMoved);
            on_event(
                conn,
                &e.referral_id,
                news.clone(),
                step,
                async |conn, referral, to, cause| {
                    record_move(conn, referral, to, cause, &news).await
                },
            )
            .await
        }
        FollowUpWaitlisted::TYPE_NAME => {
            let e: FollowUpWaitlisted = incoming.decode()?;
            let step = Step::new(Happening::FollowUpNews, TimelineCause::FollowUpWaitlisted);
            on_event(conn, &e.referral_id, VisitNews::Nothing, step, keep_status).await
        }
        DeadlineReached::TYPE_NAME => mark_overdue(conn, &incoming.decode()?).await,
        AppointmentCompleted::TYPE_NAME => {
            let e: AppointmentCompleted = incoming.decode()?;
            let news = ended(&e.appointment_id, AppointmentStatus::Completed)?;
            let follow_up = appointment_kind(e.kind()) == AppointmentKind::FollowUp;
            let step = if follow_up {
                Step::new(
                    Happening::FollowUpCompleted,
                    TimelineCause::FollowUpCompleted,
                )
            } else {
                Step::new(Happening::Completed, TimelineCause::AppointmentCompleted)
            };
            on_event(
                conn,
                &e.referral_id,
                news,
                step,
                async |conn, referral, to, cause| {
                    move_to(conn, referral.id, to, cause).await?;
                    if follow_up {
                        // A review replaces an acknowledgement still owed:
                        // new guidance follows it.
                        CareDeadlines::acknowledged(conn, referral.id).await?;
                    }
                    let assessed_at = optional_time(e.completed_at).unwrap_or_else(Utc::now);
                    care.await_guidance(conn, referral.id, assessed_at).await?;
                    Ok(())
                },
            )
            .await
        }
        AppointmentNoShow::TYPE_NAME => {
            let e: AppointmentNoShow = incoming.decode()?;
            let news = ended(&e.appointment_id, AppointmentStatus::NoShow)?;
            // Booking counts the referral's missed appointments (0 from a
            // booking service older than the count: the first).
            let missed = e.no_shows;
            let happening = match appointment_kind(e.kind()) {
                AppointmentKind::Assessment => Happening::NoShow { missed },
                AppointmentKind::FollowUp => Happening::FollowUpMissed { missed },
            };
            let step = Step::new(happening, TimelineCause::AppointmentNoShow);
            on_event(
                conn,
                &e.referral_id,
                news,
                step,
                async |conn, referral, to, cause| {
                    diesel::update(referrals::table.find(referral.id))
                        .set(
                            referrals::no_shows
                                .eq(i32::try_from(missed.max(1)).unwrap_or(i32::MAX)),
                        )
                        .execute(conn)
                        .await?;
                    let moved = move_to(conn, referral.id, to, cause).await?;
                    // Nothing is acknowledged from here: a missed review ends the wait.
                    CareDeadlines::acknowledged(conn, referral.id).await?;
                    if to == Status::NotAttended {
                        let event = events::not_attended(&moved, Utc::now());
                        spotter_messaging::enqueue(conn, &event).await?;
                    }
                    Ok(())
                },
            )
            .await
        }
        AppointmentCancelled::TYPE_NAME => {
            let e: AppointmentCancelled = incoming.decode()?;
            let news = ended(&e.appointment_id, AppointmentStatus::Cancelled)?;
            if appointment_kind(e.kind()) == AppointmentKind::FollowUp {
                // Booking books it again itself, or no review is wanted.
                let step = Step::new(Happening::FollowUpNews, TimelineCause::FollowUpCancelled);
                on_event(conn, &e.referral_id, news, step, keep_status).await
            } else if e.rebook {
                let cause = if e.reason_code() == AppointmentCancellationReason::Declined {
                    TimelineCause::AppointmentDeclined
                } else {
                    TimelineCause::AppointmentCancelledByClinic
                };
                let step = Step::new(Happening::CancelledByClinic, cause);
                on_event(conn, &e.referral_id, news, step, rebook).await
            } else {
                // The trainer's side: the referral was cancelled here first.
                let step = Step::new(
                    Happening::CancelledForGood,
                    TimelineCause::AppointmentCancelled,
                );
                on_event(conn, &e.referral_id, news, step, just_move).await
            }
        }
        AppointmentRescheduled::TYPE_NAME => {
            let e: AppointmentRescheduled = incoming.decode()?;
            let news = moved(&e.appointment_id, e.starts_at, e.ends_at)?;
            let step = Step::new(
                Happening::Rescheduled,
                TimelineCause::AppointmentRescheduled,
            );
            on_event(
                conn,
                &e.referral_id,
                news.clone(),
                step,
                async |conn, referral, to, cause| {
                    record_move(conn, referral, to, cause, &news).await
                },
            )
            .await
        }
        other => Err(HandlerError::permanent(format!(
            "the referral service does not handle {other}"
        ))),
    }
}

/// A happening and the timeline cause it is recorded under.
struct Step {
    happening: Happening,
    cause: TimelineCause,
}

impl Step {
    fn new(happening: Happening, cause: TimelineCause) -> Self {
        Self { happening, cause }
    }
}

fn moved(
    appointment: &str,
    starts_at: Option<prost_types::Timestamp>,
    ends_at: Option<prost_types::Timestamp>,
) -> Result<VisitNews, Malformed> {
    Ok(VisitNews::Moved {
        appointment: uuid("appointment_id", appointment)?,
        starts_at: optional_time(starts_at),
        ends_at: optional_time(ends_at),
    })
}

fn ended(appointment: &str, status: AppointmentStatus) -> Result<VisitNews, Malformed> {
    Ok(VisitNews::Ended {
        appointment: uuid("appointment_id", appointment)?,
        status,
    })
}

/// Every event from booking takes the same steps: load the referral (locked;
/// an event about a referral we never made is poison), let the state machine
/// `admit` it, record what it says of the visit (whatever the status: the
/// course view shows booking's appointments as they are), then `apply` it,
/// or acknowledge a stale one; or retry, writing nothing, one that is ahead
/// of the event it follows.
async fn on_event(
    conn: &mut AsyncPgConnection,
    referral_id: &str,
    news: VisitNews,
    step: Step,
    apply: impl AsyncFnOnce(
        &mut AsyncPgConnection,
        &Referral,
        Status,
        TimelineCause,
    ) -> Result<(), HandlerError>,
) -> Result<(), HandlerError> {
    let id = uuid("referral_id", referral_id)?;
    let referral = find_for_update(conn, id)
        .await?
        .ok_or_else(|| HandlerError::permanent(format!("no referral {id}")))?;
    let Step { happening, cause } = step;
    let decision = match (&news, news.about()) {
        // A rebooked follow-up waits for the news of the one it replaces.
        (VisitNews::Booked { .. }, Some(replaced)) if !visits::known(conn, replaced).await? => {
            Decision::Retry
        }
        (VisitNews::Booked { .. }, _) | (_, None) => admit(referral.status, None, happening),
        (_, Some(event)) => {
            let current = referral.appointment_id;
            let known = current == Some(event) || visits::known(conn, event).await?;
            let naming = Naming {
                event,
                current,
                known,
            };
            admit(referral.status, Some(naming), happening)
        }
    };
    if decision == Decision::Retry {
        return Err(HandlerError::Transient(anyhow::anyhow!(
            "{cause} arrived before the event it follows (referral {} is {})",
            referral.id,
            referral.status
        )));
    }
    news.record(conn, referral.id).await?;
    match decision {
        Decision::Apply(to) => apply(conn, &referral, to, cause).await,
        _ => {
            tracing::info!(referral_id = %referral.id, status = %referral.status, %cause, "stale or repeated event ignored");
            Ok(())
        }
    }
}

/// The physio's clinic deactivated them: if they still hold the referral,
/// they no longer see it (`referrals::access`). No status change, so no
/// state machine: a referral rebooked with someone else meanwhile is left
/// alone, and a repeat changes nothing.
async fn end_physio_access(
    conn: &mut AsyncPgConnection,
    e: &PhysioAccessEnded,
) -> Result<(), HandlerError> {
    let referral = uuid("referral_id", &e.referral_id)?;
    let physio = uuid("physio_id", &e.physio_id)?;
    diesel::update(
        referrals::table
            .find(referral)
            .filter(referrals::physio_id.eq(physio)),
    )
    .set(referrals::physio_access_ended_for.eq(physio))
    .execute(conn)
    .await?;
    Ok(())
}

/// Booking says the referral is still unbooked past its target: the
/// timeline says so (and the trainer is told by notification). No status
/// change; only the escalation counts, once, and only while it still waits.
async fn mark_overdue(
    conn: &mut AsyncPgConnection,
    e: &DeadlineReached,
) -> Result<(), HandlerError> {
    if e.stage() != DeadlineStage::Escalation {
        return Ok(());
    }
    let id = uuid("referral_id", &e.referral_id)?;
    let marked: Option<Referral> = diesel::update(
        referrals::table
            .find(id)
            .filter(referrals::overdue_since.is_null())
            .filter(referrals::status.eq_any([
                Status::AwaitingBooking.as_str(),
                Status::Waitlisted.as_str(),
            ])),
    )
    .set(referrals::overdue_since.eq(optional_time(e.reached_at).unwrap_or_else(Utc::now)))
    .returning(Referral::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    if let Some(referral) = marked {
        append_timeline(
            conn,
            referral.id,
            referral.status,
            TimelineCause::BookingOverdue,
        )
        .await?;
    }
    Ok(())
}

/// The move alone, for events that change nothing else.
async fn just_move(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    to: Status,
    cause: TimelineCause,
) -> Result<(), HandlerError> {
    move_to(conn, referral.id, to, cause).await?;
    Ok(())
}

/// The current appointment moved (a reschedule, a follow-up's new time):
/// its times and a timeline entry; the status stays.
async fn record_move(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    status: Status,
    cause: TimelineCause,
    news: &VisitNews,
) -> Result<(), HandlerError> {
    if let VisitNews::Moved {
        starts_at, ends_at, ..
    } = news
    {
        diesel::update(referrals::table.find(referral.id))
            .set((
                referrals::appointment_starts_at.eq(starts_at),
                referrals::appointment_ends_at.eq(ends_at),
                referrals::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
    }
    append_timeline(conn, referral.id, status, cause).await?;
    Ok(())
}

/// A follow-up's news that changes neither the status nor the visit shown:
/// the timeline records it.
async fn keep_status(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    status: Status,
    cause: TimelineCause,
) -> Result<(), HandlerError> {
    append_timeline(conn, referral.id, status, cause).await?;
    Ok(())
}

/// Where booking put the referral, read before the referral is locked (a
/// malformed event is refused without touching it).
struct Booking {
    appointment_id: Uuid,
    physio_id: Uuid,
    clinic_id: Uuid,
    target_missed: bool,
}

impl Booking {
    fn of(e: &AppointmentBooked) -> Result<Self, Malformed> {
        Ok(Self {
            appointment_id: uuid("appointment_id", &e.appointment_id)?,
            physio_id: uuid("physio_id", &e.physio_id)?,
            clinic_id: uuid("clinic_id", &e.clinic_id)?,
            target_missed: e.target_missed,
        })
    }

    fn visit(
        &self,
        kind: AppointmentKind,
        starts_at: Option<prost_types::Timestamp>,
        ends_at: Option<prost_types::Timestamp>,
    ) -> Visit {
        Visit {
            appointment_id: self.appointment_id,
            kind,
            status: AppointmentStatus::Booked,
            starts_at: optional_time(starts_at),
            ends_at: optional_time(ends_at),
            physio_id: self.physio_id,
            clinic_id: self.clinic_id,
        }
    }
}

/// The visit is the referral's current appointment: a first booking (with
/// whether it missed its target), or a follow-up (`None`: the target
/// concerned the first booking). A colleague who took the follow-up over
/// from a physio who left sees the referral from now on. `timezone`: the
/// booked clinic's, for counting the client's training weeks
/// (docs/training.md, "Adherence"); none keeps what was known.
async fn record_booking(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    to: Status,
    cause: TimelineCause,
    visit: &Visit,
    target_missed: Option<bool>,
    timezone: Option<chrono_tz::Tz>,
) -> Result<(), HandlerError> {
    let timezone = timezone
        .map(|tz| tz.name())
        .or(referral.clinic_timezone.as_deref());
    let now = Utc::now();
    prepared(diesel::update(referrals::table.find(referral.id)).set((
        referrals::appointment_id.eq(visit.appointment_id),
        referrals::appointment_starts_at.eq(visit.starts_at),
        referrals::appointment_ends_at.eq(visit.ends_at),
        referrals::physio_id.eq(visit.physio_id),
        referrals::clinic_id.eq(visit.clinic_id),
        referrals::physio_access_ended_for.eq(None::<Uuid>),
        referrals::target_missed.eq(target_missed),
        referrals::clinic_timezone.eq(timezone),
        referrals::first_booked_at.eq(referral.first_booked_at.unwrap_or(now)),
        // The move itself, in the same statement (what `move_to`
        // writes): this runs once per booking.
        referrals::status.eq(to.as_str()),
        referrals::updated_at.eq(now),
    )))
    .execute(conn)
    .await?;
    append_timeline(conn, referral.id, to, cause).await?;
    Ok(())
}

/// An event's zone; empty (an event from before booking named it) is none.
/// A name this build's zone database does not know (booking's may be newer
/// during a rolling upgrade) is none too, and logged: it only decides how
/// training weeks are counted, never whether the booking is recorded.
fn clinic_timezone(name: &str) -> Option<chrono_tz::Tz> {
    if name.is_empty() {
        return None;
    }
    let parsed = name.parse().ok();
    if parsed.is_none() {
        tracing::warn!(
            timezone = name,
            "unknown clinic time zone; weeks counted in UTC"
        );
    }
    parsed
}

/// The clinic cancelled: booking is asked again, at any clinic but those
/// that refused it.
async fn rebook(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    to: Status,
    cause: TimelineCause,
) -> Result<(), HandlerError> {
    send_back_to_booking(conn, referral, to, cause, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_takes_every_booking_event_handled_here() {
        let mut keys = routing_keys_of(QUEUE);
        keys.sort();
        let mut handled = vec![
            AppointmentBooked::ROUTING_KEY,
            ReferralWaitlisted::ROUTING_KEY,
            AppointmentCompleted::ROUTING_KEY,
            AppointmentNoShow::ROUTING_KEY,
            AppointmentCancelled::ROUTING_KEY,
            AppointmentRescheduled::ROUTING_KEY,
            PhysioAccessEnded::ROUTING_KEY,
            DeadlineReached::ROUTING_KEY,
            FollowUpBooked::ROUTING_KEY,
            FollowUpMoved::ROUTING_KEY,
            FollowUpWaitlisted::ROUTING_KEY,
        ];
        handled.sort();
        assert_eq!(keys, handled);
    }
}
