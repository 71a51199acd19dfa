//! How database failures look to an API client.

use crate::Pool;
use spotter_platform::ApiError;

/// A pooled connection for a request; an exhausted pool or a database outage
/// is a 503 the client may retry, not a 500.
pub async fn checkout(pool: &Pool) -> Result<crate::Conn, ApiError> {
    pool.get().await.map_err(|err| {
        tracing::warn!(error = %err, "no database connection");
        ApiError::Unavailable("the database is unavailable; retry shortly".to_owned())
    })
}

/// diesel errors as API errors: a missing row is 404, an overlap refused by an
/// exclusion constraint is 409, a lost connection is 503, anything else is ours.
pub fn db_error(err: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match &err {
        Error::NotFound => ApiError::NotFound,
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            ApiError::Unavailable("the database connection was lost; retry shortly".to_owned())
        }
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            ApiError::Conflict(format!(
                "already exists ({})",
                info.constraint_name().unwrap_or("unique")
            ))
        }
        Error::DatabaseError(_, info) if is_exclusion_violation(info.message()) => {
            ApiError::Conflict("the time is already taken".to_owned())
        }
        _ => ApiError::Internal(anyhow::Error::new(err)),
    }
}

/// SQLSTATE 23P01 surfaces through diesel as an `Unknown` kind; its message is stable.
pub fn is_exclusion_violation(message: &str) -> bool {
    message.contains("conflicting key value violates exclusion constraint")
}
