//! Physios of a clinic: added by its admin (the physio's id is their identity
//! `sub`), listed, updated, deactivated.

use super::access::{clinic_in_scope, physio_clinic_in_scope};
use crate::appointments::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::domain::specialty::Specialty;
use crate::engine::cancel::{Cancellation, Then, cancel};
use crate::engine::diary_lock::lock_physio;
use crate::engine::events;
use crate::schema::{appointments, physios};
use crate::waitlist;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::Admin;
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhysio {
    /// The physio's identity-provider subject; also their physio id.
    pub user_id: Uuid,
    pub display_name: Text<100>,
    /// Body regions they treat, or `general`; at least one.
    #[schema(min_items = 1, max_items = 11)]
    pub specialties: Vec<Specialty>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhysioChanges {
    pub display_name: Option<Text<100>>,
    /// At least one.
    #[schema(min_items = 1, max_items = 11)]
    pub specialties: Option<Vec<Specialty>>,
    /// `false` deactivates: no new bookings, and their booked appointments
    /// are cancelled and re-booked with someone else.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = physios)]
pub struct Physio {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub display_name: String,
    #[diesel(deserialize_as = spotter_db::coded::CodeList)]
    pub specialties: Vec<Specialty>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Each specialty at most once, so a list is never longer than all of them.
fn check_specialties(specialties: &[Specialty], errors: &mut Vec<FieldError>) {
    if specialties.is_empty() {
        errors.push(FieldError::new("specialties", "name at least one"));
    }
    if specialties.len() > Specialty::ALL.len() {
        errors.push(FieldError::new(
            "specialties",
            format!("at most {} (each once)", Specialty::ALL.len()),
        ));
    }
}

fn normalized(specialties: &[Specialty]) -> Vec<String> {
    let mut unique: Vec<String> = specialties.iter().map(ToString::to_string).collect();
    unique.sort();
    unique.dedup();
    unique
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics/{clinic_id}/physios",
    tag = "physios",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    request_body = NewPhysio,
    responses(
        (status = 201, description = "The physio", body = Physio),
        (status = 409, description = "That user is already a physio", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn add(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<NewPhysio>,
) -> ApiResult<HttpResponse> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let input = body.into_inner();
    let mut errors = Vec::new();
    check_specialties(&input.specialties, &mut errors);
    finish(errors)?;
    let mut conn = checkout(&pool).await?;
    let physio = conn
        .transaction::<Physio, diesel::result::Error, _>(async |conn| {
            let physio = diesel::insert_into(physios::table)
                .values((
                    physios::id.eq(input.user_id),
                    physios::clinic_id.eq(clinic_id),
                    physios::display_name.eq(input.display_name.as_str()),
                    physios::specialties.eq(normalized(&input.specialties)),
                ))
                .returning(Physio::as_returning())
                .get_result(conn)
                .await?;
            waitlist::capacity_changed(conn, clinic_id).await?;
            Ok(physio)
        })
        .await
        .map_err(db_error)?;
    Ok(HttpResponse::Created().json(physio))
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/physios",
    tag = "physios",
    params(("clinic_id" = Uuid, Path, description = "The clinic"), PageParams),
    responses(
        (status = 200, description = "The clinic's physios", body = Page<Physio>),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<Physio>>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let (limit, after) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let mut query = physios::table
        .filter(physios::clinic_id.eq(clinic_id))
        .order(physios::id.asc())
        .limit(limit + 1)
        .select(Physio::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(physios::id.gt(after));
    }
    let rows = query.load(&mut conn).await.map_err(db_error)?;
    Ok(web::Json(Page::from_rows(rows, limit, |p| p.id)))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/physios/{physio_id}",
    tag = "physios",
    params(("physio_id" = Uuid, Path, description = "The physio")),
    request_body = PhysioChanges,
    responses(
        (status = 200, description = "The physio as changed", body = Physio),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<PhysioChanges>,
) -> ApiResult<web::Json<Physio>> {
    let physio_id = path.into_inner();
    let changes = body.into_inner();
    let mut errors = Vec::new();
    if let Some(specialties) = &changes.specialties {
        check_specialties(specialties, &mut errors);
    }
    finish(errors)?;
    let mut conn = checkout(&pool).await?;
    physio_clinic_in_scope(&mut conn, &admin, physio_id).await?;
    let physio = spotter_db::transaction(&mut conn, async |conn| {
        // No booking may land with a physio being deactivated.
        if changes.active == Some(false) && !lock_physio(conn, physio_id).await.map_err(db_error)? {
            return Err(ApiError::Conflict(
                "the physio's diary is busy; try again".to_owned(),
            ));
        }
        let deactivating = changes.active == Some(false)
            && crate::engine::facts::still_active(conn, physio_id)
                .await
                .map_err(db_error)?;
        let physio = diesel::update(physios::table.find(physio_id))
            .set((
                changes
                    .display_name
                    .as_ref()
                    .map(|n| physios::display_name.eq(n.as_str())),
                changes
                    .specialties
                    .as_deref()
                    .map(|s| physios::specialties.eq(normalized(s))),
                changes.active.map(|a| physios::active.eq(a)),
                physios::updated_at.eq(Utc::now()),
            ))
            .returning(Physio::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        if deactivating {
            cancel_future_appointments(conn, physio_id).await?;
            end_access_to_treated_referrals(conn, physio_id).await?;
        }
        waitlist::capacity_changed(conn, physio.clinic_id)
            .await
            .map_err(db_error)?;
        Ok(physio)
    })
    .await?;
    Ok(web::Json(physio))
}

/// A deactivated physio stops seeing the health detail of the referrals they
/// still hold (seen or due to be seen, and not cancelled): the referral
/// service is told per referral, as it keeps no list of physios. The future
/// ones were just cancelled and are rebooked, which ends access by itself.
/// The work is this physio's own appointments, once (a physio already
/// inactive is not told about again).
async fn end_access_to_treated_referrals(
    conn: &mut diesel_async::AsyncPgConnection,
    physio_id: Uuid,
) -> ApiResult<()> {
    let held: Vec<(Uuid, Uuid)> = appointments::table
        .filter(appointments::physio_id.eq(physio_id))
        .filter(appointments::status.ne(AppointmentStatus::Cancelled.as_str()))
        .select((appointments::referral_id, appointments::clinic_id))
        .distinct()
        .load(conn)
        .await
        .map_err(db_error)?;
    let now = Utc::now();
    for (referral, clinic) in held {
        let event = events::physio_access_ended(referral, physio_id, clinic, now);
        spotter_messaging::enqueue(conn, &event)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// A deactivated physio's booked appointments go back to be booked with
/// someone else (a clinic-side cancellation).
async fn cancel_future_appointments(
    conn: &mut diesel_async::AsyncPgConnection,
    physio_id: Uuid,
) -> ApiResult<()> {
    let booked: Vec<Appointment> = appointments::table
        .filter(appointments::physio_id.eq(physio_id))
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .filter(appointments::starts_at.gt(Utc::now()))
        .select(Appointment::as_select())
        .for_update()
        .load(conn)
        .await
        .map_err(db_error)?;
    for appointment in booked {
        let how = Cancellation {
            by: CancelledBy::ClinicAdmin,
            reason: AppointmentCancellationReason::PhysioDeactivated,
            note: None,
            then: Then::Rebook,
        };
        cancel(conn, &appointment, how)
            .await
            .map_err(crate::appointments::api::cancel_error)?;
    }
    Ok(())
}
