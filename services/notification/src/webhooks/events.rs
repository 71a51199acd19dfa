//! Which broker events clinics hear of, under which webhook type, and what
//! `data` says: ids, times and codes only, never health text (a receiver
//! fetches detail through the API with its own credentials).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, DeadlineReached, DeclineReason, FollowUpBooked, FollowUpMoved,
    FollowUpWaitlisted, ReferralWaitlisted,
};
use spotter_contracts::common::v1::{AppointmentKind, DeadlineKind, DeadlineStage};
use spotter_contracts::convert::{Malformed, optional_time, uuid};
use spotter_contracts::referral::v1::GuidanceShared;
use spotter_messaging::{HandlerError, Incoming};
use uuid::Uuid;

spotter_platform::coded! {
    /// What an endpoint may subscribe to.
    pub enum WebhookType {
        AppointmentBooked = "appointment.booked",
        AppointmentMoved = "appointment.moved",
        AppointmentCancelled = "appointment.cancelled",
        AppointmentCompleted = "appointment.completed",
        AppointmentNoShow = "appointment.no_show",
        ReferralWaitlisted = "referral.waitlisted",
        ReferralDeclined = "referral.declined",
        ReferralOverdue = "referral.overdue",
        GuidanceShared = "guidance.shared",
    }
}

/// The test-send button's type; every endpoint takes it.
pub const TEST: &str = "webhook.test";

/// An event as the clinics it concerns receive it.
#[derive(Debug, PartialEq)]
pub struct ClinicEvent {
    pub event_type: WebhookType,
    pub clinics: Vec<Uuid>,
    pub timestamp: DateTime<Utc>,
    pub data: Json,
}

impl ClinicEvent {
    /// The body sent: `{type, timestamp, data}`.
    pub fn payload(&self) -> Json {
        json!({
            "type": self.event_type.as_str(),
            "timestamp": self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
    }
}

fn at(t: Option<prost_types::Timestamp>) -> Json {
    optional_time(t).map_or(Json::Null, |t| {
        json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    })
}

/// `PREFIX_SOME_CODE` → `some_code`: a protobuf enum value as the API's code.
fn code(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The clinic an event names; none when it names none (a sender before
/// the field).
fn one(clinic: &str) -> Result<Vec<Uuid>, Malformed> {
    if clinic.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![uuid("clinic_id", clinic)?])
}

fn all(clinics: &[String]) -> Result<Vec<Uuid>, Malformed> {
    clinics.iter().map(|c| uuid("clinic_ids", c)).collect()
}

/// The clinic event a broker event makes, if clinics hear of it.
pub fn of(incoming: &Incoming) -> Result<Option<ClinicEvent>, HandlerError> {
    // Without a time of its own, the event's: the same on a redelivery.
    let now = incoming.enqueued_at.unwrap_or_else(Utc::now);
    let event = |event_type, clinics, when: Option<prost_types::Timestamp>, data| ClinicEvent {
        event_type,
        clinics,
        timestamp: optional_time(when).unwrap_or(now),
        data,
    };
    // An appointment's event: the ids every one names, and what it adds.
    let visit = |event_type, when, ids: [&str; 4], more: Json| {
        let [appointment, referral, physio, clinic] = ids;
        let mut data = json!({
            "appointment_id": appointment, "referral_id": referral,
            "physio_id": physio, "clinic_id": clinic,
        });
        if let (Some(data), Json::Object(more)) = (data.as_object_mut(), more) {
            data.extend(more);
        }
        Ok::<_, Malformed>(event(event_type, one(clinic)?, when, data))
    };
    let kind = |k: AppointmentKind| code(k.as_str_name(), "APPOINTMENT_KIND_");
    // Every visit event names its appointment, referral, physio and clinic
    // by the same four fields, on four different message types.
    macro_rules! visit_ids {
        ($e:expr) => {
            [
                &*$e.appointment_id,
                &$e.referral_id,
                &$e.physio_id,
                &$e.clinic_id,
            ]
        };
    }
    Ok(Some(match incoming.message_type.as_str() {
        AppointmentBooked::TYPE_NAME => {
            let e: AppointmentBooked = incoming.decode()?;
            let more = json!({"kind": "assessment", "starts_at": at(e.starts_at), "ends_at": at(e.ends_at)});
            visit(
                WebhookType::AppointmentBooked,
                e.booked_at,
                visit_ids!(e),
                more,
            )?
        }
        FollowUpBooked::TYPE_NAME => {
            let e: FollowUpBooked = incoming.decode()?;
            let more = json!({"kind": "follow_up", "starts_at": at(e.starts_at), "ends_at": at(e.ends_at)});
            visit(
                WebhookType::AppointmentBooked,
                e.booked_at,
                visit_ids!(e),
                more,
            )?
        }
        AppointmentRescheduled::TYPE_NAME => {
            let e: AppointmentRescheduled = incoming.decode()?;
            let more = json!({
                "previous_starts_at": at(e.previous_starts_at),
                "starts_at": at(e.starts_at), "ends_at": at(e.ends_at),
            });
            visit(
                WebhookType::AppointmentMoved,
                e.rescheduled_at,
                visit_ids!(e),
                more,
            )?
        }
        FollowUpMoved::TYPE_NAME => {
            let e: FollowUpMoved = incoming.decode()?;
            let more = json!({
                "previous_starts_at": at(e.previous_starts_at),
                "starts_at": at(e.starts_at), "ends_at": at(e.ends_at),
            });
            visit(
                WebhookType::AppointmentMoved,
                e.moved_at,
                visit_ids!(e),
                more,
            )?
        }
        AppointmentCancelled::TYPE_NAME => {
            let e: AppointmentCancelled = incoming.decode()?;
            if e.decline_reason() == DeclineReason::Unspecified {
                let more = json!({
                    "kind": kind(e.kind()),
                    "cancelled_by": code(e.cancelled_by().as_str_name(), "CANCELLED_BY_"),
                    "reason": code(e.reason_code().as_str_name(), "APPOINTMENT_CANCELLATION_REASON_"),
                });
                visit(
                    WebhookType::AppointmentCancelled,
                    e.cancelled_at,
                    visit_ids!(e),
                    more,
                )?
            } else {
                let more =
                    json!({"reason": code(e.decline_reason().as_str_name(), "DECLINE_REASON_")});
                visit(
                    WebhookType::ReferralDeclined,
                    e.cancelled_at,
                    visit_ids!(e),
                    more,
                )?
            }
        }
        AppointmentCompleted::TYPE_NAME => {
            let e: AppointmentCompleted = incoming.decode()?;
            let more = json!({"kind": kind(e.kind()), "completed_at": at(e.completed_at)});
            visit(
                WebhookType::AppointmentCompleted,
                e.completed_at,
                visit_ids!(e),
                more,
            )?
        }
        AppointmentNoShow::TYPE_NAME => {
            let e: AppointmentNoShow = incoming.decode()?;
            let more = json!({"kind": kind(e.kind())});
            visit(
                WebhookType::AppointmentNoShow,
                e.recorded_at,
                visit_ids!(e),
                more,
            )?
        }
        ReferralWaitlisted::TYPE_NAME => {
            let e: ReferralWaitlisted = incoming.decode()?;
            let data = json!({
                "referral_id": e.referral_id,
                "priority": code(e.priority().as_str_name(), "PRIORITY_"),
                "reason": code(e.reason().as_str_name(), "WAITLIST_REASON_"),
            });
            event(
                WebhookType::ReferralWaitlisted,
                all(&e.clinic_ids)?,
                e.waitlisted_at,
                data,
            )
        }
        FollowUpWaitlisted::TYPE_NAME => {
            let e: FollowUpWaitlisted = incoming.decode()?;
            let data = json!({"referral_id": e.referral_id, "physio_id": e.physio_id, "kind": "follow_up"});
            event(
                WebhookType::ReferralWaitlisted,
                one(&e.clinic_id)?,
                None,
                data,
            )
        }
        DeadlineReached::TYPE_NAME => {
            let e: DeadlineReached = incoming.decode()?;
            if e.kind() != DeadlineKind::Booking || e.stage() != DeadlineStage::Escalation {
                return Ok(None);
            }
            let data = json!({
                "referral_id": e.referral_id,
                "priority": code(e.priority().as_str_name(), "PRIORITY_"),
                "target_by": at(e.target_by),
            });
            event(
                WebhookType::ReferralOverdue,
                all(&e.clinic_ids)?,
                e.reached_at,
                data,
            )
        }
        GuidanceShared::TYPE_NAME => {
            let e: GuidanceShared = incoming.decode()?;
            // Codes and ids only: not even the clearance, which is content.
            let data = json!({
                "referral_id": e.referral_id, "guidance_id": e.guidance_id,
                "version": e.version, "physio_id": e.physio_id,
                "review_on": (!e.review_on.is_empty()).then_some(&e.review_on),
            });
            // From a sender before the field: no clinic to tell.
            event(
                WebhookType::GuidanceShared,
                one(&e.clinic_id)?,
                e.shared_at,
                data,
            )
        }
        _ => return Ok(None),
    }))
}
