//! `/livez` says the process is up; `/readyz` says it can do its job (database and
//! broker reachable). Orchestrators stop routing traffic on 503 and resume on 200.

use actix_web::{HttpResponse, http::header, web};
use futures_util::future::{BoxFuture, join_all};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// One dependency the service cannot work without.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// Shown in the `/readyz` body, e.g. `referral.database`.
    fn name(&self) -> String;
    /// `Err(reason)` while the dependency is unusable. The reason goes to the
    /// log only; `/readyz` says which dependency is down, never why (its error
    /// text can name hosts, users and versions).
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
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
    pub async fn report(&self) -> Vec<(String, Result<(), String>)> {
        let runs = self.checks.iter().map(|check| async move {
            let outcome = tokio::time::timeout(Duration::from_secs(2), check.check())
                .await
                .unwrap_or_else(|_| Err("check timed out after 2s".to_owned()));
            (check.name(), outcome)
        });
        join_all(runs).await
    }
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let report = readiness.report().await;
    let mut checks = Map::new();
    let mut down = Vec::new();
    for (name, outcome) in report {
        match outcome {
            Ok(()) => {
                checks.insert(name, Value::from("ok"));
            }
            Err(reason) => {
                tracing::warn!(dependency = %name, %reason, "not ready");
                checks.insert(name.clone(), Value::from("down"));
                down.push(name);
            }
        }
    }
    if down.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
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
