//! `POST /v1/injury-reports`: a trainer flags a client's injury with the
//! answers to the screening questionnaire (docs/triage.md). One transaction
//! writes the report, the answers and what triage decided, the referral, its
//! first timeline entry, the audit entry and the event that starts the saga
//! — or none of them.

use crate::audit::{self, action};
use crate::deadlines::CareDeadlines;
use crate::domain::lifecycle::Status;
use crate::domain::screening::questionnaire::{self, Questionnaire};
use crate::domain::screening::{Answer, Disposition, Screen, Triage, legacy, triage};
use crate::domain::triage::target_window;
use crate::domain::vocabulary::TimelineCause;
use crate::domain::vocabulary::{BodyRegion, ConsentMethod, RedFlag, Side};
use crate::events::{self, Where};
use crate::quotas;
use crate::referrals::model::{Referral, append_timeline};
use crate::referrals::view::ReferralSummary;
use crate::schema::{clients, injury_reports, referrals, trainers};
use crate::screening::store::{self, Source, TriageView};
use crate::training::measures::{self, PsfsItem, check_psfs};
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::{Caller, Trainer};
use spotter_db::db_error;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, checkout};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems};
use spotter_platform::problem::Problem;
use spotter_platform::settings::QuotaSettings;
use spotter_platform::validate::{finish, latest_date_anywhere};
use spotter_platform::{ApiError, ApiResult, FieldError, Json, Text, Within};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Must be true: no consent, no referral.
    #[schema(schema_with = only_true)]
    pub obtained: bool,
    pub method: ConsentMethod,
}

/// `uniqueItems`, which the derive cannot state, and the deprecation.
fn each_red_flag_once() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("RedFlag"))
        .max_items(Some(RedFlag::ALL.len()))
        .unique_items(true)
        .deprecated(Some(utoipa::openapi::Deprecated::True))
        .description(Some(
            "Deprecated: send `screening` instead. Kept for one version as a shortcut: each flag answers \"yes\" to the nearest question of the screening questionnaire (docs/triage.md) and the same rules decide. Each at most once; not together with `screening`.",
        ))
        .build()
}

/// The answers to the screening questionnaire (`GET
/// /v1/triage/questionnaire`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningAnswers {
    /// The version the answers are to.
    pub questionnaire_version: Within<1, 1000>,
    /// By `link_id`: `true`/`false` for a boolean question, an option's
    /// code for a choice. Every question asked (given the other answers
    /// and the body region) must be answered, and no other.
    pub answers: BTreeMap<String, Answer>,
}

/// `true` is the one value the API takes, and the schema says so: a
/// generated client cannot offer `false` as a choice.
fn only_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("Must be true: no consent, no referral."))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInjuryReport {
    pub client_id: Uuid,
    pub body_region: BodyRegion,
    pub side: Side,
    pub pain_level: Within<0, 10>,
    /// The day it started, in the trainer's own zone; not in the future
    /// (a date no zone has reached yet).
    pub onset_date: NaiveDate,
    pub mechanism: Text<500>,
    pub description: Text<2000>,
    /// Required unless the deprecated `red_flags` is sent.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub screening: Option<ScreeningAnswers>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = each_red_flag_once)]
    pub red_flags: Option<Vec<RedFlag>>,
    /// The client's Patient-Specific Functional Scale now: up to three
    /// activities they find hard, each scored 0 (unable) to 10 (as before
    /// the injury). With `pain_level` (their NPRS) it is the baseline the
    /// physio's later measures are compared with (docs/training.md),
    /// stored with the report: no row more per flag.
    #[serde(default)]
    #[schema(max_items = 3)]
    pub psfs: Vec<PsfsItem>,
    pub consent: Consent,
}

/// A field that may be left out but, when sent, is never `null` (the
/// schema says so: a null is refused like any other wrong type).
fn present<'de, D, T>(value: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(value).map(Some)
}

/// The new referral and what triage decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriagedReferral {
    #[serde(flatten)]
    pub referral: ReferralSummary,
    pub triage: TriageView,
}

/// The answers the rules read, checked.
struct Screened {
    questionnaire: &'static Questionnaire,
    source: Source,
    screen: Screen,
}

impl NewInjuryReport {
    /// What the types cannot say: dates relative to today (`latest_today`:
    /// the latest date it is anywhere, as the trainer's zone is unknown),
    /// consent given, each red flag once, and the answers fit the
    /// questionnaire version.
    fn validate(&self, latest_today: NaiveDate) -> ApiResult<Screened> {
        let mut errors = Vec::new();
        let screened = self.screened(&mut errors);
        if self.onset_date > latest_today {
            errors.push(FieldError::new("onset_date", "must not be in the future"));
        }
        let flags = self.red_flags.as_deref().unwrap_or_default();
        for (i, flag) in flags.iter().enumerate() {
            if flags[..i].contains(flag) {
                errors.push(FieldError::new(
                    format!("red_flags[{i}]"),
                    "is listed twice",
                ));
            }
        }
        check_psfs("psfs", &self.psfs, &mut errors);
        if !self.consent.obtained {
            // The client's health data may not be shared without it.
            errors.push(FieldError::new(
                "consent.obtained",
                "the client's consent is required to refer them",
            ));
        }
        finish(errors)?;
        // `screened` records an error whenever it finds nothing to triage.
        screened.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no screening and no error")))
    }

    fn screened(&self, errors: &mut Vec<FieldError>) -> Option<Screened> {
        let region = self.body_region;
        let pain = self.pain_level.get();
        let Some(given) = &self.screening else {
            // The deprecated checklist: an older app (docs/triage.md). With
            // neither, nothing was screened: refused, never assumed clear.
            let Some(flags) = &self.red_flags else {
                errors.push(FieldError::new(
                    "screening",
                    "is required: the answers to GET /v1/triage/questionnaire",
                ));
                return None;
            };
            return Some(Screened {
                questionnaire: questionnaire::current(),
                source: Source::LegacyRedFlags,
                screen: legacy::from_red_flags(pain, flags),
            });
        };
        // An empty checklist beside the answers says nothing: an app
        // moving to the questionnaire may still send it.
        if self
            .red_flags
            .as_ref()
            .is_some_and(|flags| !flags.is_empty())
        {
            errors.push(FieldError::new(
                "red_flags",
                "leave it out when sending `screening`: the questionnaire replaces it",
            ));
        }
        let asked = i32::try_from(given.questionnaire_version.get()).ok();
        let Some(version) = asked.and_then(questionnaire::version) else {
            errors.push(FieldError::new(
                "screening.questionnaire_version",
                format!(
                    "no such version; the current one is {}",
                    questionnaire::current().version
                ),
            ));
            return None;
        };
        match crate::domain::screening::answers::check(
            version,
            region,
            pain,
            &given.answers,
            "screening.answers",
        ) {
            Ok(screen) => Some(Screened {
                questionnaire: version,
                source: Source::Questionnaire,
                screen,
            }),
            Err(found) => {
                errors.extend(found);
                None
            }
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/injury-reports",
    tag = "referrals",
    request_body = NewInjuryReport,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response")),
    responses(
        (status = 201, description = "The new referral and its triage: `emergency_advised` (call emergency services) or `doctor_advised` (a doctor today), both never booked; otherwise booking starts", body = TriagedReferral),
        (status = 409, description = "No trainer profile yet (PUT /v1/trainers/me): its location decides which clinics can help; or a quota (`open_referrals`, `open_referral_per_body_region`, naming the open referral) is used up. A report triaged to medical care is always recorded.", body = Problem, content_type = "application/problem+json"),
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
    quotas: web::Data<QuotaSettings>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let raw = body.into_inner();
    let input: NewInjuryReport = from_value(raw.clone())?;
    let screened = input.validate(latest_date_anywhere(Utc::now()))?;
    let mut conn = checkout(&pool).await?;
    create_once(&mut conn, trainer.id, &key, &raw, async |conn| {
        write_report(conn, &caller, trainer.id, &quotas, &input, &screened).await
    })
    .await
    .map(Created::response)
}

async fn write_report(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    trainer_id: Uuid,
    quotas: &QuotaSettings,
    input: &NewInjuryReport,
    screened: &Screened,
) -> ApiResult<TriagedReferral> {
    let triaged: Triage = triage(&screened.screen);
    let priority = triaged.priority();
    // A report triaged to medical care is always recorded: it books
    // nothing, and refusing it could hide what a clinician must see.
    let quota_applies = triaged.books();
    // One round trip for both facts the report needs (this runs per flag):
    // the trainer's location, and whether the client is theirs. Under a
    // quota the row is held until commit, so a trainer's reports take their
    // quota checks in turn (`quotas::new_referral`) at no extra round trip;
    // a red flag waits for nobody.
    let query = trainers::table.find(trainer_id).select((
        trainers::lat,
        trainers::lon,
        exists(
            clients::table
                .find(input.client_id)
                .filter(clients::trainer_id.eq(trainer_id)),
        ),
    ));
    let found: Option<(f64, f64, bool)> = if quota_applies {
        query.for_no_key_update().first(conn).await
    } else {
        query.first(conn).await
    }
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
    let previous = if quota_applies {
        quotas::new_referral(conn, quotas, trainer_id, input.client_id, input.body_region).await?
    } else {
        None
    };
    let status: Status = triaged.status();
    let now = Utc::now();
    let referral: Referral = diesel::insert_into(referrals::table)
        .values((
            referrals::id.eq(Uuid::now_v7()),
            referrals::trainer_id.eq(trainer_id),
            referrals::client_id.eq(input.client_id),
            referrals::status.eq(status.as_str()),
            referrals::priority.eq(priority.as_str()),
            referrals::target_by.eq(target_window(priority).map(|w| now + w)),
            referrals::previous_referral_id.eq(previous),
        ))
        .returning(Referral::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)?;
    diesel::insert_into(injury_reports::table)
        .values((
            injury_reports::referral_id.eq(referral.id),
            injury_reports::body_region.eq(input.body_region.as_str()),
            injury_reports::side.eq(input.side.as_str()),
            injury_reports::pain_level.eq(input.pain_level.get_i16()),
            injury_reports::psfs.eq(measures::to_json(&input.psfs)?),
            injury_reports::onset_date.eq(input.onset_date),
            injury_reports::mechanism.eq(input.mechanism.as_str()),
            injury_reports::description.eq(input.description.as_str()),
            injury_reports::red_flags.eq(input
                .red_flags
                .iter()
                .flatten()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()),
            injury_reports::consent_method.eq(input.consent.method.as_str()),
        ))
        .execute(conn)
        .await
        .map_err(db_error)?;
    store::record(
        conn,
        referral.id,
        screened.questionnaire,
        screened.source,
        &screened.screen,
        &triaged,
        now,
    )
    .await
    .map_err(db_error)?;
    append_timeline(conn, referral.id, status, TimelineCause::InjuryReported)
        .await
        .map_err(db_error)?;
    audit::record(conn, caller, action::INJURY_WRITE, referral.id)
        .await
        .map_err(db_error)?;
    if !triaged.books() {
        // Medical care, not a booking: the trainer is told where to go, and
        // a doctor's clearance may open booking within the advice window,
        // counted from the referral's own creation (as the clearance checks).
        CareDeadlines::await_medical_clearance(conn, referral.id, referral.created_at)
            .await
            .map_err(db_error)?;
    }
    match triaged.disposition() {
        Disposition::EmergencyNow => {
            spotter_messaging::enqueue(conn, &events::emergency_advised(&referral)).await
        }
        Disposition::SeeDoctorToday => {
            spotter_messaging::enqueue(conn, &events::doctor_advised(&referral)).await
        }
        Disposition::Physio => {
            let event = events::requested(&referral, input.body_region, Where { lat, lon });
            spotter_messaging::enqueue(conn, &event).await
        }
    }
    .map_err(db_error)?;
    Ok(TriagedReferral {
        referral: ReferralSummary::from(&referral),
        triage: store::view(
            screened.questionnaire.version,
            screened.source,
            triaged.disposition(),
            triaged.rules.iter().map(|r| (*r).to_owned()).collect(),
            priority,
            false,
        ),
    })
}
