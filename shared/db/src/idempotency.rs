//! `Idempotency-Key` for POSTs that create something (docs/architecture.md,
//! "HTTP conventions"): a retry with the same key and body gets the first
//! response; the same key with another body is refused. Keys are per caller,
//! so two users cannot collide.
//!
//! The key row is written in the handler's transaction (`create_once`): it
//! commits with the effect, or rolls back with it. A concurrent retry blocks
//! on the first request's row until it commits, then replays its response.

use crate::errors::{Work, db_error, transaction};
use crate::prepared::prepared;
use actix_web::HttpResponse;
use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Nullable, SmallInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use sha2::{Digest, Sha256};
use spotter_platform::extract::IdempotencyKey;
use spotter_platform::http::json_response;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// Runs a POST that creates something, the one way every such handler does
/// (docs/architecture.md, "HTTP conventions"): in one transaction, a stored
/// response for the caller's `Idempotency-Key` (same route, resource and
/// body) is replayed; otherwise `work` runs, and what it made is the `201`
/// body, stored for retries in the transaction that made it.
pub async fn create_once<T, W>(
    conn: &mut AsyncPgConnection,
    caller: Uuid,
    key: &IdempotencyKey,
    body: &serde_json::Value,
    work: W,
) -> ApiResult<Created>
where
    T: Serialize + Send,
    // The `AsyncFnOnce` bound lets a plain `async |conn| …` closure be
    // inferred as taking any connection borrow; `Work` adds that its future
    // is `Send`, which the transaction requires.
    for<'c> W: AsyncFnOnce(&'c mut AsyncPgConnection) -> ApiResult<T> + Work<'c, T> + Send,
{
    let once = Once::new(caller, key, body);
    let (status, body) = transaction(conn, async move |conn| {
        if let Some(replay) = once.replay(conn).await? {
            return Ok(replay);
        }
        let made = work(conn).await?;
        let body = serde_json::to_value(made).map_err(|e| ApiError::Internal(e.into()))?;
        once.record(conn, 201, &body).await?;
        Ok((201, body))
    })
    .await?;
    Ok(Created { status, body })
}

/// What `create_once` answered: the new resource, or the replayed answer.
pub struct Created {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Created {
    pub fn response(self) -> HttpResponse {
        json_response(self.status, self.body)
    }

    /// With a `Location` header, from the body's `id`: `at(id)` is the
    /// resource's path.
    pub fn response_at(self, at: impl FnOnce(&str) -> String) -> HttpResponse {
        let location = self.body["id"].as_str().map(at);
        let mut response = self.response();
        if let Some(value) =
            location.and_then(|l| actix_web::http::header::HeaderValue::from_str(&l).ok())
        {
            response
                .headers_mut()
                .insert(actix_web::http::header::LOCATION, value);
        }
        response
    }
}

/// One creating request under the caller's optional `Idempotency-Key`,
/// scoped to what it asks (the key's route scope and the body): the same key
/// on another route, another resource or with another body is refused, never
/// replayed.
struct Once {
    caller: Uuid,
    key: Option<String>,
    hash: String,
}

impl Once {
    fn new(caller: Uuid, key: &IdempotencyKey, body: &serde_json::Value) -> Self {
        Self {
            caller,
            key: key.key.clone(),
            hash: fingerprint(&serde_json::json!({"route": key.scope, "body": body})),
        }
    }

    /// The stored response of an earlier request with this key, if any.
    async fn replay(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> ApiResult<Option<(u16, serde_json::Value)>> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        Ok(match begin(conn, self.caller, key, &self.hash).await? {
            Begun::New => None,
            Begun::Replay { status, body } => Some((status, body)),
        })
    }

    /// Stores the response for retries (commits with the work).
    async fn record(
        &self,
        conn: &mut AsyncPgConnection,
        status: u16,
        body: &serde_json::Value,
    ) -> ApiResult<()> {
        match &self.key {
            Some(key) => finish(conn, self.caller, key, status, body).await,
            None => Ok(()),
        }
    }
}

enum Begun {
    /// First time: do the work, then `finish`.
    New,
    /// Seen with this body: answer with the stored response.
    Replay {
        status: u16,
        body: serde_json::Value,
    },
}

/// A fingerprint of the request body as parsed JSON (so whitespace and key
/// order do not make a retry look like another request).
pub fn fingerprint(body: &serde_json::Value) -> String {
    format!("{:x}", Sha256::digest(body.to_string().as_bytes()))
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    request_hash: String,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_status: Option<i16>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    response_body: Option<serde_json::Value>,
}

async fn begin(
    conn: &mut AsyncPgConnection,
    caller: Uuid,
    key: &str,
    hash: &str,
) -> ApiResult<Begun> {
    let inserted = prepared(
        diesel::sql_query(
            "INSERT INTO idempotency_keys (caller_id, key, request_hash) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<SqlUuid, _>(caller)
        .bind::<Text, _>(key)
        .bind::<Text, _>(hash),
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    if inserted == 1 {
        return Ok(Begun::New);
    }
    let stored: Stored = diesel::sql_query(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
         WHERE caller_id = $1 AND key = $2",
    )
    .bind::<SqlUuid, _>(caller)
    .bind::<Text, _>(key)
    .get_result(conn)
    .await
    .map_err(db_error)?;
    if stored.request_hash != hash {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "was already used with a different request body",
        ));
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => Ok(Begun::Replay {
            status: u16::try_from(status).unwrap_or(200),
            body,
        }),
        // Committed without a response: cannot happen when `finish` runs in
        // the same transaction; refuse rather than repeat the effect.
        _ => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still in progress".to_owned(),
        )),
    }
}

async fn finish(
    conn: &mut AsyncPgConnection,
    caller: Uuid,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> ApiResult<()> {
    prepared(
        diesel::sql_query(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
             WHERE caller_id = $1 AND key = $2",
        )
        .bind::<SqlUuid, _>(caller)
        .bind::<Text, _>(key)
        .bind::<SmallInt, _>(i16::try_from(status).unwrap_or(200))
        .bind::<Jsonb, _>(body),
    )
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
