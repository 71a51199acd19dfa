#!/usr/bin/env bash
# Checks deploy/observability/ (issue 18, part 5) without a Prometheus server:
#
#   1. promtool         Debian bookworm's prometheus package, downloaded with
#                       `apt-get download` and unpacked with `dpkg-deb -x` into
#                       target/ops-tools/prometheus (nothing is installed, no
#                       service is started; skipped when already there)
#   2. check rules      promtool check rules alerts.yaml
#   3. test rules       promtool test rules alerts.test.yaml (each alert fires
#                       on one series and stays quiet on another)
#   4. alert fields     every alert has a severity, summary, description and a
#                       runbook_url naming a heading of docs/runbook.md
#   5. dashboard        dashboard.json parses, schemaVersion >= 36, a Prometheus
#                       `datasource` variable and no hard-coded datasource uid,
#                       every panel has a query
#   6. metric names     every spotter_* name in the rules, their tests and the
#                       dashboard (less _bucket/_sum/_count) is listed in
#                       metrics.txt, the names the services export (a Rust test
#                       checks metrics.txt against a real /metrics)
#
# Prints each step's time, runs every step, and exits non-zero if any failed.
# Needs apt-get and dpkg-deb (Debian/Ubuntu; only the first time) and python3.
#
# Environment (to check other copies, e.g. a broken one to see a step fail):
#   SPOTTER_OBSERVABILITY_DIR  the files to check (default deploy/observability)
#   SPOTTER_RUNBOOK            the runbook the alerts link to (default docs/runbook.md)
#   SPOTTER_OPS_TOOLS          where promtool is unpacked (default target/ops-tools)
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
obs="${SPOTTER_OBSERVABILITY_DIR:-$root/deploy/observability}"
runbook="${SPOTTER_RUNBOOK:-$root/docs/runbook.md}"
tools="${SPOTTER_OPS_TOOLS:-$root/target/ops-tools}"
prometheus_dir="$tools/prometheus"
promtool="$prometheus_dir/usr/bin/promtool"

failed=()
say() { printf 'observability: %s\n' "$*"; }
now() { date +%s.%N; }

# step NAME COMMAND...: runs it, prints ok/FAILED with the elapsed time.
step() {
    local name="$1"
    shift
    local started ended
    started="$(now)"
    say "-- $name"
    "$@"
    local status=$?
    ended="$(now)"
    local took
    took="$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f", b - a }')"
    if [ "$status" -eq 0 ]; then
        say "ok      $name (${took}s)"
    else
        say "FAILED  $name (${took}s)"
        failed+=("$name")
    fi
    return 0
}

if ! command -v python3 >/dev/null 2>&1; then
    say "python3 is needed (the dashboard and name checks)"
    exit 2
fi

# --- 1. promtool, from the Debian package, unpacked, not installed -------------------
get_promtool() {
    if [ -x "$promtool" ]; then
        say "promtool already in $prometheus_dir"
        "$promtool" --version 2>&1 | head -n 1
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        say "apt-get and dpkg-deb are needed to fetch promtool (or unpack a prometheus .deb into $prometheus_dir yourself)"
        return 1
    fi
    local tmp
    tmp="$(mktemp -d)"
    # As root, apt-get would hand the download to its sandbox user `_apt`,
    # which cannot write into our private temporary directory.
    local sandbox=()
    if [ "$(id -u)" -eq 0 ]; then
        sandbox=(-o APT::Sandbox::User=root)
    fi
    say "downloading the prometheus package (apt-get download, into $tmp)"
    if ! (cd "$tmp" && apt-get "${sandbox[@]}" download prometheus); then
        say "apt-get download prometheus failed; is the package index there (apt-get update)?"
        rm -rf "$tmp"
        return 1
    fi
    local deb
    local debs=("$tmp"/prometheus_*.deb)
    deb="${debs[0]}"
    if [ ! -f "$deb" ]; then
        say "no prometheus_*.deb in $tmp"
        rm -rf "$tmp"
        return 1
    fi
    say "unpacking $(basename "$deb") into $prometheus_dir"
    rm -rf "$prometheus_dir"
    mkdir -p "$prometheus_dir"
    if ! dpkg-deb -x "$deb" "$prometheus_dir"; then
        rm -rf "$tmp" "$prometheus_dir"
        return 1
    fi
    rm -rf "$tmp"
    "$promtool" --version 2>&1 | head -n 1
}

step "promtool" get_promtool
if [ ! -x "$promtool" ]; then
    say "no promtool: the rule checks cannot run"
    failed+=("check rules" "test rules")
else
    # --- 2, 3. the rules and their unit tests ----------------------------------------
    step "check rules" "$promtool" check rules "$obs/alerts.yaml"
    step "test rules" "$promtool" test rules "$obs/alerts.test.yaml"
fi

# --- 4. every alert's fields, and runbook links that land on a heading ----------------
check_alert_fields() {
    python3 - "$obs/alerts.yaml" "$runbook" <<'PY'
import os, re, sys, unicodedata

rules_path, runbook_path = sys.argv[1], sys.argv[2]
rules = open(rules_path, encoding="utf-8").read()

def github_anchor(heading, seen):
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped
    (letters, digits, spaces, hyphens and underscores kept), spaces to hyphens;
    a repeated one gets -1, -2, ..."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    slug = "".join(
        c for c in text.lower()
        if c in " -_" or unicodedata.category(c)[0] in "LN"
    ).replace(" ", "-")
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return slug if n == 0 else f"{slug}-{n}"

anchors, seen, fenced = set(), {}, False
if os.path.exists(runbook_path):
    for line in open(runbook_path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            anchors.add(github_anchor(m.group(2), seen))
else:
    print(f"  no runbook at {runbook_path}")

problems = []
blocks = re.split(r"^\s*- alert:\s*", rules, flags=re.M)[1:]
if not blocks:
    problems.append("no alerts found")
for block in blocks:
    name = block.split("\n", 1)[0].strip()
    body = re.split(r"^\s*- (?:alert|record):", block, flags=re.M)[0]
    for field in ("severity", "summary", "description", "runbook_url"):
        if not re.search(rf"^\s*{field}:", body, flags=re.M):
            problems.append(f"{name}: no {field}")
    sev = re.search(r"^\s*severity:\s*(\S+)", body, flags=re.M)
    if sev and sev.group(1) not in ("critical", "warning", "info"):
        problems.append(f"{name}: severity {sev.group(1)} is not critical, warning or info")
    url = re.search(r"^\s*runbook_url:\s*(\S+)", body, flags=re.M)
    if url:
        target = url.group(1).strip("'\"")
        m = re.fullmatch(r"docs/runbook\.md#([^#\s]+)", target)
        if not m:
            problems.append(f"{name}: runbook_url {target} is not docs/runbook.md#<anchor>")
        elif m.group(1) not in anchors:
            problems.append(f"{name}: runbook_url {target}: no heading in {runbook_path} has the anchor #{m.group(1)}")
for p in problems:
    print("  " + p)
print(f"  {len(blocks)} alert rules, {len(anchors)} runbook headings")
sys.exit(1 if problems else 0)
PY
}
step "alert fields and runbook links" check_alert_fields

# --- 5. the dashboard ---------------------------------------------------------------------
check_dashboard() {
    python3 - "$obs/dashboard.json" <<'PY'
import json, sys

path = sys.argv[1]
try:
    dash = json.load(open(path, encoding="utf-8"))
except (OSError, ValueError) as err:
    print(f"  {path} does not parse: {err}")
    sys.exit(1)

problems = []
if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
    problems.append(f"schemaVersion {dash.get('schemaVersion')!r}: expected 36 or later")
variables = dash.get("templating", {}).get("list", [])
if not any(v.get("type") == "datasource" and v.get("name") == "datasource"
           and v.get("query") == "prometheus" for v in variables):
    problems.append("no templating variable `datasource` of type datasource (query prometheus)")

def datasource_refs(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                uid = value.get("uid") if isinstance(value, dict) else value
                if uid not in ("${datasource}", "$datasource", None):
                    yield where, uid
            else:
                yield from datasource_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from datasource_refs(value, f"{where}[{i}]")

for where, uid in datasource_refs(dash, "$"):
    problems.append(f"{where}: datasource uid {uid!r} is hard-coded; use ${{datasource}}")

def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))

ids, count = set(), 0
for p in all_panels(dash.get("panels", [])):
    count += 1
    if p.get("id") in ids:
        problems.append(f"panel id {p.get('id')} used twice")
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    exprs = [t.get("expr", "").strip() for t in p.get("targets", [])]
    if not exprs or not all(exprs):
        problems.append(f"panel {p.get('title')!r} has a target without a query")
for p in problems:
    print("  " + p)
print(f"  {count} panels, schemaVersion {dash.get('schemaVersion')}")
sys.exit(1 if problems else 0)
PY
}
step "dashboard" check_dashboard

# --- 6. metric names against the exported list -----------------------------------------
check_metric_names() {
    python3 - "$obs/metrics.txt" "$obs/alerts.yaml" "$obs/alerts.test.yaml" "$obs/dashboard.json" <<'PY'
import re, sys

listed_path, *files = sys.argv[1:]
listed = set()
for n, line in enumerate(open(listed_path, encoding="utf-8"), 1):
    name = line.strip()
    if not name:
        continue
    if not re.fullmatch(r"spotter_[a-z0-9_]+", name):
        print(f"  {listed_path}:{n}: {name!r} is not a spotter_ metric family name")
        sys.exit(1)
    listed.add(name)

unknown, used = [], set()
for path in files:
    text = open(path, encoding="utf-8").read()
    for n, line in enumerate(text.splitlines(), 1):
        for found in re.findall(r"spotter_[a-z0-9_]+", line):
            family = re.sub(r"_(bucket|sum|count)$", "", found)
            used.add(family)
            if family not in listed:
                unknown.append(f"{path}:{n}: {found} (family {family}) is not in {listed_path}")
for u in unknown:
    print("  " + u)
print(f"  {len(used)} metric families used, {len(listed)} listed")
unused = sorted(listed - used)
if unused:
    print("  listed but used nowhere here: " + ", ".join(unused))
sys.exit(1 if unknown else 0)
PY
}
step "metric names" check_metric_names

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all checks passed"
