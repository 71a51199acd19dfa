"""Schemathesis hooks for tests/contract/run.sh: what a real client does that
a schema cannot say, applied to every phase's requests just before sending.

* A new Idempotency-Key per request, as the app sends one per action. The
  fuzzer draws keys from a small space ("0", "00" ...), so two different
  bodies would share a key, and the server rightly refuses a reused key
  with another body (422, as the IETF Idempotency-Key draft asks).
* The screening questionnaire answered as the app answers it: which
  questions must be answered depends on the other answers and the body
  region, which a schema cannot say, so a positive injury report gets a
  complete all-clear answer set for its region (and, like any app that
  sends the questionnaire, no deprecated red_flags beside it), unless it
  uses the deprecated checklist alone. A schema cannot say "one of the two
  is required" either; nor can it say that guidance's avoid entries name a
  movement or a pattern (a load cap belongs to a pattern), or that a PSFS
  names each activity once. Nor that a webhook endpoint is https to a
  public address.
* Dates judged against today: an injury's onset is on or before today, a
  review date and time off lie ahead, and both end after they start; a
  training session was performed within the last 30 days. Only
  positive cases (every value schema-valid) are moved into the window the
  server accepts; a negative case is sent as drawn, so a value the schema
  forbids is never turned into one it allows.
"""

import datetime
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[!-~]{1,200}", re.ASCII)


def _today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def _move(body, field, value):
    if isinstance(body, dict) and isinstance(body.get(field), str):
        body[field] = value


def _is_negative(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_negative


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"contract-{uuid.uuid4()}"
    if _is_negative(case):
        return
    body = case.body
    today = _today()
    _move(body, "onset_date", today.isoformat())
    _move(body, "cleared_on", today.isoformat())
    # A session is logged after it happened, within the last 30 days.
    now = datetime.datetime.now(datetime.timezone.utc)
    _move(body, "performed_at", (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if case.operation.path == "/v1/injury-reports" and isinstance(body, dict):
        _answer_screening(body)
    if isinstance(body, dict):
        _distinct_activities(body.get("psfs"))
        _name_what_to_avoid(body.get("avoid"))
    _move(body, "review_on", (today + datetime.timedelta(days=30)).isoformat())
    if "/webhooks" in case.operation.path:
        # An endpoint must be https to a public address, which a schema
        # cannot say; resolving is not needed for it to be accepted.
        _move(body, "url", "https://ehr.example.org/spotter")
        # Each type once (a repeat is a 422 naming it).
        if isinstance(body, dict) and isinstance(body.get("event_types"), list):
            body["event_types"] = list(dict.fromkeys(body["event_types"]))
    if case.operation.path.endswith("/time-off"):
        start = datetime.datetime.combine(today + datetime.timedelta(days=60), datetime.time(9))
        _move(body, "start", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _move(body, "end", (start + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if case.operation.path.endswith("/weekly-hours") and isinstance(body, dict):
        hours = body.get("hours")
        if isinstance(hours, list) and all(isinstance(h, dict) for h in hours):
            # One slot per weekday, morning to evening: no overlaps, end after start.
            for hour in hours:
                if isinstance(hour.get("start"), str) and isinstance(hour.get("end"), str):
                    hour["start"], hour["end"] = "07:00", "19:00"
            # 6 and 6.0 are the same day.
            weekdays = [repr(float(w)) if isinstance(w, (int, float)) else repr(w) for w in (h.get("weekday") for h in hours)]
            if len(set(weekdays)) != len(weekdays):
                del hours[1:]


def _distinct_activities(psfs):
    # A client names each activity once (however it is capitalised).
    if isinstance(psfs, list):
        for i, item in enumerate(psfs):
            if isinstance(item, dict) and isinstance(item.get("activity"), str):
                item["activity"] = f"activity {i + 1}"


def _name_what_to_avoid(avoid):
    # An avoid entry says what, in words or as a pattern; a load cap is a
    # pattern's.
    if isinstance(avoid, list):
        for item in avoid:
            if not isinstance(item, dict):
                continue
            if item.get("pattern") is None and item.get("max_load_kg") is not None:
                item["pattern"] = "hinge"
            if item.get("pattern") is None and item.get("movement") is None:
                item["movement"] = "deep squats"


# Questionnaire version 1 (GET /v1/triage/questionnaire), all clear.
_ALWAYS = {
    "exertional_chest_symptoms": False,
    "head_impact": False,
    "obvious_deformity": False,
    "onset": "gradual",
    "nerve_symptoms": False,
    "unrelenting_night_pain": False,
    "function": "normal",
}
_SPINE = ("neck", "upper_back", "lower_back")


def _answer_screening(body):
    # The deprecated checklist alone is a complete report of its own.
    if "screening" not in body and isinstance(body.get("red_flags"), list):
        return
    region = body.get("body_region")
    answers = dict(_ALWAYS)
    if region == "lower_back":
        answers["saddle_numbness_or_bladder_bowel"] = False
    if region in _SPINE:
        answers["fever_or_unwell"] = False
        answers["cancer_history"] = False
    body["screening"] = {"questionnaire_version": 1, "answers": answers}
    body.pop("red_flags", None)
