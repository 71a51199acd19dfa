//! Object-level authorization for admin paths.

use crate::schema::physios;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_auth::Admin;
use spotter_db::OrNotFound;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// The clinic is the caller's to manage, or it does not exist for them.
pub fn clinic_in_scope(admin: &Admin, clinic_id: Uuid) -> ApiResult<()> {
    if admin.may_manage(clinic_id) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The physio's clinic, if the caller manages it; 404 otherwise.
pub async fn physio_clinic_in_scope(
    conn: &mut AsyncPgConnection,
    admin: &Admin,
    physio_id: Uuid,
) -> ApiResult<Uuid> {
    let clinic_id: Uuid = physios::table
        .find(physio_id)
        .select(physios::clinic_id)
        .first(conn)
        .await
        .or_not_found()?;
    clinic_in_scope(admin, clinic_id)?;
    Ok(clinic_id)
}
