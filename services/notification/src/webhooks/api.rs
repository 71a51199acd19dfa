//! `/admin/v1/clinics/{clinic_id}/webhooks`: a clinic's admins manage its
//! endpoints (docs/webhooks.md). Another clinic's admin finds nothing (404);
//! other roles may not (403).

use super::address;
use super::endpoints::{self, Endpoint, EndpointView, MAX_PER_CLINIC, webhook_id};
use super::events::WebhookType;
use super::signing::new_secret;
use crate::schema::webhook_endpoints;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::ClinicAdmin;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::settings::WebhookSettings;
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text};
use std::collections::HashSet;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://`, to a public address.
    pub url: Text<2000>,
    /// What to send (at least one, each once).
    #[schema(min_items = 1, max_items = 9)]
    pub event_types: Vec<WebhookType>,
    pub description: Option<Text<300, 0>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointChange {
    // No serde default: a missing field is None all the same, and then a
    // JSON array is not taken for the struct.
    pub url: Option<Text<2000>>,
    #[schema(min_items = 1, max_items = 9)]
    pub event_types: Option<Vec<WebhookType>>,
    pub description: Option<Text<300, 0>>,
    /// Turning an endpoint back on clears its failure record.
    pub enabled: Option<bool>,
}

/// A new secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithSecret {
    pub endpoint: EndpointView,
    /// `whsec_…`: verify `webhook-signature` with it (any Standard
    /// Webhooks library does).
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    /// The `webhook-id` the test message is sent under.
    pub webhook_id: String,
    pub message_id: Uuid,
}

/// The caller's own clinic, or 404 as if the path named nothing.
pub(super) fn own(admin: &ClinicAdmin, clinic: Uuid) -> ApiResult<Uuid> {
    if admin.clinic_id == clinic {
        Ok(clinic)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn check_url(url: &str, settings: &WebhookSettings) -> ApiResult<()> {
    let refused = address::refusal(url, settings.allow_private_addresses).or((!settings
        .allow_private_addresses
        && address::resolves_elsewhere(url).await)
        .then_some("resolves to a loopback, link-local or private address"));
    match refused {
        Some(why) => Err(ApiError::invalid("url", why)),
        None => Ok(()),
    }
}

fn check_types(types: &[WebhookType]) -> ApiResult<Vec<String>> {
    if types.is_empty() {
        return Err(ApiError::invalid("event_types", "must name at least one"));
    }
    let mut seen = HashSet::new();
    let repeated: Vec<FieldError> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| !seen.insert(**t))
        .map(|(i, _)| FieldError::new(format!("event_types[{i}]"), "is named twice"))
        .collect();
    if !repeated.is_empty() {
        return Err(ApiError::Validation(repeated));
    }
    Ok(types.iter().map(|t| t.as_str().to_owned()).collect())
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics/{clinic_id}/webhooks",
    tag = "webhooks",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    request_body = NewEndpoint,
    responses(
        (status = 201, description = "Created; its secret is shown this once", body = WithSecret),
        (status = 409, description = "The clinic has the most endpoints it may have", body = Problem, content_type = "application/problem+json"),
        AuthProblems, InputProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    settings: web::Data<WebhookSettings>,
    path: web::Path<Uuid>,
    body: Json<NewEndpoint>,
) -> ApiResult<HttpResponse> {
    let clinic = own(&admin, path.into_inner())?;
    let new = body.into_inner();
    let types = check_types(&new.event_types)?;
    check_url(new.url.as_str(), &settings).await?;
    let secret = new_secret()?;
    let mut conn = checkout(&pool).await?;
    let endpoint = spotter_db::transaction(&mut conn, async |conn| {
        // One clinic's endpoints counted under a lock on the clinic's id.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
            .bind::<diesel::sql_types::Uuid, _>(clinic)
            .execute(conn)
            .await
            .map_err(db_error)?;
        let count: i64 = webhook_endpoints::table
            .filter(webhook_endpoints::clinic_id.eq(clinic))
            .count()
            .get_result(conn)
            .await
            .map_err(db_error)?;
        if count >= MAX_PER_CLINIC {
            return Err(ApiError::Conflict(format!(
                "a clinic may have {MAX_PER_CLINIC} webhook endpoints"
            )));
        }
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::id.eq(Uuid::now_v7()),
                webhook_endpoints::clinic_id.eq(clinic),
                webhook_endpoints::url.eq(new.url.as_str()),
                webhook_endpoints::description
                    .eq(new.description.as_ref().map_or("", |d| d.as_str())),
                webhook_endpoints::event_types.eq(&types),
                webhook_endpoints::secret.eq(&secret),
            ))
            .returning(Endpoint::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)
    })
    .await?;
    Ok(HttpResponse::Created().json(WithSecret {
        endpoint: endpoint.into(),
        secret,
    }))
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/webhooks",
    tag = "webhooks",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    responses(
        (status = 200, description = "The clinic's endpoints (at most 20), oldest first; never their secrets", body = Vec<EndpointView>),
        AuthProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<EndpointView>>> {
    let clinic = own(&admin, path.into_inner())?;
    let mut conn = checkout(&pool).await?;
    let found: Vec<Endpoint> = webhook_endpoints::table
        .filter(webhook_endpoints::clinic_id.eq(clinic))
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    Ok(web::Json(found.into_iter().map(Into::into).collect()))
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
    ),
    responses((status = 200, description = "The endpoint", body = EndpointView), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn get(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<EndpointView>> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let mut conn = checkout(&pool).await?;
    let endpoint = endpoints::find(&mut conn, clinic, id)
        .await
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(endpoint.into()))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
    ),
    request_body = EndpointChange,
    responses((status = 200, description = "Changed", body = EndpointView), AuthProblems, InputProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn update(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    settings: web::Data<WebhookSettings>,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<EndpointChange>,
) -> ApiResult<web::Json<EndpointView>> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let change = body.into_inner();
    let types = change.event_types.as_deref().map(check_types).transpose()?;
    if let Some(url) = &change.url {
        check_url(url.as_str(), &settings).await?;
    }
    let mut conn = checkout(&pool).await?;
    let changed = spotter_db::transaction(&mut conn, async |conn| {
        // Locked: the worker may be turning it off meanwhile.
        let current = endpoints::find_for_update(conn, clinic, id)
            .await
            .map_err(db_error)?
            .ok_or(ApiError::NotFound)?;
        let enabled = change.enabled.unwrap_or(current.enabled);
        let (reason, failing_since) = match (current.enabled, enabled) {
            (true, false) => (Some("by_admin".to_owned()), current.failing_since),
            // Back on: a clean record.
            (false, true) => (None, None),
            _ => (current.disabled_reason, current.failing_since),
        };
        let changed = diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::url.eq(change
                    .url
                    .as_ref()
                    .map_or(current.url.as_str(), |u| u.as_str())),
                webhook_endpoints::description.eq(change
                    .description
                    .as_ref()
                    .map_or(current.description.as_str(), |d| d.as_str())),
                webhook_endpoints::event_types.eq(types.as_ref().unwrap_or(&current.event_types)),
                webhook_endpoints::enabled.eq(enabled),
                webhook_endpoints::disabled_reason.eq(reason),
                webhook_endpoints::failing_since.eq(failing_since),
                webhook_endpoints::updated_at.eq(Utc::now()),
            ))
            .returning(Endpoint::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        Ok((!current.enabled && enabled, changed))
    })
    .await?;
    let (turned_on, changed) = changed;
    if turned_on {
        // Messages that waited while it was off go now.
        super::delivery::wake(&mut conn).await.map_err(db_error)?;
    }
    Ok(web::Json(changed.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
    ),
    responses((status = 204, description = "Deleted, with its messages and their log"), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn delete(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let mut conn = checkout(&pool).await?;
    let deleted = diesel::delete(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::clinic_id.eq(clinic)),
    )
    .execute(&mut conn)
    .await
    .map_err(db_error)?;
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/rotate-secret",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
    ),
    responses(
        (status = 200, description = "A new secret, shown this once; the previous one still signs until `endpoint.previous_secret_valid_until` (24 h by default), so both signatures come during the overlap", body = WithSecret),
        AuthProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    settings: web::Data<WebhookSettings>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<WithSecret>> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let secret = new_secret()?;
    let until: DateTime<Utc> =
        Utc::now() + Duration::hours(i64::from(settings.secret_overlap_hours));
    let mut conn = checkout(&pool).await?;
    // The current secret becomes the previous one; one rotated before
    // that stops signing now.
    let rotated: Option<Endpoint> = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::clinic_id.eq(clinic)),
    )
    .set((
        webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
        webhook_endpoints::previous_secret_until.eq(until),
        webhook_endpoints::secret.eq(&secret),
        webhook_endpoints::updated_at.eq(Utc::now()),
    ))
    .returning(Endpoint::as_returning())
    .get_result(&mut conn)
    .await
    .optional()
    .map_err(db_error)?;
    let endpoint = rotated.ok_or(ApiError::NotFound)?;
    Ok(web::Json(WithSecret {
        endpoint: endpoint.into(),
        secret,
    }))
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/test",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
    ),
    responses(
        (status = 202, description = "A `webhook.test` message is on its way (see the delivery log)", body = TestSent),
        (status = 409, description = "The endpoint is turned off", body = Problem, content_type = "application/problem+json"),
        AuthProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn test(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let mut conn = checkout(&pool).await?;
    let endpoint = endpoints::find(&mut conn, clinic, id)
        .await
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict(
            "the endpoint is turned off; turn it on first".into(),
        ));
    }
    let message_id = endpoints::plan_test(&mut conn, &endpoint)
        .await
        .map_err(db_error)?;
    Ok(HttpResponse::Accepted().json(TestSent {
        webhook_id: webhook_id(message_id),
        message_id,
    }))
}
