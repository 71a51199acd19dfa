//! `ServiceRequest/{id}/$everything` as a searchset Bundle, and the
//! server's CapabilityStatement (`/fhir/r4/metadata`).

use super::care_plan::care_plans;
use super::course::Course;
use super::resources::{appointment, consent, questionnaire_response, service_request, task};
use serde_json::{Value as Json, json};

/// The referral (the match) and everything under it the caller may see
/// (included): its task, visits, and for the trainer and the treating
/// physio the consent, the triage answers and every guidance version.
/// `base` is this server's FHIR base URL, ending in `/`.
pub fn everything(base: &str, course: &Course) -> Json {
    let mut included = vec![task(course)];
    included.extend(course.visits.iter().map(|v| appointment(course, v)));
    if let Some(health) = &course.health {
        included.push(consent(course, health));
        if let Some(stored) = &health.screening {
            included.push(questionnaire_response(course, stored));
        }
        included.extend(care_plans(course, &health.guidance));
    }
    let entry = |resource: Json, mode: &str| {
        let url = format!(
            "{base}{}/{}",
            resource["resourceType"].as_str().unwrap_or_default(),
            resource["id"].as_str().unwrap_or_default()
        );
        json!({ "fullUrl": url, "resource": resource, "search": { "mode": mode } })
    };
    let mut entries = vec![entry(service_request(course), "match")];
    entries.extend(included.into_iter().map(|r| entry(r, "include")));
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [{
            "relation": "self",
            "url": format!("{base}ServiceRequest/{}/$everything", course.referral.id),
        }],
        "entry": entries,
    })
}

/// The resources served, each read by id; `$everything` on ServiceRequest.
pub const RESOURCES: [&str; 6] = [
    "ServiceRequest",
    "Task",
    "Appointment",
    "CarePlan",
    "Consent",
    "QuestionnaireResponse",
];

pub fn capability_statement(base: &str) -> Json {
    let resources: Vec<Json> = RESOURCES
        .iter()
        .map(|kind| {
            let mut resource = json!({ "type": kind, "interaction": [{ "code": "read" }] });
            if *kind == "ServiceRequest" {
                resource["operation"] = json!([{
                    "name": "everything",
                    "definition": "urn:spotter:operation:servicerequest-everything",
                    "documentation": "The referral and everything under it the caller may see, as a searchset Bundle.",
                }]);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-02",
        "publisher": "Spotter",
        "kind": "instance",
        "software": { "name": "Spotter", "version": env!("CARGO_PKG_VERSION") },
        "implementation": {
            "description": "Read-only FHIR R4 views of Spotter referrals",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": "The same access rules as Spotter's JSON API: a referral is visible to its trainer, its treating physio and the clinic it is booked with; health detail to the trainer and the treating physio only.",
            "security": {
                "service": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth"
                }] }],
                "description": "A bearer JWT from Spotter's identity provider, as for the JSON API.",
            },
            "resource": resources,
        }],
    })
}
