//! A running dev stack's HTTP API as the app calls it, for `spotter demo` and
//! `spotter bench`: dev tokens signed with the dev key pair (as `spotter
//! token` mints them), JSON in and out.

use anyhow::{Context, bail};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use spotter_auth::{Role, SigningKey, dev_token, ensure_dev_keys};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Tokens outlive the longest run several times over.
const TOKEN_TTL: Duration = Duration::from_secs(4 * 3600);

/// Cheap to clone: every flag task holds one.
#[derive(Clone)]
pub struct Api {
    http: Client,
    url: Arc<str>,
    key: Arc<SigningKey>,
}

impl Api {
    pub fn new(url: &str, keys_dir: &Path) -> anyhow::Result<Self> {
        let keys = ensure_dev_keys(keys_dir)?;
        let http = Client::builder()
            // A request stuck longer than this is a failure worth counting, not a hang.
            .timeout(Duration::from_secs(60))
            // Thousands of flags in a burst: keep connections instead of reopening them.
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').into(),
            key: Arc::new(keys.key),
        })
    }

    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> anyhow::Result<String> {
        dev_token(&self.key, role, sub, clinic, TOKEN_TTL)
    }

    /// The stack must be up and ready before anything is timed.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.url);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("is the stack running at {}?", self.url))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        // 200 "degraded" is a stack whose broker is away: nothing would be booked.
        let ready =
            serde_json::from_str::<Value>(&body).is_ok_and(|answer| answer["status"] == "ready");
        if !status.is_success() || !ready {
            bail!("{url} answered {status}: {body}");
        }
        Ok(())
    }

    /// One call; a POST gets a fresh Idempotency-Key, as the app sends one.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if method == Method::POST {
            request = request.header("Idempotency-Key", format!("bench-{}", Uuid::new_v4()));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("is the stack running at {}?", self.url))?;
        let status = response.status();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A call that must succeed; its body.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method.clone(), path, token, body).await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }
}

/// The `id` of a created resource.
pub fn id_of(created: &Value) -> anyhow::Result<Uuid> {
    created["id"]
        .as_str()
        .with_context(|| format!("no id in {created}"))?
        .parse()
        .context("id is not a UUID")
}
