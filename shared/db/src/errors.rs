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

/// diesel errors as API errors (the mapping is `ApiError`'s `From`; this
/// name reads well in `.map_err(db_error)`).
pub fn db_error(err: diesel::result::Error) -> ApiError {
    err.into()
}

pub use spotter_platform::problem::is_exclusion_violation;
