//! A clinic's diary and the waitlist it could serve.

use super::access::clinic_in_scope;
use crate::appointments::list::{AppointmentPage, AppointmentQuery, Scope, list};
use crate::domain::geo::{Location, distance_km};
use crate::engine::requests::RequestState;
use crate::schema::{clinics, referral_requests};
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::Admin;
use spotter_db::OrNotFound;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use utoipa::ToSchema;
use uuid::Uuid;

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/appointments",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic"), AppointmentQuery),
    responses(
        (status = 200, description = "The clinic's appointments in diary order", body = AppointmentPage),
        (status = 422, description = "Bad filter or cursor", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn appointments(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    query: web::Query<AppointmentQuery>,
) -> ApiResult<web::Json<AppointmentPage>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let mut conn = checkout(&pool).await?;
    Ok(web::Json(
        list(&mut conn, Scope::Clinic(clinic_id), &query).await?,
    ))
}

/// A referral waiting for capacity that this clinic's area covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingReferral {
    pub referral_id: Uuid,
    pub priority: String,
    /// The body region, so the clinic sees which specialty is missing.
    pub body_region: String,
    pub requested_at: DateTime<Utc>,
    pub waitlisted_at: Option<DateTime<Utc>>,
    pub distance_km: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Waitlist {
    /// Most urgent, then oldest first: the order they will be booked in.
    pub items: Vec<WaitingReferral>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/waitlist",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    responses(
        (status = 200, description = "Waitlisted referrals within the clinic's radius", body = Waitlist),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn waitlist(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Waitlist>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let mut conn = checkout(&pool).await?;
    let (lat, lon, radius): (f64, f64, f64) = clinics::table
        .find(clinic_id)
        .select((clinics::lat, clinics::lon, clinics::service_radius_km))
        .first(&mut conn)
        .await
        .or_not_found()?;
    type Row = (
        Uuid,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        f64,
        f64,
    );
    let rows: Vec<Row> = referral_requests::table
        .filter(referral_requests::state.eq(RequestState::Waitlisted))
        .order((
            diesel::dsl::sql::<diesel::sql_types::Bool>("priority = 'urgent'").desc(),
            referral_requests::requested_at.asc(),
        ))
        .select((
            referral_requests::referral_id,
            referral_requests::priority,
            referral_requests::body_region,
            referral_requests::requested_at,
            referral_requests::waitlisted_at,
            referral_requests::lat,
            referral_requests::lon,
        ))
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    let clinic = Location { lat, lon };
    let items = rows
        .into_iter()
        .filter_map(
            |(referral_id, priority, body_region, requested_at, waitlisted_at, lat, lon)| {
                let distance = distance_km(clinic, Location { lat, lon });
                (distance <= radius).then_some(WaitingReferral {
                    referral_id,
                    priority,
                    body_region,
                    requested_at,
                    waitlisted_at,
                    distance_km: (distance * 10.0).round() / 10.0,
                })
            },
        )
        .collect();
    Ok(web::Json(Waitlist { items }))
}
