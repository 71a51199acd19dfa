//! Care deadlines (docs/architecture.md, "Deadlines"): after an assessment
//! the physio owes guidance, and after new guidance the trainer owes an
//! acknowledgement. Each wait is a durable deadline in this database,
//! started and cleared in the transaction that changes the referral, with
//! two stages: a reminder to whoever owes it, then an escalation (guidance:
//! the clinic's admins; acknowledgement: the physio). When each falls due is
//! a setting (`[deadlines]`).

use crate::domain::lifecycle::{Decision, Happening, MEDICAL_ADVICE, Status, decide};
use crate::domain::vocabulary::TimelineCause;
use crate::events;
use crate::referrals::model::{Referral, move_to};
use crate::schema::{guidance, referrals};
use crate::training::adherence_weeks;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use spotter_db::deadlines::{self, DeadlineKind, DeadlineStage, Due, Expiry, Fired, Wait};
use spotter_platform::settings::DeadlineSettings;
use utoipa::ToSchema;
use uuid::Uuid;

/// The statuses a referral is in while `kind` is awaited (a discharge's
/// final summary is acknowledged too); none for a kind this service does
/// not own.
fn awaited_in(kind: DeadlineKind) -> &'static [Status] {
    match kind {
        DeadlineKind::Guidance => &[Status::Assessed],
        DeadlineKind::Acknowledgement => &[Status::GuidanceShared, Status::Discharged],
        DeadlineKind::MedicalClearance => MEDICAL_ADVICE,
        // Not something anyone owes: the end of a week of training, told
        // only when it fell short (training/adherence_weeks.rs).
        DeadlineKind::Booking | DeadlineKind::AdherenceWeek => &[],
    }
}

/// How long a referral sent to medical care stays open for a doctor's
/// clearance (docs/triage.md, "What happens next").
pub const MEDICAL_ADVICE_WINDOW: Duration = Duration::days(7);

/// When each step falls due, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct CareDeadlines {
    settings: DeadlineSettings,
}

impl CareDeadlines {
    pub fn new(settings: DeadlineSettings) -> Self {
        Self { settings }
    }

    /// The wait for `kind` that began `since`.
    fn wait(&self, kind: DeadlineKind, since: DateTime<Utc>) -> Wait {
        let s = &self.settings;
        let [remind, escalate] = match kind {
            DeadlineKind::Acknowledgement => [
                s.acknowledgement_reminder_hours,
                s.acknowledgement_escalation_hours,
            ],
            _ => [s.guidance_reminder_hours, s.guidance_escalation_hours],
        };
        let after = |hours: u32| since + Duration::hours(i64::from(hours));
        Wait {
            started_at: since,
            remind_at: after(remind),
            escalate_at: after(escalate),
        }
    }

    /// The physio has assessed the client: their guidance is awaited.
    pub async fn await_guidance(
        &self,
        conn: &mut AsyncPgConnection,
        referral: Uuid,
        since: DateTime<Utc>,
    ) -> QueryResult<()> {
        let kind = DeadlineKind::Guidance;
        deadlines::start(conn, referral, kind, self.wait(kind, since)).await
    }

    /// Guidance was shared: it is no longer awaited, and the trainer's
    /// acknowledgement is (a new version starts that wait again).
    pub async fn guidance_shared(
        &self,
        conn: &mut AsyncPgConnection,
        referral: Uuid,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        deadlines::clear(conn, referral, DeadlineKind::Guidance).await?;
        let kind = DeadlineKind::Acknowledgement;
        deadlines::start(conn, referral, kind, self.wait(kind, at)).await
    }

    /// Triage advised medical care: a doctor's clearance is awaited for the
    /// advice window, after which the referral closes (docs/triage.md).
    /// One step: its reminder and escalation fall due together, and firing
    /// closes the referral without telling anyone (the trainer was told
    /// where to go when they flagged it).
    pub async fn await_medical_clearance(
        conn: &mut AsyncPgConnection,
        referral: Uuid,
        since: DateTime<Utc>,
    ) -> QueryResult<()> {
        let closes_at = since + MEDICAL_ADVICE_WINDOW;
        let wait = Wait {
            started_at: since,
            remind_at: closes_at,
            escalate_at: closes_at,
        };
        deadlines::start(conn, referral, DeadlineKind::MedicalClearance, wait).await
    }

    /// A doctor's clearance is no longer awaited (recorded, or the referral
    /// cancelled).
    pub async fn medical_clearance_ended(
        conn: &mut AsyncPgConnection,
        referral: Uuid,
    ) -> QueryResult<()> {
        deadlines::clear(conn, referral, DeadlineKind::MedicalClearance).await
    }

    /// The trainer acknowledged the latest guidance.
    pub async fn acknowledged(conn: &mut AsyncPgConnection, referral: Uuid) -> QueryResult<()> {
        deadlines::clear(conn, referral, DeadlineKind::Acknowledgement).await
    }
}

impl Expiry for CareDeadlines {
    fn fire<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<Fired>> {
        Box::pin(fire(conn, due))
    }
}

async fn fire(conn: &mut AsyncPgConnection, due: &Due) -> QueryResult<Fired> {
    let referral = match lock_if_free(conn, due.subject_id).await? {
        Ok(referral) => referral,
        Err(not_now) => return Ok(not_now),
    };
    match due.kind {
        DeadlineKind::MedicalClearance => return close_uncleared(conn, &referral).await,
        DeadlineKind::AdherenceWeek => {
            return adherence_weeks::week_ended(conn, &referral, due).await;
        }
        _ => {}
    }
    let (true, Some(physio), Some(clinic)) = (
        awaited_in(due.kind).contains(&referral.status),
        referral.physio_id,
        referral.clinic_id,
    ) else {
        // The awaited thing happened without the deadline being cleared.
        return Ok(Fired::NoLongerAwaited);
    };
    let mut stage = due.stage;
    if referral.physio_access_ended_for == Some(physio) {
        // The physio's clinic deactivated them: they can neither write the
        // guidance nor be told it is unread. The clinic hears at once.
        match (due.kind, stage) {
            (DeadlineKind::Guidance, _) => stage = DeadlineStage::Escalation,
            (_, DeadlineStage::Escalation) => return Ok(Fired::NoLongerAwaited),
            _ => {}
        }
    }
    let version = match due.kind {
        DeadlineKind::Acknowledgement => guidance::table
            .filter(guidance::referral_id.eq(referral.id))
            .select(diesel::dsl::max(guidance::version))
            .first::<Option<i32>>(conn)
            .await?
            .unwrap_or(0),
        _ => 0,
    };
    let event = events::deadline_reached(
        &referral,
        events::CareWait {
            kind: due.kind,
            stage,
            physio_id: physio,
            clinic_id: clinic,
            since: due.started_at,
            guidance_version: version,
        },
    );
    spotter_messaging::enqueue(conn, &event).await?;
    Ok(Fired::Told)
}

/// No doctor's clearance within the advice window: the referral closes.
async fn close_uncleared(conn: &mut AsyncPgConnection, referral: &Referral) -> QueryResult<Fired> {
    if let Decision::Apply(to) = decide(referral.status, Happening::AdviceExpired) {
        move_to(conn, referral.id, to, TimelineCause::AdviceExpired).await?;
    }
    // Closing tells no one: the step is done either way.
    Ok(Fired::NoLongerAwaited)
}

/// The referral, locked; or, when a transaction is changing it right now or
/// it is gone, what the firing comes to.
async fn lock_if_free(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Result<Referral, Fired>> {
    let referral = referrals::table
        .find(id)
        .select(Referral::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?;
    if let Some(referral) = referral {
        return Ok(Ok(referral));
    }
    let exists: bool = diesel::select(diesel::dsl::exists(referrals::table.find(id)))
        .get_result(conn)
        .await?;
    Ok(Err(Fired::when_not_locked(exists)))
}

/// A wait still running, as the referral's view shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Awaiting {
    /// What is owed, and so by whom: `booking` by a clinic within reach,
    /// `guidance` by the physio, `acknowledgement` by the trainer,
    /// `medical_clearance` by the trainer (a doctor's clearance, recorded
    /// before `next_step_at`, when the referral closes). Never
    /// `adherence_week`: the end of a week of training is owed by no one.
    pub awaited: DeadlineKind,
    pub since: DateTime<Utc>,
    /// When it is chased next (a reminder, then an escalation); for a
    /// booking, its target time.
    pub next_step_at: DateTime<Utc>,
}

/// What `referral` is waiting for now, soonest first.
pub async fn awaiting(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
) -> QueryResult<Vec<Awaiting>> {
    let mut waits = Vec::new();
    if let (Status::AwaitingBooking | Status::Waitlisted, Some(target_by)) =
        (referral.status, referral.target_by)
    {
        waits.push(Awaiting {
            awaited: DeadlineKind::Booking,
            since: referral.created_at,
            next_step_at: target_by,
        });
    }
    for due in deadlines::of(conn, referral.id).await? {
        // A deadline not yet cleared for a thing that has happened is not shown.
        if awaited_in(due.kind).contains(&referral.status) {
            waits.push(Awaiting {
                awaited: due.kind,
                since: due.started_at,
                next_step_at: due.due_at,
            });
        }
    }
    waits.sort_by_key(|w| w.next_step_at);
    Ok(waits)
}
