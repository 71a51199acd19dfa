//! The trusted keys: which JWKS entries we accept, where they come from, and
//! when we go back for more.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};

use crate::DEV_KID_PREFIX;
use crate::settings::{JwksSource, RefreshBounds, checked_url};

/// An unknown `kid` triggers at most one refetch per this interval, so a flood
/// of tokens with made-up kids cannot turn us into a load generator against the IdP.
pub(crate) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// A JWKS is a handful of keys; anything bigger is a misconfiguration or an attack.
const MAX_JWKS_BYTES: usize = 1 << 20;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type KeyMap = HashMap<String, DecodingKey>;

pub(crate) fn is_dev_kid(kid: &str) -> bool {
    kid.starts_with(DEV_KID_PREFIX)
}

/// The kids in `set` that belong to dev-stack keys.
pub(crate) fn dev_kids(set: &JwkSet) -> Vec<&str> {
    set.keys
        .iter()
        .filter_map(|jwk| jwk.common.key_id.as_deref())
        .filter(|kid| is_dev_kid(kid))
        .collect()
}

/// The keys of `set` we can verify ES256 tokens with, by kid. Everything else
/// is skipped with a warning rather than failing the whole set: an IdP may
/// publish encryption or RSA keys next to ours.
pub(crate) fn usable_keys(set: &JwkSet, allow_dev: bool) -> KeyMap {
    let mut keys = KeyMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.as_deref() else {
            tracing::warn!("skipping JWKS key without a kid: tokens pick keys by kid");
            continue;
        };
        if !allow_dev && is_dev_kid(kid) {
            tracing::warn!(kid, "skipping dev-stack key: not accepted in production");
            continue;
        }
        match es256_key(jwk) {
            Ok(_) if keys.contains_key(kid) => {
                tracing::warn!(kid, "skipping JWKS key with a duplicate kid");
            }
            Ok(key) => {
                keys.insert(kid.to_owned(), key);
            }
            Err(reason) => tracing::warn!(kid, reason, "skipping JWKS key"),
        }
    }
    keys
}

/// An EC P-256 signing key (alg ES256 or unspecified), checked to be a real
/// point on the curve so a broken key fails here, at load, not per request.
fn es256_key(jwk: &Jwk) -> Result<DecodingKey, &'static str> {
    match jwk.common.key_algorithm {
        None | Some(KeyAlgorithm::ES256) => {}
        Some(_) => return Err("alg is not ES256"),
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err("use is not sig");
    }
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        return Err("not an EC key");
    };
    if ec.curve != EllipticCurve::P256 {
        return Err("curve is not P-256");
    }
    let coordinate = |b64: &str| match URL_SAFE_NO_PAD.decode(b64) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err("x/y are not 32-byte base64url values"),
    };
    let mut point = Vec::with_capacity(65);
    point.push(0x04); // SEC1 uncompressed point
    point.extend(coordinate(&ec.x)?);
    point.extend(coordinate(&ec.y)?);
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .map_err(|_| "not a valid P-256 public key")?;
    // jsonwebtoken's ES256 verifier takes the raw uncompressed point, exactly
    // what its own `from_ec_components` builds.
    Ok(DecodingKey::from_ec_der(&point))
}

/// Parses a JWKS leniently per key: one odd entry (say `"kid": 5`) is skipped
/// instead of taking every other key down with it.
pub(crate) fn parse_jwks(bytes: &[u8]) -> anyhow::Result<JwkSet> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet =
        serde_json::from_slice(bytes).context("JWKS is not a {\"keys\": [...]} document")?;
    let keys = raw
        .keys
        .into_iter()
        .filter_map(|value| match serde_json::from_value::<Jwk>(value) {
            Ok(jwk) => Some(jwk),
            Err(err) => {
                tracing::warn!(error = %err, "skipping unreadable JWKS entry");
                None
            }
        })
        .collect();
    Ok(JwkSet { keys })
}

/// Where fresh keys come from.
pub(crate) enum Fetcher {
    /// Keys handed over in code (tests): nothing to refetch.
    Fixed,
    File(PathBuf),
    Url {
        client: reqwest::Client,
        url: reqwest::Url,
    },
}

impl Fetcher {
    pub(crate) fn for_source(source: &JwksSource) -> anyhow::Result<Self> {
        match source {
            JwksSource::File(path) => Ok(Self::File(path.clone())),
            JwksSource::Url(url) => {
                let url = checked_url(url)?;
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    // A redirect could lead to plain HTTP or somewhere else entirely.
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("spotter-auth/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .context("building the JWKS HTTP client")?;
                Ok(Self::Url { client, url })
            }
        }
    }

    /// The current JWKS (`None` for fixed keys) and how long its source says
    /// it stays fresh (`Cache-Control: max-age`; files say nothing).
    pub(crate) async fn fetch(&self) -> anyhow::Result<Option<(JwkSet, Option<Duration>)>> {
        let (bytes, max_age) = match self {
            Self::Fixed => return Ok(None),
            Self::File(path) => {
                let bytes = tokio::fs::read(path)
                    .await
                    .with_context(|| format!("reading JWKS file {}", path.display()))?;
                if bytes.len() > MAX_JWKS_BYTES {
                    bail!("JWKS file {} is too large", path.display());
                }
                (bytes, None)
            }
            Self::Url { client, url } => fetch_url(client, url)
                .await
                .with_context(|| format!("fetching JWKS from {url}"))?,
        };
        Ok(Some((parse_jwks(&bytes)?, max_age)))
    }
}

/// `max-age` from a `Cache-Control` header (`no-store`/`no-cache`: zero).
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        let (name, seconds) = directive.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| seconds.trim().trim_matches('"').parse().ok())
            .flatten()
            .map(Duration::from_secs)
    })
}

async fn fetch_url(
    client: &reqwest::Client,
    url: &reqwest::Url,
) -> anyhow::Result<(Vec<u8>, Option<Duration>)> {
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?
        .error_for_status()?;
    let max_age = max_age(response.headers());
    if response
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        bail!("JWKS response is too large");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            bail!("JWKS response is too large");
        }
    }
    Ok((body, max_age))
}

/// The keys in use plus the machinery to refresh them on an unknown kid.
pub(crate) struct KeyStore {
    fetcher: Fetcher,
    allow_dev: bool,
    /// Swapped wholesale on refresh; readers clone one key and let go at once.
    keys: RwLock<Arc<KeyMap>>,
    /// When we last went to the source. The async mutex also makes concurrent
    /// unknown-kid requests queue behind one fetch instead of each starting one.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyStore {
    /// `keys` come from the initial load, which deliberately does not count
    /// towards the rate limit: a rotation just after start is picked up at once.
    pub(crate) fn new(fetcher: Fetcher, keys: KeyMap, allow_dev: bool) -> Self {
        Self {
            fetcher,
            allow_dev,
            keys: RwLock::new(Arc::new(keys)),
            last_refresh: tokio::sync::Mutex::new(None),
        }
    }

    fn get(&self, kid: &str) -> Option<DecodingKey> {
        // A poisoned lock only means a writer panicked mid-swap of an Arc; the
        // map inside is still whole.
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(kid).cloned()
    }

    fn replace(&self, keys: KeyMap) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }

    /// The key for `kid`, refetching the JWKS (rate-limited) if we do not know it.
    pub(crate) async fn find(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        if matches!(self.fetcher, Fetcher::Fixed) {
            return None;
        }
        let mut last = self.last_refresh.lock().await;
        // Someone else may have refreshed while we waited for the lock.
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL) {
            tracing::debug!(kid, "unknown kid; JWKS refreshed recently, not refetching");
            return None;
        }
        // Failed fetches count too, or an IdP outage would be hammered.
        *last = Some(Instant::now());
        let _logged = self.reload().await;
        self.get(kid)
    }

    /// Fetches the key set and trusts exactly its usable keys from now on (a
    /// key the source withdrew is dropped); returns the source's `max-age`,
    /// or `Err` if it could not be fetched. On failure, or a set with no
    /// usable key, the keys stay as they were: an outage of the identity
    /// provider must not lock everyone out.
    async fn reload(&self) -> Result<Option<Duration>, ()> {
        match self.fetcher.fetch().await {
            Ok(Some((set, max_age))) => {
                let keys = usable_keys(&set, self.allow_dev);
                if keys.is_empty() {
                    tracing::warn!("refreshed JWKS has no usable keys; keeping the previous ones");
                } else {
                    tracing::debug!(count = keys.len(), "JWKS refreshed");
                    self.replace(keys);
                }
                Ok(max_age)
            }
            Ok(None) => Ok(None),
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "JWKS refresh failed");
                Err(())
            }
        }
    }

    /// Whether there is a source to go back to (not keys fixed in code).
    pub(crate) fn refreshes(&self) -> bool {
        !matches!(self.fetcher, Fetcher::Fixed)
    }

    /// The periodic refresh: one reload, then when the next is due. After
    /// a failed fetch, the shortest wait rather than the longest, so a key
    /// withdrawn during an outage of the identity provider is dropped soon
    /// after it is back.
    pub(crate) async fn scheduled_reload(&self, bounds: &RefreshBounds) -> Duration {
        let reloaded = self.reload().await;
        *self.last_refresh.lock().await = Some(Instant::now());
        match reloaded {
            Ok(max_age) => bounds.next_after(max_age),
            Err(()) => bounds.min,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::{CACHE_CONTROL, HeaderMap, HeaderValue};

    fn cache_control(value: &'static str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
        max_age(&headers)
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            cache_control("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            cache_control("MAX-AGE=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(cache_control("no-store"), Some(Duration::ZERO));
        assert_eq!(cache_control("public"), None);
        assert_eq!(cache_control("max-age=soon"), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }
}
