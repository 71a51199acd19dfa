//! Minting tokens: the dev stack's `spotter token` and service tests.
//! Production tokens come from the real IdP; nothing here runs there.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, anyhow};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use uuid::Uuid;

use crate::{Claims, Role};

/// An ES256 (P-256) private key with its kid and public JWK.
#[derive(Debug, Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public_jwk: Jwk,
    /// SEC1 uncompressed public point (0x04 || x || y), kept for fingerprints.
    public_point: Vec<u8>,
}

/// A fresh P-256 private key as PKCS#8 v1 DER.
pub(crate) fn generate_pkcs8() -> anyhow::Result<Vec<u8>> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| anyhow!("generating a P-256 key failed"))?;
    let der = pair
        .to_pkcs8v1()
        .map_err(|_| anyhow!("encoding the P-256 key as PKCS#8 failed"))?;
    Ok(der.as_ref().to_vec())
}

impl SigningKey {
    /// A new random key.
    pub fn generate(kid: impl Into<String>) -> anyhow::Result<Self> {
        Self::from_pkcs8_der(kid, &generate_pkcs8()?)
    }

    /// A P-256 key from unencrypted PKCS#8 DER.
    pub fn from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| anyhow!("not a P-256 PKCS#8 private key: {e}"))?;
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = match point.as_slice() {
            [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return Err(anyhow!("unexpected P-256 public key encoding")),
        };
        let public_jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::ES256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
        };
        Ok(Self {
            kid: String::new(),
            encoding: EncodingKey::from_ec_der(der),
            public_jwk,
            public_point: point,
        }
        .with_kid(kid))
    }

    pub(crate) fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self.public_jwk.common.key_id = Some(self.kid.clone());
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, with kid, `alg: ES256`, `use: sig`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// For hand-made headers in tests (a missing kid, say); [`Self::sign`] is the normal way.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The JWKS a verifier needs to trust this key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public_jwk.clone()],
        }
    }

    /// Hex of the first 8 bytes of SHA-256 over the public point: short, stable
    /// per key, so a new key means a new kid.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.public_point);
        digest.as_ref()[..8]
            .iter()
            .fold(String::with_capacity(16), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }

    /// A compact JWT with header `{alg: ES256, typ: JWT, kid}`. Takes any
    /// serializable claims (normally [`Claims`]) so tests can mint odd ones.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing token")
    }
}

/// A signed token for `sub` in `role`, valid from now for `ttl`.
/// A token the dev stack accepts: signed with `key`, the dev issuer and the
/// default audience (`spotter token`, `spotter demo`, `spotter bench`, tests).
pub fn dev_token(
    key: &SigningKey,
    role: Role,
    sub: Uuid,
    clinic_id: Option<Uuid>,
    ttl: Duration,
) -> anyhow::Result<String> {
    token_for(
        key,
        crate::DEV_ISSUER,
        crate::DEFAULT_AUDIENCE,
        role,
        sub,
        clinic_id,
        ttl,
    )
}

pub fn token_for(
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    role: Role,
    sub: Uuid,
    clinic_id: Option<Uuid>,
    ttl: Duration,
) -> anyhow::Result<String> {
    key.sign(&Claims::new(issuer, audience, role, sub, clinic_id, ttl))
}
