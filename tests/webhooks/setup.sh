#!/usr/bin/env bash
# The webhook tests' verifier: the Standard Webhooks reference library in a
# virtualenv of its own (target/webhooks-venv), pinned. Idempotent; make
# deps-test runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SPOTTER_WEBHOOKS_VENV:-$root/target/webhooks-venv}"
want="$(grep '^standardwebhooks==' "$here/requirements.txt")"
if "$venv/bin/pip" freeze 2>/dev/null | grep -qxF "$want"; then
    exit 0
fi
python="${SPOTTER_CONTRACT_PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "webhooks: installed $want into $venv"
