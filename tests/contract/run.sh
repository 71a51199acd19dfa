#!/usr/bin/env bash
# The API contract tested from outside (docs/architecture.md, "HTTP
# conventions"): schemathesis fuzzes the dev stack's /openapi.json once per
# role and fails on any of
#   not_a_server_error        no 5xx, whatever is sent
#   negative_data_rejection   what the schema forbids is refused (4xx)
#   positive_data_acceptance  what the schema allows is not refused as invalid
#   response_schema_conformance  every answer matches its declared schema
#   ignored_auth              a secured operation without a token is a 401
# and, first, validates the FHIR views of the seeded referral against FHIR R4
# with a FHIR library (fhir_check.py).
#
# It starts its own dev stack (own databases, exchange and queues, a free
# port), seeds it with `spotter demo` so the main operations reach real rows,
# and stops it again. Needs PostgreSQL, RabbitMQ and python3 with venv
# (make deps-test sees to all three) and a built `spotter` binary.
#
# Environment:
#   SPOTTER_BIN            the binary (default target/debug/spotter)
#   SPOTTER_CONTRACT_VENV  where schemathesis is installed (default target/contract-venv)
#   SPOTTER_FHIR_VENV      where the FHIR validator is installed (default target/fhir-venv)
#   SPOTTER_CONTRACT_EXAMPLES  examples per operation and phase (default: the toml's)
#   SPOTTER_CONTRACT_PYTHON    the interpreter for the virtualenv (default: the
#                          system's /usr/bin/python3)
#
# One worker: with two, schemathesis 4.32.5 now and then crashed inside
# Hypothesis (a KeyError in its source cache, or CPython 3.11.7's "AST
# constructor recursion depth mismatch"), an error of the tool, not a finding.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${SPOTTER_BIN:-$root/target/debug/spotter}"
venv="${SPOTTER_CONTRACT_VENV:-$root/target/contract-venv}"
work="$(mktemp -d)"
run_id="contract$$"
# Per run, so two runs at once never drop each other's databases.
prefix="spotter_${run_id}_"
say() { printf 'contract: %s\n' "$*"; }

# --- the fuzzer, pinned, in its own virtualenv --------------------------------------
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")"; then
    say "installing $(grep -v '^#' "$here/requirements.txt") into $venv"
    python="${SPOTTER_CONTRACT_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# The FHIR validator (fhir_check.py), pinned, in a virtualenv of its own: its
# models are not schemathesis's business, nor its dependencies.
fhir_venv="${SPOTTER_FHIR_VENV:-$root/target/fhir-venv}"
if ! "$fhir_venv/bin/python" -c 'import fhir.resources' 2>/dev/null \
    || ! "$fhir_venv/bin/pip" freeze 2>/dev/null | grep -qxF "$(grep '^fhir.resources==' "$here/fhir-requirements.txt")"; then
    say "installing the FHIR validator into $fhir_venv"
    python="${SPOTTER_CONTRACT_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
    "$python" -m venv "$fhir_venv"
    "$fhir_venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/fhir-requirements.txt"
fi

# --- a dev stack of its own ---------------------------------------------------------
# As the stack connects: the OS user's role, over the local socket.
drop_databases() {
    for service in referral booking notification; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ${prefix}${service} WITH (FORCE)" >/dev/null
    done
}
# The run's queues and exchange hold nothing anyone needs once it ends.
delete_queues() {
    command -v rabbitmqctl >/dev/null || return 0
    rabbitmqctl -q list_queues name 2>/dev/null | grep "^${run_id}\." | while read -r queue; do
        # </dev/null: rabbitmqctl would otherwise read the rest of the list.
        rabbitmqctl -q delete_queue "$queue" </dev/null >/dev/null 2>&1 || true
    done
    # rabbitmqctl has no exchange command; the broker's own function does it.
    rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"${run_id}.events\">>), false, <<\"contract-run\">>)." \
        </dev/null >/dev/null 2>&1 || true
}
stack_pid=""
finish() {
    status=$?
    if [ -n "$stack_pid" ]; then kill "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null || true; fi
    if [ "$status" -ne 0 ] && [ -f "$work/stack.log" ]; then
        say "the stack's last log lines:"
        grep -v 'RateLimited' "$work/stack.log" | tail -n 20 | cut -c1-600 >&2
    fi
    drop_databases || true
    delete_queues || true
    rm -rf "$work"
    exit "$status"
}
trap finish EXIT

# Its own exchange and queue names, so another stack on this broker (make run,
# another contract run) and this one never take each other's events. Per-user rate limits raised
# far above the fuzzer's pace (they have tests of their own): at the shipped
# limits most operations would only ever answer 429 and go untested. The
# schema states the radius's hard ceiling (500 km); a deployment may cap it
# lower (50 km by default), which only it knows, so this run uses the ceiling.
SPOTTER_BROKER__EXCHANGE="${run_id}.events" SPOTTER_BROKER__QUEUE_PREFIX="$run_id." \
    SPOTTER_RATE_LIMITS__READS_PER_MINUTE=1000000 SPOTTER_RATE_LIMITS__READ_BURST=100000 \
    SPOTTER_RATE_LIMITS__WRITES_PER_MINUTE=1000000 SPOTTER_RATE_LIMITS__WRITE_BURST=100000 \
    SPOTTER_QUOTAS__MAX_SERVICE_RADIUS_KM=500 \
    SPOTTER_LOG__FORMAT=json \
    "$bin" dev --port 0 --db-prefix "$prefix" --keys-dir "$work/keys" \
    >"$work/stack.log" 2>&1 &
stack_pid=$!
# Port 0: the stack binds a free port itself and prints it in its banner.
base=""
for _ in $(seq 1 600); do
    base="$(sed -n 's/^Spotter dev stack listening on \(http:[^ ]*\).*/\1/p' "$work/stack.log" | head -n 1)"
    [ -n "$base" ] && break
    kill -0 "$stack_pid" 2>/dev/null || { say "the dev stack exited"; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { say "the dev stack printed no address in a minute"; exit 1; }
# "ready", not just 200: a stack whose broker is still connecting answers
# 200 "degraded", and the demo below needs the broker.
ready() { python3 -c 'import json, sys, urllib.request; sys.exit(json.load(urllib.request.urlopen(sys.argv[1], timeout=2))["status"] != "ready")' "$base/readyz" 2>/dev/null; }
for _ in $(seq 1 600); do
    if ready; then break; fi
    kill -0 "$stack_pid" 2>/dev/null || { say "the dev stack exited"; exit 1; }
    sleep 0.1
done
ready || { say "the dev stack is not ready after a minute"; exit 1; }

# --- seed data: the whole loop once, so ids are real --------------------------------
"$bin" demo --url "$base" --keys-dir "$work/keys" --ids-out "$work/ids.json" >"$work/demo.log"
id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/ids.json" "$1"; }
# One assignment per line: `export X="$(…)"` would hide a failed lookup.
SEED_REFERRAL_ID="$(id referral_id)"
SEED_CLIENT_ID="$(id client_id)"
SEED_CLINIC_ID="$(id clinic_id)"
SEED_PHYSIO_ID="$(id physio_id)"
SEED_APPOINTMENT_ID="$(id appointment_id)"
export SEED_REFERRAL_ID SEED_CLIENT_ID SEED_CLINIC_ID SEED_PHYSIO_ID SEED_APPOINTMENT_ID
export CONTRACT_HOOKS="$here/hooks.py"
clinic="$SEED_CLINIC_ID"
token() { "$bin" token --keys-dir "$work/keys" --ttl 2h "$@"; }

# --- the FHIR views, validated as R4 by a FHIR library ------------------------------
# Before the fuzzer changes the seeded referral: the whole loop's resources.
failed=()
say "validating the FHIR views of the seeded referral"
if ! "$fhir_venv/bin/python" "$here/fhir_check.py" "$base" "$SEED_REFERRAL_ID" \
    "$(token --role trainer --sub "$(id trainer_id)")" \
    "$(token --role physio --sub "$(id physio_id)" --clinic "$clinic")" \
    "$(token --role clinic_admin --sub "$(id clinic_admin_id)" --clinic "$clinic")"; then
    failed+=("fhir")
fi

# --- once per role ------------------------------------------------------------------
examples=()
if [ -n "${SPOTTER_CONTRACT_EXAMPLES:-}" ]; then examples=(--max-examples "$SPOTTER_CONTRACT_EXAMPLES"); fi
for role in trainer physio clinic_admin platform_admin; do
    case "$role" in
        trainer) auth=$(token --role trainer --sub "$(id trainer_id)") ;;
        physio) auth=$(token --role physio --sub "$(id physio_id)" --clinic "$clinic") ;;
        clinic_admin) auth=$(token --role clinic_admin --sub "$(id clinic_admin_id)" --clinic "$clinic") ;;
        platform_admin) auth=$(token --role platform_admin --sub "$(id platform_admin_id)") ;;
    esac
    say "fuzzing $base/openapi.json as $role"
    if ! (cd "$work" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run \
        "$base/openapi.json" \
        --checks not_a_server_error,negative_data_rejection,positive_data_acceptance,response_schema_conformance,ignored_auth \
        --header "Authorization: Bearer $auth" \
        --seed 20261202 --workers 1 --request-timeout 10 --no-color \
        "${examples[@]}"); then
        failed+=("$role")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED for: ${failed[*]}"
    exit 1
fi
say "FHIR valid, and every role: zero failures"
