//! Push to phones. A notification for a user becomes one delivery per phone
//! of theirs (unless they turned that kind off), written in the
//! notification's own transaction; in every replica a worker per provider
//! sends what is due and records each attempt. The consumer and the inbox
//! never wait on a provider, and one provider never waits on another: a dead
//! one only leaves its own deliveries pending.
//!
//! Clinic-wide notices are not pushed: clinic admins work from the admin
//! tools, not the phone app.

pub mod apns;
pub mod delivery;
pub mod fcm;
mod message;
mod policy;

pub use message::PushMessage;

use crate::devices::Platform;
use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::Value;
use spotter_platform::settings::PushSettings;
use std::sync::Arc;
use std::time::Duration;

/// What a provider answered, as the delivery queue acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again later; `after` is the provider's `Retry-After`, if it gave one.
    Retry {
        after: Option<Duration>,
    },
    /// The token is dead (app uninstalled, token rotated): forget the device.
    DeviceGone,
    /// The provider will never take this message; trying again is pointless.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub verdict: Verdict,
    pub http_status: Option<u16>,
    /// The provider's reason code, or what went wrong on the way to it.
    /// Never the device token (it is recorded and logged).
    pub reason: Option<String>,
}

impl Answer {
    pub fn delivered(status: u16) -> Self {
        Self {
            verdict: Verdict::Delivered,
            http_status: Some(status),
            reason: None,
        }
    }

    /// The provider could not be reached or answered nonsense: transient.
    pub fn unreachable(what: impl std::fmt::Display) -> Self {
        Self {
            verdict: Verdict::Retry { after: None },
            http_status: None,
            reason: Some(what.to_string()),
        }
    }

    /// A failed call: reqwest names the URL in its errors, and an APNs URL
    /// holds the device token, so the URL is left out.
    fn transport(what: &str, error: reqwest::Error) -> Self {
        Self::unreachable(format!("{what}: {}", error.without_url()))
    }
}

/// One push service (FCM, APNs).
pub trait Provider: Send + Sync {
    /// `fcm` or `apns`, as deliveries record it.
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, device_token: &'a str, message: &'a PushMessage)
    -> BoxFuture<'a, Answer>;
}

/// The providers configured for this process; none means push is off.
#[derive(Clone, Default)]
pub struct Providers {
    fcm: Option<Arc<dyn Provider>>,
    apns: Option<Arc<dyn Provider>>,
}

impl Providers {
    /// Reads the key files now, so a bad configuration stops start-up rather
    /// than every push.
    pub fn from_settings(settings: &PushSettings) -> anyhow::Result<Self> {
        let transport = Transport {
            allow_plain_http: settings.allow_plain_http_for_tests,
        };
        let fcm = match &settings.fcm {
            Some(fcm) => {
                Some(Arc::new(fcm::Fcm::from_settings(fcm, &transport)?) as Arc<dyn Provider>)
            }
            None => None,
        };
        let apns = match &settings.apns {
            Some(apns) => {
                Some(Arc::new(apns::Apns::from_settings(apns, &transport)?) as Arc<dyn Provider>)
            }
            None => None,
        };
        Ok(Self { fcm, apns })
    }

    /// Every configured provider.
    pub fn each(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        [&self.fcm, &self.apns].into_iter().flatten()
    }

    /// The platforms push reaches now: deliveries are only planned for these.
    pub fn platforms(&self) -> Vec<&'static str> {
        let mut platforms = Vec::new();
        if self.fcm.is_some() {
            platforms.push(Platform::Android.as_str());
        }
        if self.apns.is_some() {
            platforms.push(Platform::Ios.as_str());
        }
        platforms
    }
}

/// A provider's answer, read once.
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    /// The JSON body, or null when there was none (or it was not JSON).
    pub body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let retry_after = crate::retry::retry_after(response.headers());
        let body = response.json().await.unwrap_or_default();
        Self {
            status,
            retry_after,
            body,
        }
    }
}

/// What FCM and APNs have in common: a POST with credentials that may go
/// stale, and an error body saying why a push failed.
trait HttpProvider: Send + Sync {
    const NAME: &'static str;

    /// Sends with the current credentials; the reply, and the credential used.
    fn post(
        &self,
        device_token: &str,
        message: &PushMessage,
    ) -> impl Future<Output = Result<(Reply, String), Answer>> + Send;

    /// Whether the reply says the credential used has gone stale.
    fn is_stale(reply: &Reply) -> bool;

    /// Forgets `used` if it is still the current credential: of many sends
    /// refused at once, only the first renews it.
    fn forget_credentials(&self, used: &str) -> impl Future<Output = ()> + Send;

    /// A failed reply: what kind of failure, and the provider's reason code.
    fn classify(reply: &Reply) -> (Failure, String);
}

enum Failure {
    DeviceGone,
    Transient,
    Refused,
}

impl<P: HttpProvider> Provider for P {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn send<'a>(
        &'a self,
        device_token: &'a str,
        message: &'a PushMessage,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(deliver(self, device_token, message))
    }
}

async fn deliver<P: HttpProvider>(
    provider: &P,
    device_token: &str,
    message: &PushMessage,
) -> Answer {
    let (mut reply, used) = match provider.post(device_token, message).await {
        Ok(sent) => sent,
        Err(answer) => return answer,
    };
    if P::is_stale(&reply) {
        // Expired early (or revoked): one try with fresh credentials.
        provider.forget_credentials(&used).await;
        reply = match provider.post(device_token, message).await {
            Ok((reply, _)) => reply,
            Err(answer) => return answer,
        };
    }
    judge::<P>(&reply)
}

fn judge<P: HttpProvider>(reply: &Reply) -> Answer {
    if reply.status.is_success() {
        return Answer::delivered(reply.status.as_u16());
    }
    let (failure, reason) = P::classify(reply);
    let verdict = match failure {
        Failure::DeviceGone => Verdict::DeviceGone,
        Failure::Transient => Verdict::Retry {
            after: reply.retry_after,
        },
        Failure::Refused => Verdict::Refused,
    };
    Answer {
        verdict,
        http_status: Some(reply.status.as_u16()),
        reason: Some(reason),
    }
}

/// How the providers are reached: HTTPS only, unless a test allows its local
/// fakes' plain HTTP.
pub struct Transport {
    allow_plain_http: bool,
}

impl Transport {
    /// `value` (the setting called `setting`) as a URL this transport may call.
    fn url(&self, setting: &str, value: &str) -> anyhow::Result<reqwest::Url> {
        let url = reqwest::Url::parse(value)
            .map_err(|e| anyhow::anyhow!("{setting} ({value}) is not a URL: {e}"))?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_plain_http => Ok(url),
            _ => anyhow::bail!("{setting} ({value}) must be an https:// URL"),
        }
    }

    /// The shared HTTP client settings: a provider that hangs costs one
    /// delivery a few seconds, never the worker; a redirect is an answer, not
    /// an instruction (a redirected push would carry its credentials and the
    /// device token somewhere else).
    fn client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!self.allow_plain_http)
    }
}

/// What 429 and 5xx mean for every provider: busy or broken, try later.
fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}
