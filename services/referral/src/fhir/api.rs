//! `/fhir/r4/…`: read-only FHIR R4 views of a referral (docs/fhir.md),
//! under the JSON API's access rules and audit: what holds health detail
//! is for the trainer and the treating physio only, and each such read is
//! recorded with the same action as its JSON twin.

use super::bundle::{capability_statement, everything as bundle_everything};
use super::care_plan::care_plan_of;
use super::course::{Course, Health};
use super::outcome::{FHIR_JSON, FhirError, FhirResult};
use super::resources;
use crate::audit::{self, action};
use crate::schema::{guidance, visits};
use actix_web::dev::Payload;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::LocalBoxFuture;
use serde_json::Value as Json;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// A resource and the health-data reads it amounts to.
struct Viewed {
    resource: Json,
    reads: Vec<&'static str>,
}

impl Viewed {
    fn plain(resource: Json) -> Self {
        Self {
            resource,
            reads: Vec::new(),
        }
    }
}

/// The server's FHIR base URL as the caller reached it (behind the gateway,
/// from its forwarded headers).
fn base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/fhir/r4/", info.scheme(), info.host())
}

/// Who asks for which resource: the caller (401 first, as FHIR's
/// OperationOutcome), then the `{id}` of the path. A FHIR id that is not
/// one of ours names nothing here (404).
pub struct Asked {
    caller: Caller,
    id: Uuid,
}

impl FromRequest for Asked {
    type Error = FhirError;
    type Future = LocalBoxFuture<'static, Result<Self, FhirError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let id = req.match_info().get("id").and_then(|id| id.parse().ok());
        Box::pin(async move {
            let caller = caller.await?;
            let id = id.ok_or(ApiError::NotFound)?;
            Ok(Self { caller, id })
        })
    }
}

fn ok(resource: &Json) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(resource.to_string())
}

/// Loads referral `id` as the caller may see it, builds the view and
/// records its reads in one transaction; a 404 for a referral that exists
/// is recorded as a refusal.
async fn view<B>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    build: B,
) -> Result<HttpResponse, FhirError>
where
    B: FnOnce(&Course) -> ApiResult<Viewed> + Send,
{
    let viewed = spotter_db::transaction(conn, async |conn| {
        let course = Course::load(conn, caller, id).await?;
        let viewed = build(&course)?;
        for read in &viewed.reads {
            audit::record(conn, caller, read, id)
                .await
                .map_err(db_error)?;
        }
        Ok(viewed.resource)
    })
    .await;
    let resource = audit::refusal_recorded(conn, caller, id, viewed).await?;
    Ok(ok(&resource))
}

fn health(course: &Course) -> ApiResult<&Health> {
    course.health.as_ref().ok_or(ApiError::NotFound)
}

/// Anything else under `/fhir/r4/` (a Patient, a Practitioner, a search):
/// not served, said the FHIR way.
pub async fn not_served() -> FhirResult {
    Err(FhirError(ApiError::NotFound))
}

#[utoipa::path(
    get,
    path = "/fhir/r4/metadata",
    tag = "fhir",
    responses((status = 200, description = "The CapabilityStatement: the resources served and how to authenticate", content_type = "application/fhir+json", body = Object)),
)]
pub async fn metadata(req: HttpRequest) -> HttpResponse {
    ok(&capability_statement(&base(&req)))
}

#[utoipa::path(
    get,
    path = "/fhir/r4/ServiceRequest/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "The referral; body site, reason and the client's name for the trainer and the treating physio", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such referral, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn service_request(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    view(&mut conn, &caller, id, |course| {
        let reads = match course.health {
            Some(_) => vec![action::INJURY_READ],
            None => Vec::new(),
        };
        Ok(Viewed {
            resource: resources::service_request(course),
            reads,
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/ServiceRequest/{id}/$everything",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "A searchset Bundle: the referral, its Task and Appointments; for the trainer and the treating physio also its Consent, triage answers and every CarePlan", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such referral, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn everything(req: HttpRequest, asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let base = base(&req);
    let mut conn = checkout(&pool).await?;
    view(&mut conn, &caller, id, |course| {
        let mut reads = Vec::new();
        if let Some(health) = &course.health {
            reads.push(action::INJURY_READ);
            if !health.guidance.is_empty() {
                reads.push(action::GUIDANCE_READ);
            }
        }
        Ok(Viewed {
            resource: bundle_everything(&base, course),
            reads,
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/Task/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "The referral's workflow state, target and what it awaits now", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such referral, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn task(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    view(&mut conn, &caller, id, |course| {
        Ok(Viewed::plain(resources::task(course)))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/Consent/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "The client's consent to share the injury, as recorded (trainer and treating physio only)", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such referral, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn consent(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    view(&mut conn, &caller, id, |course| {
        Ok(Viewed {
            resource: resources::consent(course, health(course)?),
            reads: vec![action::INJURY_READ],
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/QuestionnaireResponse/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "The referral's id")),
    responses(
        (status = 200, description = "The triage answers the referral was decided by (trainer and treating physio only)", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such referral, not the caller's, or flagged before the questionnaire (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn questionnaire_response(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    view(&mut conn, &caller, id, |course| {
        let stored = health(course)?
            .screening
            .as_ref()
            .ok_or(ApiError::NotFound)?;
        Ok(Viewed {
            resource: resources::questionnaire_response(course, stored),
            reads: vec![action::INJURY_READ],
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/CarePlan/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "A guidance version's id")),
    responses(
        (status = 200, description = "One guidance version: exercises, avoided movements (doNotPerform), limits, review date (trainer and treating physio only)", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such guidance, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn care_plan(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    let referral: Uuid = guidance::table
        .find(id)
        .select(guidance::referral_id)
        .first(&mut conn)
        .await
        .optional()
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    view(&mut conn, &caller, referral, |course| {
        let plan = care_plan_of(course, &health(course)?.guidance, id);
        Ok(Viewed {
            resource: plan.ok_or(ApiError::NotFound)?,
            reads: vec![action::GUIDANCE_READ],
        })
    })
    .await
}

#[utoipa::path(
    get,
    path = "/fhir/r4/Appointment/{id}",
    tag = "fhir",
    params(("id" = Uuid, Path, description = "A visit's appointment id")),
    responses(
        (status = 200, description = "One visit (a clinic sees its own clinic's only)", content_type = "application/fhir+json", body = Object),
        (status = 401, description = "No valid token (OperationOutcome)", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such visit, or not the caller's (OperationOutcome)", content_type = "application/fhir+json", body = Object),
    ),
    security(("bearer" = []))
)]
pub async fn appointment(asked: Asked, pool: web::Data<Pool>) -> FhirResult {
    let Asked { caller, id } = asked;
    let mut conn = checkout(&pool).await?;
    let referral: Uuid = visits::table
        .find(id)
        .select(visits::referral_id)
        .first(&mut conn)
        .await
        .optional()
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    view(&mut conn, &caller, referral, |course| {
        let visit = course
            .visits
            .iter()
            .find(|visit| visit.appointment_id == id)
            .ok_or(ApiError::NotFound)?;
        Ok(Viewed::plain(resources::appointment(course, visit)))
    })
    .await
}
