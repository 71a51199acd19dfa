//! `/livez` says the process is up; `/readyz` says whether it can serve.
//! Orchestrators stop routing traffic on 503 and resume on 200, so only what
//! a replica cannot serve without (its database) answers 503. A broker outage
//! is `degraded` (200): the outbox holds what is written until the broker is
//! back, and taking every replica out of every Service at once would turn a
//! broker outage into a full one (docs/architecture.md, "Operations").

use actix_web::{HttpResponse, http::header, web};
use futures_util::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;

/// One dependency the service cannot work without.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// Shown in the `/readyz` body, e.g. `referral.database`.
    fn name(&self) -> String;
    /// `Err(reason)` while the dependency is unusable. The reason goes to the
    /// log only; `/readyz` says which dependency is down, never why (its error
    /// text can name hosts, users and versions).
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Whether the replica cannot serve while this is down (503), or only
    /// serves less (`degraded`, 200).
    fn required(&self) -> bool {
        true
    }
}

#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<Arc<dyn ReadinessCheck>>,
}

impl Readiness {
    pub fn new(checks: Vec<Arc<dyn ReadinessCheck>>) -> Self {
        Self { checks }
    }

    /// Every check, run concurrently, each bounded so a hung dependency reads as down.
    pub async fn report(&self) -> Vec<Checked> {
        let runs = self.checks.iter().map(|check| async move {
            let outcome = tokio::time::timeout(Duration::from_secs(2), check.check())
                .await
                .unwrap_or_else(|_| Err("check timed out after 2s".to_owned()));
            Checked {
                name: check.name(),
                required: check.required(),
                outcome,
            }
        });
        join_all(runs).await
    }
}

/// One check's result.
pub struct Checked {
    pub name: String,
    pub required: bool,
    pub outcome: Result<(), String>,
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(readiness: web::Data<Readiness>, metrics: web::Data<Metrics>) -> HttpResponse {
    let report = readiness.report().await;
    let mut checks = Map::new();
    let mut down = Vec::new();
    let mut degraded = Vec::new();
    for Checked {
        name,
        required,
        outcome,
    } in report
    {
        metrics.record_check(&name, outcome.is_ok());
        match outcome {
            Ok(()) => {
                checks.insert(name, Value::from("ok"));
            }
            Err(reason) => {
                tracing::warn!(dependency = %name, %reason, required, "dependency down");
                checks.insert(name.clone(), Value::from("down"));
                if required {
                    down.push(name);
                } else {
                    degraded.push(name);
                }
            }
        }
    }
    if down.is_empty() {
        let status = if degraded.is_empty() {
            "ready"
        } else {
            "degraded"
        };
        HttpResponse::Ok().json(json!({ "status": status, "checks": checks }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::CONTENT_TYPE, crate::problem::PROBLEM_JSON))
            .insert_header((header::RETRY_AFTER, "5"))
            .json(json!({
                "type": "/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": format!("down: {}", down.join(", ")),
                "checks": checks,
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    struct Fixed {
        name: &'static str,
        up: bool,
        required: bool,
    }

    impl ReadinessCheck for Fixed {
        fn name(&self) -> String {
            self.name.to_owned()
        }

        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            let up = self.up;
            Box::pin(async move {
                if up {
                    Ok(())
                } else {
                    Err("host db.internal refused".to_owned())
                }
            })
        }

        fn required(&self) -> bool {
            self.required
        }
    }

    async fn probe(broker_up: bool, database_up: bool) -> (u16, Value, String) {
        let checks: Vec<Arc<dyn ReadinessCheck>> = vec![
            Arc::new(Fixed {
                name: "svc.database",
                up: database_up,
                required: true,
            }),
            Arc::new(Fixed {
                name: "svc.broker",
                up: broker_up,
                required: false,
            }),
        ];
        let metrics = Metrics::new().unwrap();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(Readiness::new(checks)))
                .app_data(web::Data::new(metrics.clone()))
                .route("/readyz", web::get().to(readyz)),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        let status = response.status().as_u16();
        let body: Value = test::read_body_json(response).await;
        (status, body, String::from_utf8(metrics.render()).unwrap())
    }

    #[actix_web::test]
    async fn a_broker_outage_degrades_but_keeps_the_replica_in_service() {
        let (status, body, metrics) = probe(false, true).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["checks"]["svc.broker"], "down");
        assert_eq!(body["checks"]["svc.database"], "ok");
        assert!(metrics.contains(r#"spotter_readiness_check_up{check="svc.broker"} 0"#));
        assert!(metrics.contains(r#"spotter_readiness_check_up{check="svc.database"} 1"#));
    }

    #[actix_web::test]
    async fn a_database_outage_takes_the_replica_out() {
        let (status, body, metrics) = probe(true, false).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["detail"], "down: svc.database");
        // Which dependency, never why: the reason can name hosts.
        assert!(!body.to_string().contains("db.internal"), "{body}");
        assert!(metrics.contains(r#"spotter_readiness_check_up{check="svc.database"} 0"#));
    }

    #[actix_web::test]
    async fn everything_up_is_ready() {
        let (status, body, _) = probe(true, true).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    }
}
