//! Pieces every service's OpenAPI document shares.

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Declares the `bearer` scheme (an ES256 JWT from the identity provider) that
/// every authenticated path refers to with `security(("bearer" = []))`.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

use crate::problem::Problem;

/// The 401 and 403 every authenticated endpoint can answer; listed once here
/// and named in each path's `responses(...)`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derive is used, by the OpenAPI document
pub enum AuthProblems {
    /// No valid token (problem+json)
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The caller's role may not do this (problem+json)
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The 400 and 422 of an endpoint that reads a JSON body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum InputProblems {
    /// Malformed JSON (problem+json)
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// Invalid fields, each named in `errors` (problem+json)
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// Unknown, or not the caller's to see: the same answer on purpose.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum NotFoundProblem {
    /// No such resource, or not the caller's (problem+json)
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}
