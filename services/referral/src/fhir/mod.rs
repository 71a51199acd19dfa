//! FHIR R4 read views of a referral (docs/fhir.md): ServiceRequest, Task,
//! Appointment, CarePlan, Consent, QuestionnaireResponse, `$everything` and
//! the CapabilityStatement, for the EHRs clinics import from.
//!
//! `course` loads what a caller may see; `resources`, `care_plan` and
//! `bundle` turn it into FHIR JSON (plain functions); `codes` maps our
//! codes to the R4 value sets; `outcome` answers errors as
//! OperationOutcome; `api` holds the handlers.

pub mod api;
mod bundle;
mod care_plan;
mod codes;
mod course;
mod outcome;
mod resources;
