//! `GET/PUT /v1/notification-preferences`: push on or off per kind. The inbox
//! always records; this only decides what buzzes the phone.

use crate::notices::NoticeKind;
use crate::schema::notification_preferences;
use actix_web::web;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::Caller;
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, InputProblems};
use spotter_platform::validate::finish;
use spotter_platform::{ApiResult, FieldError, Json};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Preferences {
    /// Kind → whether to push it (every kind defaults to on).
    pub push: BTreeMap<NoticeKind, bool>,
}

/// The kinds to change; the rest stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceChanges {
    /// Kind → whether to push it. An unknown kind is a 422 naming it
    /// (`push.<kind>`), which a map of enum keys could not say.
    #[schema(value_type = BTreeMap<NoticeKind, bool>)]
    pub push: BTreeMap<String, bool>,
}

fn kind_names() -> String {
    let names: Vec<&str> = NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
    names.join(", ")
}

impl PreferenceChanges {
    fn validate(self) -> ApiResult<BTreeMap<NoticeKind, bool>> {
        let mut errors = Vec::new();
        let mut push = BTreeMap::new();
        for (kind, on) in self.push {
            match kind.parse::<NoticeKind>() {
                Ok(known) => {
                    push.insert(known, on);
                }
                Err(_) => errors.push(FieldError::new(
                    format!("push.{kind}"),
                    format!("not a kind; kinds are: {}", kind_names()),
                )),
            }
        }
        finish(errors)?;
        Ok(push)
    }
}

async fn load(
    conn: &mut diesel_async::AsyncPgConnection,
    user: uuid::Uuid,
) -> ApiResult<Preferences> {
    let stored: Vec<(String, bool)> = notification_preferences::table
        .filter(notification_preferences::user_id.eq(user))
        .select((
            notification_preferences::kind,
            notification_preferences::push,
        ))
        .load(conn)
        .await
        .map_err(db_error)?;
    let mut push: BTreeMap<NoticeKind, bool> = NoticeKind::ALL.iter().map(|k| (*k, true)).collect();
    for (kind, on) in stored {
        // The column's CHECK allows only the kinds, so this is a newer
        // version's row at worst: skipped rather than failing the read.
        if let Ok(kind) = kind.parse() {
            push.insert(kind, on);
        }
    }
    Ok(Preferences { push })
}

#[utoipa::path(
    get,
    path = "/v1/notification-preferences",
    tag = "notifications",
    responses((status = 200, description = "Push on or off, per kind", body = Preferences), AuthProblems),
    security(("bearer" = []))
)]
pub async fn get(caller: Caller, pool: web::Data<Pool>) -> ApiResult<web::Json<Preferences>> {
    let mut conn = checkout(&pool).await?;
    Ok(web::Json(load(&mut conn, caller.user_id).await?))
}

#[utoipa::path(
    put,
    path = "/v1/notification-preferences",
    tag = "notifications",
    request_body = PreferenceChanges,
    responses((status = 200, description = "Every kind, as now set", body = Preferences), AuthProblems, InputProblems),
    security(("bearer" = []))
)]
pub async fn put(
    caller: Caller,
    pool: web::Data<Pool>,
    body: Json<PreferenceChanges>,
) -> ApiResult<web::Json<Preferences>> {
    let wanted = body.into_inner().validate()?;
    let mut conn = checkout(&pool).await?;
    spotter_db::transaction(&mut conn, async |conn| {
        for (kind, push) in &wanted {
            diesel::insert_into(notification_preferences::table)
                .values((
                    notification_preferences::user_id.eq(caller.user_id),
                    notification_preferences::kind.eq(kind.as_str()),
                    notification_preferences::push.eq(push),
                ))
                .on_conflict((
                    notification_preferences::user_id,
                    notification_preferences::kind,
                ))
                .do_update()
                .set(notification_preferences::push.eq(excluded(notification_preferences::push)))
                .execute(conn)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    })
    .await?;
    Ok(web::Json(load(&mut conn, caller.user_id).await?))
}
