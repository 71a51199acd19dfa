//! `GET /v1/vocabulary`: every coded list the app renders, each code with a
//! plain-English label, so forms and filters are built from the server's
//! own lists and never drift from them (docs/architecture.md, "HTTP
//! conventions"). The same lists are `enum`s in each service's OpenAPI.
//!
//! Public and the same for everyone: the app may fetch it before sign-in,
//! and caches may keep it for a day.

use crate::domain::lifecycle::Status;
use crate::domain::screening::Disposition;
use crate::domain::training::MovementPattern;
use crate::domain::training::check::Rule;
use crate::domain::training::flare::FlareSign;
use crate::domain::vocabulary::{
    BodyRegion, CancelReason, Clearance, ConsentMethod, Priority, RedFlag, Side, TimelineCause,
};
use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective};
use serde::Serialize;
use spotter_platform::vocabulary::{
    AppointmentKind, AppointmentStatus, DeadlineKind, DeclineReason, Specialty,
};
use utoipa::ToSchema;

/// One code and what the app shows for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Term<T> {
    pub code: T,
    pub label: String,
}

/// A movement pattern and the body regions it loads.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatternTerm {
    pub code: MovementPattern,
    pub label: String,
    pub loads: &'static [BodyRegion],
}

/// Every coded list, in the order the app should offer the choices.
#[derive(Debug, Serialize, ToSchema)]
pub struct Vocabulary {
    pub body_regions: Vec<Term<BodyRegion>>,
    pub sides: Vec<Term<Side>>,
    /// Deprecated with the injury report's `red_flags`: the screening
    /// questionnaire (`GET /v1/triage/questionnaire`) replaces them.
    pub red_flags: Vec<Term<RedFlag>>,
    /// Where triage sends the client (docs/triage.md).
    pub triage_dispositions: Vec<Term<Disposition>>,
    pub consent_methods: Vec<Term<ConsentMethod>>,
    pub priorities: Vec<Term<Priority>>,
    pub referral_statuses: Vec<Term<Status>>,
    pub timeline_causes: Vec<Term<TimelineCause>>,
    pub cancel_reasons: Vec<Term<CancelReason>>,
    pub clearances: Vec<Term<Clearance>>,
    pub decline_reasons: Vec<Term<DeclineReason>>,
    pub specialties: Vec<Term<Specialty>>,
    pub appointment_statuses: Vec<Term<AppointmentStatus>>,
    /// A visit's kind (`visits[].kind`).
    pub appointment_kinds: Vec<Term<AppointmentKind>>,
    /// What a referral is waiting for (its `awaiting[].awaited`).
    pub deadline_kinds: Vec<Term<DeadlineKind>>,
    /// Guidance `avoid[].pattern`, exercise and session `pattern`
    /// (docs/training.md).
    pub movement_patterns: Vec<PatternTerm>,
    /// The rules the conflict check reports (`conflicts[].rule`).
    pub conflict_rules: Vec<Term<Rule>>,
    /// What made a session a flare (`flare_signs`).
    pub flare_signs: Vec<Term<FlareSign>>,
}

/// A day: the lists change only with a release.
const MAX_AGE_SECONDS: u32 = 24 * 3600;

#[utoipa::path(
    get,
    path = "/v1/vocabulary",
    tag = "vocabulary",
    responses((status = 200, description = "Every coded list with its labels", body = Vocabulary)),
)]
pub async fn get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(MAX_AGE_SECONDS),
        ]))
        .json(vocabulary())
}

pub fn vocabulary() -> Vocabulary {
    Vocabulary {
        body_regions: terms(BodyRegion::ALL, BodyRegion::as_str),
        sides: terms(Side::ALL, Side::as_str),
        red_flags: terms(RedFlag::ALL, RedFlag::as_str),
        triage_dispositions: terms(Disposition::ALL, Disposition::as_str),
        consent_methods: terms(ConsentMethod::ALL, ConsentMethod::as_str),
        priorities: terms(Priority::ALL, Priority::as_str),
        referral_statuses: terms(Status::ALL, Status::as_str),
        timeline_causes: terms(TimelineCause::ALL, TimelineCause::as_str),
        cancel_reasons: terms(CancelReason::ALL, CancelReason::as_str),
        clearances: terms(Clearance::ALL, Clearance::as_str),
        decline_reasons: terms(DeclineReason::ALL, DeclineReason::as_str),
        specialties: terms(Specialty::ALL, Specialty::as_str),
        appointment_statuses: terms(AppointmentStatus::ALL, AppointmentStatus::as_str),
        appointment_kinds: terms(AppointmentKind::ALL, AppointmentKind::as_str),
        deadline_kinds: terms(DeadlineKind::ALL, DeadlineKind::as_str),
        movement_patterns: MovementPattern::ALL
            .iter()
            .map(|&code| PatternTerm {
                code,
                label: label(code.as_str()),
                loads: code.loads(),
            })
            .collect(),
        conflict_rules: terms(Rule::ALL, Rule::as_str),
        flare_signs: terms(FlareSign::ALL, FlareSign::as_str),
    }
}

fn terms<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<Term<T>> {
    all.iter()
        .map(|&value| Term {
            code: value,
            label: label(code(value)),
        })
        .collect()
}

/// The code in words: `numbness_or_tingling` → "Numbness or tingling".
/// Codes joining two body parts read with "and".
fn label(code: &str) -> String {
    let words = match code {
        "wrist_hand" => "wrist and hand".to_owned(),
        "ankle_foot" => "ankle and foot".to_owned(),
        "in_app" => "in the app".to_owned(),
        other => other.replace('_', " "),
    };
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("numbness_or_tingling"), "Numbness or tingling");
        assert_eq!(label("wrist_hand"), "Wrist and hand");
        assert_eq!(label("knee"), "Knee");
    }

    #[test]
    fn every_list_is_complete_and_in_declaration_order() {
        let v = vocabulary();
        let codes: Vec<_> = v.red_flags.iter().map(|t| t.code).collect();
        assert_eq!(codes, RedFlag::ALL);
        assert_eq!(v.referral_statuses.len(), Status::ALL.len());
        assert_eq!(v.specialties[0].code, Specialty::General);
    }
}
