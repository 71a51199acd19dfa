//! `POST /v1/appointments/{id}/bring-forward`: the physio's one tap after a
//! client's training flared twice in a week (docs/training.md, "Flares"):
//! the appointment moves to the earliest free time in the same physio's
//! diary before it, like a reschedule.

use super::actions::move_within_diary;
use super::model::Appointment;
use actix_web::web;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/bring-forward",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    responses(
        (status = 200, description = "Moved to the earliest free time before it; the trainer is told", body = Appointment),
        (status = 409, description = "Not booked, or no earlier time is free in the physio's diary", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn bring_forward(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Appointment>> {
    let mut conn = checkout(&pool).await?;
    move_within_diary(
        &mut conn,
        &caller,
        path.into_inner(),
        |appointment, free| {
            // Free slots come sorted by start: the first is the earliest.
            free.into_iter()
                .next()
                .filter(|slot| slot.start < appointment.starts_at)
                .ok_or_else(|| {
                    ApiError::Conflict("no earlier time is free in the physio's diary".to_owned())
                })
        },
    )
    .await
    .map(web::Json)
}
