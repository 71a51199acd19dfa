//! Every path the referral service serves, in one tree.

use crate::{openapi, trainers};
use actix_web::web;
use spotter_platform::ServiceModule;
use spotter_service::Foundations;
use std::sync::Arc;

/// The paths a gateway (or the dev stack) sends to this service.
pub fn owns_path(path: &str) -> bool {
    const PREFIXES: [&str; 6] = [
        "/v1/trainers",
        "/v1/clients",
        "/v1/injury-reports",
        "/v1/referrals",
        "/admin/v1/dead-letters/referral",
        "/admin/v1/audit-log",
    ];
    PREFIXES.iter().any(|p| has_prefix(path, p)) || is_clinic_referrals(path)
}

/// `/admin/v1/clinics/{id}/referrals` is ours; the rest of `/admin/v1/clinics` is booking's.
fn is_clinic_referrals(path: &str) -> bool {
    let mut parts = path.trim_end_matches('/').split('/');
    matches!(
        (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next()
        ),
        (
            Some(""),
            Some("admin"),
            Some("v1"),
            Some("clinics"),
            Some(_),
            Some("referrals"),
            None
        )
    )
}

fn has_prefix(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let pool = web::Data::new(foundations.pool.clone());
    let verifier = web::Data::new(foundations.verifier.clone());
    let configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(pool.clone())
            .app_data(verifier.clone())
            .service(
                web::resource("/v1/trainers/me")
                    .route(web::get().to(trainers::get_me))
                    .route(web::put().to(trainers::put_me)),
            );
    });
    Ok(ServiceModule {
        name: "referral",
        owns_path,
        configure,
        readiness: vec![
            Arc::new(spotter_db::DbReadiness {
                name: "referral.database".to_owned(),
                pool: foundations.pool.clone(),
            }),
            foundations.broker.readiness("referral.broker"),
        ],
        openapi: openapi::document(),
        tasks: vec![foundations.outbox_relay()],
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
        assert!(!owns_path("/admin/v1/clinics/123"));
        assert!(!owns_path("/admin/v1/clinics/123/appointments"));
        assert!(!owns_path("/v1/trainersx"));
        assert!(!owns_path("/admin/v1/dead-letters/booking"));
    }
}
