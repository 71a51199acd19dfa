//! Every path the booking service serves, in one tree.

use crate::{clinics, openapi};
use actix_web::web;
use spotter_platform::ServiceModule;
use spotter_service::Foundations;
use std::sync::Arc;

/// The paths a gateway (or the dev stack) sends to this service.
/// `/admin/v1/clinics/{id}/referrals` is the referral service's and is
/// matched there first; everything else under clinics is ours.
pub fn owns_path(path: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "/v1/appointments",
        "/admin/v1/clinics",
        "/admin/v1/physios",
        "/admin/v1/dead-letters/booking",
    ];
    PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let pool = web::Data::new(foundations.pool.clone());
    let verifier = web::Data::new(foundations.verifier.clone());
    let configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(pool.clone())
            .app_data(verifier.clone())
            .route("/admin/v1/clinics", web::post().to(clinics::create))
            .route("/admin/v1/clinics/{clinic_id}", web::get().to(clinics::get));
    });
    Ok(ServiceModule {
        name: "booking",
        owns_path,
        configure,
        readiness: vec![
            Arc::new(spotter_db::DbReadiness {
                name: "booking.database".to_owned(),
                pool: foundations.pool.clone(),
            }),
            foundations.broker.readiness("booking.broker"),
        ],
        openapi: openapi::document(),
        tasks: vec![foundations.outbox_relay()],
    })
}
