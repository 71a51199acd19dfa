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
    #[schema(minimum = 1, maximum = 7)]
    #[serde(deserialize_with = "spotter_platform::number::whole")]
    pub weekday: i64,
    /// "HH:MM", local to the clinic.
    #[schema(
        pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$",
        min_length = 5,
        max_length = 5
    )]
    pub start: String,
    /// "HH:MM", after `start`, same day.
    #[schema(
        pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$",
        min_length = 5,
        max_length = 5
    )]
    pub end: String,
}

/// The limits above are the domain's (`domain/hours.rs` checks them and
/// names the range at fault); `tests::the_schema_states_the_domain_limits`
/// keeps the two the same.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHoursBody {
    #[schema(max_items = 50)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hours::MAX_RANGES;

    #[test]
    fn the_schema_states_the_domain_limits() {
        use utoipa::PartialSchema;
        let body = serde_json::to_value(WeeklyHoursBody::schema()).unwrap();
        assert_eq!(body["properties"]["hours"]["maxItems"], MAX_RANGES);
        let accepted = |weekday: i64, start: &str, end: &str| {
            let input = [HoursInput {
                weekday,
                start: start.to_owned(),
                end: end.to_owned(),
            }];
            parse_weekly_hours(&input).is_ok()
        };
        // The schema's weekday range, 1 to 7, and nothing outside it.
        assert!(accepted(1, "09:00", "10:00") && accepted(7, "09:00", "10:00"));
        assert!(!accepted(0, "09:00", "10:00") && !accepted(8, "09:00", "10:00"));
        // The schema's pattern: two-digit hours 00–23, minutes 00–59.
        assert!(accepted(1, "00:00", "23:59"));
        assert!(!accepted(1, "9:00", "10:00"));
        assert!(!accepted(1, "09:00", "24:00"));
        assert!(!accepted(1, "09:60", "10:00"));
    }
}
