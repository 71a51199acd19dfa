//! Why a bearer token was refused.
//!
//! The messages reach the client (as the problem `detail`), so they say what
//! kind of thing is wrong — enough for an app developer to fix their setup —
//! but never echo the token or say which part of a signature check failed.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use jsonwebtoken::errors::ErrorKind;
use spotter_platform::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("authorization scheme must be Bearer")]
    NotBearer,
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm not accepted")]
    Algorithm,
    #[error("token has no key id")]
    MissingKeyId,
    #[error("unknown signing key")]
    UnknownKey,
    /// A dev-stack key presented to a production verifier.
    #[error("signing key not accepted")]
    DevKeyRefused,
    #[error("invalid token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer not accepted")]
    Issuer,
    #[error("token audience not accepted")]
    Audience,
    #[error("token is missing claim `{0}`")]
    MissingClaim(String),
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(String),
}

impl AuthError {
    /// Maps jsonwebtoken's reasons onto ours. Anything we do not recognise is
    /// reported as malformed rather than leaking library internals.
    pub(crate) fn from_jwt(err: &jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Self::InvalidClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::MissingAlgorithm => Self::Algorithm,
            // A key that passed our JWKS checks but that the crypto backend
            // rejects: treat as a failed signature check (and it is logged).
            ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => {
                tracing::warn!(error = %err, "verification key rejected by crypto backend");
                Self::BadSignature
            }
            _ => Self::Malformed,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::Unauthorized(err.to_string())
    }
}

/// So handlers calling [`crate::JwtVerifier::verify`] themselves can use `?`.
impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        ApiError::from(self.clone()).error_response()
    }
}
