//! Phones that receive push: `POST /v1/devices`, `DELETE /v1/devices/{id}`.
//! A push token identifies one phone; registering it again (a new user
//! signed in on it) moves it, so nobody gets another user's notifications.
//! A user keeps at most [`MAX_DEVICES_PER_USER`] phones: registering one more
//! forgets the one seen least recently (the app registers at every launch, so
//! `updated_at` is when the phone was last seen), which bounds the pushes one
//! notification can plan.

/// Phones per user; an 11th registration drops the least recently seen.
pub const MAX_DEVICES_PER_USER: i64 = 10;

use crate::schema::devices;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::Caller;
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub platform: Platform,
    /// The APNs device token or FCM registration token: visible ASCII.
    #[schema(min_length = 1, max_length = 4096, pattern = "^[!-~]+$")]
    pub token: String,
}

spotter_platform::coded! {
    /// Which push service reaches the phone: APNs for `ios`, FCM for `android`.
    pub enum Platform {
        Ios = "ios",
        Android = "android",
    }
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct Device {
    pub id: Uuid,
    #[diesel(deserialize_as = String)]
    pub platform: Platform,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/v1/devices",
    tag = "devices",
    request_body = NewDevice,
    responses((status = 201, description = "Registered to the caller", body = Device), AuthProblems, InputProblems),
    security(("bearer" = []))
)]
pub async fn register(
    caller: Caller,
    pool: web::Data<Pool>,
    body: Json<NewDevice>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner();
    let mut errors = Vec::new();
    if input.token.is_empty()
        || input.token.len() > 4096
        || !input.token.bytes().all(|b| b.is_ascii_graphic())
    {
        errors.push(FieldError::new(
            "token",
            "must be a push token (1–4096 visible characters)",
        ));
    }
    finish(errors)?;
    let mut conn = checkout(&pool).await?;
    let device = spotter_db::transaction(&mut conn, async |conn| {
        // One registration per user at a time, so two at once cannot both
        // count ten and leave eleven.
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
            .bind::<diesel::sql_types::Uuid, _>(caller.user_id)
            .execute(conn)
            .await
            .map_err(db_error)?;
        let device = upsert(conn, caller.user_id, &input).await?;
        forget_all_but_the_latest(conn, caller.user_id).await?;
        Ok(device)
    })
    .await?;
    Ok(HttpResponse::Created().json(device))
}

async fn upsert(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
    input: &NewDevice,
) -> ApiResult<Device> {
    diesel::insert_into(devices::table)
        .values((
            devices::id.eq(Uuid::now_v7()),
            devices::user_id.eq(user_id),
            devices::platform.eq(input.platform.as_str()),
            devices::token.eq(&input.token),
        ))
        .on_conflict(devices::token)
        .do_update()
        .set((
            devices::user_id.eq(excluded(devices::user_id)),
            devices::platform.eq(excluded(devices::platform)),
            // The database's clock, as the insert's default: "seen least
            // recently" compares the two.
            devices::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Device::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)
}

/// Drops the user's phones beyond the [`MAX_DEVICES_PER_USER`] seen most recently.
async fn forget_all_but_the_latest(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
) -> ApiResult<()> {
    diesel::sql_query(
        "DELETE FROM devices WHERE id IN (SELECT id FROM devices WHERE user_id = $1 \
         ORDER BY updated_at DESC, id DESC OFFSET $2)",
    )
    .bind::<diesel::sql_types::Uuid, _>(user_id)
    .bind::<diesel::sql_types::BigInt, _>(MAX_DEVICES_PER_USER)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[utoipa::path(
    delete,
    path = "/v1/devices/{device_id}",
    tag = "devices",
    params(("device_id" = Uuid, Path, description = "The device")),
    responses((status = 204, description = "No more push to it"), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn remove(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = checkout(&pool).await?;
    let removed = diesel::delete(
        devices::table
            .filter(devices::id.eq(path.into_inner()))
            .filter(devices::user_id.eq(caller.user_id)),
    )
    .execute(&mut conn)
    .await
    .map_err(db_error)?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
