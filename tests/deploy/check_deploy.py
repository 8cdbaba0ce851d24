#!/usr/bin/env python3
"""deploy/ as a cluster would see it: every kustomization renders (kubectl
kustomize), the DaemonSet is the one the README promises, the PodGuardPolicy
CRD's schema is structural and accepts every example policy and rejects
broken ones (validated against the CRD's own openAPIV3Schema as rendered),
and the PrometheusRule agrees with dashboards/alerts.yml.

Usage: check_deploy.py SOURCE_DIR"""
import copy
import glob
import os
import subprocess
import sys

import jsonschema
import yaml

src = sys.argv[1]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def render(path):
    out = subprocess.run(["kubectl", "kustomize", path], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def daemonset_args(docs):
    return next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]


def kinds(docs):
    return sorted(d["kind"] for d in docs)


# --- every kustomization renders
rendered = {}
for k in sorted(glob.glob(os.path.join(src, "deploy/**/kustomization.yaml"), recursive=True)):
    d = os.path.dirname(k)
    rendered[os.path.relpath(d, src)] = render(d)
base = rendered["deploy/base"]
check(kinds(base) == sorted(["Namespace", "CustomResourceDefinition", "ServiceAccount",
                             "ClusterRole", "ClusterRoleBinding", "PriorityClass", "DaemonSet"]),
      f"base kinds: {kinds(base)}")
check("PodMonitor" in kinds(rendered["deploy/overlays/prometheus-operator"]) and
      "PrometheusRule" in kinds(rendered["deploy/overlays/prometheus-operator"]),
      "prometheus-operator overlay lacks PodMonitor/PrometheusRule")
check("ConfigMap" in kinds(rendered["deploy/overlays/policy-configmap"]),
      "policy-configmap overlay lacks its ConfigMap")
check("--policy=/etc/podguard/policies" in
      daemonset_args(rendered["deploy/overlays/policy-configmap"]),
      "policy-configmap overlay does not pass --policy")


def daemonset(docs):
    return next(d for d in docs if d["kind"] == "DaemonSet")


# --- the DaemonSet starts on a real cluster
ds = daemonset(base)
pod = ds["spec"]["template"]["spec"]
c = pod["containers"][0]
image = c["image"]
check(":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"image not pinned: {image}")
check(c.get("imagePullPolicy") == "IfNotPresent", "imagePullPolicy must be IfNotPresent")
check("--bpf-stats" not in c["args"], "--bpf-stats must be off")
check(not any(a.startswith("--policy") for a in c["args"]),
      "base must start without the optional ConfigMap (an empty --policy directory is an error)")
check(pod.get("hostPID") is True, "hostPID")
check(pod.get("priorityClassName") not in (None, "system-node-critical", "system-cluster-critical"),
      "priority class must work outside kube-system")
pcs = [d["metadata"]["name"] for d in base if d["kind"] == "PriorityClass"]
check(pod.get("priorityClassName") in pcs, "the priority class is not created")
for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    p = c.get(probe, {}).get("httpGet", {})
    check(p.get("path") == path and p.get("port") == "metrics", f"{probe} should GET {path} on metrics")
sc = c["securityContext"]
check(not sc.get("privileged"), "base must not be privileged")
check(sc["capabilities"]["drop"] == ["ALL"], "capabilities: drop ALL")
check("SYS_ADMIN" not in sc["capabilities"]["add"], "CAP_SYS_ADMIN in the base")
check(set(["BPF", "PERFMON"]) <= set(sc["capabilities"]["add"]), "CAP_BPF/CAP_PERFMON missing")
check("memory" in c["resources"].get("limits", {}), "memory limit")
vols = {v["name"]: v for v in pod["volumes"]}
check(vols["policies"]["configMap"].get("optional") is True, "the policies ConfigMap must be optional")
priv = daemonset(rendered["deploy/overlays/privileged"])
check(priv["spec"]["template"]["spec"]["containers"][0]["securityContext"].get("privileged") is True,
      "privileged overlay")
rules = [d for d in base if d["kind"] == "ClusterRole"][0]["rules"]
check(any("podguardpolicies" in r["resources"] and set(r["verbs"]) == {"get", "list", "watch"}
          for r in rules), "RBAC: podguardpolicies get/list/watch")

# --- the CRD
crd = next(d for d in base if d["kind"] == "CustomResourceDefinition")
ver = crd["spec"]["versions"][0]
check(crd["apiVersion"] == "apiextensions.k8s.io/v1", "CRD apiVersion")
schema = ver["schema"]["openAPIV3Schema"]
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
FORBIDDEN_IN_JUNCTORS = ("type", "additionalProperties", "default", "nullable", "description")


def structural(node, where, in_junctor=False):
    """The apiextensions rules for a structural schema (what this CRD uses)."""
    if not isinstance(node, dict):
        return
    special = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    if in_junctor:
        for k in FORBIDDEN_IN_JUNCTORS:
            check(k not in node, f"{where}: '{k}' inside a junctor")
        check(not any(k.startswith("x-kubernetes") for k in node), f"{where}: x-kubernetes-* inside a junctor")
    else:
        check("type" in node or special, f"{where}: no type")
    for name, sub in node.get("properties", {}).items():
        structural(sub, f"{where}.{name}", in_junctor)
    if isinstance(node.get("items"), dict):
        structural(node["items"], f"{where}[]", in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        structural(node["additionalProperties"], f"{where}{{}}", in_junctor)
    for j in JUNCTORS:
        subs = node.get(j, [])
        for i, sub in enumerate(subs if isinstance(subs, list) else [subs]):
            structural(sub, f"{where}.{j}[{i}]", True)


structural(schema, "openAPIV3Schema")


def to_json_schema(node):
    """openAPIV3Schema -> JSON Schema (draft 7) with the API server's meaning."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "x-kubernetes-int-or-string":
            out["type"] = ["integer", "string"]
        elif k.startswith("x-kubernetes-"):
            continue
        elif k in ("properties",):
            out[k] = {n: to_json_schema(s) for n, s in v.items()}
        else:
            out[k] = to_json_schema(v)
    return out


validator = jsonschema.Draft7Validator(to_json_schema(schema))


def errors(doc):
    return [e.message for e in validator.iter_errors(doc)]


examples = sorted(glob.glob(os.path.join(src, "deploy/policies/*.yaml")))
check(len(examples) >= 4, "example policies not found")
for path in examples:
    for doc in yaml.safe_load_all(open(path)):
        if doc:
            e = errors(doc)
            check(not e, f"{os.path.basename(path)} rejected by the CRD schema: {e}")

good = yaml.safe_load(open(os.path.join(src, "deploy/policies/seed-pod.yaml")))
broken = {
    "no rules": lambda d: d["spec"].pop("rules"),
    "empty rules": lambda d: d["spec"].update(rules=[]),
    "unknown action": lambda d: d["spec"]["rules"][0].update(action="deny"),
    "unknown severity": lambda d: d["spec"]["rules"][0].update(severity="urgent"),
    "rule without name": lambda d: d["spec"]["rules"][0].pop("name"),
    "rule name too long": lambda d: d["spec"]["rules"][0].update(name="a" * 64),
    "rule name with capitals": lambda d: d["spec"]["rules"][0].update(name="Shell"),
    "no operations": lambda d: d["spec"]["rules"][0].update(operations=[]),
    "unknown operation word": lambda d: d["spec"]["rules"][0].update(operations=["signals"]),
    "operation mapping with two kinds": lambda d: d["spec"]["rules"][0].update(
        operations=[{"signal": {}, "ptrace": {}}]),
    "operation mapping of an unknown kind": lambda d: d["spec"]["rules"][0].update(operations=[{"kill": {}}]),
    "unknown /proc entry": lambda d: d["spec"]["rules"][0].update(operations=[{"procAccess": {"entries": ["secrets"]}}]),
    "signals not a list": lambda d: d["spec"]["rules"][0].update(operations=[{"signal": {"signals": "HUP"}}]),
    "unknown relation": lambda d: d["spec"]["rules"][0].update(relations=["same_node"]),
    "priority out of range": lambda d: d["spec"].update(priority=2000000),
    "pods not a list": lambda d: d["spec"]["selector"].update(pods="nginx"),
    "podLabels value not a string": lambda d: d["spec"]["selector"].update(podLabels={"app": ["web"]}),
    "relative binary": lambda d: d["spec"]["rules"][0]["source"].update(binaries=["kill"]),
    "agent not a boolean": lambda d: d["spec"]["selector"].update(agent="yes"),
    "unknown defaultAction": lambda d: d["spec"].update(defaultAction="drop"),
}
for what, mutate in broken.items():
    doc = copy.deepcopy(good)
    mutate(doc)
    check(errors(doc), f"the CRD schema accepts a broken policy: {what}")

# --- the PrometheusRule is dashboards/alerts.yml
r = subprocess.run([os.path.join(src, "scripts/gen-prometheus-rule.sh"), "--check"], capture_output=True, text=True)
check(r.returncode == 0, "prometheusrule.yaml out of sync with dashboards/alerts.yml:\n" + r.stdout + r.stderr)
alerts = yaml.safe_load(open(os.path.join(src, "dashboards/alerts.yml")))
pr = next(d for d in rendered["deploy/overlays/prometheus-operator"] if d["kind"] == "PrometheusRule")
check(pr["spec"]["groups"] == alerts["groups"], "PrometheusRule groups differ from dashboards/alerts.yml")

for f in failures:
    print("FAIL:", f)
print(f"deploy: {len(rendered)} kustomizations rendered, {len(examples)} example files and "
      f"{len(broken)} broken policies checked against the CRD, {len(failures)} failures")
sys.exit(1 if failures else 0)
