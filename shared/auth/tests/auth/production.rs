//! Production mode refuses everything belonging to the dev stack.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use spotter_auth::{
    AuthError, AuthSettings, DEV_ISSUER, DEV_KID_PREFIX, JwksSource, JwtVerifier, Role, SigningKey,
    token_for,
};
use uuid::Uuid;

use crate::common::*;

#[test]
fn from_jwks_refuses_dev_keys_and_issuer_outside_dev_mode() {
    let dev = SigningKey::generate(format!("{DEV_KID_PREFIX}abc")).unwrap();
    let err = JwtVerifier::from_jwks(dev.jwks(), ISSUER, AUDIENCE, false).unwrap_err();
    assert!(format!("{err:#}").contains("dev-stack key"), "{err:#}");

    // Even hidden among real keys.
    let real = SigningKey::generate(KID).unwrap();
    let mixed = JwkSet {
        keys: vec![real.public_jwk().clone(), dev.public_jwk().clone()],
    };
    assert!(JwtVerifier::from_jwks(mixed, ISSUER, AUDIENCE, false).is_err());

    assert!(JwtVerifier::from_jwks(real.jwks(), DEV_ISSUER, AUDIENCE, false).is_err());

    // The same keys are fine in dev mode.
    assert!(JwtVerifier::from_jwks(dev.jwks(), DEV_ISSUER, AUDIENCE, true).is_ok());
}

#[test]
fn from_jwks_needs_a_usable_key() {
    assert!(JwtVerifier::from_jwks(JwkSet { keys: vec![] }, ISSUER, AUDIENCE, false).is_err());
    let mut hmac: JwkSet = serde_json::from_value(serde_json::json!({
        "keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"}]
    }))
    .unwrap();
    assert!(JwtVerifier::from_jwks(hmac.clone(), ISSUER, AUDIENCE, false).is_err());
    // A usable key next to an unusable one: the bad one is skipped, not fatal.
    hmac.keys
        .push(SigningKey::generate(KID).unwrap().public_jwk().clone());
    assert!(JwtVerifier::from_jwks(hmac, ISSUER, AUDIENCE, false).is_ok());
}

#[tokio::test]
async fn production_verifier_refuses_dev_kid_tokens() {
    let (_, verifier) = fixture();
    let dev = SigningKey::generate(format!("{DEV_KID_PREFIX}0123456789abcdef")).unwrap();
    let token = token_for(
        &dev,
        ISSUER,
        AUDIENCE,
        Role::PlatformAdmin,
        Uuid::now_v7(),
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).await, Err(AuthError::DevKeyRefused));
}

#[tokio::test]
async fn from_settings_checks() {
    let no_jwks = AuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks: None,
        dev_mode: false,
        refresh: Default::default(),
    };
    assert!(JwtVerifier::from_settings(&no_jwks).await.is_err());

    let missing_file = AuthSettings {
        jwks: Some(JwksSource::File("/nonexistent/spotter/jwks.json".into())),
        ..no_jwks.clone()
    };
    assert!(JwtVerifier::from_settings(&missing_file).await.is_err());

    let dir = std::env::temp_dir().join(format!("spotter-auth-prod-{}", Uuid::new_v4()));
    let dev = spotter_auth::ensure_dev_keys(&dir).unwrap();
    let dev_settings = AuthSettings {
        issuer: DEV_ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks: Some(JwksSource::File(dev.jwks_path.clone())),
        dev_mode: true,
        refresh: Default::default(),
    };
    // Dev stack: its own key file and issuer work…
    let verifier = JwtVerifier::from_settings(&dev_settings).await.unwrap();
    let sub = Uuid::now_v7();
    let token = token_for(
        &dev.key,
        DEV_ISSUER,
        AUDIENCE,
        Role::Trainer,
        sub,
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).await.unwrap().user_id, sub);
    // …and the same configuration without dev_mode refuses to start.
    let prod = AuthSettings {
        dev_mode: false,
        refresh: Default::default(),
        ..dev_settings.clone()
    };
    assert!(JwtVerifier::from_settings(&prod).await.is_err());
    let prod_other_issuer = AuthSettings {
        issuer: ISSUER.into(),
        ..prod
    };
    assert!(
        JwtVerifier::from_settings(&prod_other_issuer)
            .await
            .is_err()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
