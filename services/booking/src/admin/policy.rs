//! `PUT /admin/v1/clinics/{id}/booking-policy`: how the clinic's diary is filled.

use super::access::clinic_in_scope;
use super::clinics::{Clinic, ClinicRow};
use crate::engine::follow_up;
use crate::schema::clinics;
use crate::waitlist;
use actix_web::web;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::Admin;
use spotter_db::OrNotFound;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::{ApiResult, Json, Within};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingPolicy {
    /// Length of a first assessment.
    pub assessment_minutes: Within<15, 240>,
    /// Length of a follow-up.
    pub follow_up_minutes: Within<15, 240>,
    /// Free time kept between two appointments of a physio.
    pub buffer_minutes: Within<0, 120>,
    /// Earliest a booking may start, from now (at most a week).
    pub min_notice_minutes: Within<0, 10_080>,
    /// How far ahead the diary is open, in days.
    pub horizon_days: Within<1, 90>,
}

#[utoipa::path(
    put,
    path = "/admin/v1/clinics/{clinic_id}/booking-policy",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    request_body = BookingPolicy,
    responses(
        (status = 200, description = "The clinic with its new policy", body = Clinic),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn put(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<BookingPolicy>,
) -> ApiResult<web::Json<Clinic>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let policy = body.into_inner();
    let mut conn = checkout(&pool).await?;
    let row = spotter_db::transaction(&mut conn, async |conn| {
        let row = diesel::update(clinics::table.find(clinic_id))
            .set((
                clinics::assessment_minutes.eq(policy.assessment_minutes.get_i32()),
                clinics::follow_up_minutes.eq(policy.follow_up_minutes.get_i32()),
                clinics::buffer_minutes.eq(policy.buffer_minutes.get_i32()),
                clinics::min_notice_minutes.eq(policy.min_notice_minutes.get_i32()),
                clinics::horizon_days.eq(policy.horizon_days.get_i32()),
                clinics::updated_at.eq(Utc::now()),
            ))
            .returning(ClinicRow::as_returning())
            .get_result(conn)
            .await
            .or_not_found()?;
        // Follow-ups waiting for their review date to come within reach
        // follow the new horizon (docs/architecture.md, "Follow-ups").
        follow_up::horizon_changed(conn, clinic_id, policy.horizon_days.get_i32())
            .await
            .map_err(db_error)?;
        // A longer horizon or shorter notice may fit someone waiting.
        waitlist::capacity_changed(conn, clinic_id)
            .await
            .map_err(db_error)?;
        Ok(row)
    })
    .await?;
    Ok(web::Json(row.into()))
}
