#!/usr/bin/env python3
"""Syntax and shape check of deploy/compose and deploy/k8s without docker.

Parses every YAML document (PyYAML's safe loader, which also resolves the
compose anchors) and checks what the deployment relies on: three Kafka
brokers in compose, custops services with their roles, and the projections as
a StatefulSet with a volume each that advertises its own address. Exit 77
(ctest: skipped) when PyYAML is not installed.

  check_manifests.py <repo root>
"""
import pathlib
import sys

try:
    import yaml
except ImportError:
    print("PyYAML not installed: skipped")
    sys.exit(77)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def args_of(container_or_service, key):
    value = container_or_service.get(key) or []
    return " ".join(str(v) for v in value)


root = pathlib.Path(sys.argv[1])

compose = yaml.safe_load((root / "deploy/compose/docker-compose.yml").read_text())
services = compose.get("services") or fail("compose: no services")
brokers = [n for n, s in services.items() if "kafka" in str(s.get("image", ""))]
if len(brokers) != 3:
    fail(f"compose: expected 3 Kafka brokers, found {brokers}")
voters = services[brokers[0]]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
if voters.count("@") != 3:
    fail("compose: the KRaft quorum must name the three brokers")
custops = {n: s for n, s in services.items() if s.get("image") == "custops:latest"}
roles = {n: args_of(s, "command") for n, s in custops.items()}
projections = [n for n, a in roles.items() if "lifecycle" in a]
if len(projections) < 2:
    fail("compose: expected at least two lifecycle projection instances")
for n in projections:
    if "--advertise" not in roles[n]:
        fail(f"compose: {n} must advertise its address")
    if not services[n].get("volumes"):
        fail(f"compose: {n} needs a volume for its state")
for role in ("value", "review"):
    # A leader and at least one standby to take over (docs/kafka.md).
    if sum(1 for n in projections if role in roles[n]) < 2:
        fail(f"compose: expected {role} on at least two projection instances")
if not any("ingest" in a for a in roles.values()):
    fail("compose: no ingest process")

docs = [d for d in yaml.safe_load_all((root / "deploy/k8s/custops.yaml").read_text()) if d]
for d in docs:
    for key in ("apiVersion", "kind", "metadata"):
        if key not in d:
            fail(f"k8s: a document without {key}: {d}")
kinds = [d["kind"] for d in docs]
sts = [d for d in docs if d["kind"] == "StatefulSet"]
if len(sts) != 1:
    fail(f"k8s: expected one StatefulSet, found kinds {kinds}")
spec = sts[0]["spec"]
if not spec.get("volumeClaimTemplates"):
    fail("k8s: the projections' StatefulSet needs volumeClaimTemplates")
container = spec["template"]["spec"]["containers"][0]
a = args_of(container, "args")
if "lifecycle" not in a or "--advertise" not in a:
    fail("k8s: projection pods must run the lifecycle role and advertise their address")
mounts = [m["name"] for m in container.get("volumeMounts", [])]
if spec["volumeClaimTemplates"][0]["metadata"]["name"] not in mounts:
    fail("k8s: the state volume is not mounted")
headless = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
if not any(d["metadata"]["name"] == spec["serviceName"] for d in headless):
    fail("k8s: the StatefulSet's serviceName must be a headless Service")
print(f"ok: compose ({len(services)} services), k8s ({', '.join(kinds)})")
