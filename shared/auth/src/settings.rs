//! Where the verifier gets its keys and which tokens it expects.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Deserializer};

use crate::DEFAULT_AUDIENCE;

/// Where the JWKS lives. In configuration it is one string: `https://…` (or
/// `http://` to a loopback host) is a URL, anything else a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

impl JwksSource {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            bail!("JWKS location is empty");
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            checked_url(s)?;
            Ok(Self::Url(s.to_owned()))
        } else if lower.contains("://") {
            // `ftp://`, `file://`…: almost certainly a mistake, not a file name.
            bail!("JWKS URL must use https://");
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

/// A JWKS URL we are willing to fetch: HTTPS, or plain HTTP to this machine
/// (tests, a local IdP). Keys fetched over plain HTTP from elsewhere could be
/// swapped by anyone on the path, which would let them mint any token.
pub(crate) fn checked_url(s: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(s).with_context(|| format!("invalid JWKS URL `{s}`"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) => Ok(url),
        "http" => bail!("JWKS URL must use https:// (http:// is only allowed for localhost)"),
        other => bail!("JWKS URL scheme `{other}` not supported"),
    }
}

impl fmt::Display for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url(url) => f.write_str(url),
        }
    }
}

impl<'de> Deserialize<'de> for JwksSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthSettings {
    /// The exact `iss` tokens must carry.
    pub issuer: String,
    /// The `aud` tokens must name.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Required by [`crate::JwtVerifier::from_settings`]; optional here so a
    /// config file can leave it out and the dev stack fill it in.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub jwks: Option<JwksSource>,
    /// Accept dev-stack keys and issuer. Never on in production.
    #[serde(default)]
    pub dev_mode: bool,
    /// How often the key set is fetched again (see [`RefreshBounds`]); the
    /// defaults in production, shorter bounds in tests.
    #[serde(skip)]
    pub refresh: RefreshBounds,
}

/// The key set is fetched again after the identity provider's
/// `Cache-Control: max-age`, held between `min` and `max` (without one:
/// `max`), so a key it withdraws stops being trusted within `max` at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshBounds {
    pub min: std::time::Duration,
    pub max: std::time::Duration,
}

impl Default for RefreshBounds {
    fn default() -> Self {
        Self {
            min: std::time::Duration::from_secs(60),
            max: std::time::Duration::from_secs(3600),
        }
    }
}

impl RefreshBounds {
    /// When to fetch again, given the source's `max-age` if it sent one.
    pub fn next_after(&self, max_age: Option<std::time::Duration>) -> std::time::Duration {
        max_age
            .unwrap_or(self.max)
            .clamp(self.min, self.max.max(self.min))
    }
}

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}

/// An empty environment variable (`SPOTTER_AUTH__JWKS=`) means "not set".
fn empty_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<JwksSource>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => JwksSource::parse(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{e:#}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_refresh_follows_max_age_between_a_minute_and_an_hour() {
        use std::time::Duration;
        let bounds = RefreshBounds::default();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(bounds.next_after(Some(minutes(10))), minutes(10));
        assert_eq!(
            bounds.next_after(Some(Duration::ZERO)),
            minutes(1),
            "no fetch loop"
        );
        assert_eq!(bounds.next_after(Some(minutes(24 * 60))), minutes(60));
        assert_eq!(bounds.next_after(None), minutes(60));
    }

    #[test]
    fn parses_urls_and_paths() {
        assert_eq!(
            JwksSource::parse("https://idp.example.com/jwks.json").unwrap(),
            JwksSource::Url("https://idp.example.com/jwks.json".into())
        );
        assert!(matches!(
            JwksSource::parse("http://127.0.0.1:8080/jwks").unwrap(),
            JwksSource::Url(_)
        ));
        assert!(matches!(
            JwksSource::parse("http://localhost/jwks").unwrap(),
            JwksSource::Url(_)
        ));
        assert_eq!(
            JwksSource::parse("./dev/jwks.json").unwrap(),
            JwksSource::File("./dev/jwks.json".into())
        );
        assert!(JwksSource::parse("http://idp.example.com/jwks").is_err());
        assert!(JwksSource::parse("http://127.0.0.1.evil.com/jwks").is_err());
        assert!(JwksSource::parse("ftp://idp.example.com/jwks").is_err());
        assert!(JwksSource::parse("  ").is_err());
    }

    #[test]
    fn settings_deserialize_from_strings() {
        let s: AuthSettings = serde_json::from_value(serde_json::json!({
            "issuer": "https://idp.example.com/",
            "jwks": "https://idp.example.com/jwks.json"
        }))
        .unwrap();
        assert_eq!(s.audience, DEFAULT_AUDIENCE);
        assert!(!s.dev_mode);
        assert!(matches!(s.jwks, Some(JwksSource::Url(_))));

        let s: AuthSettings =
            serde_json::from_value(serde_json::json!({"issuer": "x", "jwks": ""})).unwrap();
        assert_eq!(s.jwks, None);

        let bad = serde_json::from_value::<AuthSettings>(
            serde_json::json!({"issuer": "x", "jwks": "http://evil.example.com/jwks"}),
        );
        assert!(bad.is_err());
    }
}
