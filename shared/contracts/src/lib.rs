//! Contracts of every event on the broker, generated from `proto/` (the source
//! of truth; see `proto/README.md`). Modules mirror the protobuf packages with
//! the leading `spotter.` dropped, e.g. `spotter.referral.v1.ReferralRequested`
//! is [`referral::v1::ReferralRequested`].
//!
//! Enum fields are `i32` on the wire structs (prost keeps unknown values
//! instead of failing); use the generated getters, e.g. `event.priority()`,
//! and setters, e.g. `event.set_priority(Priority::Urgent)`.

// Generated code (each module below allows lints on it): its layout is
// prost's and its docs are the .proto comments, so style is fixed at the
// source, not here. Proto comments must not indent lines by 4+ spaces, or
// rustdoc runs them as doctests.
macro_rules! generated {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
    };
}

pub mod convert;

/// Types shared by every producer (`spotter.common.v1`).
pub mod common {
    pub mod v1 {
        #![allow(clippy::all, rustdoc::all)]
        generated!("spotter.common.v1");
    }
}

/// Events produced by the referral service (`spotter.referral.v1`).
pub mod referral {
    pub mod v1 {
        #![allow(clippy::all, rustdoc::all)]
        generated!("spotter.referral.v1");
    }
}

/// Events produced by the booking service (`spotter.booking.v1`).
pub mod booking {
    pub mod v1 {
        #![allow(clippy::all, rustdoc::all)]
        generated!("spotter.booking.v1");
    }
}

/// A message published on the `spotter.events` exchange.
pub trait Event: prost::Message + Default + Sized + 'static {
    /// protobuf full name, used as the AMQP `type` property, e.g. "spotter.referral.v1.ReferralRequested"
    const TYPE_NAME: &'static str;
    /// routing key `<producing service>.<event>.v<major>`, e.g. "referral.referral_requested.v1"
    const ROUTING_KEY: &'static str;
    /// the referral this event belongs to (used as correlation_id and ordering key)
    fn referral_id(&self) -> &str;
    /// The lane this message travels in, for events whose consumer takes
    /// urgent work first (see [`lane`]); `None` for most events.
    fn lane(&self) -> Option<&'static str> {
        None
    }
    /// The key this message is published under: [`Event::ROUTING_KEY`], with
    /// the lane as a last word when it has one
    /// (`referral.referral_requested.v1.urgent`), so that a topic binding can
    /// route each lane to its own queue.
    fn routing_key(&self) -> String {
        match self.lane() {
            Some(lane) => format!("{}.{lane}", Self::ROUTING_KEY),
            None => Self::ROUTING_KEY.to_owned(),
        }
    }
}

/// Booking's lanes (docs/architecture.md, "Booking lanes"): referral requests
/// travel by priority, so an urgent one never waits behind routine ones.
pub mod lane {
    pub const URGENT: &str = "urgent";
    pub const ROUTINE: &str = "routine";
}

/// Implements [`Event`] and builds [`ALL_EVENTS`] from one list, so the two
/// cannot drift. The producing service is the package name (one package per
/// producer), which keeps type name and routing key consistent by construction.
macro_rules! events {
    ($($service:ident :: $message:ident => $event:literal $(in lane $lane:path)?;)*) => {
        $(
            impl Event for $service::v1::$message {
                const TYPE_NAME: &'static str =
                    concat!("spotter.", stringify!($service), ".v1.", stringify!($message));
                const ROUTING_KEY: &'static str =
                    concat!(stringify!($service), ".", $event, ".v1");
                fn referral_id(&self) -> &str {
                    &self.referral_id
                }
                $(fn lane(&self) -> Option<&'static str> {
                    Some($lane(self))
                })?
            }
        )*

        /// `(type name, routing key)` of every event, e.g. for declaring bindings.
        pub const ALL_EVENTS: &[(&str, &str)] = &[
            $((<$service::v1::$message as Event>::TYPE_NAME,
               <$service::v1::$message as Event>::ROUTING_KEY),)*
        ];

        /// `(TYPE_NAME, prost's own full name)` per event; a test compares them.
        #[cfg(test)]
        const PROST_NAMES: &[(&str, fn() -> String)] = &[
            $((<$service::v1::$message as Event>::TYPE_NAME,
               <$service::v1::$message as prost::Name>::full_name),)*
        ];
    };
}

events! {
    referral::ReferralRequested => "referral_requested" in lane requested_lane;
    referral::ReferralCancelled => "referral_cancelled";
    referral::EmergencyAdvised => "emergency_advised";
    referral::DoctorAdvised => "doctor_advised";
    referral::GuidanceShared => "guidance_shared";
    referral::GuidanceAcknowledged => "guidance_acknowledged";
    referral::DeadlineReached => "deadline_reached";
    referral::ReferralDischarged => "referral_discharged";
    referral::ReferralNotAttended => "referral_not_attended";
    referral::TrainingFlared => "training_flared";
    referral::OutcomeImproved => "outcome_improved";
    referral::TrainingBehind => "training_behind";
    booking::ReferralWaitlisted => "referral_waitlisted";
    booking::AppointmentBooked => "appointment_booked";
    booking::AppointmentCancelled => "appointment_cancelled";
    booking::AppointmentRescheduled => "appointment_rescheduled";
    booking::AppointmentCompleted => "appointment_completed";
    booking::AppointmentNoShow => "appointment_no_show";
    booking::PhysioAccessEnded => "physio_access_ended";
    booking::DeadlineReached => "deadline_reached";
    booking::FollowUpBooked => "follow_up_booked";
    booking::FollowUpMoved => "follow_up_moved";
    booking::FollowUpWaitlisted => "follow_up_waitlisted";
}

/// Urgent referrals are booked first; everything else bookable is routine
/// (emergencies are never sent to booking).
fn requested_lane(event: &referral::v1::ReferralRequested) -> &'static str {
    match event.priority() {
        common::v1::Priority::Urgent => lane::URGENT,
        _ => lane::ROUTINE,
    }
}

static DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/spotter_descriptor_set.binpb"));

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/`,
/// plus the well-known types they import, without source info. Lets tools
/// (dead-letter inspection, the compatibility test) decode events they were
/// not compiled against.
pub fn file_descriptor_set_bytes() -> &'static [u8] {
    DESCRIPTOR_SET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_match_the_generated_messages() {
        for (type_name, prost_name) in PROST_NAMES {
            assert_eq!(*type_name, prost_name());
        }
    }

    #[test]
    fn routing_keys_are_service_snake_case_event_and_major() {
        for (type_name, routing_key) in ALL_EVENTS {
            let parts: Vec<&str> = type_name.split('.').collect();
            let [_, service, version, message] = parts[..] else {
                panic!("unexpected type name {type_name}");
            };
            let expected = format!("{service}.{}.{version}", snake_case(message));
            assert_eq!(*routing_key, expected);
        }
    }

    #[test]
    fn referral_requests_travel_in_their_priority_lane() {
        use referral::v1::{ReferralCancelled, ReferralRequested};
        let mut request = ReferralRequested::default();
        request.set_priority(common::v1::Priority::Urgent);
        assert_eq!(
            request.routing_key(),
            "referral.referral_requested.v1.urgent"
        );
        request.set_priority(common::v1::Priority::Routine);
        assert_eq!(
            request.routing_key(),
            "referral.referral_requested.v1.routine"
        );
        assert_eq!(
            ReferralCancelled::default().routing_key(),
            ReferralCancelled::ROUTING_KEY
        );
    }

    fn snake_case(camel: &str) -> String {
        let mut out = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }
}
