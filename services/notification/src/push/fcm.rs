//! Firebase Cloud Messaging, HTTP v1. Requests carry an OAuth2 access token
//! that Google's token endpoint gives in exchange for a JWT assertion signed
//! (RS256) with the service account's key; the token is kept until shortly
//! before it expires, and shared by every send.

use super::{Answer, Failure, HttpProvider, PushMessage, Reply, Transport, Verdict, is_transient};
use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spotter_platform::settings::FcmSettings;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Renew this long before the token's stated expiry (clock skew, slow sends).
const RENEW_EARLY: Duration = Duration::from_secs(60);

/// The fields of a Google service-account key file that this needs.
#[derive(Deserialize)]
struct ServiceAccountKey {
    project_id: String,
    client_email: String,
    private_key: SecretString,
    token_uri: String,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

struct AccessToken {
    value: SecretString,
    renew_at: Instant,
}

pub struct Fcm {
    client: reqwest::Client,
    send_url: String,
    client_email: String,
    token_uri: String,
    signing_key: EncodingKey,
    token: Mutex<Option<AccessToken>>,
}

impl Fcm {
    pub fn from_settings(settings: &FcmSettings, transport: &Transport) -> anyhow::Result<Self> {
        let path = &settings.service_account_file;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the FCM service-account key {path}"))?;
        let key: ServiceAccountKey = serde_json::from_str(&text)
            .with_context(|| format!("{path} is not a Google service-account key"))?;
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .with_context(|| format!("the private_key in {path} is not an RSA key"))?;
        transport.url("push.fcm.endpoint", &settings.endpoint)?;
        transport.url(&format!("token_uri in {path}"), &key.token_uri)?;
        Ok(Self {
            client: transport.client().build()?,
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                settings.endpoint.trim_end_matches('/'),
                key.project_id
            ),
            client_email: key.client_email,
            token_uri: key.token_uri,
            signing_key,
            token: Mutex::new(None),
        })
    }

    /// The cached access token, or a new one. The lock is held while
    /// fetching, so concurrent sends ask the endpoint once.
    async fn access_token(&self) -> Result<SecretString, Answer> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<AccessToken, Answer> {
        let now = chrono::Utc::now().timestamp();
        let claims = Assertion {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.signing_key)
                .map_err(|e| Answer::unreachable(format!("signing the token request: {e}")))?;
        let asked_at = Instant::now();
        let response = self
            .client
            .post(&self.token_uri)
            .form(&[
                ("grant_type", JWT_BEARER),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| Answer::transport("token endpoint", e))?;
        if !response.status().is_success() {
            // A refused assertion (wrong key, revoked account) is worth
            // retrying: the operator may fix the configuration meanwhile.
            let reply = Reply::read(response).await;
            let error = reply.body["error"].as_str().unwrap_or("no error code");
            return Err(Answer {
                verdict: Verdict::Retry {
                    after: reply.retry_after,
                },
                http_status: Some(reply.status.as_u16()),
                reason: Some(format!("token endpoint: {error}")),
            });
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| Answer::transport("token endpoint answer", e))?;
        let lifetime = Duration::from_secs(token.expires_in).saturating_sub(RENEW_EARLY);
        Ok(AccessToken {
            value: token.access_token,
            renew_at: asked_at + lifetime,
        })
    }

    fn payload(device_token: &str, message: &PushMessage) -> Value {
        json!({
            "message": {
                "token": device_token,
                "notification": {"title": message.title, "body": message.body},
                "data": message.data,
                "android": {
                    "collapse_key": message.collapse_key,
                    "priority": if message.urgent { "HIGH" } else { "NORMAL" },
                    "notification": {"tag": message.collapse_key},
                },
            }
        })
    }
}

impl HttpProvider for Fcm {
    const NAME: &'static str = "fcm";

    async fn post(
        &self,
        device_token: &str,
        message: &PushMessage,
    ) -> Result<(Reply, String), Answer> {
        let token = self.access_token().await?;
        let response = self
            .client
            .post(&self.send_url)
            .bearer_auth(token.expose_secret())
            .json(&Self::payload(device_token, message))
            .send()
            .await
            .map_err(|e| Answer::transport("messages:send", e))?;
        Ok((
            Reply::read(response).await,
            token.expose_secret().to_owned(),
        ))
    }

    fn is_stale(reply: &Reply) -> bool {
        reply.status == StatusCode::UNAUTHORIZED
    }

    async fn forget_credentials(&self, used: &str) {
        let mut cached = self.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == used)
        {
            *cached = None;
        }
    }

    /// UNREGISTERED (FCM's 404): the app is gone from that phone. 429, 5xx,
    /// a still-refused token, and anything that is not FCM's own error body (a
    /// wrong endpoint, a proxy) are passing: the device is kept. Anything
    /// else will not change.
    fn classify(reply: &Reply) -> (Failure, String) {
        let error = &reply.body["error"];
        let fcm_code = error["details"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["@type"] == FCM_ERROR_TYPE)
            .and_then(|d| d["errorCode"].as_str());
        let code = fcm_code
            .or_else(|| error["status"].as_str())
            .unwrap_or("not an FCM error body")
            .to_owned();
        let failure = match fcm_code {
            Some("UNREGISTERED") => Failure::DeviceGone,
            _ if is_transient(reply.status) || reply.status == StatusCode::UNAUTHORIZED => {
                Failure::Transient
            }
            None if error["status"].as_str().is_none() => Failure::Transient,
            _ => Failure::Refused,
        };
        (failure, code)
    }
}
