use crate::referrals::api;
use crate::{audit, clients, clinic_view, guidance, injury_reports, trainers};
use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter referral service", version = "1"),
    paths(
        trainers::get_me,
        trainers::put_me,
        clients::create,
        clients::list,
        clients::get,
        injury_reports::create,
        api::list,
        api::get,
        api::cancel,
        crate::referrals::rebook::rebook,
        guidance::api::share,
        guidance::api::history,
        guidance::api::acknowledge,
        clinic_view::list,
        audit::list,
        crate::vocabulary_api::get,
        crate::screening::questionnaire_api::current,
        crate::screening::questionnaire_api::by_version,
        crate::screening::clearance::record,
        crate::training::check_api::check,
        crate::training::sessions_api::log,
        crate::training::sessions_api::list,
        crate::training::sessions_api::pain_after,
        crate::training::adherence_api::get,
        crate::training::measures_api::record,
        crate::training::measures_api::list,
        crate::training::export_api::export,
        crate::fhir::api::metadata,
        crate::fhir::api::service_request,
        crate::fhir::api::everything,
        crate::fhir::api::task,
        crate::fhir::api::consent,
        crate::fhir::api::questionnaire_response,
        crate::fhir::api::care_plan,
        crate::fhir::api::appointment,
    ),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "trainers", description = "A trainer's own profile"),
        (name = "clients", description = "A trainer's clients"),
        (name = "referrals", description = "Injury reports and the referrals they start"),
        (name = "guidance", description = "The physio's guidance back to the trainer"),
        (name = "training", description = "Training around the injury: the conflict check, the session log, adherence"),
        (name = "audit", description = "Who read or wrote health data"),
        (name = "vocabulary", description = "The coded lists the app renders"),
        (name = "fhir", description = "Read-only FHIR R4 views of a referral (application/fhir+json), under the same access rules"),
        (name = "triage", description = "The screening questionnaire triage decides by (a screening aid, not a diagnosis)"),
    )
)]
struct ReferralApi;

pub fn document() -> utoipa::openapi::OpenApi {
    ReferralApi::openapi()
}
