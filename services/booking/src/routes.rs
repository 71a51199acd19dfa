//! Every path the booking service serves, in one tree.

use crate::{clinics, openapi};
use actix_web::web;
use spotter_platform::ServiceModule;
use spotter_platform::http::under_any;
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
    under_any(path, &PREFIXES)
}

pub fn module(_foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.route("/admin/v1/clinics", web::post().to(clinics::create))
            .route("/admin/v1/clinics/{clinic_id}", web::get().to(clinics::get));
    });
    Ok(ServiceModule {
        name: "booking",
        owns_path,
        configure,
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks: Vec::new(),
    })
}
