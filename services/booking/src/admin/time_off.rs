//! Time off: `POST /admin/v1/physios/{id}/time-off` blocks a period (booked
//! appointments in it are cancelled by the clinic and re-booked elsewhere);
//! `DELETE …/time-off/{id}` frees it again for the waitlist.

use super::access::physio_clinic_in_scope;
use crate::appointments::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::engine::cancel::{Cancellation, Then, cancel};
use crate::engine::diary_lock::lock_physio;
use crate::schema::{appointments, time_off};
use crate::waitlist;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::Admin;
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTimeOff {
    /// RFC 3339.
    pub start: DateTime<Utc>,
    /// RFC 3339, after `start`, in the future.
    pub end: DateTime<Utc>,
    pub reason: Text<200>,
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = time_off)]
pub struct TimeOff {
    pub id: Uuid,
    pub physio_id: Uuid,
    #[serde(rename = "start")]
    pub starts_at: DateTime<Utc>,
    #[serde(rename = "end")]
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeOffCreated {
    #[serde(flatten)]
    pub time_off: TimeOff,
    /// Appointments in the period, cancelled and sent back to be re-booked.
    pub cancelled_appointments: Vec<Uuid>,
}

/// Longer absences are a deactivation, not time off.
const MAX_DAYS: i64 = 366;

impl NewTimeOff {
    fn validate(&self, now: DateTime<Utc>) -> ApiResult<()> {
        let mut errors = Vec::new();
        if self.end <= self.start {
            errors.push(FieldError::new("end", "must be after start"));
        } else if self.end - self.start > Duration::days(MAX_DAYS) {
            errors.push(FieldError::new(
                "end",
                format!("at most {MAX_DAYS} days after start"),
            ));
        }
        if self.end <= now {
            errors.push(FieldError::new("end", "must be in the future"));
        }
        finish(errors)
    }
}

#[utoipa::path(
    post,
    path = "/admin/v1/physios/{physio_id}/time-off",
    tag = "physios",
    params(
        ("physio_id" = Uuid, Path, description = "The physio"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (one time off)"),
    ),
    request_body = NewTimeOff,
    responses(
        (status = 201, description = "The time off", body = TimeOffCreated),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn add(
    admin: Admin,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let physio_id = path.into_inner();
    let raw = body.into_inner();
    let input: NewTimeOff = from_value(raw.clone())?;
    input.validate(Utc::now())?;
    let mut conn = checkout(&pool).await?;
    physio_clinic_in_scope(&mut conn, &admin, physio_id).await?;
    create_once(&mut conn, admin.id(), &key, &raw, async |conn| {
        // No booking may land in the new time off while it is written.
        if !lock_physio(conn, physio_id).await.map_err(db_error)? {
            return Err(ApiError::Conflict(
                "the physio's diary is busy; try again".to_owned(),
            ));
        }
        let time_off = diesel::insert_into(time_off::table)
            .values((
                time_off::id.eq(Uuid::now_v7()),
                time_off::physio_id.eq(physio_id),
                time_off::starts_at.eq(input.start),
                time_off::ends_at.eq(input.end),
                time_off::reason.eq(input.reason.as_str()),
            ))
            .returning(TimeOff::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        let cancelled_appointments = cancel_overlapping(conn, &time_off).await?;
        let created = TimeOffCreated {
            time_off,
            cancelled_appointments,
        };
        Ok(created)
    })
    .await
    .map(Created::response)
}

async fn cancel_overlapping(conn: &mut AsyncPgConnection, off: &TimeOff) -> ApiResult<Vec<Uuid>> {
    let overlapping: Vec<Appointment> = appointments::table
        .filter(appointments::physio_id.eq(off.physio_id))
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .filter(appointments::starts_at.lt(off.ends_at))
        .filter(appointments::ends_at.gt(off.starts_at))
        .select(Appointment::as_select())
        .for_update()
        .load(conn)
        .await
        .map_err(db_error)?;
    let mut cancelled = Vec::new();
    for appointment in overlapping {
        let how = Cancellation {
            by: CancelledBy::ClinicAdmin,
            reason: AppointmentCancellationReason::PhysioUnavailable,
            note: None,
            then: Then::Rebook,
        };
        cancel(conn, &appointment, how)
            .await
            .map_err(crate::appointments::api::cancel_error)?;
        cancelled.push(appointment.id);
    }
    Ok(cancelled)
}

#[utoipa::path(
    delete,
    path = "/admin/v1/physios/{physio_id}/time-off/{time_off_id}",
    tag = "physios",
    params(
        ("physio_id" = Uuid, Path, description = "The physio"),
        ("time_off_id" = Uuid, Path, description = "The time off"),
    ),
    responses(
        (status = 204, description = "Removed; the period is bookable again"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (physio_id, time_off_id) = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let clinic_id = physio_clinic_in_scope(&mut conn, &admin, physio_id).await?;
    let removed = conn
        .transaction::<usize, diesel::result::Error, _>(async |conn| {
            let removed = diesel::delete(
                time_off::table
                    .filter(time_off::id.eq(time_off_id))
                    .filter(time_off::physio_id.eq(physio_id)),
            )
            .execute(conn)
            .await?;
            waitlist::capacity_changed(conn, clinic_id).await?;
            Ok(removed)
        })
        .await
        .map_err(db_error)?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
