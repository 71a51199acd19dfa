//! Turning a bearer token into a [`Caller`], strictly.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, bail};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Validation};

use crate::claims::VerifiedClaims;
use crate::jwks::{Fetcher, KeyStore, dev_kids, is_dev_kid, usable_keys};
use crate::settings::RefreshBounds;
use crate::{AuthError, AuthSettings, Caller, DEV_ISSUER};

/// Clock skew we tolerate on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Real tokens are well under 2 KiB; refuse to parse megabytes of base64.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_KID_LEN: usize = 256;

/// Verifies Spotter bearer tokens. Cheap to clone; put one in `web::Data`.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeyStore,
    validation: Validation,
    dev_mode: bool,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.inner.validation.iss)
            .field("audience", &self.inner.validation.aud)
            .field("dev_mode", &self.inner.dev_mode)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Loads the JWKS named in `settings` (failing if there is none, it cannot
    /// be read, or it has no usable key) and refuses dev keys and the dev
    /// issuer unless `dev_mode` is on.
    pub async fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        let source = settings
            .jwks
            .as_ref()
            .context("auth.jwks is not set: name a JWKS file or an https:// URL")?;
        let fetcher = Fetcher::for_source(source)?;
        let (set, max_age) = fetcher
            .fetch()
            .await?
            .context("JWKS source returned nothing")?;
        let verifier = Self::build(
            set,
            fetcher,
            &settings.issuer,
            &settings.audience,
            settings.dev_mode,
        )
        .with_context(|| format!("JWKS from {source}"))?;
        verifier.keep_keys_fresh(settings.refresh, settings.refresh.next_after(max_age));
        Ok(verifier)
    }

    /// Fetches the key set again and again, as long as any clone of this
    /// verifier lives: rotation is picked up before the first token with a
    /// new kid, and a withdrawn key stops being trusted at the next fetch.
    fn keep_keys_fresh(&self, bounds: RefreshBounds, first: std::time::Duration) {
        if !self.inner.keys.refreshes() {
            return;
        }
        let inner = Arc::downgrade(&self.inner);
        let mut wait = first;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(wait).await;
                let Some(inner) = inner.upgrade() else { return };
                wait = inner.keys.scheduled_reload(&bounds).await;
            }
        });
    }

    /// A verifier over fixed keys (no refresh), for tests and tools.
    pub fn from_jwks(
        jwks: JwkSet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        dev_mode: bool,
    ) -> anyhow::Result<Self> {
        Self::build(
            jwks,
            Fetcher::Fixed,
            &issuer.into(),
            &audience.into(),
            dev_mode,
        )
    }

    fn build(
        set: JwkSet,
        fetcher: Fetcher,
        issuer: &str,
        audience: &str,
        dev_mode: bool,
    ) -> anyhow::Result<Self> {
        if issuer.trim().is_empty() || audience.trim().is_empty() {
            bail!("auth issuer and audience must not be empty");
        }
        if !dev_mode {
            // Fail at start, loudly: a production service that trusted the dev
            // key would accept tokens anyone with the repo can mint.
            if issuer == DEV_ISSUER {
                bail!("issuer `{DEV_ISSUER}` belongs to the dev stack; refused outside dev_mode");
            }
            let dev = dev_kids(&set);
            if !dev.is_empty() {
                bail!("JWKS contains dev-stack key(s) {dev:?}; refused outside dev_mode");
            }
        }
        let keys = usable_keys(&set, dev_mode);
        if keys.is_empty() {
            bail!("JWKS has no usable key (need EC P-256 keys with a kid, alg ES256)");
        }

        let mut validation = Validation::new(Algorithm::ES256);
        validation.algorithms = vec![Algorithm::ES256];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = LEEWAY_SECS;

        Ok(Self {
            inner: Arc::new(Inner {
                keys: KeyStore::new(fetcher, keys, dev_mode),
                validation,
                dev_mode,
            }),
        })
    }

    pub fn dev_mode(&self) -> bool {
        self.inner.dev_mode
    }

    /// Checks `token` (the part after `Bearer `) and returns who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let result = self.check(token).await;
        if let Err(reason) = &result {
            // The reason only; the token is a credential and never logged.
            tracing::debug!(%reason, "bearer token rejected");
        }
        result
    }

    async fn check(&self, token: &str) -> Result<Caller, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        // `alg: none` fails here already: jsonwebtoken's Algorithm has no such value.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        // Pinned before any key lookup, so HS256-with-the-public-key and
        // friends never get near a key (jsonwebtoken checks again in decode).
        if header.alg != Algorithm::ES256 {
            return Err(AuthError::Algorithm);
        }
        // `crit` lists header extensions the verifier must understand; we
        // understand none (RFC 7515 §4.1.11).
        if header.crit.is_some() {
            return Err(AuthError::Malformed);
        }
        // `jku`, `x5u`, `jwk` and `x5c` are ignored on purpose: the token does
        // not get to say which key vouches for it; our JWKS does.
        let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
        if kid.is_empty() || kid.len() > MAX_KID_LEN {
            return Err(AuthError::MissingKeyId);
        }
        // Before the lookup, so dev kids cannot trigger JWKS refetches either.
        if !self.inner.dev_mode && is_dev_kid(&kid) {
            return Err(AuthError::DevKeyRefused);
        }
        let key = self.inner.keys.find(&kid).await.ok_or_else(|| {
            tracing::debug!(?kid, "token names a kid not in the JWKS");
            AuthError::UnknownKey
        })?;
        let data = jsonwebtoken::decode::<VerifiedClaims>(token, &key, &self.inner.validation)
            .map_err(|e| AuthError::from_jwt(&e))?;
        data.claims.into_caller()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<JwtVerifier>();
    }
}
