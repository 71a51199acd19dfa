//! Spotter's codes as FHIR R4 codes (docs/fhir.md, "Mappings"). Each
//! function answers a binding the R4 specification makes `required`, so the
//! mapping is total: every status of ours has exactly one code there.

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::{BodyRegion, Priority};
use spotter_platform::vocabulary::{AppointmentKind, AppointmentStatus};

pub const SNOMED: &str = "http://snomed.info/sct";
/// Spotter's own referral statuses, finer than FHIR's (`Task.businessStatus`).
pub const REFERRAL_STATUS: &str = "urn:spotter:codesystem:referral-status";
/// What the physio clears the client for (`CarePlan.category`).
pub const CLEARANCE: &str = "urn:spotter:codesystem:clearance";
/// The movement patterns of the vocabulary (`CarePlan.activity`).
pub const MOVEMENT_PATTERN: &str = "urn:spotter:codesystem:movement-pattern";
/// What a referral waits for (`Task.input`): booking, guidance, ….
pub const AWAITED: &str = "urn:spotter:codesystem:awaited";

/// `ServiceRequest.status` (RequestStatus). On hold while a doctor's
/// clearance or the trainer's rebooking is awaited; revoked when it ended
/// without care.
pub fn request_status(status: Status) -> &'static str {
    match status {
        Status::AwaitingBooking
        | Status::Waitlisted
        | Status::Booked
        | Status::Assessed
        | Status::GuidanceShared
        | Status::Acknowledged => "active",
        Status::DoctorAdvised | Status::NoShow => "on-hold",
        Status::Discharged => "completed",
        Status::EmergencyAdvised | Status::Closed | Status::Cancelled | Status::NotAttended => {
            "revoked"
        }
    }
}

/// `Task.status` (TaskStatus), the closed-loop workflow state: requested
/// until a clinic takes it, in progress while under care, completed at
/// discharge.
pub fn task_status(status: Status) -> &'static str {
    match status {
        Status::AwaitingBooking => "requested",
        Status::Waitlisted => "received",
        Status::Booked => "accepted",
        Status::Assessed | Status::GuidanceShared | Status::Acknowledged => "in-progress",
        Status::Discharged => "completed",
        Status::DoctorAdvised | Status::NoShow => "on-hold",
        Status::NotAttended => "failed",
        Status::EmergencyAdvised | Status::Closed | Status::Cancelled => "cancelled",
    }
}

/// `priority` (RequestPriority).
pub fn priority(priority: Priority) -> &'static str {
    match priority {
        Priority::Emergency => "stat",
        Priority::Urgent => "urgent",
        Priority::Routine => "routine",
    }
}

/// `Appointment.status` (AppointmentStatus).
pub fn appointment_status(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Completed => "fulfilled",
        AppointmentStatus::NoShow => "noshow",
        AppointmentStatus::Cancelled => "cancelled",
    }
}

/// `Appointment.appointmentType`, from HL7 v2 table 0276.
pub fn appointment_type(kind: AppointmentKind) -> (&'static str, &'static str) {
    match kind {
        AppointmentKind::Assessment => ("ROUTINE", "Routine appointment - default if not valued"),
        AppointmentKind::FollowUp => ("FOLLOWUP", "A follow up visit from a previous appointment"),
    }
}
pub const APPOINTMENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v2-0276";

/// The SNOMED CT body structure of a region, where one concept means the
/// same thing; `wrist_hand`, `ankle_foot` and `upper_back` span two
/// structures (or none is plainly the same), and `other` names none, so
/// those go as text only.
pub fn body_structure(region: BodyRegion) -> Option<(&'static str, &'static str)> {
    match region {
        BodyRegion::Neck => Some(("45048000", "Neck structure")),
        BodyRegion::Shoulder => Some(("16982005", "Shoulder region structure")),
        BodyRegion::Elbow => Some(("127949000", "Elbow region structure")),
        BodyRegion::LowerBack => Some(("37822005", "Lower back structure")),
        BodyRegion::Hip => Some(("29836001", "Hip region structure")),
        BodyRegion::Knee => Some(("72696002", "Knee region structure")),
        BodyRegion::WristHand
        | BodyRegion::UpperBack
        | BodyRegion::AnkleFoot
        | BodyRegion::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The R4 value sets these bindings are `required` to (hl7.org/fhir/R4):
    /// a code outside them makes the resource invalid.
    const REQUEST_STATUS: [&str; 7] = [
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    ];
    const TASK_STATUS: [&str; 12] = [
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    ];

    #[test]
    fn every_status_maps_into_the_r4_value_sets() {
        for status in Status::ALL {
            assert!(
                REQUEST_STATUS.contains(&request_status(*status)),
                "{status:?}"
            );
            assert!(TASK_STATUS.contains(&task_status(*status)), "{status:?}");
        }
    }

    #[test]
    fn a_referral_is_completed_only_by_a_discharge() {
        let completed: Vec<_> = Status::ALL
            .iter()
            .filter(|s| task_status(**s) == "completed")
            .collect();
        assert_eq!(completed, [&Status::Discharged]);
        assert_eq!(request_status(Status::Discharged), "completed");
    }

    #[test]
    fn regions_spanning_two_structures_have_no_code() {
        assert_eq!(
            body_structure(BodyRegion::Knee),
            Some(("72696002", "Knee region structure"))
        );
        assert_eq!(body_structure(BodyRegion::AnkleFoot), None);
        assert_eq!(body_structure(BodyRegion::WristHand), None);
    }
}
