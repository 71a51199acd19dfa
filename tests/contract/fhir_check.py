"""Every FHIR resource the dev stack serves, validated against FHIR R4 by a
FHIR library (fhir.resources 5.1.1, whose models are R4 4.0.1), never by
Spotter's own code (docs/fhir.md, "Validation").

For the seeded referral, as its trainer, its physio and its clinic's admin:
the CapabilityStatement, `$everything`, each resource of the bundle read on
its own, and the OperationOutcome of a 404 and of a 401. Each must

* parse strictly: no element R4 does not define, every required element
  present, every element of its declared type and cardinality (the
  library's checks), and no value the library could not read (it only
  logs an unreadable date, so a log record at WARNING fails the check);
* use only codes of the value sets R4 binds `required` (the library does
  not check those, so the table below, copied from the R4 specification,
  does);
* come as application/fhir+json.

Usage: fhir_check.py BASE_URL REFERRAL_ID TRAINER_TOKEN PHYSIO_TOKEN ADMIN_TOKEN
Exits 1 on the first resource that fails, naming it and why.
"""

import json
import logging
import sys
import urllib.error
import urllib.request

import fhir.resources
from fhir.resources.fhirelementfactory import FHIRElementFactory

# The required bindings of the elements Spotter fills (hl7.org/fhir/R4).
REQUIRED = {
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"},
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Task", "status"): {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress", "on-hold", "failed", "completed", "entered-in-error"},
    ("Task", "intent"): {"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"},
    ("Task", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Appointment", "status"): {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error", "checked-in", "waitlist"},
    ("CarePlan", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"},
    ("CapabilityStatement", "status"): {"draft", "active", "retired", "unknown"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
}
PARTICIPANT_STATUS = {"accepted", "declined", "tentative", "needs-action"}
PARTICIPANT_REQUIRED = {"required", "optional", "information-only"}
ACTIVITY_STATUS = {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown", "entered-in-error"}
ACTIVITY_KIND = {"Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest", "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription"}
SEARCH_MODE = {"match", "include", "outcome"}
ISSUE_SEVERITY = {"fatal", "error", "warning", "information"}
ISSUE_TYPE = {"invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches", "not-found", "deleted", "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict", "transient", "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled", "informational"}
CONSENT_PROVISION = {"deny", "permit"}


class Invalid(Exception):
    pass


class _FailOnWarning(logging.Handler):
    """fhir.resources logs, and keeps, a date it cannot parse."""

    def emit(self, record):
        raise Invalid(record.getMessage())


logging.getLogger("fhir.resources").addHandler(_FailOnWarning(level=logging.WARNING))


def _bound(value, allowed, where):
    if value not in allowed:
        raise Invalid(f"{where} = {value!r} is not in its R4 value set")


def check_codes(resource):
    kind = resource["resourceType"]
    for (owner, element), allowed in REQUIRED.items():
        if owner == kind and element in resource:
            _bound(resource[element], allowed, f"{kind}.{element}")
    if kind == "Appointment":
        for p in resource["participant"]:
            _bound(p["status"], PARTICIPANT_STATUS, "Appointment.participant.status")
            _bound(p.get("required", "required"), PARTICIPANT_REQUIRED, "Appointment.participant.required")
    if kind == "CarePlan":
        for activity in resource.get("activity", []):
            detail = activity["detail"]
            _bound(detail["status"], ACTIVITY_STATUS, "CarePlan.activity.detail.status")
            if "kind" in detail:
                _bound(detail["kind"], ACTIVITY_KIND, "CarePlan.activity.detail.kind")
    if kind == "Consent" and "provision" in resource:
        _bound(resource["provision"]["type"], CONSENT_PROVISION, "Consent.provision.type")
    if kind == "OperationOutcome":
        for issue in resource["issue"]:
            _bound(issue["severity"], ISSUE_SEVERITY, "OperationOutcome.issue.severity")
            _bound(issue["code"], ISSUE_TYPE, "OperationOutcome.issue.code")
    if kind == "CapabilityStatement":
        if resource["fhirVersion"] != "4.0.1":
            raise Invalid(f"fhirVersion {resource['fhirVersion']!r} is not R4")
    if kind == "Bundle":
        for entry in resource.get("entry", []):
            _bound(entry["search"]["mode"], SEARCH_MODE, "Bundle.entry.search.mode")
            check_codes(entry["resource"])


def validate(resource, where):
    try:
        FHIRElementFactory.instantiate(resource["resourceType"], resource)
        check_codes(resource)
    except Exception as error:  # the library raises its own and KeyError/TypeError
        raise Invalid(f"{where}: {error}") from None


def fetch(url, token=None, status=200):
    request = urllib.request.Request(url, headers={"Accept": "application/fhir+json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    body = response.read()
    if response.status != status:
        raise Invalid(f"GET {url}: {response.status}, expected {status}: {body[:300]!r}")
    content_type = response.headers.get("Content-Type", "")
    if content_type != "application/fhir+json":
        raise Invalid(f"GET {url}: content type {content_type!r}")
    return json.loads(body)


def main(base, referral, trainer, physio, admin):
    fhir_base = f"{base}/fhir/r4/"
    checked = {}

    def check(url, token=None, status=200):
        resource = fetch(url, token, status)
        validate(resource, url)
        checked[resource["resourceType"]] = checked.get(resource["resourceType"], 0) + 1
        return resource

    check(fhir_base + "metadata")
    check(f"{fhir_base}ServiceRequest/{referral}", status=401)
    check(f"{fhir_base}ServiceRequest/00000000-0000-0000-0000-000000000000", trainer, status=404)
    for role, token in (("trainer", trainer), ("physio", physio), ("clinic_admin", admin)):
        bundle = check(f"{fhir_base}ServiceRequest/{referral}/$everything", token)
        kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
        print(f"fhir: {role} sees {', '.join(kinds)}")
        for entry in bundle["entry"]:
            check(entry["fullUrl"], token)
    # The seeded referral went through the whole loop: every resource type
    # the server names was served and validated at least once.
    statement = fetch(fhir_base + "metadata")
    served = {r["type"] for r in statement["rest"][0]["resource"]}
    missing = served - checked.keys()
    if missing:
        raise Invalid(f"never served, so never validated: {sorted(missing)}")
    print(f"fhir: valid R4 (fhir.resources {fhir.resources.__version__}, FHIR {fhir.resources.__fhir_version__}): "
          + ", ".join(f"{kind} ×{n}" for kind, n in sorted(checked.items())))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:6])
    except Invalid as failure:
        print(f"fhir: INVALID {failure}", file=sys.stderr)
        sys.exit(1)
