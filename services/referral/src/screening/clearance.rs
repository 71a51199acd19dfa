//! `POST /v1/referrals/{id}/medical-clearance`: "seen by a doctor, cleared
//! for physio". A referral triage sent to medical care stays open for the
//! advice window (docs/triage.md, "What happens next"); the trainer records
//! who cleared the client and when, and booking opens at the urgency the
//! doctor's note sets.

use crate::audit::{self, action};
use crate::deadlines::{CareDeadlines, MEDICAL_ADVICE_WINDOW};
use crate::domain::lifecycle::{Decision, Happening, decide};
use crate::domain::triage::target_window;
use crate::domain::vocabulary::{Priority, TimelineCause};
use crate::events::{self, Where};
use crate::quotas;
use crate::referrals::model::{Referral, move_to};
use crate::referrals::store::{body_region, find_visible};
use crate::referrals::view::ReferralSummary;
use crate::schema::{medical_clearances, referrals, trainers};
use actix_web::web;
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use spotter_auth::{Caller, Trainer};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::settings::QuotaSettings;
use spotter_platform::validate::{earliest_date_anywhere, latest_date_anywhere};
use spotter_platform::{ApiError, ApiResult, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

spotter_platform::coded! {
    /// How soon the doctor's note says a physio should see the client.
    pub enum ClearedUrgency {
        /// Within 48 hours.
        Urgent = "urgent",
        /// Within 7 days.
        Routine = "routine",
    }
}

impl From<ClearedUrgency> for Priority {
    fn from(urgency: ClearedUrgency) -> Self {
        match urgency {
            ClearedUrgency::Urgent => Priority::Urgent,
            ClearedUrgency::Routine => Priority::Routine,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicalClearance {
    /// The day the doctor saw the client, in the trainer's own zone: not
    /// before the flag's date, not in the future (judged by the zones the
    /// trainer could be in, as the server does not know theirs).
    pub cleared_on: NaiveDate,
    /// Who cleared the client, as on their note (e.g. "Dr A. Jones, GP").
    pub cleared_by: Text<200>,
    pub urgency: ClearedUrgency,
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/medical-clearance",
    tag = "referrals",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    request_body = MedicalClearance,
    responses(
        (status = 200, description = "Back to `awaiting_booking` at the doctor's urgency: booking starts", body = ReferralSummary),
        (status = 409, description = "Only a referral triage sent to medical care (`emergency_advised`, `doctor_advised`) can be cleared, within 7 days of the flag; or a quota is used up", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn record(
    trainer: Trainer,
    caller: Caller,
    pool: web::Data<Pool>,
    quotas: web::Data<QuotaSettings>,
    path: web::Path<Uuid>,
    body: Json<MedicalClearance>,
) -> ApiResult<web::Json<ReferralSummary>> {
    let id = path.into_inner();
    let input = body.into_inner();
    let mut conn = checkout(&pool).await?;
    let cleared = spotter_db::transaction(&mut conn, async |conn| {
        // The trainer's row before the referral's, as a new report takes
        // them: their quota checks run in turn (docs/architecture.md, "Fair
        // use"). A trainer without a profile has no referral to clear.
        let location: Option<(f64, f64)> = trainers::table
            .find(trainer.id)
            .select((trainers::lat, trainers::lon))
            .for_no_key_update()
            .first(conn)
            .await
            .optional()
            .map_err(db_error)?;
        let referral = find_visible(conn, &caller, id, true).await?;
        let (lat, lon) = location.ok_or(ApiError::NotFound)?;
        clear(
            conn,
            &caller,
            &quotas,
            &referral,
            &input,
            Where { lat, lon },
        )
        .await
    })
    .await;
    let cleared = audit::refusal_recorded(&mut conn, &caller, id, cleared).await?;
    Ok(web::Json(ReferralSummary::from(&cleared)))
}

async fn clear(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    quotas: &QuotaSettings,
    referral: &Referral,
    input: &MedicalClearance,
    trainer_at: Where,
) -> ApiResult<Referral> {
    let now = Utc::now();
    let Decision::Apply(to) = decide(referral.status, Happening::MedicallyCleared) else {
        return Err(ApiError::Conflict(format!(
            "only a referral sent to medical care can be cleared; this one is {}",
            referral.status
        )));
    };
    if now >= referral.created_at + MEDICAL_ADVICE_WINDOW {
        // The deadline closes it; a clearance racing it is refused alike.
        return Err(ApiError::Conflict(
            "the advice was given more than 7 days ago: flag the injury again".to_owned(),
        ));
    }
    // Dates are the trainer's own zone's, which is not known: refused only
    // when no zone on Earth is at that date yet, or already past it.
    if input.cleared_on > latest_date_anywhere(now) {
        return Err(ApiError::invalid("cleared_on", "must not be in the future"));
    }
    if input.cleared_on < earliest_date_anywhere(referral.created_at) {
        return Err(ApiError::invalid(
            "cleared_on",
            "must not be before the injury was flagged",
        ));
    }
    let region = body_region(conn, referral.id).await.map_err(db_error)?;
    let previous = quotas::new_referral(
        conn,
        quotas,
        referral.trainer_id,
        referral.client_id,
        region,
    )
    .await?;
    let priority = Priority::from(input.urgency);
    diesel::insert_into(medical_clearances::table)
        .values((
            medical_clearances::referral_id.eq(referral.id),
            medical_clearances::cleared_on.eq(input.cleared_on),
            medical_clearances::cleared_by.eq(input.cleared_by.as_str()),
            medical_clearances::urgency.eq(input.urgency.as_str()),
            medical_clearances::recorded_at.eq(now),
        ))
        .execute(conn)
        .await
        .map_err(db_error)?;
    diesel::update(referrals::table.find(referral.id))
        .set((
            referrals::priority.eq(priority.as_str()),
            referrals::target_by.eq(target_window(priority).map(|w| now + w)),
            referrals::previous_referral_id.eq(referral.previous_referral_id.or(previous)),
            referrals::booking_requested_at.eq(now),
        ))
        .execute(conn)
        .await
        .map_err(db_error)?;
    let cleared = move_to(conn, referral.id, to, TimelineCause::MedicallyCleared)
        .await
        .map_err(db_error)?;
    CareDeadlines::medical_clearance_ended(conn, referral.id)
        .await
        .map_err(db_error)?;
    audit::record(conn, caller, action::MEDICAL_CLEARANCE_WRITE, referral.id)
        .await
        .map_err(db_error)?;
    // Booking counts the wait from now: the days with the doctor were not
    // a wait for a physio (its reminders and waitlist order follow this).
    let mut event = events::requested(&cleared, region, trainer_at);
    event.requested_at = spotter_contracts::convert::timestamp(now);
    spotter_messaging::enqueue(conn, &event)
        .await
        .map_err(db_error)?;
    Ok(cleared)
}
