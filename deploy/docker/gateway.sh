#!/bin/sh
# The compose gateway's entrypoint: deploy/nginx/spotter.conf, with each
# upstream `server <name>:8080;` re-resolved while nginx runs (`resolve`,
# in open-source nginx since 1.27.3, with a shared-memory `zone` and Docker's
# embedded DNS server as resolver). Without it nginx resolves the service
# names once, at start: it refuses to start while a service container is
# being restarted (its name does not resolve), and keeps sending to the old
# address after one came back with a new one.
#
# The same rewrite as the end-to-end tests make (tests/e2e/support/gateway.rs),
# so the routing stays the one file's. With arguments, runs them afterwards
# (compose: nginx -g 'daemon off;'); tests/deploy/check.sh runs it without,
# to check the result with `nginx -t`.
#   SPOTTER_GATEWAY_SOURCE  default /spotter/spotter.conf
#   SPOTTER_GATEWAY_TARGET  default /etc/nginx/conf.d/default.conf
#   SPOTTER_GATEWAY_RESOLVER  default 127.0.0.11 (Docker's DNS)
set -eu
source="${SPOTTER_GATEWAY_SOURCE:-/spotter/spotter.conf}"
target="${SPOTTER_GATEWAY_TARGET:-/etc/nginx/conf.d/default.conf}"
resolver="${SPOTTER_GATEWAY_RESOLVER:-127.0.0.11}"

{
    printf '# Made from %s by deploy/docker/gateway.sh: do not edit.\n' "$source"
    printf 'resolver %s valid=5s ipv6=off;\n' "$resolver"
    printf 'resolver_timeout 2s;\n'
    sed -E 's/^([[:space:]]*)server (referral|booking|notification):8080;/\1zone upstream_\2 64k;\n\1server \2:8080 resolve;/' "$source"
} >"$target.tmp"

rewritten="$(grep -cE '^[[:space:]]*server (referral|booking|notification):8080 resolve;' "$target.tmp" || true)"
if [ "$rewritten" != 3 ]; then
    echo "gateway.sh: expected 3 upstream servers in $source, rewrote $rewritten" >&2
    rm -f "$target.tmp"
    exit 1
fi
mv "$target.tmp" "$target"

if [ "$#" -gt 0 ]; then
    exec "$@"
fi
