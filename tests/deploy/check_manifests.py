#!/usr/bin/env python3
"""Checks of deploy/ that need no cluster and no network (tests/deploy/check.sh
runs each in target/ops-venv, where kubernetes-validate and PyYAML are).

  validate -k 1.31 FILE...   every document against the Kubernetes OpenAPI
                             schemas of that version, strictly (no unknown
                             fields); a kind without a schema is an error
  policy FILE                the rendered manifests (kustomize build): the
                             "restricted" Pod Security Standard for every pod
                             template, and what production needs beside it
  self-test FILE             policy's own test: breaks copies of FILE's
                             objects one rule at a time and expects each to
                             be reported, naming the object
  compose FILE               deploy/docker/compose.yaml's promises
  nginx FILE...              the gateway configuration's upstream keep-alive
                             and retry rules

Each problem is printed as `KIND/NAMESPACE/NAME: what is wrong`; the exit
status is 1 when there is any.
"""

import argparse
import copy
import re
import sys

import yaml

# The volume types the restricted profile allows.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
# Long-running: these need probes, preStop, a PDB and an HPA.
SERVING = {"Deployment", "StatefulSet"}
# actix-web closes an idle keep-alive connection after this many seconds.
SERVICE_KEEPALIVE_SECONDS = 5
# The PostgreSQL server deploy/k8s is sized for (docs/runbook.md, "The
# connection budget"): its max_connections, less what the budget leaves for
# superusers, psql, pg_dump and monitoring.
POSTGRES_MAX_CONNECTIONS = 400
CONNECTION_HEADROOM = 25
# Connections a replica holds outside its pool, one per LISTEN (the same
# runbook section): notification's count assumes both push providers.
LISTEN_CONNECTIONS = {"referral": 2, "booking": 4, "notification": 6}


def load(paths):
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def label(doc):
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{meta.get('namespace', '-')}/{meta.get('name')}"


def pod_template(doc):
    """(pod metadata, pod spec) of a workload, or None."""
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return doc.get("metadata") or {}, spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    if kind in WORKLOADS:
        template = spec.get("template") or {}
        return template.get("metadata") or {}, template.get("spec") or {}
    return None


def all_containers(spec):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            yield key, container


def selector_matches(selector, labels):
    """A LabelSelector against a label set ({} selects everything)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# --- the restricted Pod Security Standard ----------------------------------------

def check_restricted(doc, errors):
    found = pod_template(doc)
    if found is None:
        return
    _, spec = found
    name = label(doc)
    pod_sc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{name}: pod automountServiceAccountToken must be false")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            errors.append(f"{name}: pod {key} is not allowed (restricted)")
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUMES:
            errors.append(
                f"{name}: volume {volume.get('name')} of type {', '.join(sorted(types - RESTRICTED_VOLUMES))} "
                "is not allowed (restricted)")
    if pod_sc.get("runAsUser") == 0:
        errors.append(f"{name}: pod securityContext.runAsUser 0 (root) is not allowed (restricted)")
    for key, container in all_containers(spec):
        where = f"{name}: {key[:-1]} {container.get('name')}"
        sc = container.get("securityContext") or {}
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            errors.append(f"{where}: runAsNonRoot must be true, in the pod's or the container's securityContext (restricted)")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            errors.append(f"{where}: runAsUser 0 (root) is not allowed (restricted)")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{where}: seccompProfile.type must be RuntimeDefault, in the pod's or the container's "
                          f"securityContext (restricted), is {seccomp}")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: securityContext.allowPrivilegeEscalation must be false (restricted)")
        if sc.get("privileged"):
            errors.append(f"{where}: securityContext.privileged is not allowed (restricted)")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            errors.append(f"{where}: securityContext.capabilities.drop must include ALL (restricted)")
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            errors.append(f"{where}: securityContext.capabilities.add {sorted(added)} is not allowed (restricted)")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                errors.append(f"{where}: hostPort {port['hostPort']} is not allowed")


# --- what production needs beside ------------------------------------------------

def check_serving(doc, errors):
    """Probes, preStop, resources, spread, migrations, metrics of one workload."""
    if doc.get("kind") not in SERVING:
        return
    meta, spec = pod_template(doc)
    name = label(doc)
    for container in spec.get("containers") or []:
        where = f"{name}: container {container.get('name')}"
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if not container.get(probe):
                errors.append(f"{where}: no {probe}")
        if not ((container.get("lifecycle") or {}).get("preStop")):
            errors.append(f"{where}: no lifecycle.preStop (endpoints must drain before the process stops)")
        check_resources(where, container, errors)
    for container in spec.get("initContainers") or []:
        check_resources(f"{name}: initContainer {container.get('name')}", container, errors)
    if not spec.get("topologySpreadConstraints"):
        errors.append(f"{name}: no topologySpreadConstraints (replicas may share one node or zone)")

    # A Spotter service (command `<service>-service`) is migrated by
    # `spotter migrate <service>` in an init container before it starts.
    for container in spec.get("containers") or []:
        command = container.get("command") or []
        if len(command) == 1 and command[0].endswith("-service"):
            service = command[0][: -len("-service")]
            wanted = ["spotter", "migrate", service]
            if not any((c.get("command") or []) == wanted for c in spec.get("initContainers") or []):
                errors.append(f"{name}: no initContainer running {wanted} before {command[0]}")

    # Prometheus scrapes the port the annotations name: it must be the
    # container port called "metrics".
    annotations = meta.get("annotations") or {}
    metrics_ports = [
        str(port["containerPort"])
        for container in spec.get("containers") or []
        for port in container.get("ports") or []
        if port.get("name") == "metrics"
    ]
    if annotations.get("prometheus.io/scrape") == "true":
        if annotations.get("prometheus.io/port") not in metrics_ports:
            errors.append(f"{name}: annotation prometheus.io/port {annotations.get('prometheus.io/port')} "
                          f"is not the container port named metrics ({', '.join(metrics_ports) or 'none'})")
    elif metrics_ports:
        errors.append(f"{name}: has a metrics port but no prometheus.io/scrape annotation")


def check_resources(where, container, errors):
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for what, table, key in (("requests.cpu", requests, "cpu"), ("requests.memory", requests, "memory"),
                             ("limits.memory", limits, "memory")):
        if key not in table:
            errors.append(f"{where}: no resources.{what}")


def check_cluster_objects(docs, errors):
    """PDB, HPA and NetworkPolicy for every serving workload; the namespace."""
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind"), []).append(doc)

    def same_namespace(a, b):
        return (a.get("metadata") or {}).get("namespace") == (b.get("metadata") or {}).get("namespace")

    policies = by_kind.get("NetworkPolicy", [])
    namespaces = {(d.get("metadata") or {}).get("namespace") for d in docs if pod_template(d)}
    for namespace in sorted(n for n in namespaces if n):
        denies = [
            p for p in policies
            if (p.get("metadata") or {}).get("namespace") == namespace
            and (p.get("spec") or {}).get("podSelector") == {}
            and set((p.get("spec") or {}).get("policyTypes") or []) >= {"Ingress", "Egress"}
            and not (p.get("spec") or {}).get("ingress") and not (p.get("spec") or {}).get("egress")
        ]
        if not denies:
            errors.append(f"Namespace/-/{namespace}: no default-deny NetworkPolicy "
                          "(podSelector {}, policyTypes Ingress and Egress, no rules)")
        ns_docs = [d for d in by_kind.get("Namespace", []) if (d.get("metadata") or {}).get("name") == namespace]
        for ns in ns_docs:
            labels = (ns.get("metadata") or {}).get("labels") or {}
            if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
                errors.append(f"{label(ns)}: label pod-security.kubernetes.io/enforce must be restricted")

    for doc in docs:
        if doc.get("kind") not in SERVING:
            continue
        name = label(doc)
        object_name = doc["metadata"]["name"]
        pod_labels = (pod_template(doc)[0].get("labels")) or {}
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
                if same_namespace(p, doc) and selector_matches((p.get("spec") or {}).get("selector"), pod_labels)]
        if not pdbs:
            errors.append(f"{name}: no PodDisruptionBudget selects its pods")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
                if same_namespace(h, doc)
                and (h.get("spec") or {}).get("scaleTargetRef", {}).get("kind") == doc["kind"]
                and (h.get("spec") or {}).get("scaleTargetRef", {}).get("name") == object_name]
        if not hpas:
            errors.append(f"{name}: no HorizontalPodAutoscaler (autoscaling/v2) targets it")
        for hpa in hpas:
            if hpa.get("apiVersion") != "autoscaling/v2":
                errors.append(f"{label(hpa)}: apiVersion must be autoscaling/v2")
            if (hpa.get("spec") or {}).get("minReplicas", 1) < 2:
                errors.append(f"{label(hpa)}: minReplicas must be at least 2 (one replica has no disruption budget)")
        if hpas and "replicas" in (doc.get("spec") or {}):
            errors.append(f"{name}: sets spec.replicas although an HPA scales it (every apply would reset the scale)")
        ingress = [p for p in policies
                   if same_namespace(p, doc)
                   and (p.get("spec") or {}).get("podSelector") != {}
                   and selector_matches((p.get("spec") or {}).get("podSelector"), pod_labels)
                   and (p.get("spec") or {}).get("ingress")]
        if not ingress:
            errors.append(f"{name}: no NetworkPolicy allows any ingress to its pods")


def env_value(container, name):
    for variable in container.get("env") or []:
        if variable.get("name") == name:
            return variable.get("value")
    return None


def connection_budget(docs, errors):
    """Connections the services can hold at their HPAs' maxima plus a surge.

    Every Deployment that connects to a database must set its pool size, and
    together they must fit the server deploy/k8s is sized for. Returns the
    lines of the budget, for check.sh to print."""
    lines, total = [], 0
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        _, spec = pod_template(doc)
        app = spec["containers"][0]
        if not any(v.get("name") == "SPOTTER_DATABASE__URL" for v in app.get("env") or []):
            continue
        name, object_name = label(doc), doc["metadata"]["name"]
        pool = env_value(app, "SPOTTER_DATABASE__MAX_CONNECTIONS")
        if pool is None or not str(pool).isdigit():
            errors.append(f"{name}: container {app.get('name')}: no SPOTTER_DATABASE__MAX_CONNECTIONS "
                          "(the default pool of 20 per replica overruns the connection budget)")
            continue
        most = max([(h.get("spec") or {}).get("maxReplicas", 1)
                    for h in docs if h.get("kind") == "HorizontalPodAutoscaler"
                    and (h.get("spec") or {}).get("scaleTargetRef", {}).get("name") == object_name] or [1])
        surge = ((doc.get("spec") or {}).get("strategy") or {}).get("rollingUpdate", {}).get("maxSurge", 1)
        if not isinstance(surge, int):
            errors.append(f"{name}: maxSurge {surge!r}: give a number, so the connection budget can count it")
            continue
        per_replica = int(pool) + LISTEN_CONNECTIONS.get(object_name, 0)
        # One more per replica while it starts: the migration init container.
        needs = (most + surge) * per_replica + 1
        total += needs
        lines.append(f"{object_name}: ({most} + {surge} surge) x ({pool} pool + "
                     f"{LISTEN_CONNECTIONS.get(object_name, 0)} LISTEN) + 1 migration = {needs}")
    limit = POSTGRES_MAX_CONNECTIONS - CONNECTION_HEADROOM
    lines.append(f"total {total} of {limit} ({POSTGRES_MAX_CONNECTIONS} max_connections "
                 f"less {CONNECTION_HEADROOM} headroom)")
    if total > limit:
        errors.append(f"Namespace/-/spotter: the services can hold {total} PostgreSQL connections at their "
                      f"HPAs' maxima, more than the {limit} deploy/k8s is sized for")
    return lines


def policy_errors(docs):
    errors = []
    for doc in docs:
        check_restricted(doc, errors)
        check_serving(doc, errors)
    check_cluster_objects(docs, errors)
    connection_budget(docs, errors)
    return errors


# --- schema validation -------------------------------------------------------------

def validate(paths, version):
    import kubernetes_validate.utils as kv  # only in the venv

    errors = []
    count = 0
    for path in paths:
        for doc in load([path]):
            count += 1
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                errors.append(f"{path}: a document without apiVersion or kind: {str(doc)[:80]}")
                continue
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                where = ".".join(str(p) for p in e.path) or "(top)"
                errors.append(f"{label(doc)} ({path}): {where}: {e.message}")
            except kv.SchemaNotFoundError as e:
                errors.append(f"{label(doc)} ({path}): {e.message}")
    return errors, count


# --- compose -------------------------------------------------------------------------

def compose_errors(path):
    with open(path, encoding="utf-8") as f:
        compose = yaml.safe_load(f)
    errors = []
    services = compose.get("services") or {}
    for name, service in services.items():
        for port in service.get("ports") or []:
            text = str(port if not isinstance(port, dict) else port.get("host_ip", ""))
            if not text.startswith("127.0.0.1:") and text != "127.0.0.1":
                errors.append(f"compose service {name}: port {port} is published on every interface, not 127.0.0.1")
    spotter = ("referral", "booking", "notification")
    for name in spotter:
        service = services.get(name) or {}
        if not (service.get("healthcheck") or {}).get("test"):
            errors.append(f"compose service {name}: no healthcheck")
        jwks = str((service.get("environment") or {}).get("SPOTTER_AUTH__JWKS", ""))
        if not re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", jwks):
            errors.append(f"compose service {name}: SPOTTER_AUTH__JWKS must be a required variable "
                          f"(${{NAME:?message}}), is {jwks!r}")
    depends = (services.get("gateway") or {}).get("depends_on") or {}
    for name in spotter:
        condition = depends.get(name, {}).get("condition") if isinstance(depends, dict) else None
        if condition != "service_healthy":
            errors.append(f"compose service gateway: depends_on {name} must have condition service_healthy")
    return errors


# --- nginx ---------------------------------------------------------------------------

def seconds(value):
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    if not match:
        raise ValueError(value)
    number, unit = int(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


def nginx_errors(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"#[^\n]*", "", f.read())
    errors = []
    upstreams = re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", text)
    if not upstreams:
        errors.append(f"{path}: no upstream blocks")
    for name, body in upstreams:
        if re.search(r"^\s*keepalive\s+\d+\s*;", body, re.M):
            timeout = re.search(r"^\s*keepalive_timeout\s+(\S+)\s*;", body, re.M)
            # nginx's default is 60 s, far beyond the services' 5 s.
            value = seconds(timeout.group(1)) if timeout else 60
            if value >= SERVICE_KEEPALIVE_SECONDS:
                errors.append(f"{path}: upstream {name}: keepalive_timeout {value}s must be below the services' "
                              f"{SERVICE_KEEPALIVE_SECONDS}s idle close (a reused closed connection fails a POST)")
    for directive in re.findall(r"proxy_next_upstream\s+([^;]*);", text):
        if "non_idempotent" in directive.split():
            errors.append(f"{path}: proxy_next_upstream {directive}: a POST must never be sent twice")
    return errors


# --- self-test -----------------------------------------------------------------------

def find(docs, kind, name):
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            return doc
    raise KeyError(f"{kind}/{name}")


def container(docs, kind, name, index=0, key="containers"):
    return pod_template(find(docs, kind, name))[1][key][index]


def self_test(docs):
    """Each case breaks one rule on a copy; the check must name it."""

    def drop(kind, name):
        def apply(d):
            d.remove(find(d, kind, name))
        return apply

    def pod(kind, name, fn):
        return lambda d: fn(pod_template(find(d, kind, name))[1])

    def one(kind, name, fn, key="containers"):
        return lambda d: fn(container(d, kind, name, key=key))

    cases = [
        ("pod seccompProfile removed",
         pod("Deployment", "booking", lambda s: s["securityContext"].pop("seccompProfile")),
         ["Deployment/spotter/booking: container booking: seccompProfile",
          "Deployment/spotter/booking: initContainer migrate: seccompProfile"]),
        ("allowPrivilegeEscalation true",
         one("Deployment", "gateway", lambda c: c["securityContext"].update(allowPrivilegeEscalation=True)),
         ["Deployment/spotter/gateway: container nginx: securityContext.allowPrivilegeEscalation"]),
        ("capabilities kept",
         one("Deployment", "referral", lambda c: c["securityContext"].pop("capabilities"), key="initContainers"),
         ["Deployment/spotter/referral: initContainer migrate: securityContext.capabilities.drop"]),
        ("privileged",
         one("Deployment", "notification", lambda c: c["securityContext"].update(privileged=True)),
         ["Deployment/spotter/notification: container notification: securityContext.privileged"]),
        ("runs as root",
         pod("Deployment", "gateway", lambda s: s["securityContext"].update(runAsNonRoot=False, runAsUser=0)),
         ["Deployment/spotter/gateway: container nginx: runAsNonRoot", "runAsUser 0"]),
        ("service account token mounted",
         pod("Deployment", "booking", lambda s: s.pop("automountServiceAccountToken")),
         ["Deployment/spotter/booking: pod automountServiceAccountToken"]),
        ("hostPath volume",
         pod("Deployment", "referral", lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}})),
         ["Deployment/spotter/referral: volume h of type hostPath"]),
        ("no PodDisruptionBudget", drop("PodDisruptionBudget", "booking"),
         ["Deployment/spotter/booking: no PodDisruptionBudget"]),
        ("no HorizontalPodAutoscaler", drop("HorizontalPodAutoscaler", "notification"),
         ["Deployment/spotter/notification: no HorizontalPodAutoscaler"]),
        ("fixed replicas beside an HPA", lambda d: find(d, "Deployment", "referral")["spec"].update(replicas=2),
         ["Deployment/spotter/referral: sets spec.replicas"]),
        ("no startupProbe", one("Deployment", "booking", lambda c: c.pop("startupProbe")),
         ["Deployment/spotter/booking: container booking: no startupProbe"]),
        ("no preStop", one("Deployment", "gateway", lambda c: c.pop("lifecycle")),
         ["Deployment/spotter/gateway: container nginx: no lifecycle.preStop"]),
        ("no resources", one("Deployment", "referral", lambda c: c.pop("resources"), key="initContainers"),
         ["Deployment/spotter/referral: initContainer migrate: no resources.requests.cpu"]),
        ("no migration", pod("Deployment", "notification", lambda s: s.pop("initContainers")),
         ["Deployment/spotter/notification: no initContainer running ['spotter', 'migrate', 'notification']"]),
        ("metrics annotation on the wrong port",
         lambda d: pod_template(find(d, "Deployment", "booking"))[0]["annotations"].update(
             {"prometheus.io/port": "8080"}),
         ["Deployment/spotter/booking: annotation prometheus.io/port 8080"]),
        ("no spread", pod("Deployment", "gateway", lambda s: s.pop("topologySpreadConstraints")),
         ["Deployment/spotter/gateway: no topologySpreadConstraints"]),
        ("no default deny", drop("NetworkPolicy", "default-deny"),
         ["Namespace/-/spotter: no default-deny NetworkPolicy"]),
        ("no ingress policy", drop("NetworkPolicy", "gateway"),
         ["Deployment/spotter/gateway: no NetworkPolicy allows any ingress"]),
        ("default database pool",
         one("Deployment", "booking", lambda c: c.update(
             env=[v for v in c["env"] if v["name"] != "SPOTTER_DATABASE__MAX_CONNECTIONS"])),
         ["Deployment/spotter/booking: container booking: no SPOTTER_DATABASE__MAX_CONNECTIONS"]),
        ("pools past the server's connections",
         lambda d: find(d, "HorizontalPodAutoscaler", "notification")["spec"].update(maxReplicas=30),
         ["Namespace/-/spotter: the services can hold"]),
    ]
    failures = []
    baseline = policy_errors(copy.deepcopy(docs))
    if baseline:
        failures.append("the unbroken manifests already fail: " + "; ".join(baseline))
    for title, breaker, expected in cases:
        broken = copy.deepcopy(docs)
        breaker(broken)
        errors = policy_errors(broken)
        missing = [e for e in expected if not any(e in error for error in errors)]
        if missing:
            failures.append(f"{title}: not reported: {missing} (reported: {errors})")
        else:
            print(f"  reported as expected: {title}: {errors[0]}")
    return failures, len(cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate")
    v.add_argument("-k", "--kubernetes-version", required=True)
    v.add_argument("files", nargs="+")
    for name in ("policy", "self-test", "compose"):
        sub.add_parser(name).add_argument("file")
    sub.add_parser("nginx").add_argument("files", nargs="+")
    args = parser.parse_args()

    if args.command == "validate":
        errors, count = validate(args.files, args.kubernetes_version)
        summary = f"{count} documents valid against Kubernetes {args.kubernetes_version} (strict)"
    elif args.command == "policy":
        docs = load([args.file])
        errors = policy_errors(docs)
        serving = sum(1 for d in docs if d.get("kind") in SERVING)
        print("PostgreSQL connections at the HPAs' maxima:")
        for line in connection_budget(docs, []):
            print(f"  {line}")
        summary = f"{len(docs)} objects, {serving} serving workloads: restricted Pod Security and production rules hold"
    elif args.command == "self-test":
        errors, count = self_test(load([args.file]))
        summary = f"all {count} broken copies were reported"
    elif args.command == "compose":
        errors = compose_errors(args.file)
        summary = f"{args.file}: loopback ports, healthchecks, required JWKS, gateway waits for healthy services"
    else:
        errors = [e for path in args.files for e in nginx_errors(path)]
        summary = "upstream keep-alive below the services' idle close; no retried POST"
    for error in errors:
        print(f"ERROR {error}")
    if errors:
        print(f"{len(errors)} problem(s)")
        return 1
    print(f"ok: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
