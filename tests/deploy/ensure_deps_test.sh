#!/usr/bin/env bash
# deploy/local/ensure-deps.sh against the states it meets on a machine, the
# systemd host's included (issue 18: there, `apt-get install postgresql`
# starts the cluster itself, `pg_ctlcluster … start` then exited 2 "already
# running" and `make run` died).
#
#   1. everything already running: exit 0, twice (idempotent), nothing started
#   2. the systemd symptom: the cluster is online (its package started it) but
#      did not answer yet when the script first probed (a pg_isready stand-in
#      says "no response" once): the script must see it running, not start it
#      again, and exit 0
#   3. the race after it: the cluster came up between the script's status
#      check (a pg_lsclusters stand-in says "down" once) and its start, so the
#      real `pg_ctlcluster start` exits 2: success, since the cluster is online
#   4. a stopped cluster (pg_ctlcluster stop) whose start "exits 2" (a
#      pg_ctlcluster stand-in) while it stays down: the script must fail, not
#      take the 2 for success
#   5. a stopped cluster: the script starts it and PostgreSQL answers
#   6. RabbitMQ's node running with its application stopped (rabbitmqctl
#      stop_app): the script starts the application and AMQP answers
#
# Cases 4-6 stop PostgreSQL or RabbitMQ: run this alone (serially, as
# test-serial does), never beside other tests. --no-stop runs cases 1-3 only,
# which stop nothing. Whatever ends stopped is started again on exit (trap),
# however the test ends. Needs root (pg_ctlcluster) and the Debian packages
# postgresql and rabbitmq-server, as ensure-deps.sh installs them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
script="$root/deploy/local/ensure-deps.sh"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
stop_cases=true
if [ "${1:-}" = "--no-stop" ]; then
    stop_cases=false
fi

say() { printf 'ensure-deps-test: %s\n' "$*"; }
failures=0
passes=0
fail() {
    say "FAIL: $*"
    failures=$((failures + 1))
}
pass() {
    say "ok: $*"
    passes=$((passes + 1))
}

if [ "$(id -u)" -ne 0 ]; then
    say "skipped: needs root (it stops and starts the local PostgreSQL cluster)"
    exit 0
fi
for tool in pg_lsclusters pg_ctlcluster pg_isready rabbitmqctl rabbitmq-diagnostics; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "skipped: $tool not installed (run deploy/local/ensure-deps.sh first)"
        exit 0
    fi
done

# shellcheck disable=SC2012 # directory names are PostgreSQL versions
version="$(ls /etc/postgresql | sort -V | tail -1)"
real_pg_isready="$(command -v pg_isready)"
real_pg_lsclusters="$(command -v pg_lsclusters)"
real_pg_ctlcluster="$(command -v pg_ctlcluster)"
work="$(mktemp -d)"

cluster_status() { "$real_pg_lsclusters" --no-header "$version" main | awk '{ print $4 }'; }
postgres_answers() { "$real_pg_isready" -q -h 127.0.0.1 -p 5432 -t 3; }
postgres_silent() { ! postgres_answers; }
amqp_answers() { timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; }
amqp_silent() { ! amqp_answers; }
wait_until() { # seconds probe...
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

restore() {
    local status=$?
    case "$(cluster_status)" in
        online*) ;;
        *)
            say "restoring: starting PostgreSQL cluster $version/main"
            "$real_pg_ctlcluster" --skip-systemctl-redirect "$version" main start || true
            ;;
    esac
    if ! amqp_answers; then
        say "restoring: starting RabbitMQ"
        if timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
            timeout 60 rabbitmqctl -q start_app >/dev/null 2>&1 || true
        else
            rabbitmq-server -detached >/dev/null 2>&1 || true
        fi
        wait_until 60 amqp_answers || say "restoring: RabbitMQ still not answering on 127.0.0.1:5672"
    fi
    wait_until 60 postgres_answers || say "restoring: PostgreSQL still not answering on 127.0.0.1:5432"
    rm -rf "$work"
    exit "$status"
}
trap restore EXIT

# Stand-ins on the PATH ahead of the real tools (ensure-deps.sh appends the
# sbin directories, so these win). Each logs its calls to $work/calls.
make_stand_ins() { # directory; then the stand-ins wanted: pg_isready-once-down, pg_lsclusters-once-down, pg_ctlcluster-log, pg_ctlcluster-exit-2
    local bin="$1"
    shift
    mkdir -p "$bin"
    : >"$work/calls"
    local which
    for which in "$@"; do
        case "$which" in
            pg_isready-once-down)
                cat >"$bin/pg_isready" <<EOF
#!/bin/sh
echo "pg_isready \$*" >>"$work/calls"
if [ ! -e "$bin/.pg_isready-done" ]; then
    touch "$bin/.pg_isready-done"
    exit 2 # "no response", as while systemd is still starting the cluster
fi
exec "$real_pg_isready" "\$@"
EOF
                ;;
            pg_lsclusters-once-down)
                cat >"$bin/pg_lsclusters" <<EOF
#!/bin/sh
echo "pg_lsclusters \$*" >>"$work/calls"
if [ ! -e "$bin/.pg_lsclusters-done" ]; then
    touch "$bin/.pg_lsclusters-done"
    "$real_pg_lsclusters" "\$@" | sed 's/ online / down   /'
    exit 0
fi
exec "$real_pg_lsclusters" "\$@"
EOF
                ;;
            pg_ctlcluster-log)
                cat >"$bin/pg_ctlcluster" <<EOF
#!/bin/sh
status=0
"$real_pg_ctlcluster" "\$@" || status=\$?
echo "pg_ctlcluster \$* -> exit \$status" >>"$work/calls"
exit \$status
EOF
                ;;
            pg_ctlcluster-exit-2)
                cat >"$bin/pg_ctlcluster" <<EOF
#!/bin/sh
echo "pg_ctlcluster \$* -> exit 2 (stand-in: says 'already running', starts nothing)" >>"$work/calls"
echo "Cluster is already running."
exit 2
EOF
                ;;
        esac
    done
    chmod +x "$bin"/*
}

# Runs ensure-deps.sh (PATH as given), prints its output indented, and leaves
# it in $work/out and its exit status in $code.
code=0
run_script() { # PATH
    code=0
    env -u SPOTTER_SKIP_DEPS PATH="$1" SPOTTER_DEPS_TIMEOUT=60 bash "$script" >"$work/out" 2>&1 || code=$?
    sed 's/^/    | /' "$work/out"
    say "ensure-deps.sh exited $code"
}
show_calls() {
    if [ -s "$work/calls" ]; then
        say "stand-in calls:"
        sed 's/^/    > /' "$work/calls"
    fi
}

case_no=0
begin() {
    case_no=$((case_no + 1))
    printf '\n'
    say "=== case $case_no: $*"
    say "PostgreSQL $version/main: $(cluster_status); AMQP: $(amqp_answers && echo answering || echo not answering)"
}

# The starting point: everything up (ensure-deps.sh once, for real).
say "making sure PostgreSQL and RabbitMQ run before the cases"
run_script "$PATH"
[ "$code" -eq 0 ] || { fail "ensure-deps.sh could not bring the machine up to start from"; exit 1; }

# --- 1 -----------------------------------------------------------------------------------
begin "everything already running: exit 0, twice, nothing started"
for round in 1 2; do
    make_stand_ins "$work/bin1" pg_ctlcluster-log
    run_script "$work/bin1:$PATH"
    show_calls
    if [ "$code" -ne 0 ]; then
        fail "round $round: exit $code with everything running"
    elif grep -q ' start' "$work/calls"; then
        fail "round $round: called pg_ctlcluster start although the cluster answered"
    elif ! grep -q 'postgresql: already answering' "$work/out" || ! grep -q 'rabbitmq: already answering' "$work/out"; then
        fail "round $round: did not say both were already answering"
    else
        pass "round $round: exit 0, nothing started"
    fi
done

# --- 2 -----------------------------------------------------------------------------------
begin "systemd symptom: the cluster is online, but did not answer the first probe"
make_stand_ins "$work/bin2" pg_isready-once-down pg_ctlcluster-log
run_script "$work/bin2:$PATH"
show_calls
if [ "$code" -ne 0 ]; then
    fail "exit $code: a cluster its package had started made the script fail"
elif grep -q ' start' "$work/calls"; then
    fail "called pg_ctlcluster start on a cluster already online"
elif ! grep -q "cluster $version/main already running" "$work/out"; then
    fail "did not say the cluster was already running"
else
    pass "exit 0; saw the running cluster, did not start it again"
fi

# --- 3 -----------------------------------------------------------------------------------
begin "the race: the cluster comes up between the status check and the start (pg_ctlcluster exits 2)"
make_stand_ins "$work/bin3" pg_isready-once-down pg_lsclusters-once-down pg_ctlcluster-log
run_script "$work/bin3:$PATH"
show_calls
if ! grep -q ' start -> exit 2' "$work/calls"; then
    fail "the set-up did not work: pg_ctlcluster start did not exit 2"
elif [ "$code" -ne 0 ]; then
    fail "exit $code: 'already running' (2) from an online cluster was taken for a failure"
elif ! grep -q 'came up meanwhile' "$work/out"; then
    fail "did not say the cluster came up meanwhile"
else
    pass "exit 0; exit 2 accepted because the cluster is online"
fi

if ! $stop_cases; then
    printf '\n'
    say "--no-stop: cases 4-6 (they stop PostgreSQL or RabbitMQ) not run"
    say "$passes passed, $failures failed"
    [ "$failures" -eq 0 ]
    exit
fi

# --- 4 -----------------------------------------------------------------------------------
say "stopping PostgreSQL cluster $version/main (pg_ctlcluster stop)"
"$real_pg_ctlcluster" --skip-systemctl-redirect "$version" main stop
wait_until 30 postgres_silent ||
    { fail "PostgreSQL still answers after pg_ctlcluster stop"; exit 1; }
begin "a stopped cluster whose start 'exits 2' but stays down: must fail"
make_stand_ins "$work/bin4" pg_ctlcluster-exit-2
run_script "$work/bin4:$PATH"
show_calls
if [ "$code" -eq 0 ]; then
    fail "exit 0 although the cluster is down: exit 2 was taken for success"
elif ! grep -q 'already running, but pg_lsclusters says down' "$work/out"; then
    fail "failed (exit $code) but without saying the cluster is down"
else
    pass "exit $code, naming the cluster that is down"
fi

# --- 5 -----------------------------------------------------------------------------------
begin "a stopped cluster: started, and PostgreSQL answers"
make_stand_ins "$work/bin5" pg_ctlcluster-log
run_script "$work/bin5:$PATH"
show_calls
if [ "$code" -ne 0 ]; then
    fail "exit $code with a stopped cluster"
elif ! postgres_answers; then
    fail "exit 0 but PostgreSQL does not answer on 127.0.0.1:5432"
elif ! grep -q ' start -> exit 0' "$work/calls"; then
    fail "PostgreSQL answers, but not because the script started it"
else
    pass "started; PostgreSQL answers ($(cluster_status))"
fi

# --- 6 -----------------------------------------------------------------------------------
say "stopping RabbitMQ's application (rabbitmqctl stop_app)"
timeout 60 rabbitmqctl -q stop_app >/dev/null
wait_until 30 amqp_silent ||
    { fail "AMQP still answers after stop_app"; exit 1; }
begin "RabbitMQ's node running with its application stopped: started, and AMQP answers"
run_script "$PATH"
if [ "$code" -ne 0 ]; then
    fail "exit $code with RabbitMQ's application stopped"
elif ! amqp_answers; then
    fail "exit 0 but nothing answers on 127.0.0.1:5672"
elif ! grep -q 'application stopped; starting it' "$work/out"; then
    fail "AMQP answers, but the script did not say it started the application"
else
    pass "application started; AMQP answers"
fi

printf '\n'
say "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
