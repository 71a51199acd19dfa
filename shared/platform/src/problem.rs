//! The one error type every service answers with.
//!
//! Policy: every failure a client can see is an RFC 9457 `application/problem+json`
//! body. Client mistakes name the field at fault (422) or say what was malformed
//! (400); anything the client cannot fix is a 500 whose detail stays in our logs,
//! never in the response, so internals and health data cannot leak through errors.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// One field that failed validation, named by its JSON path (`location.lat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Which quota refused a request and what frees it up; on the wire, RFC 9457
/// extension members of the problem (docs/architecture.md, "Fair use").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaHit {
    /// `open_referrals`, `open_referral_per_body_region` or `new_clients_per_day`.
    pub quota: String,
    pub limit: u32,
    /// When it frees up, where time decides (then also `Retry-After`).
    pub frees_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What frees it up, in plain words.
    pub frees_when: String,
    /// The open referral in the way, for the one-per-body-region rule.
    pub open_referral_id: Option<uuid::Uuid>,
}

/// The RFC 9457 body, as it goes on the wire.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (relative to the API's base URL).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Quota refusals only: which quota (`open_referrals`,
    /// `open_referral_per_body_region`, `new_clients_per_day`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    /// Quota refusals only: the quota's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Quota refusals only: what frees it up, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frees_when: Option<String>,
    /// Quota refusals only, where time decides: when it frees up (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frees_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Quota refusals only: the open referral in the way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_referral_id: Option<uuid::Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was well-formed but some fields break the rules (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request could not be read at all: bad JSON, wrong content type (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No credentials, or credentials we do not accept (401).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A valid caller whose role may not do this at all (403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Unknown, or not the caller's to see: both look the same on purpose (404).
    #[error("not found")]
    NotFound,
    /// The request clashes with the current state (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A fair-use quota is used up: 429 with `Retry-After` when time frees it
    /// (`frees_at`), else 409 (an open referral must close first).
    #[error("quota {}: {}", .0.quota, .0.frees_when)]
    Quota(QuotaHit),
    /// The caller's request budget is spent for now (429, `Retry-After`).
    #[error("rate limited for {0:?}")]
    RateLimited(std::time::Duration),
    /// The body is larger than this service accepts (413).
    #[error("payload too large")]
    PayloadTooLarge,
    /// A dependency is down; retrying later may work (503).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Our fault. The chain is logged; the client sees a generic message (500).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A single-field validation error, the common case.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::Validation(_) => ("validation-error", "Your request has invalid fields"),
            Self::BadRequest(_) => ("bad-request", "The request could not be read"),
            Self::Unauthorized(_) => ("unauthorized", "Authentication is required"),
            Self::Forbidden(_) => ("forbidden", "You may not do this"),
            Self::NotFound => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "The request conflicts with the current state"),
            Self::Quota(_) => ("quota-exceeded", "A fair-use quota is used up"),
            Self::RateLimited(_) => ("rate-limited", "Too many requests"),
            Self::PayloadTooLarge => ("payload-too-large", "The request body is too large"),
            Self::Unavailable(_) => ("unavailable", "A dependency is unavailable"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid field(s): {}", fields.join(", "))
            }
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::Conflict(d)
            | Self::Unavailable(d) => d.clone(),
            Self::NotFound => "no such resource".to_owned(),
            Self::RateLimited(_) => {
                "too many requests from you in a short time; retry after the time Retry-After gives"
                    .to_owned()
            }
            Self::Quota(hit) => format!(
                "at most {} ({}); frees up {}",
                hit.limit, hit.quota, hit.frees_when
            ),
            Self::PayloadTooLarge => "the request body exceeds the size limit".to_owned(),
            Self::Internal(_) => "something went wrong on our side; it has been logged".to_owned(),
        };
        let errors = match self {
            Self::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        let hit = match self {
            Self::Quota(hit) => Some(hit),
            _ => None,
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            quota: hit.map(|h| h.quota.clone()),
            limit: hit.map(|h| h.limit),
            frees_when: hit.map(|h| h.frees_when.clone()),
            frees_at: hit.and_then(|h| h.frees_at),
            open_referral_id: hit.and_then(|h| h.open_referral_id),
        }
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Quota(hit) if hit.frees_at.is_some() => StatusCode::TOO_MANY_REQUESTS,
            Self::Quota(_) => StatusCode::CONFLICT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(err) = self {
            tracing::error!(error = ?err, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if matches!(self, Self::Unavailable(_)) {
            // Worth another try, soon: say when.
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        let wait = match self {
            Self::RateLimited(wait) => Some(*wait),
            Self::Quota(QuotaHit {
                frees_at: Some(at), ..
            }) => Some((*at - chrono::Utc::now()).to_std().unwrap_or_default()),
            _ => None,
        };
        if let Some(wait) = wait {
            response.insert_header((header::RETRY_AFTER, retry_after_seconds(wait).to_string()));
        }
        response.json(self.problem())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Whole seconds, rounded up and at least one: a client that waits exactly
/// as told finds room.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn validation_names_each_field_and_is_422_problem_json() {
        let err = ApiError::Validation(vec![
            FieldError::new("pain_level", "must be between 0 and 10"),
            FieldError::new("location.lat", "must be between -90 and 90"),
        ]);
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(PROBLEM_JSON.as_bytes())
        );
        let body = to_bytes(response.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"][0]["field"], "pain_level");
        assert_eq!(json["errors"][1]["field"], "location.lat");
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        use std::time::Duration;
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(86_400)), 86_400);
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in connection string"));
        let body = to_bytes(err.error_response().into_body()).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"status\":500"));
    }
}
