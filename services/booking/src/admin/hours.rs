//! `PUT /admin/v1/physios/{id}/weekly-hours`: the physio's week, replaced whole.
//! Times are the clinic's local wall clock; slots apply the zone's DST rules.
//! Appointments already booked outside new hours stay: the clinic cancels
//! them explicitly if it wants them moved.

use super::access::physio_clinic_in_scope;
use crate::domain::hours::{HoursInput, parse_weekly_hours};
use crate::engine::facts::{weekday_from_number, weekday_number};
use crate::schema::weekly_hours;
use crate::waitlist;
use actix_web::web;
use chrono::NaiveTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::Admin;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::{ApiError, ApiResult, FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursRange {
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i64,
    /// "HH:MM", local to the clinic.
    pub start: String,
    /// "HH:MM", after `start`, same day.
    pub end: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHoursBody {
    pub hours: Vec<HoursRange>,
}

#[utoipa::path(
    put,
    path = "/admin/v1/physios/{physio_id}/weekly-hours",
    tag = "physios",
    params(("physio_id" = Uuid, Path, description = "The physio")),
    request_body = WeeklyHoursBody,
    responses(
        (status = 200, description = "The week as stored, sorted", body = WeeklyHoursBody),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn put(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<WeeklyHoursBody>,
) -> ApiResult<web::Json<WeeklyHoursBody>> {
    let physio_id = path.into_inner();
    let input: Vec<HoursInput> = body
        .into_inner()
        .hours
        .into_iter()
        .map(|h| HoursInput {
            weekday: h.weekday,
            start: h.start,
            end: h.end,
        })
        .collect();
    let week = parse_weekly_hours(&input).map_err(|problems| {
        ApiError::Validation(
            problems
                .into_iter()
                .map(|p| FieldError::new(p.field, p.message))
                .collect(),
        )
    })?;
    let mut conn = checkout(&pool).await?;
    let clinic_id = physio_clinic_in_scope(&mut conn, &admin, physio_id).await?;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        diesel::delete(weekly_hours::table.filter(weekly_hours::physio_id.eq(physio_id)))
            .execute(conn)
            .await?;
        let rows: Vec<_> = week
            .iter()
            .map(|h| {
                (
                    weekly_hours::physio_id.eq(physio_id),
                    weekly_hours::weekday.eq(weekday_number(h.weekday)),
                    weekly_hours::start_time.eq(h.start),
                    weekly_hours::end_time.eq(h.end),
                )
            })
            .collect();
        diesel::insert_into(weekly_hours::table)
            .values(rows)
            .execute(conn)
            .await?;
        waitlist::capacity_changed(conn, clinic_id).await
    })
    .await
    .map_err(db_error)?;
    let stored: Vec<(i16, NaiveTime, NaiveTime)> = weekly_hours::table
        .filter(weekly_hours::physio_id.eq(physio_id))
        .order((weekly_hours::weekday, weekly_hours::start_time))
        .select((
            weekly_hours::weekday,
            weekly_hours::start_time,
            weekly_hours::end_time,
        ))
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    let hours = stored
        .into_iter()
        .filter(|(weekday, _, _)| weekday_from_number(*weekday).is_some())
        .map(|(weekday, start, end)| HoursRange {
            weekday: i64::from(weekday),
            start: start.format("%H:%M").to_string(),
            end: end.format("%H:%M").to_string(),
        })
        .collect();
    Ok(web::Json(WeeklyHoursBody { hours }))
}
