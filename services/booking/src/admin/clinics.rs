//! Clinics, created by platform admins and run by their own clinic admins.

use super::access::clinic_in_scope;
use super::policy::BookingPolicy;
use crate::schema::clinics;
use crate::waitlist;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::{Admin, PlatformAdmin};
use spotter_db::OrNotFound;
use spotter_db::idempotency::create_once;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::settings::QuotaSettings;
use spotter_platform::validate::{Location, finish};
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text, Within};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinic {
    pub name: Text<200>,
    /// IANA zone, e.g. `Europe/London`; weekly hours are local to it.
    #[schema(value_type = IanaZone)]
    pub timezone: Text<64>,
    pub location: Location,
    /// At least 0.1 (100 m), at most the deployment's cap (`quotas.max_service_radius_km`,
    /// 50 by default; never more than 500).
    #[schema(minimum = 0.1, maximum = 500)]
    pub service_radius_km: f64,
    #[serde(default = "accepts_by_default")]
    pub accepts_referrals: bool,
}

fn accepts_by_default() -> bool {
    true
}

/// `PATCH`: only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicChanges {
    pub name: Option<Text<200>>,
    /// IANA zone, e.g. `Europe/London`.
    #[schema(value_type = Option<IanaZone>)]
    pub timezone: Option<Text<64>>,
    /// Platform admins only (as `service_radius_km` and `accepts_referrals`):
    /// a clinic admin sending any of the three gets 403.
    pub location: Option<Location>,
    /// At least 0.1 (100 m), at most the deployment's cap (`quotas.max_service_radius_km`,
    /// 50 by default; never more than 500).
    #[schema(minimum = 0.1, maximum = 500)]
    pub service_radius_km: Option<f64>,
    pub accepts_referrals: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Clinic {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub location: Location,
    pub service_radius_km: f64,
    pub accepts_referrals: bool,
    pub booking_policy: BookingPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = clinics)]
pub struct ClinicRow {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub lat: f64,
    pub lon: f64,
    pub service_radius_km: f64,
    pub accepts_referrals: bool,
    #[diesel(deserialize_as = i32)]
    pub assessment_minutes: Within<15, 240>,
    #[diesel(deserialize_as = i32)]
    pub follow_up_minutes: Within<15, 240>,
    #[diesel(deserialize_as = i32)]
    pub buffer_minutes: Within<0, 120>,
    #[diesel(deserialize_as = i32)]
    pub min_notice_minutes: Within<0, 10_080>,
    #[diesel(deserialize_as = i32)]
    pub horizon_days: Within<1, 90>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
            booking_policy: BookingPolicy {
                assessment_minutes: row.assessment_minutes,
                follow_up_minutes: row.follow_up_minutes,
                buffer_minutes: row.buffer_minutes,
                min_notice_minutes: row.min_notice_minutes,
                horizon_days: row.horizon_days,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn check_timezone(timezone: &str, errors: &mut Vec<FieldError>) {
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(FieldError::new(
            "timezone",
            "must be an IANA time zone such as Europe/London",
        ));
    }
}

/// Referrals travel to clinics by road, not across a country: the radius is
/// capped (`quotas.max_service_radius_km`, 50 km by default), so no clinic
/// pulls in far-away referrals and the health detail that comes with them.
fn check_radius(radius: f64, cap: f64, errors: &mut Vec<FieldError>) {
    if !(MIN_RADIUS_KM..=cap).contains(&radius) {
        errors.push(FieldError::new(
            "service_radius_km",
            format!("must be at least {MIN_RADIUS_KM} and at most {cap}"),
        ));
    }
}

/// 100 m: no clinic serves less, and the area's index (a box around the
/// clinic, in metres) stays a number PostgreSQL can hold (a radius of
/// 5e-324 km underflowed it).
const MIN_RADIUS_KM: f64 = 0.1;

/// The time zones the server knows (the IANA database as `chrono-tz` ships
/// it), published as the `timezone` field's enum so an app can offer a list.
pub struct IanaZone;

impl utoipa::PartialSchema for IanaZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An IANA time zone, e.g. `Europe/London`."))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())))
            .into()
    }
}

impl utoipa::ToSchema for IanaZone {}

impl NewClinic {
    fn validate(&self, radius_cap: f64) -> ApiResult<()> {
        let mut errors = Vec::new();
        check_timezone(self.timezone.as_str(), &mut errors);
        self.location.check("location", &mut errors);
        check_radius(self.service_radius_km, radius_cap, &mut errors);
        finish(errors)
    }
}

impl ClinicChanges {
    /// Where the clinic draws referrals from: a clinic admin who could move
    /// the clinic or widen its area could locate trainers by comparing
    /// waitlists, so only platform admins change these.
    fn changes_geography(&self) -> bool {
        self.location.is_some()
            || self.service_radius_km.is_some()
            || self.accepts_referrals.is_some()
    }

    fn validate(&self, radius_cap: f64) -> ApiResult<()> {
        let mut errors = Vec::new();
        if let Some(timezone) = &self.timezone {
            check_timezone(timezone.as_str(), &mut errors);
        }
        if let Some(location) = &self.location {
            location.check("location", &mut errors);
        }
        if let Some(radius) = self.service_radius_km {
            check_radius(radius, radius_cap, &mut errors);
        }
        finish(errors)
    }
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics",
    tag = "clinics",
    request_body = NewClinic,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (one clinic)")),
    responses(
        (status = 201, description = "The clinic, with the default booking policy", body = Clinic),
        AuthProblems,
        InputProblems,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    admin: PlatformAdmin,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    quotas: web::Data<QuotaSettings>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let raw = body.into_inner();
    let input: NewClinic = from_value(raw.clone())?;
    input.validate(quotas.max_service_radius_km)?;
    let mut conn = checkout(&pool).await?;
    create_once(&mut conn, admin.id, &key, &raw, async |conn| {
        let row = diesel::insert_into(clinics::table)
            .values((
                clinics::id.eq(Uuid::now_v7()),
                clinics::name.eq(input.name.as_str()),
                clinics::timezone.eq(input.timezone.as_str()),
                clinics::lat.eq(input.location.lat),
                clinics::lon.eq(input.location.lon),
                clinics::service_radius_km.eq(input.service_radius_km),
                clinics::accepts_referrals.eq(input.accepts_referrals),
            ))
            .returning(ClinicRow::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        Ok(Clinic::from(row))
    })
    .await
    .map(|created| created.response_at(|id| format!("/admin/v1/clinics/{id}")))
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
    clinic_in_scope(&admin, clinic_id)?;
    let mut conn = checkout(&pool).await?;
    let row = clinics::table
        .find(clinic_id)
        .select(ClinicRow::as_select())
        .first(&mut conn)
        .await
        .or_not_found()?;
    Ok(web::Json(row.into()))
}

#[derive(AsChangeset)]
#[diesel(table_name = clinics)]
struct ClinicChangeset<'a> {
    name: Option<&'a str>,
    timezone: Option<&'a str>,
    lat: Option<f64>,
    lon: Option<f64>,
    service_radius_km: Option<f64>,
    accepts_referrals: Option<bool>,
    updated_at: DateTime<Utc>,
}

#[utoipa::path(
    patch,
    path = "/admin/v1/clinics/{clinic_id}",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    request_body = ClinicChanges,
    responses(
        (status = 200, description = "The clinic as changed", body = Clinic),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    admin: Admin,
    pool: web::Data<Pool>,
    quotas: web::Data<QuotaSettings>,
    path: web::Path<Uuid>,
    body: Json<ClinicChanges>,
) -> ApiResult<web::Json<Clinic>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let changes = body.into_inner();
    if changes.changes_geography() && matches!(admin, Admin::Clinic { .. }) {
        return Err(ApiError::Forbidden(
            "only platform admins change a clinic's location, service radius or accepts_referrals"
                .to_owned(),
        ));
    }
    changes.validate(quotas.max_service_radius_km)?;
    let mut conn = checkout(&pool).await?;
    let row = diesel::update(clinics::table.find(clinic_id))
        .set(ClinicChangeset {
            name: changes.name.as_ref().map(Text::as_str),
            timezone: changes.timezone.as_ref().map(Text::as_str),
            lat: changes.location.map(|l| l.lat),
            lon: changes.location.map(|l| l.lon),
            service_radius_km: changes.service_radius_km,
            accepts_referrals: changes.accepts_referrals,
            updated_at: Utc::now(),
        })
        .returning(ClinicRow::as_returning())
        .get_result(&mut conn)
        .await
        .or_not_found()?;
    // A wider radius or reopened referrals may fit someone waiting.
    waitlist::capacity_changed(&mut conn, clinic_id)
        .await
        .map_err(db_error)?;
    Ok(web::Json(row.into()))
}
