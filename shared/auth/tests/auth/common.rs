//! Shared fixtures: a production-mode verifier and raw token builders.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use spotter_auth::{DEFAULT_AUDIENCE, JwtVerifier, SigningKey};
use uuid::Uuid;

pub const ISSUER: &str = "https://idp.spotter.test/";
pub const AUDIENCE: &str = DEFAULT_AUDIENCE;
pub const KID: &str = "idp-key-1";

/// The trusted key and a production-mode verifier (dev_mode off) over it.
pub fn fixture() -> (SigningKey, JwtVerifier) {
    let key = SigningKey::generate(KID).unwrap();
    let verifier = JwtVerifier::from_jwks(key.jwks(), ISSUER, AUDIENCE, false).unwrap();
    (key, verifier)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Valid claims; tests remove or change fields to break them.
pub fn claims(role: &str, sub: Uuid, clinic_id: Option<Uuid>) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub.to_string(),
        "role": role,
        "iat": now(),
        "exp": now() + 600,
    });
    if let Some(clinic) = clinic_id {
        claims["clinic_id"] = json!(clinic.to_string());
    }
    claims
}

pub fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

pub fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token with an arbitrary header and signature bytes, for forgeries.
pub fn raw_token(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64_json(&header),
        b64_json(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The SEC1 public point (0x04 || x || y) of a JWK: the bytes an HS256
/// key-confusion attack would use as the HMAC secret.
pub fn public_point(key: &SigningKey) -> Vec<u8> {
    let jwk = serde_json::to_value(key.public_jwk()).unwrap();
    let mut point = vec![0x04];
    for coordinate in ["x", "y"] {
        point.extend(
            URL_SAFE_NO_PAD
                .decode(jwk[coordinate].as_str().unwrap())
                .unwrap(),
        );
    }
    point
}
