//! `GET /v1/appointments` and `GET /v1/appointments/{id}`, with who may see what.

use super::list::{AppointmentPage, AppointmentQuery, Scope, list};
use super::model::Appointment;
use crate::engine::cancel::CancelError;
use crate::engine::facts;
use crate::schema::appointments;
use actix_web::web;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_auth::{Caller, Role};
use spotter_db::{OrNotFound, Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// A physio sees their own, a trainer those of their referrals, a clinic
/// admin their clinic's; anything else does not exist for them.
pub fn visible_to(caller: &Caller, a: &Appointment) -> bool {
    match caller.role {
        Role::Physio => a.physio_id == caller.user_id,
        Role::Trainer => a.trainer_id == caller.user_id,
        Role::ClinicAdmin => Some(a.clinic_id) == caller.clinic_id,
        Role::PlatformAdmin => true,
    }
}

fn scope(caller: &Caller) -> ApiResult<Scope> {
    Ok(match caller.role {
        Role::Physio => Scope::Physio(caller.user_id),
        Role::Trainer => Scope::Trainer(caller.user_id),
        Role::ClinicAdmin => Scope::Clinic(caller.clinic_id.ok_or(ApiError::NotFound)?),
        Role::PlatformAdmin => Scope::Everyone,
    })
}

/// A physio their clinic deactivated sees no appointment any more, though
/// their token may still be valid (checked once per request, here and in
/// `list_mine`).
async fn refuse_a_deactivated_physio(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
) -> ApiResult<()> {
    if caller.role == Role::Physio
        && !facts::still_active(conn, caller.user_id)
            .await
            .map_err(db_error)?
    {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

/// The appointment, locked for update when `for_update`, if the caller may see it.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    for_update: bool,
) -> ApiResult<Appointment> {
    refuse_a_deactivated_physio(conn, caller).await?;
    let query = appointments::table
        .find(id)
        .select(Appointment::as_select());
    let found = if for_update {
        query.for_update().first(conn).await
    } else {
        query.first(conn).await
    }
    .or_not_found()?;
    if visible_to(caller, &found) {
        Ok(found)
    } else {
        Err(ApiError::NotFound)
    }
}

pub fn cancel_error(err: CancelError) -> ApiError {
    match err {
        CancelError::Illegal(illegal) => ApiError::Conflict(illegal.to_string()),
        CancelError::Database(db) => db_error(db),
    }
}

#[utoipa::path(
    get,
    path = "/v1/appointments",
    tag = "appointments",
    params(AppointmentQuery),
    responses(
        (status = 200, description = "The caller's appointments in diary order", body = AppointmentPage),
        (status = 422, description = "Bad filter or cursor", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list_mine(
    caller: Caller,
    pool: web::Data<Pool>,
    query: web::Query<AppointmentQuery>,
) -> ApiResult<web::Json<AppointmentPage>> {
    let scope = scope(&caller)?;
    let mut conn = checkout(&pool).await?;
    refuse_a_deactivated_physio(&mut conn, &caller).await?;
    let mut page = list(&mut conn, scope, &query).await?;
    page.items = page
        .items
        .into_iter()
        .map(|a| a.as_seen_by(caller.role))
        .collect();
    Ok(web::Json(page))
}

#[utoipa::path(
    get,
    path = "/v1/appointments/{appointment_id}",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    responses(
        (status = 200, description = "The appointment", body = Appointment),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Appointment>> {
    let mut conn = checkout(&pool).await?;
    let found = find_visible(&mut conn, &caller, path.into_inner(), false).await?;
    Ok(web::Json(found.as_seen_by(caller.role)))
}
