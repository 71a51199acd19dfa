//! What a flare sets off (docs/training.md, "Flares"): the trainer drops
//! back to the last session within limits; the treating physio hears at
//! once, and, after two flares in a week, is offered an earlier review.

use super::sessions::{self, SessionRow};
use crate::domain::training::flare::{FLARE_WINDOW, FLARES_FOR_EARLIER_REVIEW, FlareSign};
use crate::events;
use crate::referrals::model::Referral;
use crate::schema::visits;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::db_error;
use spotter_platform::ApiResult;
use spotter_platform::vocabulary::{AppointmentKind, AppointmentStatus};
use uuid::Uuid;

/// What the trainer is told back about a flare (nothing, by default).
#[derive(Default)]
pub struct Flare {
    pub drop_back_to: Option<SessionRow>,
    pub earlier_review_suggested: bool,
}

/// Publishes the flare of `session` (in the caller's transaction, which
/// holds the referral's row: two sessions logged at once count each other).
pub async fn announce(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    session: &SessionRow,
    signs: &[FlareSign],
) -> ApiResult<Flare> {
    let in_week = sessions::flares_within(conn, referral.id, session.performed_at, FLARE_WINDOW)
        .await
        .map_err(db_error)?;
    let drop_back_to = sessions::last_within_limits(conn, referral.id, session.performed_at)
        .await
        .map_err(db_error)?;
    let follow_up = booked_follow_up(conn, referral.id)
        .await
        .map_err(db_error)?;
    let flare = Flare {
        drop_back_to,
        earlier_review_suggested: in_week >= FLARES_FOR_EARLIER_REVIEW,
    };
    let facts = events::FlareFacts {
        session_id: session.id,
        signs,
        flares_in_week: in_week,
        earlier_review_suggested: flare.earlier_review_suggested,
        follow_up_appointment_id: follow_up,
        drop_back_to_session_id: flare.drop_back_to.as_ref().map(|s| s.id),
        at: session.updated_at,
    };
    spotter_messaging::enqueue(conn, &events::training_flared(referral, &facts))
        .await
        .map_err(db_error)?;
    Ok(flare)
}

/// The referral's next booked follow-up, which an earlier review would move.
async fn booked_follow_up(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<Uuid>> {
    visits::table
        .filter(visits::referral_id.eq(referral_id))
        .filter(visits::kind.eq(AppointmentKind::FollowUp.as_str()))
        .filter(visits::status.eq(AppointmentStatus::Booked.as_str()))
        .order(visits::starts_at.asc())
        .select(visits::appointment_id)
        .first(conn)
        .await
        .optional()
}
