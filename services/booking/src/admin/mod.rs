//! `/admin/v1`: clinic admins run their own clinic, platform admins any.
//! Everything outside the caller's clinic answers 404, as if it did not exist.

pub mod access;
pub mod clinics;
pub mod hours;
pub mod physios;
pub mod policy;
pub mod refusals;
pub mod schedule;
pub mod time_off;
pub mod worklist;
