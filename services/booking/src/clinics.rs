//! Clinics, created by platform admins and run by their own clinic admins.

use crate::schema::clinics;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::{Admin, PlatformAdmin};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::validate::{Location, check_text, finish};
use spotter_platform::{ApiError, ApiResult, FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinic {
    pub name: String,
    /// IANA zone, e.g. `Europe/London`; weekly hours are local to it.
    pub timezone: String,
    pub location: Location,
    pub service_radius_km: f64,
    #[serde(default = "accepts_by_default")]
    pub accepts_referrals: bool,
}

fn accepts_by_default() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Clinic {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub location: Location,
    pub service_radius_km: f64,
    pub accepts_referrals: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = clinics)]
struct ClinicRow {
    id: Uuid,
    name: String,
    timezone: String,
    lat: f64,
    lon: f64,
    service_radius_km: f64,
    accepts_referrals: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ClinicRow> for Clinic {
    fn from(row: ClinicRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            timezone: row.timezone,
            location: Location {
                lat: row.lat,
                lon: row.lon,
            },
            service_radius_km: row.service_radius_km,
            accepts_referrals: row.accepts_referrals,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Referrals travel to clinics by road, not across continents.
const MAX_RADIUS_KM: f64 = 500.0;

impl NewClinic {
    fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        check_text("name", &self.name, 200, &mut errors);
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError::new(
                "timezone",
                "must be an IANA time zone such as Europe/London",
            ));
        }
        self.location.check("location", &mut errors);
        if !(self.service_radius_km > 0.0 && self.service_radius_km <= MAX_RADIUS_KM) {
            errors.push(FieldError::new(
                "service_radius_km",
                format!("must be more than 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        finish(errors)
    }
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics",
    tag = "clinics",
    request_body = NewClinic,
    responses(
        (status = 201, description = "The clinic", body = Clinic),
        AuthProblems,
        InputProblems,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    body: Json<NewClinic>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner();
    input.validate()?;
    let mut conn = checkout(&pool).await?;
    let row = diesel::insert_into(clinics::table)
        .values((
            clinics::id.eq(Uuid::now_v7()),
            clinics::name.eq(input.name.trim()),
            clinics::timezone.eq(&input.timezone),
            clinics::lat.eq(input.location.lat),
            clinics::lon.eq(input.location.lon),
            clinics::service_radius_km.eq(input.service_radius_km),
            clinics::accepts_referrals.eq(input.accepts_referrals),
        ))
        .returning(ClinicRow::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(db_error)?;
    let clinic = Clinic::from(row);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/admin/v1/clinics/{}", clinic.id)))
        .json(clinic))
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    responses(
        (status = 200, description = "The clinic", body = Clinic),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Clinic>> {
    let clinic_id = path.into_inner();
    // Another clinic's admin learns nothing, not even that the clinic exists.
    if !admin.may_manage(clinic_id) {
        return Err(ApiError::NotFound);
    }
    let mut conn = checkout(&pool).await?;
    let row = clinics::table
        .find(clinic_id)
        .select(ClinicRow::as_select())
        .first(&mut conn)
        .await
        .map_err(db_error)?;
    Ok(web::Json(row.into()))
}
