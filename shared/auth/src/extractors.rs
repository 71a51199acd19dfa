//! Actix extractors: a handler states who may call it in its signature.
//!
//! Missing or bad token → 401; valid token, wrong role → 403; both as
//! problem+json via [`ApiError`]. The verified [`Caller`] is cached in the
//! request extensions, so a handler taking two extractors verifies once, and
//! takes one request from the caller's rate budget once (429 when spent).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use anyhow::anyhow;
use spotter_platform::ApiError;
use spotter_platform::rate_limit::RateLimiter;
use uuid::Uuid;

use crate::{AuthError, Caller, JwtVerifier, Role};

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// The token from `Authorization: Bearer <jwt>`; nothing else (no cookies, no
/// query strings, which end up in logs) is looked at.
fn bearer_token(req: &HttpRequest) -> Result<String, AuthError> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?
        .to_str()
        .map_err(|_| AuthError::Malformed)?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.to_owned())
}

async fn caller_of(req: HttpRequest) -> Result<Caller, ApiError> {
    if let Some(caller) = req.extensions().get::<Caller>() {
        return Ok(caller.clone());
    }
    let verifier = req
        .app_data::<web::Data<JwtVerifier>>()
        .cloned()
        .ok_or_else(|| {
            ApiError::Internal(anyhow!(
                "web::Data<JwtVerifier> is not registered in app_data"
            ))
        })?;
    let token = bearer_token(&req)?;
    let caller = verifier.verify(&token).await?;
    // Once per request: later extractors find the caller cached above.
    if let Some(limiter) = req.app_data::<web::Data<RateLimiter>>() {
        limiter
            .check(caller.user_id, req.method())
            .map_err(ApiError::RateLimited)?;
    }
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

fn extract<T: 'static>(
    req: &HttpRequest,
    pick: impl FnOnce(Caller) -> Result<T, ApiError> + 'static,
) -> Extracted<T> {
    let req = req.clone();
    Box::pin(async move { pick(caller_of(req).await?) })
}

fn forbidden(who: &str) -> ApiError {
    ApiError::Forbidden(format!("only {who} may do this"))
}

/// Physios and clinic admins always carry a clinic after verification; a
/// `Caller` built by hand without one is refused rather than trusted.
fn clinic_of(caller: &Caller, who: &str) -> Result<Uuid, ApiError> {
    caller.clinic_id.ok_or_else(|| forbidden(who))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, Ok)
    }
}

/// A caller with role `trainer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trainer {
    pub id: Uuid,
}

impl FromRequest for Trainer {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| match c.role {
            Role::Trainer => Ok(Trainer { id: c.user_id }),
            _ => Err(forbidden("trainers")),
        })
    }
}

/// A caller with role `physio`, and the clinic they work for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Physio {
    pub id: Uuid,
    pub clinic_id: Uuid,
}

impl FromRequest for Physio {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| match c.role {
            Role::Physio => Ok(Physio {
                id: c.user_id,
                clinic_id: clinic_of(&c, "physios")?,
            }),
            _ => Err(forbidden("physios")),
        })
    }
}

/// A caller with role `clinic_admin`, and the clinic they administer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicAdmin {
    pub id: Uuid,
    pub clinic_id: Uuid,
}

impl FromRequest for ClinicAdmin {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| match c.role {
            Role::ClinicAdmin => Ok(ClinicAdmin {
                id: c.user_id,
                clinic_id: clinic_of(&c, "clinic admins")?,
            }),
            _ => Err(forbidden("clinic admins")),
        })
    }
}

/// A caller with role `platform_admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformAdmin {
    pub id: Uuid,
}

impl FromRequest for PlatformAdmin {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| match c.role {
            Role::PlatformAdmin => Ok(PlatformAdmin { id: c.user_id }),
            _ => Err(forbidden("platform admins")),
        })
    }
}

/// Anyone allowed on `/admin/v1`: a clinic admin (for their own clinic) or a
/// platform admin (for every clinic). Check [`Admin::may_manage`] per clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    Clinic { id: Uuid, clinic_id: Uuid },
    Platform { id: Uuid },
}

impl Admin {
    pub fn id(&self) -> Uuid {
        match self {
            Admin::Clinic { id, .. } | Admin::Platform { id } => *id,
        }
    }

    /// Platform admins manage every clinic; a clinic admin only their own.
    pub fn may_manage(&self, clinic_id: Uuid) -> bool {
        match self {
            Admin::Platform { .. } => true,
            Admin::Clinic { clinic_id: own, .. } => *own == clinic_id,
        }
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| match c.role {
            Role::ClinicAdmin => Ok(Admin::Clinic {
                id: c.user_id,
                clinic_id: clinic_of(&c, "admins")?,
            }),
            Role::PlatformAdmin => Ok(Admin::Platform { id: c.user_id }),
            _ => Err(forbidden("admins")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_scope() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let clinic = Admin::Clinic {
            id: Uuid::now_v7(),
            clinic_id: a,
        };
        assert!(clinic.may_manage(a));
        assert!(!clinic.may_manage(b));
        assert!(Admin::Platform { id: Uuid::now_v7() }.may_manage(b));
    }
}
