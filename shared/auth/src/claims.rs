//! Token payloads: the one we mint, and the part of a verified one we read.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{AuthError, Caller, Role};

/// The claims of a Spotter token, as minted by the dev stack and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinic_id: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

impl Claims {
    /// Claims valid from now for `ttl`.
    pub fn new(
        issuer: &str,
        audience: &str,
        role: Role,
        sub: Uuid,
        clinic_id: Option<Uuid>,
        ttl: Duration,
    ) -> Self {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        Self {
            iss: issuer.to_owned(),
            aud: audience.to_owned(),
            sub: sub.to_string(),
            role: role.as_str().to_owned(),
            clinic_id: clinic_id.map(|id| id.to_string()),
            exp: now.saturating_add(ttl),
            iat: now,
            nbf: None,
        }
    }
}

/// The claims jsonwebtoken does not check for us. Every field is a loose JSON
/// value so that a wrong type becomes "claim `x` is invalid" instead of a
/// generic parse failure (and a stray `clinic_id` on a trainer is harmless).
#[derive(Debug, Deserialize)]
pub(crate) struct VerifiedClaims {
    /// Checked by the validation already (required, numeric, not past);
    /// optional here so that a missing one is reported as such, by it.
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    role: Option<Value>,
    #[serde(default)]
    clinic_id: Option<Value>,
}

impl VerifiedClaims {
    /// Only call on claims whose signature, time and audience checks passed.
    pub(crate) fn into_caller(self) -> Result<Caller, AuthError> {
        let user_id = uuid_claim("sub", self.sub)?;
        let role = match self.role {
            Some(Value::String(s)) => s
                .parse::<Role>()
                .map_err(|_| AuthError::InvalidClaim("role".into()))?,
            None => return Err(AuthError::MissingClaim("role".into())),
            Some(_) => return Err(AuthError::InvalidClaim("role".into())),
        };
        let clinic_id = if role.needs_clinic() {
            Some(uuid_claim("clinic_id", self.clinic_id)?)
        } else {
            None
        };
        let exp = self
            .exp
            .ok_or_else(|| AuthError::MissingClaim("exp".into()))?;
        Ok(Caller {
            user_id,
            role,
            clinic_id,
            expires_at: std::time::UNIX_EPOCH + std::time::Duration::from_secs(exp),
        })
    }
}

fn uuid_claim(name: &str, value: Option<Value>) -> Result<Uuid, AuthError> {
    match value {
        None => Err(AuthError::MissingClaim(name.into())),
        Some(Value::String(s)) => match Uuid::parse_str(&s) {
            // The nil UUID is nobody's id; accepting it invites "default" bugs.
            Ok(id) if !id.is_nil() => Ok(id),
            _ => Err(AuthError::InvalidClaim(name.into())),
        },
        Some(_) => Err(AuthError::InvalidClaim(name.into())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn caller(mut v: Value) -> Result<Caller, AuthError> {
        v["exp"] = json!(4_000_000_000_u64);
        serde_json::from_value::<VerifiedClaims>(v)
            .unwrap()
            .into_caller()
    }

    #[test]
    fn maps_roles_and_clinics() {
        let id = Uuid::now_v7();
        let clinic = Uuid::now_v7();
        let c = caller(
            json!({"sub": id.to_string(), "role": "clinic_admin", "clinic_id": clinic.to_string()}),
        );
        assert_eq!(c.unwrap().clinic_id, Some(clinic));
        // A trainer's stray clinic_id, even of the wrong type, is dropped.
        let c = caller(json!({"sub": id.to_string(), "role": "trainer", "clinic_id": 7})).unwrap();
        assert_eq!((c.role, c.clinic_id), (Role::Trainer, None));
        assert_eq!(
            caller(json!({"sub": id.to_string(), "role": "physio"})),
            Err(AuthError::MissingClaim("clinic_id".into()))
        );
        assert_eq!(
            caller(json!({"sub": id.to_string(), "role": ["trainer"]})),
            Err(AuthError::InvalidClaim("role".into()))
        );
        assert_eq!(
            caller(json!({"sub": Uuid::nil().to_string(), "role": "trainer"})),
            Err(AuthError::InvalidClaim("sub".into()))
        );
    }
}
