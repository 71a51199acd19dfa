//! `GET /admin/v1/dead-letters/{service}` and
//! `POST /admin/v1/dead-letters/{service}/{id}/replay`: each service lists and
//! replays its own parked messages (platform admins only). The path names the
//! service so a gateway routes it by prefix like everything else.

use actix_web::{HttpResponse, web};
use spotter_auth::PlatformAdmin;
use spotter_db::{Pool, checkout, db_error};
use spotter_messaging::dead_letters::{self, DeadLetter, ReplayError};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// Which service this process is, for the `{service}` path segment.
#[derive(Clone, Copy)]
pub struct ServiceName(pub &'static str);

pub fn configure(cfg: &mut web::ServiceConfig, service: &'static str) {
    cfg.app_data(web::Data::new(ServiceName(service)))
        .route("/admin/v1/dead-letters/{service}", web::get().to(list))
        .route(
            "/admin/v1/dead-letters/{service}/{id}/replay",
            web::post().to(replay),
        );
}

fn check_service(requested: &str, this: &ServiceName) -> ApiResult<()> {
    if requested == this.0 {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[utoipa::path(
    get,
    path = "/admin/v1/dead-letters/{service}",
    tag = "operations",
    params(
        ("service" = String, Path, description = "referral, booking or notification"),
        PageParams,
    ),
    responses(
        (status = 200, description = "Parked messages, newest first", body = Page<DeadLetter>),
        AuthProblems,
        NotFoundProblem,
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    this: web::Data<ServiceName>,
    service: web::Path<String>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<DeadLetter>>> {
    check_service(&service, &this)?;
    let (limit, cursor) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let rows = dead_letters::list(&mut conn, limit + 1, cursor)
        .await
        .map_err(db_error)?;
    Ok(web::Json(Page::from_rows(rows, limit, |d| d.id)))
}

#[utoipa::path(
    post,
    path = "/admin/v1/dead-letters/{service}/{id}/replay",
    tag = "operations",
    params(
        ("service" = String, Path, description = "referral, booking or notification"),
        ("id" = Uuid, Path, description = "The dead letter"),
    ),
    responses(
        (status = 202, description = "Queued for redelivery to its consumer", body = DeadLetter),
        AuthProblems,
        NotFoundProblem,
        (status = 409, description = "Already replayed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    this: web::Data<ServiceName>,
    path: web::Path<(String, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (service, id) = path.into_inner();
    check_service(&service, &this)?;
    let mut conn = checkout(&pool).await?;
    let replayed = dead_letters::replay(&mut conn, id)
        .await
        .map_err(|err| match err {
            ReplayError::NotFound => ApiError::NotFound,
            ReplayError::AlreadyReplayed(at) => {
                ApiError::Conflict(format!("already replayed at {at}"))
            }
            ReplayError::Database(err) => db_error(err),
        })?;
    Ok(HttpResponse::Accepted().json(replayed))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, replay),
    components(schemas(DeadLetter)),
    tags((name = "operations", description = "Parked messages: list and replay"))
)]
struct DeadLetterApi;

/// Merged into each service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <DeadLetterApi as utoipa::OpenApi>::openapi()
}
