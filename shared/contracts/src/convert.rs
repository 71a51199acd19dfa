//! The one place where the wire meets the domain: protobuf enums, ids and
//! timestamps to and from the types the services work with. A consumer that
//! reads a field through here gets a typed value or a [`Malformed`] naming the
//! field: a message that can never be handled, so it is parked, not retried.

use crate::booking::v1 as booking_wire;
use crate::common::v1 as wire;
use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use spotter_platform::vocabulary::{
    AppointmentKind, BodyRegion, DeadlineKind, DeadlineStage, DeclineReason, Priority,
};
use uuid::Uuid;

/// A field of a message that no retry can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Malformed {
    pub field: &'static str,
    pub problem: String,
}

impl Malformed {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

pub fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

/// A timestamp the message must carry.
pub fn time(field: &'static str, value: Option<Timestamp>) -> Result<DateTime<Utc>, Malformed> {
    optional_time(value).ok_or_else(|| Malformed::new(field, "is missing"))
}

/// A timestamp the message may leave out.
pub fn optional_time(value: Option<Timestamp>) -> Option<DateTime<Utc>> {
    value.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

pub fn uuid(field: &'static str, value: &str) -> Result<Uuid, Malformed> {
    Uuid::parse_str(value).map_err(|_| Malformed::new(field, "is not a UUID"))
}

/// Writes both directions of a domain ↔ wire enum mapping from one table.
macro_rules! both_ways {
    ($domain:ident <=> $wire_mod:ident::$wire:ident, $field:literal { $($variant:ident),+ $(,)? }) => {
        impl From<$domain> for $wire_mod::$wire {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => Self::$variant,)+
                }
            }
        }

        impl TryFrom<$wire_mod::$wire> for $domain {
            type Error = Malformed;
            fn try_from(value: $wire_mod::$wire) -> Result<Self, Malformed> {
                match value {
                    $($wire_mod::$wire::$variant => Ok(Self::$variant),)+
                    other => Err(Malformed::new($field, format!("{} is not allowed", other.as_str_name()))),
                }
            }
        }
    };
}

both_ways!(BodyRegion <=> wire::BodyRegion, "body_region" {
    Neck, Shoulder, Elbow, WristHand, UpperBack, LowerBack, Hip, Knee, AnkleFoot, Other,
});

both_ways!(Priority <=> wire::Priority, "priority" { Emergency, Urgent, Routine });

both_ways!(DeclineReason <=> booking_wire::DeclineReason, "decline_reason" {
    OutsideScope, NotSuitableForClinic, NoCapacity,
});

both_ways!(DeadlineKind <=> wire::DeadlineKind, "kind" {
    Booking, Guidance, Acknowledgement, MedicalClearance, AdherenceWeek,
});

both_ways!(DeadlineStage <=> wire::DeadlineStage, "stage" { Reminder, Escalation });

both_ways!(AppointmentKind <=> wire::AppointmentKind, "kind" { Assessment, FollowUp });

/// An event's appointment kind. Events from before kinds existed leave it
/// unspecified, and every appointment then was an assessment.
pub fn appointment_kind(wire: wire::AppointmentKind) -> AppointmentKind {
    AppointmentKind::try_from(wire).unwrap_or(AppointmentKind::Assessment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appointment_kinds_travel_and_an_unspecified_one_is_an_assessment() {
        for kind in AppointmentKind::ALL {
            assert_eq!(appointment_kind(wire::AppointmentKind::from(*kind)), *kind);
        }
        assert_eq!(
            appointment_kind(wire::AppointmentKind::Unspecified),
            AppointmentKind::Assessment
        );
    }

    #[test]
    fn every_body_region_travels_and_comes_back() {
        for region in BodyRegion::ALL {
            let on_the_wire = wire::BodyRegion::from(*region);
            // The wire name is the API name, upper-cased under its prefix.
            assert_eq!(
                on_the_wire.as_str_name(),
                format!("BODY_REGION_{}", region.as_str().to_ascii_uppercase())
            );
            assert_eq!(BodyRegion::try_from(on_the_wire), Ok(*region));
        }
        assert_eq!(
            BodyRegion::try_from(wire::BodyRegion::Unspecified),
            Err(Malformed::new(
                "body_region",
                "BODY_REGION_UNSPECIFIED is not allowed"
            ))
        );
    }

    #[test]
    fn every_priority_travels_and_comes_back() {
        for priority in Priority::ALL {
            let on_the_wire = wire::Priority::from(*priority);
            assert_eq!(
                on_the_wire.as_str_name(),
                format!("PRIORITY_{}", priority.as_str().to_ascii_uppercase())
            );
            assert_eq!(Priority::try_from(on_the_wire), Ok(*priority));
        }
        assert!(Priority::try_from(wire::Priority::Unspecified).is_err());
    }

    #[test]
    fn every_decline_reason_travels_and_comes_back() {
        for reason in DeclineReason::ALL {
            let on_the_wire = booking_wire::DeclineReason::from(*reason);
            assert_eq!(DeclineReason::try_from(on_the_wire), Ok(*reason));
        }
        assert!(DeclineReason::try_from(booking_wire::DeclineReason::Unspecified).is_err());
    }

    #[test]
    fn every_deadline_kind_and_stage_travels_and_comes_back() {
        for kind in DeadlineKind::ALL {
            assert_eq!(
                DeadlineKind::try_from(wire::DeadlineKind::from(*kind)),
                Ok(*kind)
            );
        }
        for stage in DeadlineStage::ALL {
            assert_eq!(
                DeadlineStage::try_from(wire::DeadlineStage::from(*stage)),
                Ok(*stage)
            );
        }
        assert!(DeadlineStage::try_from(wire::DeadlineStage::Unspecified).is_err());
    }

    #[test]
    fn times_and_ids_name_the_field() {
        let now = DateTime::from_timestamp(1_800_000_000, 123_000).unwrap();
        assert_eq!(time("at", timestamp(now)), Ok(now));
        assert_eq!(time("at", None), Err(Malformed::new("at", "is missing")));
        assert_eq!(
            uuid("referral_id", "nope").unwrap_err().to_string(),
            "referral_id: is not a UUID"
        );
    }
}
