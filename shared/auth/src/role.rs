//! The four kinds of user and the verified identity of a request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a user is; the `role` claim of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Trainer,
    Physio,
    ClinicAdmin,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Trainer,
        Role::Physio,
        Role::ClinicAdmin,
        Role::PlatformAdmin,
    ];

    /// The wire name, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Trainer => "trainer",
            Role::Physio => "physio",
            Role::ClinicAdmin => "clinic_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    /// Physios and clinic admins act for one clinic, so their tokens must name it.
    pub fn needs_clinic(self) -> bool {
        matches!(self, Role::Physio | Role::ClinicAdmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (expected trainer, physio, clinic_admin or platform_admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A verified caller of any role. `clinic_id` is always `Some` for physios and
/// clinic admins and always `None` for the others (a stray claim is dropped so
/// no handler can come to rely on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
    pub clinic_id: Option<Uuid>,
    /// The token's `exp`: what outlives one request (a live stream) ends here.
    pub expires_at: std::time::SystemTime,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_from_str_and_serde_agree() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
        }
        assert!("Trainer".parse::<Role>().is_err());
        assert!("admin".parse::<Role>().is_err());
    }
}
