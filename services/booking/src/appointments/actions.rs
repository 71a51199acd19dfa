//! What a physio (their own) or a clinic admin (their clinic's) does with an
//! appointment: complete, no-show, cancel, reschedule. Each is a state-machine
//! transition (an illegal one is 409, never a silent change) and emits its
//! event in the same transaction.

use super::api::{cancel_error, find_visible};
use super::model::Appointment;
use crate::domain::AppointmentStatus;
use crate::domain::slots::{Interval, free_slots};
use crate::domain::status::{AppointmentAction, may_record_no_show, transition};
use crate::engine::cancel::{Cancellation, Then, cancel};
use crate::engine::diary_lock::lock_physio;
use crate::engine::refusals::DeclineReason;
use crate::engine::{events, facts, moves};
use crate::schema::appointments;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use spotter_auth::{Caller, Role};
use spotter_contracts::booking::v1::AppointmentCancellationReason;
use spotter_contracts::common::v1::CancelledBy;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::vocabulary::AppointmentKind;
use spotter_platform::{ApiError, ApiResult, Json, Text};
use utoipa::ToSchema;
use uuid::Uuid;

/// Who acts, as the event records it. Trainers see their referrals'
/// appointments but change them only through the referral (cancel it).
fn actor(caller: &Caller) -> ApiResult<CancelledBy> {
    match caller.role {
        Role::Physio => Ok(CancelledBy::Physio),
        Role::ClinicAdmin | Role::PlatformAdmin => Ok(CancelledBy::ClinicAdmin),
        Role::Trainer => Err(ApiError::Forbidden(
            "trainers change an appointment through their referral".to_owned(),
        )),
    }
}

/// The appointment, locked in the caller's transaction, and who acts on it.
/// A physio their clinic deactivated acts on nothing, whatever their token.
async fn locked_for_action(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<(Appointment, CancelledBy)> {
    let appointment = find_visible(conn, caller, id, true).await?;
    let by = actor(caller)?;
    Ok((appointment, by))
}

async fn set_status(
    conn: &mut AsyncPgConnection,
    appointment: &Appointment,
    action: AppointmentAction,
) -> ApiResult<Appointment> {
    let to =
        transition(appointment.status, action).map_err(|e| ApiError::Conflict(e.to_string()))?;
    diesel::update(appointments::table.find(appointment.id))
        .set((
            appointments::status.eq(to.as_str()),
            appointments::updated_at.eq(Utc::now()),
        ))
        .returning(Appointment::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)
}

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/complete",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    responses(
        (status = 200, description = "Completed: the physio can now share guidance", body = Appointment),
        (status = 409, description = "Not booked (already completed, cancelled…)", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn complete(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Appointment>> {
    record_outcome(
        caller,
        &pool,
        path.into_inner(),
        AppointmentAction::Complete,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/no-show",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    responses(
        (status = 200, description = "Recorded as a no-show", body = Appointment),
        (status = 409, description = "Not booked, or not started yet", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn no_show(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Appointment>> {
    record_outcome(caller, &pool, path.into_inner(), AppointmentAction::NoShow).await
}

/// How the appointment went: completed (the physio can now share guidance) or
/// a no-show (the slot's time has passed unused, and the referral says so).
async fn record_outcome(
    caller: Caller,
    pool: &Pool,
    id: Uuid,
    action: AppointmentAction,
) -> ApiResult<web::Json<Appointment>> {
    let mut conn = checkout(pool).await?;
    spotter_db::transaction(&mut conn, async |conn| {
        let (appointment, _by) = locked_for_action(conn, &caller, id).await?;
        if action == AppointmentAction::NoShow
            && !may_record_no_show(appointment.starts_at, Utc::now())
        {
            return Err(ApiError::Conflict(
                "the appointment has not started yet; a no-show can be recorded from its start"
                    .to_owned(),
            ));
        }
        let recorded = set_status(conn, &appointment, action).await?;
        if action == AppointmentAction::NoShow {
            let missed: i64 = appointments::table
                .filter(appointments::referral_id.eq(recorded.referral_id))
                .filter(appointments::status.eq(AppointmentStatus::NoShow.as_str()))
                .count()
                .get_result(conn)
                .await
                .map_err(db_error)?;
            let event = events::no_show(&recorded, u32::try_from(missed).unwrap_or(u32::MAX));
            spotter_messaging::enqueue(conn, &event)
                .await
                .map_err(db_error)?;
        } else {
            spotter_messaging::enqueue(conn, &events::completed(&recorded))
                .await
                .map_err(db_error)?;
        }
        Ok(recorded)
    })
    .await
    .map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why, for the clinic's records (not sent to anyone else).
    pub reason: Text<500>,
}

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/cancel",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "Cancelled; the referral is re-booked automatically", body = Appointment),
        (status = 409, description = "Not booked", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn cancel_by_clinic(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<CancelBody>,
) -> ApiResult<web::Json<Appointment>> {
    let body = body.into_inner();
    let turned_away = TurnedAway {
        reason: AppointmentCancellationReason::Other,
        note: Some(body.reason.as_str()),
        decline: None,
    };
    turn_away(&caller, &pool, path.into_inner(), turned_away).await
}

/// How a physio or clinic admin turned a referral away.
pub(super) struct TurnedAway<'a> {
    pub reason: AppointmentCancellationReason,
    /// The clinic's own note (kept in booking, never sent on).
    pub note: Option<&'a str>,
    pub decline: Option<DeclineReason>,
}

/// Cancels the appointment on the clinic's side as a refusal: the referral
/// is booked again, never at this clinic (`engine::refusals`).
pub(super) async fn turn_away(
    caller: &Caller,
    pool: &Pool,
    id: Uuid,
    how: TurnedAway<'_>,
) -> ApiResult<web::Json<Appointment>> {
    let mut conn = checkout(pool).await?;
    spotter_db::transaction(&mut conn, async |conn| {
        let (appointment, by) = locked_for_action(conn, caller, id).await?;
        if appointment.kind == AppointmentKind::FollowUp && how.decline.is_some() {
            return Err(ApiError::Conflict(
                "a follow-up is with the client's own physio and cannot be declined; cancel it and it is booked again".to_owned(),
            ));
        }
        let how = Cancellation {
            by,
            reason: how.reason,
            note: how.note,
            then: Then::Refused(how.decline),
        };
        cancel(conn, &appointment, how).await.map_err(cancel_error)
    })
    .await
    .map(web::Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    /// The new start (RFC 3339); the length stays the same.
    pub starts_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/v1/appointments/{appointment_id}/reschedule",
    tag = "appointments",
    params(("appointment_id" = Uuid, Path, description = "The appointment")),
    request_body = RescheduleBody,
    responses(
        (status = 200, description = "Moved", body = Appointment),
        (status = 409, description = "Not booked, or that time is not free in the physio's diary", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn reschedule(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<RescheduleBody>,
) -> ApiResult<web::Json<Appointment>> {
    let new_start = body.into_inner().starts_at;
    let mut conn = checkout(&pool).await?;
    move_within_diary(&mut conn, &caller, path.into_inner(), |_, free| {
        free.into_iter().find(|s| s.start == new_start).ok_or_else(|| {
            ApiError::Conflict(
                "that time is not free in the physio's diary (hours, time off, notice, other appointments)".to_owned(),
            )
        })
    })
    .await
    .map(web::Json)
}

/// Moves a booked appointment to the free slot of its physio's diary that
/// `choose` picks (the same length, the clinic's rules), telling the saga.
pub(super) async fn move_within_diary(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    choose: impl FnOnce(&Appointment, Vec<Interval>) -> ApiResult<Interval> + Send,
) -> ApiResult<Appointment> {
    spotter_db::transaction(conn, async |conn| {
        let (appointment, _by) = locked_for_action(conn, caller, id).await?;
        transition(appointment.status, AppointmentAction::Reschedule)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        if !lock_physio(conn, appointment.physio_id)
            .await
            .map_err(db_error)?
        {
            return Err(ApiError::Conflict(
                "the physio's diary is busy; try again".to_owned(),
            ));
        }
        let now = Utc::now();
        let (clinic, physio) =
            facts::physio_diary(conn, appointment.physio_id, appointment.id, now)
                .await
                .map_err(db_error)?
                .ok_or_else(|| {
                    ApiError::Conflict("the clinic's time zone is invalid".to_owned())
                })?;
        let mut rules = clinic.rules;
        rules.length = appointment.ends_at - appointment.starts_at;
        let free = free_slots(
            clinic.tz,
            &physio.hours,
            &physio.time_off,
            &physio.booked,
            &rules,
            now,
        );
        let slot = choose(&appointment, free)?;
        let moved = moves::to_slot(conn, &appointment, slot, rules.buffer)
            .await
            .map_err(db_error)?
            .ok_or_else(|| ApiError::Conflict("that time was just taken".to_owned()))?;
        Ok(moved)
    })
    .await
}
