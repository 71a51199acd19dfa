//! What a referral was triaged with, written once with the referral and
//! never re-evaluated: a later questionnaire version cannot change an
//! earlier referral's disposition (docs/triage.md, "Versions").

use crate::domain::screening::answers::answers_from_fhir;
use crate::domain::screening::questionnaire::{self, Questionnaire};
use crate::domain::screening::return_to_sport::{self, ReturnToTraining};
use crate::domain::screening::rules::POSSIBLE_CONCUSSION;
use crate::domain::screening::{Disposition, Screen, Triage, advice};
use crate::domain::vocabulary::Priority;
use crate::schema::screenings;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

spotter_platform::coded! {
    /// Where a referral's answers came from.
    pub enum Source {
        /// The trainer answered the questionnaire.
        Questionnaire = "questionnaire",
        /// The deprecated `red_flags` checklist, mapped onto the
        /// questionnaire's questions.
        LegacyRedFlags = "legacy_red_flags",
    }
}

/// How a referral was triaged: for the trainer when they flag it, and in
/// the referral for the trainer and the treating physio.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriageView {
    pub questionnaire_version: i32,
    pub source: Source,
    pub disposition: Disposition,
    /// The rules the answers met, most serious first (docs/triage.md).
    pub rules: Vec<String>,
    /// The sentence the trainer is shown.
    pub advice: &'static str,
    pub disclaimer: &'static str,
    /// After a possible concussion: the staged return to training to
    /// follow until a clinician's guidance replaces it.
    pub return_to_training: Option<ReturnToTraining>,
}

/// The answers as given, by question (in the referral's detail).
#[derive(Debug, Serialize, ToSchema)]
pub struct Screening {
    #[serde(flatten)]
    pub triage: TriageView,
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    questionnaire: &Questionnaire,
    source: Source,
    screen: &Screen,
    triage: &Triage,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    let authored = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    diesel::insert_into(screenings::table)
        .values((
            screenings::referral_id.eq(referral_id),
            screenings::questionnaire_version.eq(questionnaire.version),
            screenings::source.eq(source.as_str()),
            screenings::response.eq(screen.to_fhir(questionnaire, &authored)),
            screenings::disposition.eq(triage.disposition().as_str()),
            screenings::rules.eq(&triage.rules),
            screenings::created_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The view of a stored triage: the stored disposition and rules, never a
/// fresh evaluation.
pub fn view(
    version: i32,
    source: Source,
    disposition: Disposition,
    rules: Vec<String>,
    priority: Priority,
    guidance_shared: bool,
) -> TriageView {
    let concussion = rules.iter().any(|r| r == POSSIBLE_CONCUSSION);
    TriageView {
        questionnaire_version: version,
        source,
        disposition,
        advice: advice(disposition, priority),
        disclaimer: super::questionnaire_api::DISCLAIMER,
        return_to_training: (concussion && !guidance_shared).then(return_to_sport::protocol),
        rules,
    }
}

#[derive(Queryable)]
struct Stored {
    version: i32,
    source: String,
    response: serde_json::Value,
    disposition: String,
    rules: Vec<String>,
}

/// The referral's screening, if it has one (referrals flagged before the
/// questionnaire have none). `priority` is the referral's: after a
/// doctor's clearance it is the one the doctor set.
pub async fn find(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    priority: Priority,
    guidance_shared: bool,
) -> QueryResult<Option<Screening>> {
    let stored: Option<Stored> = screenings::table
        .find(referral_id)
        .select((
            screenings::questionnaire_version,
            screenings::source,
            screenings::response,
            screenings::disposition,
            screenings::rules,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let corrupt = |what: String| diesel::result::Error::DeserializationError(what.into());
    let source: Source = stored.source.parse().map_err(|e| corrupt(format!("{e}")))?;
    let disposition: Disposition = stored
        .disposition
        .parse()
        .map_err(|e| corrupt(format!("{e}")))?;
    let answers = questionnaire::version(stored.version)
        .and_then(|q| answers_from_fhir(q, &stored.response))
        .ok_or_else(|| corrupt(format!("screening of {referral_id} unreadable")))?;
    Ok(Some(Screening {
        triage: view(
            stored.version,
            source,
            disposition,
            stored.rules,
            priority,
            guidance_shared,
        ),
        answers: answers
            .into_iter()
            .map(|(id, value)| (id.to_owned(), value.into()))
            .collect(),
    }))
}

/// The referral's answers exactly as stored, a FHIR R4 QuestionnaireResponse
/// (none for referrals flagged before the questionnaire).
pub async fn response(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Option<serde_json::Value>> {
    screenings::table
        .find(referral_id)
        .select(screenings::response)
        .first(conn)
        .await
        .optional()
}
