//! `POST /v1/appointments/{id}/decline`: the physio (their own) or a clinic
//! admin (their clinic's) declines a referral booked with them. The
//! appointment is cancelled, the referral is booked again at another clinic
//! (never this one) or waitlisted, and the trainer hears the coded reason.

use super::actions::{TurnedAway, turn_away};
use super::model::Appointment;
use crate::engine::refusals::DeclineReason;
use actix_web::web;
use serde::Deserialize;
use spotter_auth::Caller;
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_db::Pool;
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiResult, Json};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    /// Coded, so the trainer can be told why without free text.
    pub reason: DeclineReason,
}

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/decline",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    request_body = DeclineBody,
    responses(
        (status = 200, description = "Declined (cancelled): the referral is booked again at another clinic, never this one, or waitlisted", body = Appointment),
        (status = 409, description = "Not booked", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn decline(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<DeclineBody>,
) -> ApiResult<web::Json<Appointment>> {
    let turned_away = TurnedAway {
        reason: AppointmentCancellationReason::Declined,
        note: None,
        decline: Some(body.into_inner().reason),
    };
    turn_away(&caller, &pool, path.into_inner(), turned_away).await
}
