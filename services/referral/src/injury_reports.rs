//! `POST /v1/injury-reports`: a trainer flags a client's injury. One
//! transaction writes the report, the referral, its first timeline entry, the
//! audit entry and the event that starts the saga — or none of them.

use crate::audit::{self, action};
use crate::domain::lifecycle::Status;
use crate::domain::triage::{Priority, triage};
use crate::domain::vocabulary::{BODY_REGIONS, CONSENT_METHODS, RED_FLAGS, SIDES};
use crate::events::{self, Where};
use crate::referrals::model::{Referral, append_timeline};
use crate::referrals::view::ReferralSummary;
use crate::schema::{clients, injury_reports, referrals, trainers};
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use spotter_auth::{Caller, Trainer};
use spotter_db::db_error;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, checkout};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems};
use spotter_platform::problem::Problem;
use spotter_platform::validate::{check_text, finish};
use spotter_platform::{ApiError, ApiResult, FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Must be true: no consent, no referral.
    pub obtained: bool,
    /// `verbal`, `written` or `in_app`.
    pub method: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInjuryReport {
    pub client_id: Uuid,
    pub body_region: String,
    pub side: String,
    /// 0–10.
    pub pain_level: i64,
    /// The day it started; not in the future.
    pub onset_date: NaiveDate,
    pub mechanism: String,
    pub description: String,
    #[serde(default)]
    pub red_flags: Vec<String>,
    pub consent: Consent,
}

fn one_of(field: &str, value: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    if !allowed.contains(&value) {
        errors.push(FieldError::new(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        ));
    }
}

impl NewInjuryReport {
    fn validate(&self, today: NaiveDate) -> ApiResult<()> {
        let mut errors = Vec::new();
        one_of("body_region", &self.body_region, &BODY_REGIONS, &mut errors);
        one_of("side", &self.side, &SIDES, &mut errors);
        if !(0..=10).contains(&self.pain_level) {
            errors.push(FieldError::new("pain_level", "must be between 0 and 10"));
        }
        if self.onset_date > today {
            errors.push(FieldError::new("onset_date", "must not be in the future"));
        }
        check_text("mechanism", &self.mechanism, 500, &mut errors);
        check_text("description", &self.description, 2000, &mut errors);
        for (i, flag) in self.red_flags.iter().enumerate() {
            one_of(&format!("red_flags[{i}]"), flag, &RED_FLAGS, &mut errors);
        }
        if !self.consent.obtained {
            // The client's health data may not be shared without it.
            errors.push(FieldError::new(
                "consent.obtained",
                "the client's consent is required to refer them",
            ));
        }
        one_of(
            "consent.method",
            &self.consent.method,
            &CONSENT_METHODS,
            &mut errors,
        );
        finish(errors)
    }
}

#[utoipa::path(
    post,
    path = "/v1/injury-reports",
    tag = "referrals",
    request_body = NewInjuryReport,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first response")),
    responses(
        (status = 201, description = "The new referral (emergency_advised when a red flag was reported)", body = ReferralSummary),
        (status = 409, description = "No trainer profile yet (PUT /v1/trainers/me): its location decides which clinics can help", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    trainer: Trainer,
    caller: Caller,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let raw = body.into_inner();
    let input: NewInjuryReport = from_value(raw.clone())?;
    input.validate(Utc::now().date_naive())?;
    let mut conn = checkout(&pool).await?;
    create_once(&mut conn, trainer.id, &key, &raw, async |conn| {
        write_report(conn, &caller, trainer.id, &input).await
    })
    .await
    .map(Created::response)
}

async fn write_report(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    trainer_id: Uuid,
    input: &NewInjuryReport,
) -> ApiResult<ReferralSummary> {
    // One round trip for both facts the report needs (this runs per flag):
    // the trainer's location, and whether the client is theirs.
    let found: Option<(f64, f64, bool)> = trainers::table
        .find(trainer_id)
        .select((
            trainers::lat,
            trainers::lon,
            exists(
                clients::table
                    .find(input.client_id)
                    .filter(clients::trainer_id.eq(trainer_id)),
            ),
        ))
        .first(conn)
        .await
        .optional()
        .map_err(db_error)?;
    let no_client = || ApiError::invalid("client_id", "no such client of yours");
    let (lat, lon) = match found {
        Some((lat, lon, true)) => (lat, lon),
        Some((.., false)) => return Err(no_client()),
        None => {
            // No profile yet; the client is still checked first, as always.
            let owned = clients::table
                .find(input.client_id)
                .filter(clients::trainer_id.eq(trainer_id))
                .select(clients::id)
                .first::<Uuid>(conn)
                .await
                .optional()
                .map_err(db_error)?;
            if owned.is_none() {
                return Err(no_client());
            }
            return Err(ApiError::Conflict(
                "set up your trainer profile first (PUT /v1/trainers/me): its location decides which clinics can take the referral".to_owned(),
            ));
        }
    };
    let pain = u8::try_from(input.pain_level).unwrap_or(10);
    let priority = triage(pain, &input.red_flags);
    let status = if priority == Priority::Emergency {
        Status::EmergencyAdvised
    } else {
        Status::AwaitingBooking
    };
    let now = Utc::now();
    let referral: Referral = diesel::insert_into(referrals::table)
        .values((
            referrals::id.eq(Uuid::now_v7()),
            referrals::trainer_id.eq(trainer_id),
            referrals::client_id.eq(input.client_id),
            referrals::status.eq(status.as_str()),
            referrals::priority.eq(priority.as_str()),
            referrals::target_by.eq(priority.target_window().map(|w| now + w)),
        ))
        .returning(Referral::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)?;
    diesel::insert_into(injury_reports::table)
        .values((
            injury_reports::referral_id.eq(referral.id),
            injury_reports::body_region.eq(&input.body_region),
            injury_reports::side.eq(&input.side),
            injury_reports::pain_level.eq(i16::from(pain)),
            injury_reports::onset_date.eq(input.onset_date),
            injury_reports::mechanism.eq(input.mechanism.trim()),
            injury_reports::description.eq(input.description.trim()),
            injury_reports::red_flags.eq(&input.red_flags),
            injury_reports::consent_method.eq(&input.consent.method),
        ))
        .execute(conn)
        .await
        .map_err(db_error)?;
    append_timeline(conn, referral.id, status, "injury_reported")
        .await
        .map_err(db_error)?;
    audit::record(conn, caller, action::INJURY_WRITE, referral.id)
        .await
        .map_err(db_error)?;
    if priority == Priority::Emergency {
        // Trainers may not diagnose: a red flag means urgent medical care, not a booking.
        spotter_messaging::enqueue(conn, &events::emergency_advised(&referral))
            .await
            .map_err(db_error)?;
    } else {
        let event = events::requested(&referral, &input.body_region, Where { lat, lon });
        spotter_messaging::enqueue(conn, &event)
            .await
            .map_err(db_error)?;
    }
    Ok(ReferralSummary::from(&referral))
}
