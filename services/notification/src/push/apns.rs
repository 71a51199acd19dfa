//! Apple Push Notification service, token-based: every request carries a
//! provider JWT (ES256, signed with the team's `.p8` key). Apple refuses a
//! token older than an hour and throttles renewing more often than every 20
//! minutes, so one is kept for 50 minutes. APNs speaks only HTTP/2.

use super::{Answer, Failure, HttpProvider, PushMessage, Reply, Transport, is_transient};
use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};
use spotter_platform::settings::ApnsSettings;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);
/// How long APNs keeps trying a phone that is off: a push older than a day
/// (a reminder for an appointment already past) is noise.
const EXPIRE_AFTER: chrono::Duration = chrono::Duration::days(1);

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: i64,
}

struct ProviderToken {
    value: String,
    made_at: Instant,
}

pub struct Apns {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    topic: String,
    key_id: String,
    team_id: String,
    signing_key: EncodingKey,
    token: Mutex<Option<ProviderToken>>,
}

impl Apns {
    pub fn from_settings(settings: &ApnsSettings, transport: &Transport) -> anyhow::Result<Self> {
        let path = &settings.key_file;
        let pem = std::fs::read(path).with_context(|| format!("reading the APNs key {path}"))?;
        let signing_key = EncodingKey::from_ec_pem(&pem)
            .with_context(|| format!("{path} is not an APNs .p8 (PKCS#8 P-256) key"))?;
        let endpoint = transport.url("push.apns.endpoint", &settings.endpoint)?;
        let mut client = transport.client();
        if endpoint.scheme() == "http" {
            // Plain-text HTTP/2 (a local fake); over TLS, ALPN picks HTTP/2.
            client = client.http2_prior_knowledge();
        }
        Ok(Self {
            client: client.build()?,
            endpoint,
            topic: settings.topic.clone(),
            key_id: settings.key_id.clone(),
            team_id: settings.team_id.clone(),
            signing_key,
            token: Mutex::new(None),
        })
    }

    fn provider_token(&self) -> Result<String, Answer> {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = cached
            .as_ref()
            .filter(|t| t.made_at.elapsed() < TOKEN_LIFETIME)
        {
            return Ok(token.value.clone());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: &self.team_id,
            iat: chrono::Utc::now().timestamp(),
        };
        let value = jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(|e| Answer::unreachable(format!("signing the provider token: {e}")))?;
        *cached = Some(ProviderToken {
            value: value.clone(),
            made_at: Instant::now(),
        });
        Ok(value)
    }

    fn payload(message: &PushMessage) -> Value {
        let mut payload = Map::new();
        payload.insert(
            "aps".into(),
            json!({
                "alert": {"title": message.title, "body": message.body},
                "sound": "default",
                "thread-id": message.collapse_key,
            }),
        );
        for (key, value) in &message.data {
            payload.insert(key.clone(), Value::String(value.clone()));
        }
        Value::Object(payload)
    }
}

impl HttpProvider for Apns {
    const NAME: &'static str = "apns";

    async fn post(
        &self,
        device_token: &str,
        message: &PushMessage,
    ) -> Result<(Reply, String), Answer> {
        let token = self.provider_token()?;
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| Answer::unreachable("push.apns.endpoint cannot take a path"))?
            .pop_if_empty()
            .extend(["3", "device", device_token]);
        let expires = (chrono::Utc::now() + EXPIRE_AFTER).timestamp();
        let response = self
            .client
            .post(url)
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", if message.urgent { "10" } else { "5" })
            .header("apns-collapse-id", &message.collapse_key)
            .header("apns-expiration", expires.to_string())
            .json(&Self::payload(message))
            .send()
            .await
            .map_err(|e| Answer::transport("APNs", e))?;
        Ok((Reply::read(response).await, token))
    }

    /// Only an expired token is renewed: Apple throttles renewals
    /// (TooManyProviderTokenUpdates), and a refused key stays refused.
    fn is_stale(reply: &Reply) -> bool {
        reply.status == StatusCode::FORBIDDEN && reply.body["reason"] == "ExpiredProviderToken"
    }

    async fn forget_credentials(&self, used: &str) {
        let mut cached = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if cached.as_ref().is_some_and(|t| t.value == used) {
            *cached = None;
        }
    }

    /// 410 Unregistered: the app is gone from that phone. 429, 5xx and a
    /// refused provider token (a key to fix) are passing. A token APNs calls
    /// bad for this topic is refused but the device kept: that is also what
    /// a wrong `topic` or a sandbox/production mix-up looks like.
    fn classify(reply: &Reply) -> (Failure, String) {
        let reason = reply.body["reason"]
            .as_str()
            .unwrap_or("no reason given")
            .to_owned();
        let failure = if reply.status == StatusCode::GONE || reason == "Unregistered" {
            Failure::DeviceGone
        } else if is_transient(reply.status) || reply.status == StatusCode::FORBIDDEN {
            Failure::Transient
        } else {
            Failure::Refused
        };
        (failure, reason)
    }
}
