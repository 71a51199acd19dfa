//! Every path the referral service serves, in one tree.

use crate::deadlines::CareDeadlines;
use crate::referrals::{api, rebook};
use crate::{
    audit, clients, clinic_view, consumer, fhir, guidance, injury_reports, openapi, screening,
    trainers, training, vocabulary_api,
};
use actix_web::web;
use spotter_db::deadlines;
use spotter_platform::ServiceModule;
use spotter_platform::http::{clinic_subresource, under_any};
use spotter_service::Foundations;
use std::sync::Arc;

/// The paths a gateway (or the dev stack) sends to this service.
pub fn owns_path(path: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "/v1/vocabulary",
        "/fhir/r4",
        "/v1/triage",
        "/v1/trainers",
        "/v1/clients",
        "/v1/injury-reports",
        "/v1/referrals",
        "/admin/v1/dead-letters/referral",
        "/admin/v1/audit-log",
    ];
    // `/admin/v1/clinics/{id}/referrals` is ours; the rest of the clinic's
    // tree is booking's.
    under_any(path, &PREFIXES) || clinic_subresource(path) == Some("referrals")
}

fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/trainers/me")
            .route(web::get().to(trainers::get_me))
            .route(web::put().to(trainers::put_me)),
    )
    .service(
        web::resource("/v1/clients")
            .route(web::post().to(clients::create))
            .route(web::get().to(clients::list)),
    )
    .route("/v1/clients/{client_id}", web::get().to(clients::get))
    .route("/v1/injury-reports", web::post().to(injury_reports::create))
    .route("/fhir/r4/metadata", web::get().to(fhir::api::metadata))
    .route(
        "/fhir/r4/ServiceRequest/{id}",
        web::get().to(fhir::api::service_request),
    )
    .route(
        "/fhir/r4/ServiceRequest/{id}/$everything",
        web::get().to(fhir::api::everything),
    )
    .route("/fhir/r4/Task/{id}", web::get().to(fhir::api::task))
    .route("/fhir/r4/Consent/{id}", web::get().to(fhir::api::consent))
    .route(
        "/fhir/r4/QuestionnaireResponse/{id}",
        web::get().to(fhir::api::questionnaire_response),
    )
    .route(
        "/fhir/r4/CarePlan/{id}",
        web::get().to(fhir::api::care_plan),
    )
    .route(
        "/fhir/r4/Appointment/{id}",
        web::get().to(fhir::api::appointment),
    )
    .route("/fhir/r4/{rest:.*}", web::to(fhir::api::not_served))
    .route("/v1/referrals", web::get().to(api::list))
    .route("/v1/referrals/{referral_id}", web::get().to(api::get))
    .route(
        "/v1/referrals/{referral_id}/cancel",
        web::post().to(api::cancel),
    )
    .route(
        "/v1/referrals/{referral_id}/rebook",
        web::post().to(rebook::rebook),
    )
    .route(
        "/v1/referrals/{referral_id}/medical-clearance",
        web::post().to(screening::clearance::record),
    )
    .service(
        web::resource("/v1/referrals/{referral_id}/guidance")
            .route(web::post().to(guidance::api::share))
            .route(web::get().to(guidance::api::history)),
    )
    .route(
        "/v1/referrals/{referral_id}/guidance/check",
        web::post().to(training::check_api::check),
    )
    .service(
        web::resource("/v1/referrals/{referral_id}/sessions")
            .route(web::post().to(training::sessions_api::log))
            .route(web::get().to(training::sessions_api::list)),
    )
    .route(
        "/v1/referrals/{referral_id}/sessions/{session_id}",
        web::patch().to(training::sessions_api::pain_after),
    )
    .service(
        web::resource("/v1/referrals/{referral_id}/measures")
            .route(web::post().to(training::measures_api::record))
            .route(web::get().to(training::measures_api::list)),
    )
    .route(
        "/v1/referrals/{referral_id}/progress.csv",
        web::get().to(training::export_api::export),
    )
    .route(
        "/v1/referrals/{referral_id}/adherence",
        web::get().to(training::adherence_api::get),
    )
    .route(
        "/v1/referrals/{referral_id}/guidance/acknowledge",
        web::post().to(guidance::api::acknowledge),
    )
    .route(
        "/admin/v1/clinics/{clinic_id}/referrals",
        web::get().to(clinic_view::list),
    )
    .route("/admin/v1/audit-log", web::get().to(audit::list))
    .route("/v1/vocabulary", web::get().to(vocabulary_api::get))
    .route(
        "/v1/triage/questionnaire",
        web::get().to(screening::questionnaire_api::current),
    )
    .route(
        "/v1/triage/questionnaire/{version}",
        web::get().to(screening::questionnaire_api::by_version),
    );
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    foundations.settings.deadlines.check()?;
    let care = CareDeadlines::new(foundations.settings.deadlines);
    let consume = foundations.consumer(consumer::spec(care));
    foundations.settings.quotas.check()?;
    let quotas = web::Data::new(foundations.settings.quotas);
    let (fire_deadlines, deadline_metrics) = deadlines::worker(
        "referral",
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
        care,
    )?;
    Ok(ServiceModule {
        name: "referral",
        owns_path,
        configure: Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(quotas.clone());
            cfg.app_data(web::Data::new(care));
            configure(cfg);
        }),
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks: vec![consume, fire_deadlines],
        collectors: deadline_metrics.collectors(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_its_paths_and_only_those() {
        assert!(owns_path("/v1/trainers/me"));
        assert!(owns_path("/v1/referrals/abc/guidance"));
        assert!(owns_path("/admin/v1/clinics/123/referrals"));
        assert!(owns_path("/admin/v1/dead-letters/referral"));
        assert!(owns_path("/v1/vocabulary"));
        assert!(owns_path("/v1/triage/questionnaire/1"));
        assert!(!owns_path("/admin/v1/clinics/123"));
        assert!(!owns_path("/admin/v1/clinics/123/appointments"));
        assert!(!owns_path("/v1/trainersx"));
        assert!(!owns_path("/admin/v1/dead-letters/booking"));
    }
}
