//! Helpers for service tests: a dev-mode verifier and tokens it accepts.
//!
//! Always compiled (it is tiny) so other crates' tests can use it without a
//! feature flag. Panics instead of returning errors: in a test that is the
//! clearest failure, and the only failure paths are broken crypto setup.
#![allow(clippy::expect_used)]

use std::time::Duration;

use actix_web::http::header;
use actix_web::web;
use uuid::Uuid;

use crate::{
    DEFAULT_AUDIENCE, DEV_ISSUER, DEV_KID_PREFIX, JwtVerifier, Role, SigningKey, dev_token,
};

/// A fresh key and a verifier (dev mode, [`DEV_ISSUER`], [`DEFAULT_AUDIENCE`]) that trusts it.
#[derive(Debug, Clone)]
pub struct TestAuth {
    pub key: SigningKey,
    pub verifier: JwtVerifier,
}

impl TestAuth {
    pub fn new() -> Self {
        let key = SigningKey::generate(format!("{DEV_KID_PREFIX}test"))
            .expect("generating a test signing key");
        let verifier = JwtVerifier::from_jwks(key.jwks(), DEV_ISSUER, DEFAULT_AUDIENCE, true)
            .expect("building the test verifier");
        Self { key, verifier }
    }

    /// A token valid for an hour.
    pub fn token(&self, role: Role, sub: Uuid, clinic_id: Option<Uuid>) -> String {
        dev_token(&self.key, role, sub, clinic_id, Duration::from_secs(3600))
            .expect("signing a test token")
    }

    /// `(Authorization, "Bearer …")`, ready for `TestRequest::insert_header`.
    pub fn header(
        &self,
        role: Role,
        sub: Uuid,
        clinic_id: Option<Uuid>,
    ) -> (header::HeaderName, String) {
        (
            header::AUTHORIZATION,
            format!("Bearer {}", self.token(role, sub, clinic_id)),
        )
    }

    /// The verifier as the extractors look for it: `App::new().app_data(auth.data())`.
    pub fn data(&self) -> web::Data<JwtVerifier> {
        web::Data::new(self.verifier.clone())
    }
}

impl Default for TestAuth {
    fn default() -> Self {
        Self::new()
    }
}
