//! Each guidance version as a FHIR R4 CarePlan: the exercises as activities,
//! each avoided movement as an activity with `doNotPerform`, the limits as a
//! note, the review date as the end of the plan's period and a planned
//! appointment. A newer version `replaces` the one before.

use super::codes;
use super::course::Course;
use super::resources::{instant, reference, subject};
use crate::domain::lifecycle::Status;
use crate::guidance::GuidanceView;
use crate::guidance::model::{Avoid, Exercise};
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// Every version, oldest first (as `guidance` is ordered).
pub fn care_plans(course: &Course, guidance: &[GuidanceView]) -> Vec<Json> {
    (0..guidance.len())
        .map(|i| at(course, guidance, i))
        .collect()
}

/// The version with id `id`, if it is one of them.
pub fn care_plan_of(course: &Course, guidance: &[GuidanceView], id: Uuid) -> Option<Json> {
    let i = guidance.iter().position(|version| version.id == id)?;
    Some(at(course, guidance, i))
}

/// Version `i`, which replaces the one before it.
fn at(course: &Course, guidance: &[GuidanceView], i: usize) -> Json {
    let previous = i.checked_sub(1).map(|p| &guidance[p]);
    care_plan(course, &guidance[i], previous, i + 1 == guidance.len())
}

fn care_plan(
    course: &Course,
    version: &GuidanceView,
    previous: Option<&GuidanceView>,
    latest: bool,
) -> Json {
    let status = plan_status(course.referral.status, latest);
    let activity_status = match status {
        "active" => "scheduled",
        "completed" => "completed",
        _ => "stopped",
    };
    let mut activities: Vec<Json> = version
        .exercises
        .iter()
        .map(|e| exercise(e, activity_status))
        .collect();
    activities.extend(version.avoid.iter().map(|a| avoided(a, activity_status)));
    let mut period = json!({ "start": instant(version.created_at) });
    if let Some(review_on) = version.review_on {
        period["end"] = json!(review_on.to_string());
        activities.push(json!({ "detail": {
            "kind": "Appointment",
            "status": activity_status,
            "code": { "text": "Review with the physio" },
            "scheduledPeriod": { "start": review_on.to_string() },
        } }));
    }
    let limits = &version.load_limits;
    let mut notes = vec![json!({ "text": format!(
        "Keep effort at or below RPE {}; stop when pain reaches {}/10.",
        limits.max_rpe.get(),
        limits.pain_ceiling.get()
    ) })];
    if !version.notes_for_trainer.is_empty() {
        notes.push(json!({ "text": version.notes_for_trainer }));
    }
    let mut resource = json!({
        "resourceType": "CarePlan",
        "id": version.id,
        "status": status,
        "intent": "plan",
        "category": [{
            "coding": [{ "system": codes::CLEARANCE, "code": version.clearance.as_str() }],
            "text": version.clearance.as_str(),
        }],
        "title": format!("Exercise guidance, version {}", version.version),
        "subject": subject(course),
        // R4's CarePlan.basedOn names care plans only; the referral it
        // answers is supporting information.
        "supportingInfo": [reference("ServiceRequest", course.referral.id)],
        "period": period,
        "created": instant(version.created_at),
        "author": reference("Practitioner", version.physio_id),
        "activity": activities,
        "note": notes,
    });
    if let Some(previous) = previous {
        resource["replaces"] = json!([reference("CarePlan", previous.id)]);
    }
    resource
}

/// The latest version is the plan in force until the referral ends (a
/// discharge completes it, a cancellation or a missed course revokes it);
/// an earlier version was completed when the next replaced it.
fn plan_status(referral: Status, latest: bool) -> &'static str {
    if !latest {
        return "completed";
    }
    match codes::request_status(referral) {
        "active" | "on-hold" => "active",
        "completed" => "completed",
        _ => "revoked",
    }
}

fn exercise(e: &Exercise, status: &str) -> Json {
    let mut dose = format!("{} sets of {} reps", e.sets.get(), e.reps.get());
    if e.hold_seconds.get() > 0 {
        dose.push_str(&format!(", hold {} s", e.hold_seconds.get()));
    }
    if let Some(notes) = e.notes.as_ref().filter(|n| !n.as_str().is_empty()) {
        dose.push_str(&format!(". {}", notes.as_str()));
    }
    json!({ "detail": {
        "status": status,
        "code": pattern_code(e.name.as_str(), e.pattern),
        "doNotPerform": false,
        "scheduledTiming": { "repeat": { "frequency": e.per_week.get(), "period": 1, "periodUnit": "wk" } },
        "description": dose,
    } })
}

fn avoided(a: &Avoid, status: &str) -> Json {
    let name = a
        .movement
        .as_ref()
        .map(|m| m.as_str())
        .or(a.pattern.map(|p| p.as_str()))
        .unwrap_or("movement");
    let mut detail = json!({
        "status": status,
        "code": pattern_code(name, a.pattern),
        "doNotPerform": true,
        "reasonCode": [{ "text": a.reason.as_str() }],
    });
    if let Some(cap) = a.max_load_kg {
        detail["description"] = json!(format!("Above {} kg", cap.get()));
    }
    json!({ "detail": detail })
}

fn pattern_code(text: &str, pattern: Option<crate::domain::training::MovementPattern>) -> Json {
    let mut code = json!({ "text": text });
    if let Some(pattern) = pattern {
        code["coding"] = json!([{ "system": codes::MOVEMENT_PATTERN, "code": pattern.as_str() }]);
    }
    code
}
