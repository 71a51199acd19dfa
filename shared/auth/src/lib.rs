//! Who is calling: bearer-token verification and the actix extractors built on it.
//!
//! Every service trusts exactly one thing: an ES256 JWT whose key is found by
//! `kid` in a JWKS we loaded ourselves (file or HTTPS URL). Handlers never touch
//! tokens; they ask for a [`Trainer`], [`Physio`], [`ClinicAdmin`],
//! [`PlatformAdmin`], [`Admin`] or plain [`Caller`] and get a 401/403
//! problem+json for free when the caller does not fit.
//!
//! The dev stack mints its own tokens with [`ensure_dev_keys`] and [`dev_token`];
//! those keys carry [`DEV_KID_PREFIX`] so a production verifier can refuse them.

mod claims;
mod dev_keys;
mod error;
mod extractors;
mod jwks;
mod role;
mod settings;
mod signing;
#[cfg(feature = "testing")]
pub mod testing;
mod verifier;

pub use claims::Claims;
pub use dev_keys::{DevKeys, ensure_dev_keys};
pub use error::AuthError;
pub use extractors::{Admin, ClinicAdmin, Physio, PlatformAdmin, Trainer};
pub use role::{Caller, Role, UnknownRole};
pub use settings::{AuthSettings, JwksSource, RefreshBounds};
pub use signing::{SigningKey, dev_token, token_for};
pub use verifier::JwtVerifier;

/// Key ids of keys made by the dev stack start with this; production refuses them.
pub const DEV_KID_PREFIX: &str = "spotter-dev-";
/// The issuer the dev stack puts in its tokens; production refuses to be configured with it.
pub const DEV_ISSUER: &str = "spotter-dev";
/// The audience every Spotter service expects unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "spotter";
