//! `GET /v1/triage/questionnaire` (the current version) and
//! `GET /v1/triage/questionnaire/{version}` (any released one): the
//! questions, their answer types, when a follow-up question is asked, help
//! for the trainer, and what each disposition tells them. Public like the
//! vocabulary: the app may fetch it before sign-in.

use crate::domain::screening::questionnaire::{
    self, AnswerType, CANONICAL, Questionnaire, Subject,
};
use crate::domain::screening::{Disposition, advice};
use crate::domain::vocabulary::Priority;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use spotter_platform::{ApiError, ApiResult};
use utoipa::ToSchema;

/// What the app says wherever it shows the questionnaire or its outcome.
pub const DISCLAIMER: &str =
    "A screening aid for trainers, not a diagnosis. When in doubt, seek medical care.";

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionnaireView {
    /// Send it back as `screening.questionnaire_version`.
    pub version: i32,
    /// The questionnaire's identity when exported as FHIR (`url|version`).
    pub canonical: &'static str,
    pub title: &'static str,
    pub disclaimer: &'static str,
    /// In the order to ask them.
    pub items: Vec<ItemView>,
    /// What the trainer is told for each outcome.
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    /// The key of its answer in `screening.answers`.
    pub link_id: &'static str,
    pub text: &'static str,
    pub help: &'static str,
    #[serde(rename = "type")]
    pub answer_type: ItemType,
    /// Every question asked must be answered; there are no optional ones.
    pub required: bool,
    /// For `choice`: the codes, least to most concerning.
    pub options: Option<Vec<OptionView>>,
    /// Ask this question only when every condition holds (none: always).
    pub enable_when: Vec<ConditionView>,
}

spotter_platform::coded! {
    /// How a question is answered: `true`/`false`, or one option's code.
    pub enum ItemType {
        Boolean = "boolean",
        Choice = "choice",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionView {
    pub code: &'static str,
    pub display: &'static str,
}

/// Holds when `question`'s answer is one of `one_of`. `question` is an
/// earlier question's `link_id`, or `report.body_region` for the injury
/// report's body region.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConditionView {
    pub question: &'static str,
    /// `true`/`false` for a boolean question, codes for a choice or the
    /// body region.
    #[schema(value_type = Vec<crate::domain::screening::Answer>)]
    pub one_of: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeView {
    pub disposition: Disposition,
    /// For `physio`: the priority (`urgent` or `routine`).
    pub priority: Option<Priority>,
    pub advice: &'static str,
}

/// The report field a condition may name.
pub const BODY_REGION_SUBJECT: &str = "report.body_region";

pub fn view(q: &Questionnaire) -> QuestionnaireView {
    QuestionnaireView {
        version: q.version,
        canonical: CANONICAL,
        title: q.title,
        disclaimer: DISCLAIMER,
        items: q.items.iter().map(item_view).collect(),
        outcomes: [
            (Disposition::EmergencyNow, None),
            (Disposition::SeeDoctorToday, None),
            (Disposition::Physio, Some(Priority::Urgent)),
            (Disposition::Physio, Some(Priority::Routine)),
        ]
        .into_iter()
        .map(|(disposition, priority)| OutcomeView {
            disposition,
            priority,
            advice: advice(disposition, priority.unwrap_or(Priority::Emergency)),
        })
        .collect(),
    }
}

fn item_view(item: &'static questionnaire::Item) -> ItemView {
    let (answer_type, options) = match &item.answer {
        AnswerType::Boolean => (ItemType::Boolean, None),
        AnswerType::Choice(choices) => (
            ItemType::Choice,
            Some(
                choices
                    .iter()
                    .map(|c| OptionView {
                        code: c.code,
                        display: c.display,
                    })
                    .collect(),
            ),
        ),
    };
    ItemView {
        link_id: item.link_id,
        text: item.text,
        help: item.help,
        answer_type,
        required: true,
        options,
        enable_when: item
            .enable_when
            .iter()
            .map(|c| ConditionView {
                question: match c.subject {
                    Subject::Answer(id) => id,
                    Subject::BodyRegion => BODY_REGION_SUBJECT,
                },
                one_of: c.one_of.iter().map(|v| (*v).into()).collect(),
            })
            .collect(),
    }
}

/// The current version may be replaced by a release: an hour.
const CURRENT_MAX_AGE_SECONDS: u32 = 3600;
/// A released version never changes: a year.
const VERSION_MAX_AGE_SECONDS: u32 = 365 * 24 * 3600;

#[utoipa::path(
    get,
    path = "/v1/triage/questionnaire",
    tag = "triage",
    responses((status = 200, description = "The current screening questionnaire", body = QuestionnaireView)),
)]
pub async fn current() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(CURRENT_MAX_AGE_SECONDS),
        ]))
        .json(view(questionnaire::current()))
}

#[utoipa::path(
    get,
    path = "/v1/triage/questionnaire/{version}",
    tag = "triage",
    params(("version" = i32, Path, minimum = 1, maximum = 1000, description = "A released version")),
    responses(
        (status = 200, description = "That version, which never changes", body = QuestionnaireView),
        (status = 404, description = "No such version", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn by_version(path: web::Path<String>) -> ApiResult<HttpResponse> {
    let found = path
        .parse::<i32>()
        .ok()
        .and_then(questionnaire::version)
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(VERSION_MAX_AGE_SECONDS),
            CacheDirective::Extension("immutable".to_owned(), None),
        ]))
        .json(view(found)))
}
