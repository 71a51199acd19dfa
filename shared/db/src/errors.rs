//! How database failures look to an API client.

use crate::Pool;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use spotter_platform::{ApiError, ApiResult};

/// A pooled connection for a request; an exhausted pool or a database outage
/// is a 503 the client may retry, not a 500.
pub async fn checkout(pool: &Pool) -> Result<crate::Conn, ApiError> {
    pool.get().await.map_err(|err| {
        tracing::warn!(error = %err, "no database connection");
        ApiError::Unavailable("the database is unavailable; retry shortly".to_owned())
    })
}

/// A database error as an API client sees it. Only what the client can act
/// on is told: a unique or exclusion constraint refusing the write is 409 (the
/// constraint's name stays inside), a lost connection 503. Everything else,
/// including a row that was not found, is ours: 500, logged. A handler that
/// means "not yours or not there" says so itself, with `.optional()` and
/// `ApiError::NotFound`; a lookup that must find its row is a bug when it
/// does not.
pub fn db_error(err: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match &err {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            ApiError::Unavailable("the database connection was lost; retry shortly".to_owned())
        }
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::Conflict("it already exists".to_owned())
        }
        Error::DatabaseError(_, info) if is_exclusion_violation(info.message()) => {
            ApiError::Conflict("the time is already taken".to_owned())
        }
        _ => ApiError::Internal(anyhow::Error::new(err)),
    }
}

/// SQLSTATE 23P01 surfaces through diesel as an `Unknown` kind; its message
/// is stable.
pub fn is_exclusion_violation(message: &str) -> bool {
    message.contains("conflicting key value violates exclusion constraint")
}

/// `FOR UPDATE NOWAIT` found the row locked (SQLSTATE 55P03, which diesel
/// also leaves `Unknown`; its message is stable).
pub fn is_lock_unavailable(err: &diesel::result::Error) -> bool {
    matches!(err, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("could not obtain lock"))
}

/// Runs `work` in a transaction whose errors are API errors: it commits when
/// `work` returns `Ok`, rolls back otherwise. A failure of BEGIN or COMMIT
/// itself goes through `db_error`.
pub async fn transaction<T, W>(conn: &mut AsyncPgConnection, work: W) -> ApiResult<T>
where
    T: Send,
    // As `create_once`: `AsyncFnOnce` for closure inference, `Work` for a
    // `Send` future.
    for<'c> W: AsyncFnOnce(&'c mut AsyncPgConnection) -> ApiResult<T> + Work<'c, T> + Send,
{
    conn.transaction::<T, TransactionError, _>(async move |conn| {
        work(conn).await.map_err(TransactionError::Api)
    })
    .await
    .map_err(|err| match err {
        TransactionError::Api(err) => err,
        TransactionError::Db(err) => db_error(err),
    })
}

/// What a transaction run by `transaction` can fail with.
enum TransactionError {
    Api(ApiError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TransactionError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Db(err)
    }
}

/// What `transaction` and `create_once` run: an async closure over the
/// transaction's connection whose future is `Send` (as a transaction's must
/// be).
pub trait Work<'c, T>: FnOnce(&'c mut AsyncPgConnection) -> Self::Made {
    type Made: Future<Output = ApiResult<T>> + Send;
}

impl<'c, T, F, Made> Work<'c, T> for F
where
    F: FnOnce(&'c mut AsyncPgConnection) -> Made,
    Made: Future<Output = ApiResult<T>> + Send,
{
    type Made = Made;
}

/// For a lookup whose missing row means "not yours or not there": 404.
/// Every other failure is `db_error`'s.
pub trait OrNotFound<T> {
    fn or_not_found(self) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for diesel::QueryResult<T> {
    fn or_not_found(self) -> ApiResult<T> {
        self.map_err(|err| match err {
            diesel::result::Error::NotFound => ApiError::NotFound,
            other => db_error(other),
        })
    }
}
