#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this one machine, beside the main node
# (rabbit@localhost, 5672), for the serial tests that stop the node leading the
# busiest quorum queues under load and bring it back (issue 18, part 2).
#
#   rabbitmq-cluster.sh start [--base-port N] [--service-users]
#   rabbitmq-cluster.sh stop-node <1|2|3> [--kill]
#   rabbitmq-cluster.sh start-node <1|2|3>
#   rabbitmq-cluster.sh leader-of <queue>
#   rabbitmq-cluster.sh status
#   rabbitmq-cluster.sh urls
#   rabbitmq-cluster.sh stop
#
# Nodes spotter-c1@localhost, spotter-c2@localhost, spotter-c3@localhost: AMQP
# on 127.0.0.1:N, N+1, N+2 (default N = 5701), Erlang distribution on
# 127.0.0.1:N+20000… (25701…), no plugins. Each has its data, logs, config and
# pid file under the state directory, one subdirectory per node. `start` starts
# the three at once (c2 and c3 join c1 as they first boot, by classic_config
# peer discovery; one that booted alone is joined with stop_app, reset,
# join_cluster, start_app), waits for each (AMQP port open and
# `rabbitmq-diagnostics check_running`) and enables every feature flag; it is
# idempotent (a cluster already up is reported and left alone; stopped nodes of
# an existing state directory are started again). It ends with each node's AMQP
# URL and a line for the services:
#   SPOTTER_BROKER__URL=amqp://guest:guest@127.0.0.1:5701/%2f,…:5702/%2f,…:5703/%2f
# (one URL per node, comma-separated: the services connect to the first that
# answers). The user is guest/guest (administrator, RabbitMQ's default, allowed
# from localhost only); --service-users also runs broker-users.sh against the
# cluster (spotter-referral, spotter-booking, spotter-notification).
#
# `stop-node` shuts one node down cleanly (rabbitmqctl shutdown; --kill: SIGKILL,
# as in a crash) and waits until its AMQP port is closed; `start-node` starts it
# again: it rejoins the cluster by itself, being a member. `leader-of` prints the
# node leading a quorum queue of vhost /. `stop` stops all three and removes
# the state directory; it succeeds when nothing runs.
#
# The nodes run as the rabbitmq user, like the main node (rabbitmq-server and
# rabbitmqctl, run as root, switch to it), so they share its Erlang cookie,
# /var/lib/rabbitmq/.erlang.cookie, which the CLI uses too; the cookie is never
# changed. Every command names its node (-n spotter-cN@localhost): the main node
# is never addressed.
#
# Environment:
#   SPOTTER_CLUSTER_DIR=target/rabbitmq-cluster   state directory (relative: to
#                                                  the repository root)
#   SPOTTER_CLUSTER_TIMEOUT=60                     seconds to wait for each node
set -euo pipefail

say() { printf 'rabbitmq-cluster: %s\n' "$*"; }
die() {
    printf 'rabbitmq-cluster: ERROR: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
with_timeout() { # seconds command...
    if have timeout; then timeout "$@"; else shift; "$@"; fi
}

# Debian installs the RabbitMQ tools in /usr/sbin, which a non-login root shell
# does not always have on its PATH.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${SPOTTER_CLUSTER_DIR:-target/rabbitmq-cluster}"
case "$STATE_DIR" in
    /*) ;;
    *) STATE_DIR="$REPO_ROOT/$STATE_DIR" ;;
esac
TIMEOUT="${SPOTTER_CLUSTER_TIMEOUT:-60}"
DEFAULT_BASE_PORT=5701
DIST_OFFSET=20000
HOST=127.0.0.1
NODES=(1 2 3)
# The user the nodes run as (the main node's, whose cookie they share).
RUN_AS=rabbitmq

node_name() { printf 'spotter-c%s@localhost' "$1"; }
node_dir() { printf '%s/c%s' "$STATE_DIR" "$1"; }

# The base port of the cluster in the state directory (or the default).
base_port() {
    local file="$STATE_DIR/base-port"
    if [ -s "$file" ]; then cat "$file"; else echo "$DEFAULT_BASE_PORT"; fi
}
amqp_port() { echo $(($(base_port) + $1 - 1)); }
amqp_url() { printf 'amqp://guest:guest@%s:%s/%%2f' "$HOST" "$(amqp_port "$1")"; }

# --- probes -----------------------------------------------------------------------

tcp_open() { # host port
    # shellcheck disable=SC2016 # expanded by the inner bash
    with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

port_open() { tcp_open "$HOST" "$(amqp_port "$1")"; }
port_closed() { ! port_open "$1"; }

ctl() { # node-number rabbitmqctl-arguments...
    local n="$1"
    shift
    with_timeout 60 rabbitmqctl -q -n "$(node_name "$n")" "$@"
}

# The Erlang node is up (the RabbitMQ application may not be). Asked of epmd,
# in milliseconds; each CLI call costs 1–3 s on a small machine.
node_pings() {
    if have epmd; then
        with_timeout 5 epmd -names 2>/dev/null | grep -q "^name spotter-c$1 at port "
    else
        with_timeout 15 rabbitmq-diagnostics -q -n "$(node_name "$1")" ping >/dev/null 2>&1
    fi
}

# The RabbitMQ application runs in the node, and its AMQP listener answers.
node_running() {
    port_open "$1" &&
        with_timeout 15 rabbitmq-diagnostics -q -n "$(node_name "$1")" check_running >/dev/null 2>&1
}

wait_for() { # seconds probe...
    local seconds="$1"
    shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

cluster_status_json() { ctl "$1" cluster_status --formatter json 2>/dev/null || true; }
# The nodes of a list of `cluster_status --formatter json` (on stdin): running_nodes, disk_nodes.
members_in() { # key
    grep -o "\"$1\":\\[[^]]*\\]" | grep -o 'spotter-c[0-9]@localhost' || true
}
# The nodes node n counts as running members, one per line.
running_members() { cluster_status_json "$1" | members_in running_nodes; }

# The nodes whose AMQP port answers (their application runs), one per line.
open_nodes() {
    local n
    for n in "${NODES[@]}"; do
        if port_open "$n"; then echo "$n"; fi
    done
}

node_log() { printf '%s/log/%s.log' "$(node_dir "$1")" "$(node_name "$1")"; }

check_tools() {
    if ! { have rabbitmq-server && have rabbitmqctl && have rabbitmq-diagnostics; }; then
        die "rabbitmq-server is not installed (deploy/local/ensure-deps.sh installs it)"
    fi
    if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != "$RUN_AS" ]; then
        die "run as root or as $RUN_AS: the nodes run as $RUN_AS and share its Erlang cookie"
    fi
    id "$RUN_AS" >/dev/null 2>&1 || die "no user $RUN_AS (install rabbitmq-server from Debian/Ubuntu)"
}

node_number() { # argument
    case "${1:-}" in
        1 | 2 | 3) echo "$1" ;;
        *) die "expected a node number, 1, 2 or 3 (got '${1:-}')" ;;
    esac
}

# --- files --------------------------------------------------------------------------

# Writes node n's environment (read by rabbitmq-server and by the node itself)
# and configuration.
write_node_files() { # n
    local n="$1" dir port
    dir="$(node_dir "$n")"
    port="$(amqp_port "$n")"
    install -d -o "$RUN_AS" -g "$RUN_AS" -m 0750 "$dir" "$dir/mnesia" "$dir/log"
    cat >"$dir/rabbitmq-env.conf" <<EOF
# Written by deploy/local/rabbitmq-cluster.sh; rewritten at each start.
RABBITMQ_NODENAME=$(node_name "$n")
RABBITMQ_NODE_IP_ADDRESS=$HOST
RABBITMQ_NODE_PORT=$port
RABBITMQ_DIST_PORT=$((port + DIST_OFFSET))
RABBITMQ_MNESIA_BASE=$dir/mnesia
RABBITMQ_LOG_BASE=$dir/log
RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
RABBITMQ_PID_FILE=$dir/rabbitmq.pid
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
ERL_EPMD_ADDRESS=$HOST
EOF
    cat >"$dir/rabbitmq.conf" <<EOF
# Written by deploy/local/rabbitmq-cluster.sh; rewritten at each start.
listeners.tcp.local = $HOST:$port
loopback_users.guest = true
log.file.level = info
log.console = false
EOF
    if [ "$n" -ne 1 ]; then
        # At its first boot (an empty database only) the node joins c1 by
        # itself, while booting, instead of booting alone and then being
        # stopped, reset, joined and started again: that saves ~20 s. If c1
        # does not answer in time it boots alone, and start joins it.
        cat >>"$dir/rabbitmq.conf" <<EOF
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $(node_name 1)
cluster_formation.discovery_retry_limit = 120
cluster_formation.discovery_retry_interval = 500
EOF
    fi
    echo '[].' >"$dir/advanced.config"
    echo '[].' >"$dir/enabled_plugins"
    chown "$RUN_AS:$RUN_AS" "$dir"/rabbitmq-env.conf "$dir"/rabbitmq.conf "$dir"/advanced.config "$dir"/enabled_plugins
}

# Starts node n in the background (returns at once).
launch_node() { # n
    local n="$1" dir
    dir="$(node_dir "$n")"
    [ -f "$dir/rabbitmq-env.conf" ] || die "no $dir/rabbitmq-env.conf: run '$0 start' first"
    # Every setting from the node's own file, none from /etc/rabbitmq: the file
    # is exported for rabbitmq-server's scripts and is the node's
    # RABBITMQ_CONF_ENV_FILE (the Erlang side reads it again).
    (
        set -a
        # shellcheck disable=SC1091 # written by write_node_files
        . "$dir/rabbitmq-env.conf"
        set +a
        export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        cd "$dir"
        server=rabbitmq-server
        # Debian's wrapper, run by the rabbitmq user itself, would send the
        # output to the main node's /var/log/rabbitmq/startup_log.
        if [ "$(id -un)" = "$RUN_AS" ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
            server=/usr/lib/rabbitmq/bin/rabbitmq-server
        fi
        "$server" -detached >"$dir/log/startup.log" 2>&1
    ) || die "$(node_name "$n"): 'rabbitmq-server -detached' failed (see $dir/log/)"
}

# Waits until node n's application runs and its AMQP port answers.
await_node() { # n
    local n="$1"
    if ! { wait_for "$TIMEOUT" port_open "$n" && wait_for 15 node_running "$n"; }; then
        die "$(node_name "$n") did not come up within ${TIMEOUT}s (see $(node_log "$n"))"
    fi
}

# --- commands -----------------------------------------------------------------------

print_urls() {
    local n urls=()
    for n in "${NODES[@]}"; do
        say "$(node_name "$n"): $(amqp_url "$n")"
        urls+=("$(amqp_url "$n")")
    done
    local IFS=,
    echo "SPOTTER_BROKER__URL=${urls[*]}"
}

cmd_start() {
    local base="" service_users=false
    while [ $# -gt 0 ]; do
        case "$1" in
            --base-port)
                base="${2:-}"
                shift 2 || die "--base-port needs a number"
                ;;
            --base-port=*)
                base="${1#*=}"
                shift
                ;;
            --service-users)
                service_users=true
                shift
                ;;
            *) die "start: unknown argument '$1'" ;;
        esac
    done
    check_tools
    local started=$SECONDS

    # Already up (on whatever base port it was started with)?
    if [ -d "$STATE_DIR" ] && [ "$(open_nodes | wc -l)" -eq 3 ] &&
        [ "$(running_members 1 | wc -l)" -eq 3 ]; then
        if [ -n "$base" ] && [ "$base" != "$(base_port)" ]; then
            say "note: already running on base port $(base_port), not $base (stop it first to change ports)"
        fi
        say "already up: $(node_name 1), $(node_name 2), $(node_name 3)"
        $service_users && create_service_users
        print_urls
        return 0
    fi

    if [ -z "$base" ]; then base="$(base_port)"; fi
    case "$base" in
        '' | *[!0-9]*) die "--base-port: expected a number (got '$base')" ;;
    esac
    if [ "$base" -lt 1024 ] || [ $((base + 2 + DIST_OFFSET)) -gt 65535 ]; then
        die "--base-port: $base is out of range (1024…$((65535 - 2 - DIST_OFFSET)): the distribution ports are the AMQP ports + $DIST_OFFSET)"
    fi
    local n any_running=false
    for n in "${NODES[@]}"; do
        if node_pings "$n"; then any_running=true; fi
    done
    if $any_running && [ -s "$STATE_DIR/base-port" ] && [ "$base" != "$(base_port)" ]; then
        die "some nodes already run on base port $(base_port); '$0 stop' first to change ports"
    fi
    if ! $any_running; then
        # Nothing may be listening where the nodes will, the main node included.
        local port
        for n in "${NODES[@]}"; do
            for port in $((base + n - 1)) $((base + n - 1 + DIST_OFFSET)); do
                if tcp_open "$HOST" "$port"; then
                    die "port $port is taken by another process; choose another --base-port"
                fi
            done
        done
    fi

    install -d -o "$RUN_AS" -g "$RUN_AS" -m 0755 "$STATE_DIR"
    if [ "$(id -u)" -eq 0 ] && have runuser && ! runuser -u "$RUN_AS" -- test -w "$STATE_DIR"; then
        die "$STATE_DIR is out of the $RUN_AS user's reach (a parent directory it cannot enter?); set SPOTTER_CLUSTER_DIR"
    fi
    echo "$base" >"$STATE_DIR/base-port"

    # All three boot at once (the slow part); then each is waited for.
    local launched=()
    for n in "${NODES[@]}"; do
        if node_pings "$n"; then
            say "$(node_name "$n") already runs"
        else
            write_node_files "$n"
            launch_node "$n"
            launched+=("$n")
        fi
    done
    [ "${#launched[@]}" -eq 0 ] || say "starting $(for n in "${launched[@]}"; do printf '%s ' "$(node_name "$n")"; done)(AMQP ports $base…$((base + 2)))"
    for n in "${NODES[@]}"; do
        await_node "$n"
    done
    say "all three nodes answer ($((SECONDS - started))s)"

    # c2 and c3 join c1, unless they are members already (a restart).
    local status joined=()
    status="$(cluster_status_json 1)"
    for n in 2 3; do
        if members_in disk_nodes <<<"$status" | grep -qx "$(node_name "$n")"; then
            continue
        fi
        say "$(node_name "$n") booted alone; joining it to $(node_name 1) (stop_app, reset, join_cluster, start_app)"
        local out step
        for step in stop_app reset "join_cluster $(node_name 1)" start_app; do
            # shellcheck disable=SC2086 # step is a command and its argument
            out="$(ctl "$n" $step 2>&1)" ||
                die "$(node_name "$n"): '$step' failed (see $(node_log "$n")): $out"
        done
        joined+=("$n")
    done
    if [ "${#joined[@]}" -gt 0 ]; then
        for n in "${joined[@]}"; do await_node "$n"; done
        status="$(cluster_status_json 1)"
    fi
    [ "$(members_in running_nodes <<<"$status" | wc -l)" -eq 3 ] ||
        die "the cluster does not have three running nodes: $(ctl 1 cluster_status 2>&1 || true)"

    # Quorum queues' at-least-once dead-lettering needs stream_queue (as in
    # ensure-deps.sh); fresh nodes have every flag on already, this makes sure.
    ctl 1 enable_feature_flag all >/dev/null || die "enable_feature_flag all failed"
    $service_users && create_service_users
    say "cluster up in $((SECONDS - started))s: $(node_name 1), $(node_name 2), $(node_name 3); user guest/guest (from localhost)"
    print_urls
}

create_service_users() {
    say "service users (deploy/local/broker-users.sh on $(node_name 1))"
    RABBITMQ_NODENAME="$(node_name 1)" bash "$REPO_ROOT/deploy/local/broker-users.sh" |
        sed 's/^/rabbitmq-cluster: /'
}

cmd_stop_node() {
    local n kill=false
    n="$(node_number "${1:-}")"
    [ "${2:-}" = "--kill" ] && kill=true
    check_tools
    local started=$SECONDS
    if ! node_pings "$n" && port_closed "$n"; then
        say "$(node_name "$n") is not running"
        return 0
    fi
    if $kill; then
        local pid
        pid="$(cat "$(node_dir "$n")/rabbitmq.pid" 2>/dev/null || true)"
        [ -n "$pid" ] || die "$(node_name "$n"): no pid file, cannot --kill"
        say "$(node_name "$n"): SIGKILL to process $pid"
        kill -KILL "$pid"
    else
        say "$(node_name "$n"): shutting down"
        if ! ctl "$n" shutdown >/dev/null && node_pings "$n"; then
            die "$(node_name "$n"): shutdown failed"
        fi
    fi
    wait_for "$TIMEOUT" port_closed "$n" ||
        die "$(node_name "$n"): AMQP port $(amqp_port "$n") still open after ${TIMEOUT}s"
    say "$(node_name "$n") stopped ($((SECONDS - started))s); port $(amqp_port "$n") closed"
}

cmd_start_node() {
    local n
    n="$(node_number "${1:-}")"
    check_tools
    local started=$SECONDS
    [ -d "$(node_dir "$n")" ] || die "no cluster in $STATE_DIR: run '$0 start'"
    if node_running "$n"; then
        say "$(node_name "$n") already runs"
        return 0
    fi
    if ! node_pings "$n"; then
        write_node_files "$n"
        launch_node "$n"
    else
        ctl "$n" start_app >/dev/null
    fi
    await_node "$n"
    say "$(node_name "$n") running ($((SECONDS - started))s): $(amqp_url "$n")"
}

cmd_leader_of() {
    local queue="${1:-}"
    [ -n "$queue" ] || die "leader-of: which queue?"
    check_tools
    local n listing="" asked=""
    for n in $(open_nodes); do
        asked="$(node_name "$n")"
        if listing="$(ctl "$n" list_queues -p / --no-table-headers name type leader 2>/dev/null)"; then
            break
        fi
        listing=""
    done
    [ -n "$asked" ] || die "no node of the cluster is running"
    local line
    line="$(awk -F'\t' -v q="$queue" '$1 == q { print $2 "\t" $3; exit }' <<<"$listing")"
    [ -n "$line" ] || die "no queue '$queue' on vhost / (asked $asked)"
    local type="${line%%$'\t'*}" leader="${line#*$'\t'}"
    [ "$type" = "quorum" ] || die "'$queue' is a $type queue, not a quorum queue"
    [ -n "$leader" ] || die "'$queue' has no leader right now"
    echo "$leader"
}

cmd_status() {
    check_tools
    local n
    for n in "${NODES[@]}"; do
        if node_running "$n"; then
            say "$(node_name "$n"): running, $(amqp_url "$n")"
        elif node_pings "$n"; then
            say "$(node_name "$n"): node up, application stopped"
        else
            say "$(node_name "$n"): down"
        fi
    done
    local open
    open="$(open_nodes)"
    if [ -n "$open" ]; then
        ctl "${open%%$'\n'*}" cluster_status
    else
        say "no node of the cluster is running (state in $STATE_DIR)"
    fi
}

cmd_stop() {
    check_tools
    local started=$SECONDS n pids=()
    # The three at once: each shutdown waits for its node's process to exit.
    for n in "${NODES[@]}"; do
        (
            if node_pings "$n"; then
                ctl "$n" shutdown >/dev/null 2>&1 || true
            fi
            local pid
            pid="$(cat "$(node_dir "$n")/rabbitmq.pid" 2>/dev/null || true)"
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
                grep -q "spotter-c$n@localhost" "/proc/$pid/cmdline" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            wait_for 30 port_closed "$n" || true
        ) &
        pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n" || true; done
    for n in "${NODES[@]}"; do
        if node_pings "$n" || port_open "$n"; then
            die "$(node_name "$n") still runs (state kept in $STATE_DIR)"
        fi
    done
    rm -rf "$STATE_DIR"
    say "stopped ($((SECONDS - started))s); removed $STATE_DIR"
}

usage() {
    sed -n '2,40p' "${BASH_SOURCE[0]}" | sed -n '/^#   rabbitmq-cluster.sh/p' | sed 's/^#   /usage: /'
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
    start) cmd_start "$@" ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    leader-of) cmd_leader_of "$@" ;;
    status) cmd_status ;;
    urls)
        [ -d "$STATE_DIR" ] || die "no cluster in $STATE_DIR"
        print_urls
        ;;
    stop) cmd_stop ;;
    -h | --help | help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
