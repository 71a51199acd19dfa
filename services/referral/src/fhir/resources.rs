//! A referral as FHIR R4 resources (docs/fhir.md): plain functions from
//! what was loaded to JSON. Health detail (body site, reason, the client's
//! name) goes in only when the caller may see it, as in the JSON API.

use super::codes;
use super::course::{Course, Health};
use crate::referrals::visits::Visit;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// An instant as FHIR writes it (RFC 3339, UTC).
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn reference(kind: &str, id: Uuid) -> Json {
    json!({ "reference": format!("{kind}/{id}") })
}

/// The client, unnamed: for the resources whose reads are not audited
/// (Task, Appointment).
pub fn patient(course: &Course) -> Json {
    reference("Patient", course.referral.client_id)
}

/// The client; named only to those who see health detail.
pub fn subject(course: &Course) -> Json {
    let mut subject = reference("Patient", course.referral.client_id);
    if let Some(health) = &course.health {
        subject["display"] = json!(health.client_name);
    }
    subject
}

fn referral_reference(course: &Course) -> Json {
    reference("ServiceRequest", course.referral.id)
}

/// The referral itself: requested by the trainer, performed by the physio
/// it is booked with.
pub fn service_request(course: &Course) -> Json {
    let r = &course.referral;
    let mut resource = json!({
        "resourceType": "ServiceRequest",
        "id": r.id,
        "meta": { "lastUpdated": instant(r.updated_at) },
        "status": codes::request_status(r.status),
        "intent": "order",
        "category": [{ "coding": [{
            "system": codes::SNOMED, "code": "3457005", "display": "Patient referral"
        }] }],
        "priority": codes::priority(r.priority),
        "code": { "text": "Physiotherapy assessment and exercise guidance" },
        "subject": subject(course),
        "authoredOn": instant(r.created_at),
        "requester": reference("Practitioner", r.trainer_id),
    });
    if let Some(target_by) = r.target_by {
        resource["occurrencePeriod"] =
            json!({ "start": instant(r.created_at), "end": instant(target_by) });
    }
    if let Some(physio) = r.physio_id {
        resource["performer"] = json!([reference("Practitioner", physio)]);
    }
    if let Some(health) = &course.health {
        add_injury(&mut resource, health, r.id);
    }
    resource
}

fn add_injury(resource: &mut Json, health: &Health, referral: Uuid) {
    let injury = &health.injury;
    let mut body_site = json!({
        "text": format!("{}, side: {}", injury.body_region.as_str(), injury.side.as_str())
    });
    if let Some((code, display)) = codes::body_structure(injury.body_region) {
        body_site["coding"] =
            json!([{ "system": codes::SNOMED, "code": code, "display": display }]);
    }
    resource["bodySite"] = json!([body_site]);
    resource["reasonCode"] = json!([{ "text": injury.description }]);
    resource["note"] = json!([{ "text": format!(
        "Mechanism: {}. Pain {}/10 when flagged. Onset {}.",
        injury.mechanism, injury.pain_level, injury.onset_date
    ) }]);
    if health.screening.is_some() {
        // Stored under the referral's id (one screening per referral).
        resource["supportingInfo"] = json!([reference("QuestionnaireResponse", referral)]);
    }
}

/// The referral's workflow, as closed-loop referral guides track it: the
/// state, Spotter's own finer status, the target and what is awaited now.
pub fn task(course: &Course) -> Json {
    let r = &course.referral;
    let mut resource = json!({
        "resourceType": "Task",
        "id": r.id,
        "meta": { "lastUpdated": instant(r.updated_at) },
        "basedOn": [referral_reference(course)],
        "focus": referral_reference(course),
        "for": patient(course),
        "status": codes::task_status(r.status),
        "businessStatus": {
            "coding": [{ "system": codes::REFERRAL_STATUS, "code": r.status.as_str() }],
            "text": r.status.as_str(),
        },
        "intent": "order",
        "priority": codes::priority(r.priority),
        "code": { "coding": [{
            "system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"
        }] },
        "authoredOn": instant(r.created_at),
        "lastModified": instant(r.updated_at),
        "requester": reference("Practitioner", r.trainer_id),
    });
    if let Some(physio) = r.physio_id {
        resource["owner"] = reference("Practitioner", physio);
    }
    let mut execution = json!({ "start": instant(r.created_at) });
    if let Some(discharged) = r.discharged_at {
        execution["end"] = json!(instant(discharged));
    }
    resource["executionPeriod"] = execution;
    if let Some(target_by) = r.target_by {
        resource["restriction"] = json!({ "period": { "end": instant(target_by) } });
    }
    let awaited: Vec<Json> = course
        .awaiting
        .iter()
        .map(|wait| {
            json!({
                "type": { "coding": [{ "system": codes::AWAITED, "code": wait.awaited.as_str() }] },
                "valuePeriod": { "start": instant(wait.since), "end": instant(wait.next_step_at) },
            })
        })
        .collect();
    if !awaited.is_empty() {
        resource["input"] = json!(awaited);
    }
    resource
}

/// One visit: with the physio, for the client, under the referral.
pub fn appointment(course: &Course, visit: &Visit) -> Json {
    let (type_code, type_display) = codes::appointment_type(visit.kind);
    let mut resource = json!({
        "resourceType": "Appointment",
        "id": visit.appointment_id,
        "status": codes::appointment_status(visit.status),
        "appointmentType": { "coding": [{
            "system": codes::APPOINTMENT_TYPE, "code": type_code, "display": type_display
        }] },
        "basedOn": [referral_reference(course)],
        "participant": [
            { "actor": reference("Practitioner", visit.physio_id), "required": "required", "status": "accepted" },
            { "actor": patient(course), "required": "required", "status": "accepted" },
        ],
    });
    if let Some(start) = visit.starts_at {
        resource["start"] = json!(instant(start));
    }
    if let Some(end) = visit.ends_at {
        resource["end"] = json!(instant(end));
    }
    resource
}

/// The client's consent to share the injury with a physio, as the trainer
/// recorded it; inactive once withdrawn.
pub fn consent(course: &Course, health: &Health) -> Json {
    let r = &course.referral;
    let injury = &health.injury;
    let mut provision = json!({
        "type": "permit",
        "period": { "start": instant(injury.consent_recorded_at) },
        "purpose": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"
        }],
    });
    if let Some(physio) = r.physio_id {
        provision["actor"] = json!([{
            "role": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP"
            }] },
            "reference": reference("Practitioner", physio),
        }]);
    }
    json!({
        "resourceType": "Consent",
        "id": r.id,
        "status": if health.consent_withdrawn { "inactive" } else { "active" },
        "scope": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"
        }] },
        "category": [{ "coding": [{
            "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"
        }] }],
        "patient": subject(course),
        "dateTime": instant(injury.consent_recorded_at),
        "performer": [subject(course)],
        "policyRule": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"
        }] },
        "sourceAttachment": {
            "title": format!("Consent obtained by the trainer ({})", injury.consent_method.as_str()),
            "creation": instant(injury.consent_recorded_at),
        },
        "provision": provision,
    })
}

/// The triage answers as stored, given an id and tied to the referral.
pub fn questionnaire_response(course: &Course, stored: &Json) -> Json {
    let mut resource = stored.clone();
    resource["id"] = json!(course.referral.id);
    resource["basedOn"] = json!([referral_reference(course)]);
    resource["subject"] = subject(course);
    resource["author"] = reference("Practitioner", course.referral.trainer_id);
    resource
}
