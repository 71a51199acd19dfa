//! `POST /v1/referrals/{id}/guidance/check`: a planned session against the
//! current guidance, before the client trains (docs/training.md,
//! "Conflict check"). Reads the guidance and nothing else; writes only the
//! audit entry of that read.

use super::access::{CARE, for_roles, guidance_in_force};
use crate::audit::{self, action};
use crate::domain::training::MovementPattern;
use crate::domain::training::check::{Conflict, Planned, conflicts};
use crate::domain::vocabulary::Clearance;
use actix_web::web;
use serde::{Deserialize, Serialize};
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::extract::from_value;
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::validate::finish;
use spotter_platform::{ApiResult, FieldError, Json, Kilograms, Text, Within};
use utoipa::ToSchema;
use uuid::Uuid;

/// The most exercises one session may list.
pub const MAX_EXERCISES: usize = 30;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedSession {
    #[schema(min_items = 1, max_items = 30)]
    pub exercises: Vec<PlannedExercise>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedExercise {
    pub pattern: MovementPattern,
    /// The trainer's name for it (not checked).
    #[serde(default)]
    pub name: Option<Text<100>>,
    pub sets: Within<1, 20>,
    pub reps: Within<1, 100>,
    /// Left out for body weight.
    #[serde(default)]
    pub load_kg: Option<Kilograms>,
    /// Planned rate of perceived exertion.
    #[serde(default)]
    pub rpe: Option<Within<1, 10>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// The guidance version the plan was checked against.
    pub guidance_version: i32,
    pub clearance: Clearance,
    /// True when nothing conflicts.
    pub within_guidance: bool,
    /// Each rule broken, in the order of the planned exercises.
    pub conflicts: Vec<Conflict>,
}

/// One or more, at most [`MAX_EXERCISES`]: else an error naming `exercises`.
pub fn check_count(len: usize, errors: &mut Vec<FieldError>) {
    if !(1..=MAX_EXERCISES).contains(&len) {
        errors.push(FieldError::new(
            "exercises",
            format!("must list 1 to {MAX_EXERCISES} exercises"),
        ));
    }
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/guidance/check",
    tag = "training",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    request_body = PlannedSession,
    responses(
        (status = 200, description = "The conflicts with the current guidance (none: the plan is within it)", body = CheckResult),
        (status = 409, description = "No guidance shared yet", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn check(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<web::Json<CheckResult>> {
    let id = path.into_inner();
    let plan: PlannedSession = from_value(body.into_inner())?;
    let mut errors = Vec::new();
    check_count(plan.exercises.len(), &mut errors);
    finish(errors)?;
    let mut conn = checkout(&pool).await?;
    let in_force = spotter_db::transaction(&mut conn, async |conn| {
        for_roles(conn, &caller, id, false, &CARE).await?;
        let in_force = guidance_in_force(conn, id).await?;
        audit::record(conn, &caller, action::GUIDANCE_READ, id)
            .await
            .map_err(db_error)?;
        Ok(in_force)
    })
    .await;
    let in_force = audit::refusal_recorded(&mut conn, &caller, id, in_force).await?;
    let planned: Vec<Planned> = plan
        .exercises
        .iter()
        .map(|e| Planned {
            pattern: e.pattern,
            load: e.load_kg,
            rpe: e.rpe.map(Within::get),
        })
        .collect();
    let found = conflicts(&in_force.limits, &planned);
    Ok(web::Json(CheckResult {
        guidance_version: in_force.guidance.version,
        clearance: in_force.guidance.clearance,
        within_guidance: found.is_empty(),
        conflicts: found,
    }))
}
