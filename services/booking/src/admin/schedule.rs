//! A clinic's diary and the waitlist it could serve.

use super::access::clinic_in_scope;
use crate::appointments::list::{AppointmentPage, AppointmentQuery, Scope, list};
use crate::domain::geo::{Location, distance_km};
use crate::schema::clinics;
use crate::waitlist::WAITING_IN_CLINIC_AREA;
use actix_web::web;
use diesel::prelude::*;
use diesel::sql_types::{Double, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use spotter_auth::Admin;
use spotter_db::OrNotFound;
use spotter_db::coded::decode;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::vocabulary::{BodyRegion, Priority};
use std::collections::BTreeMap;
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

/// Waiting referrals are shown to a clinic only in bands this wide, never as
/// distances: together with a referral id or a precise distance, three
/// clinics' answers would locate a trainer (docs/architecture.md, "Fair use").
const DISTANCE_BAND_KM: u32 = 5;

/// How many referrals of one kind, in one distance band, wait for capacity
/// that this clinic's area covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingGroup {
    pub priority: Priority,
    /// The body region, so the clinic sees which specialty is missing.
    pub body_region: BodyRegion,
    /// The band's near edge in km from the clinic (a multiple of 5); the
    /// band runs to `distance_from_km + 5`.
    pub distance_from_km: u32,
    pub count: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Waitlist {
    /// Referrals waiting in all the groups.
    pub total: u32,
    /// Urgent first, then by body region and distance band. Counts only:
    /// no ids, times or exact distances reach a clinic.
    pub groups: Vec<WaitingGroup>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/waitlist",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    responses(
        (status = 200, description = "How many waitlisted referrals within the clinic's radius, by priority, body region and 5 km distance band", body = Waitlist),
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
    let rows = waiting_inside(&mut conn, clinic_id)
        .await
        .map_err(db_error)?;
    let clinic = Location { lat, lon };
    let mut counts: BTreeMap<(Priority, BodyRegion, u32), u32> = BTreeMap::new();
    for row in rows {
        let distance = distance_km(
            clinic,
            Location {
                lat: row.lat,
                lon: row.lon,
            },
        );
        if distance > radius {
            continue; // inside the padded box, outside the exact radius
        }
        let band = (distance / f64::from(DISTANCE_BAND_KM)).floor() as u32 * DISTANCE_BAND_KM;
        let priority = decode(&row.priority).map_err(db_error)?;
        let region = decode(&row.body_region).map_err(db_error)?;
        *counts.entry((priority, region, band)).or_default() += 1;
    }
    let mut groups: Vec<WaitingGroup> = counts
        .into_iter()
        .map(
            |((priority, body_region, distance_from_km), count)| WaitingGroup {
                priority,
                body_region,
                distance_from_km,
                count,
            },
        )
        .collect();
    groups.sort_by_key(|g| {
        (
            g.priority != Priority::Urgent,
            g.body_region.as_str(),
            g.distance_from_km,
        )
    });
    let total = groups.iter().map(|g| g.count).sum();
    Ok(web::Json(Waitlist { total, groups }))
}

#[derive(QueryableByName)]
struct WaitingRow {
    #[diesel(sql_type = Text)]
    priority: String,
    #[diesel(sql_type = Text)]
    body_region: String,
    #[diesel(sql_type = Double)]
    lat: f64,
    #[diesel(sql_type = Double)]
    lon: f64,
}

/// The waitlisted referrals inside the clinic's (1%-padded) area, through the
/// waitlist's spatial index: the work grows with the clinic's area, not the
/// network's waitlist.
async fn waiting_inside(
    conn: &mut AsyncPgConnection,
    clinic: Uuid,
) -> QueryResult<Vec<WaitingRow>> {
    diesel::sql_query(format!(
        "SELECT r.priority, r.body_region, r.lat, r.lon {WAITING_IN_CLINIC_AREA} WHERE c.id = $1"
    ))
    .bind::<diesel::sql_types::Uuid, _>(clinic)
    .load(conn)
    .await
}
