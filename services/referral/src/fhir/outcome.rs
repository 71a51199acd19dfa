//! Errors of the FHIR views as OperationOutcome resources, with the status
//! (and headers: `WWW-Authenticate`, `Retry-After`) the JSON API gives.

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use spotter_platform::ApiError;

pub const FHIR_JSON: &str = "application/fhir+json";

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct FhirError(#[from] pub ApiError);

pub type FhirResult = Result<HttpResponse, FhirError>;

impl ResponseError for FhirError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        // The platform's response logs an internal error and sets the
        // headers; only its body is replaced.
        let mut response = self.0.error_response();
        let (code, diagnostics) = issue(&self.0);
        let outcome = json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }],
        });
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(FHIR_JSON),
        );
        response.set_body(outcome.to_string()).map_into_boxed_body()
    }
}

/// The IssueType code and a message that says nothing internal.
fn issue(error: &ApiError) -> (&'static str, String) {
    match error {
        ApiError::NotFound => ("not-found", "no such resource".into()),
        ApiError::Unauthorized(why) => ("login", why.clone()),
        ApiError::Forbidden(why) => ("forbidden", why.clone()),
        ApiError::RateLimited(_) | ApiError::Quota(_) => ("throttled", error.to_string()),
        ApiError::Unavailable(_) => ("transient", "temporarily unavailable".into()),
        ApiError::Internal(_) => ("exception", "internal error".into()),
        ApiError::Validation(_)
        | ApiError::BadRequest(_)
        | ApiError::Conflict(_)
        | ApiError::PayloadTooLarge => ("invalid", error.to_string()),
    }
}
