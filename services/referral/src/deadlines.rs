//! Care deadlines (docs/architecture.md, "Deadlines"): after an assessment
//! the physio owes guidance, and after new guidance the trainer owes an
//! acknowledgement. Each wait is a durable deadline in this database,
//! started and cleared in the transaction that changes the referral, with
//! two stages: a reminder to whoever owes it, then an escalation (guidance:
//! the clinic's admins; acknowledgement: the physio). When each falls due is
//! a setting (`[deadlines]`).

use crate::domain::lifecycle::Status;
use crate::events;
use crate::referrals::model::Referral;
use crate::schema::{guidance, referrals};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use spotter_contracts::common::v1::{DeadlineKind, DeadlineStage};
use spotter_db::deadlines::{self, After, Due, Expiry};
use spotter_platform::settings::DeadlineSettings;
use utoipa::ToSchema;
use uuid::Uuid;

spotter_platform::coded! {
    /// What a care deadline waits for (its kind in the `deadlines` table).
    pub enum CareDeadlineKind {
        /// The physio's guidance after an assessment.
        Guidance = "guidance",
        /// The trainer's acknowledgement of new guidance.
        Acknowledgement = "acknowledgement",
    }
}

impl CareDeadlineKind {
    /// The referral is in this status for as long as the thing is awaited.
    fn awaited_in(self) -> Status {
        match self {
            Self::Guidance => Status::Assessed,
            Self::Acknowledgement => Status::GuidanceShared,
        }
    }
}

impl From<CareDeadlineKind> for DeadlineKind {
    fn from(kind: CareDeadlineKind) -> Self {
        match kind {
            CareDeadlineKind::Guidance => Self::Guidance,
            CareDeadlineKind::Acknowledgement => Self::Acknowledgement,
        }
    }
}

/// When each stage falls due, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct CareDeadlines {
    settings: DeadlineSettings,
}

impl CareDeadlines {
    pub fn new(settings: DeadlineSettings) -> Self {
        Self { settings }
    }

    /// Hours from the start of the wait to the reminder and the escalation.
    fn hours(&self, kind: CareDeadlineKind) -> [u32; 2] {
        let s = &self.settings;
        match kind {
            CareDeadlineKind::Guidance => [s.guidance_reminder_hours, s.guidance_escalation_hours],
            CareDeadlineKind::Acknowledgement => [
                s.acknowledgement_reminder_hours,
                s.acknowledgement_escalation_hours,
            ],
        }
    }

    fn stage_due(
        &self,
        kind: CareDeadlineKind,
        stage: usize,
        since: DateTime<Utc>,
    ) -> DateTime<Utc> {
        since + Duration::hours(i64::from(self.hours(kind)[stage]))
    }

    /// The physio has assessed the client: their guidance is awaited.
    pub async fn await_guidance(
        &self,
        conn: &mut AsyncPgConnection,
        referral: Uuid,
        since: DateTime<Utc>,
    ) -> QueryResult<()> {
        let kind = CareDeadlineKind::Guidance;
        let due = self.stage_due(kind, 0, since);
        deadlines::start(conn, referral, kind.as_str(), since, due).await
    }

    /// Guidance was shared: it is no longer awaited, and the trainer's
    /// acknowledgement is (a new version starts that wait again).
    pub async fn guidance_shared(
        &self,
        conn: &mut AsyncPgConnection,
        referral: Uuid,
        at: DateTime<Utc>,
    ) -> QueryResult<()> {
        deadlines::clear(conn, referral, CareDeadlineKind::Guidance.as_str()).await?;
        let kind = CareDeadlineKind::Acknowledgement;
        let due = self.stage_due(kind, 0, at);
        deadlines::start(conn, referral, kind.as_str(), at, due).await
    }

    /// The trainer acknowledged the latest guidance.
    pub async fn acknowledged(conn: &mut AsyncPgConnection, referral: Uuid) -> QueryResult<()> {
        deadlines::clear(conn, referral, CareDeadlineKind::Acknowledgement.as_str()).await
    }

    async fn fire(&self, conn: &mut AsyncPgConnection, due: &Due) -> QueryResult<After> {
        let Ok(kind) = due.kind.parse::<CareDeadlineKind>() else {
            tracing::error!(kind = %due.kind, "a deadline of a kind this version does not know; dropped");
            return Ok(After::NoLongerAwaited);
        };
        let referral = match lock_if_free(conn, due.subject_id).await? {
            Taken::Locked(referral) => referral,
            Taken::Busy => return Ok(After::Busy(Utc::now() + WHILE_BUSY)),
            Taken::Missing => return Ok(After::NoLongerAwaited),
        };
        let (true, Some(physio), Some(clinic)) = (
            referral.status == kind.awaited_in(),
            referral.physio_id,
            referral.clinic_id,
        ) else {
            // The awaited thing happened without the deadline being cleared.
            return Ok(After::NoLongerAwaited);
        };
        let mut stage = if due.is_first_stage() {
            DeadlineStage::Reminder
        } else {
            DeadlineStage::Escalation
        };
        if referral.physio_access_ended_for == Some(physio) {
            // The physio's clinic deactivated them: they can neither write
            // the guidance nor be told it is unread. The clinic hears at once.
            match kind {
                CareDeadlineKind::Guidance => stage = DeadlineStage::Escalation,
                CareDeadlineKind::Acknowledgement if stage == DeadlineStage::Escalation => {
                    return Ok(After::NoLongerAwaited);
                }
                CareDeadlineKind::Acknowledgement => {}
            }
        }
        let version = match kind {
            CareDeadlineKind::Guidance => 0,
            CareDeadlineKind::Acknowledgement => guidance::table
                .filter(guidance::referral_id.eq(referral.id))
                .select(diesel::dsl::max(guidance::version))
                .first::<Option<i32>>(conn)
                .await?
                .unwrap_or(0),
        };
        let event = events::deadline_reached(
            &referral,
            events::CareWait {
                kind: kind.into(),
                stage,
                physio_id: physio,
                clinic_id: clinic,
                since: due.started_at,
                guidance_version: version,
            },
        );
        spotter_messaging::enqueue(conn, &event).await?;
        Ok(match stage {
            DeadlineStage::Reminder => After::Next(self.stage_due(kind, 1, due.started_at)),
            _ => After::Done,
        })
    }
}

/// How long a deadline whose referral is being changed waits to be looked
/// at again.
const WHILE_BUSY: Duration = Duration::seconds(5);

enum Taken {
    Locked(Box<Referral>),
    /// A transaction is changing it right now.
    Busy,
    Missing,
}

/// The referral, locked, unless a transaction is changing it right now.
async fn lock_if_free(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Taken> {
    let referral = referrals::table
        .find(id)
        .select(Referral::as_select())
        .for_update()
        .skip_locked()
        .first(conn)
        .await
        .optional()?;
    if let Some(referral) = referral {
        return Ok(Taken::Locked(Box::new(referral)));
    }
    let exists: bool = diesel::select(diesel::dsl::exists(referrals::table.find(id)))
        .get_result(conn)
        .await?;
    Ok(if exists { Taken::Busy } else { Taken::Missing })
}

impl Expiry for CareDeadlines {
    fn fire<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        due: &'a Due,
    ) -> BoxFuture<'a, QueryResult<After>> {
        Box::pin(CareDeadlines::fire(self, conn, due))
    }
}

spotter_platform::coded! {
    /// Who owes what a referral is waiting for.
    pub enum Owed {
        /// A booking: a clinic with a free slot within reach.
        BookingByAClinic = "booking_by_a_clinic",
        GuidanceByThePhysio = "guidance_by_the_physio",
        AcknowledgementByTheTrainer = "acknowledgement_by_the_trainer",
    }
}

/// A wait still running, as the referral's view shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Awaiting {
    pub owed: Owed,
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
            owed: Owed::BookingByAClinic,
            since: referral.created_at,
            next_step_at: target_by,
        });
    }
    for due in deadlines::of(conn, referral.id).await? {
        let Ok(kind) = due.kind.parse::<CareDeadlineKind>() else {
            continue;
        };
        // A deadline not yet cleared for a thing that has happened is not shown.
        if kind.awaited_in() != referral.status {
            continue;
        }
        waits.push(Awaiting {
            owed: match kind {
                CareDeadlineKind::Guidance => Owed::GuidanceByThePhysio,
                CareDeadlineKind::Acknowledgement => Owed::AcknowledgementByTheTrainer,
            },
            since: due.started_at,
            next_step_at: due.due_at,
        });
    }
    waits.sort_by_key(|w| w.next_step_at);
    Ok(waits)
}
