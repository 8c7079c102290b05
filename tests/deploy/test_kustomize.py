"""The kustomize base and its overlays render, pass `kubernetes-validate --strict` for a current
Kubernetes version (built-in kinds), and hold the pod hardening every container needs.

The Prometheus Operator kinds (ServiceMonitor, PrometheusRule) are CRDs that kubernetes-validate
has no schema for; they are checked structurally here instead.

Each artifact exists once: the base lists deploy/alerts (the PrometheusRule) and deploy/grafana
(the dashboard, as a generated ConfigMap) among its resources, so no copy of either lives in
the base.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.kustomize import render

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_RULE = DEPLOY / "alerts" / "prometheusrule.yaml"
DASHBOARD = DEPLOY / "grafana" / "reconciler-dashboard.json"
BASE = DEPLOY / "base"
OVERLAYS = sorted(p.parent for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
TARGETS = [DEPLOY, *OVERLAYS]
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
PORT = 8080
UID = 10001


@pytest.fixture(scope="module", params=TARGETS, ids=lambda p: str(p.relative_to(REPO)))
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_there_is_a_plan_only_overlay() -> None:
    assert DEPLOY / "overlays" / "plan-only" in OVERLAYS


def test_deploy_renders_the_base() -> None:
    assert render(DEPLOY) == render(BASE)


def test_renders_every_kind(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "Namespace",
            "NetworkPolicy",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    )
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "reconciler", obj["metadata"]["name"]


def test_builtin_kinds_pass_strict_validation(objects: list[dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.utils.latest_version()
    major, minor = (int(part) for part in version.split(".")[:2])
    assert (major, minor) >= (1, 30), f"kubernetes-validate knows only up to {version}"
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {exc.path}")


def test_every_container_is_hardened(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    containers = pod["containers"] + pod.get("initContainers", [])
    assert containers
    for container in containers:
        context = container.get("securityContext", {})
        name = container["name"]
        assert context.get("runAsNonRoot") is True, name
        assert context.get("runAsUser", pod["securityContext"].get("runAsUser")) == UID, name
        assert context.get("runAsGroup", pod["securityContext"].get("runAsGroup")) == UID, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("privileged", False) is False, name
        assert context.get("capabilities", {}).get("drop") == ["ALL"], name
        assert not context.get("capabilities", {}).get("add"), name
        assert context.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container.get("resources", {}).get(kind, {})), name


def test_probes_and_port(objects: list[dict[str, Any]]) -> None:
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "http", "containerPort": PORT, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


# --- the network policy ------------------------------------------------------------------------

NETWORK_POLICY = BASE / "networkpolicy.yaml"
POD_IDENTITY_AGENT = "169.254.170.23/32"


def ports(rule: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports", [])}


def check_network_policy(policy: dict[str, Any], pod_labels: dict[str, str]) -> None:
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    # In: the metrics port only, from pods of the cluster (a namespace selector), no address.
    (ingress,) = spec["ingress"]
    assert ports(ingress) == {(PORT, "TCP")}
    assert ingress["from"] and all("ipBlock" not in peer for peer in ingress["from"])
    assert all("namespaceSelector" in peer for peer in ingress["from"])
    # Out: DNS, HTTPS and SSH anywhere; port 80 to the Pod Identity agent only.
    opened: set[tuple[int, str]] = set()
    for rule in spec["egress"]:
        if (80, "TCP") in ports(rule):
            assert ports(rule) == {(80, "TCP")}
            assert rule["to"] == [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}]
            continue
        assert ports(rule), "an egress rule without ports opens every port"
        opened |= ports(rule)
    assert opened == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (22, "TCP")}


def test_network_policy_file_is_in_the_base() -> None:
    """The file itself, and the base's list of resources."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert NETWORK_POLICY.name in kustomization["resources"]
    deployment = yaml.safe_load((BASE / "deployment.yaml").read_text())
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    check_network_policy(yaml.safe_load(NETWORK_POLICY.read_text()), pod_labels)


def test_network_policy_selects_the_daemon(objects: list[dict[str, Any]]) -> None:
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    check_network_policy(one(objects, "NetworkPolicy"), pod_labels)


def test_deployment_runs_one_daemon_that_stops_in_time(objects: list[dict[str, Any]]) -> None:
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]
    # SIGTERM ends a pass within 30 s; the kubelet must wait longer than that.
    assert pod["terminationGracePeriodSeconds"] > 30


def test_writable_places_are_volumes(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    for path in ("/var/lib/reconciler", "/tmp"):
        assert path in mounts, path
        assert "emptyDir" in volumes[mounts[path]], path


def test_configuration_comes_from_config_map_and_secret(objects: list[dict[str, Any]]) -> None:
    container = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    config_maps = {o["metadata"]["name"]: o for o in of_kind(objects, "ConfigMap")}
    (reference,) = (e["configMapRef"]["name"] for e in container["envFrom"])
    assert reference.startswith("reconciler-config")
    assert reference in config_maps, "envFrom names a ConfigMap that is not rendered"
    data = config_maps[reference]["data"]
    for key in (
        "RECONCILER_SOURCE_URL",
        "RECONCILER_SOURCE_REF",
        "RECONCILER_SOURCE_PATH",
        "RECONCILER_MODE",
        "RECONCILER_INTERVAL",
        "RECONCILER_LOG_FORMAT",
    ):
        assert key in data, key
    assert data["RECONCILER_MODE"] in ("apply", "plan")
    assert "RECONCILER_GIT_TOKEN" not in data, "the token belongs in a Secret"
    env = {e["name"]: e for e in container.get("env", [])}
    token = env["RECONCILER_GIT_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "reconciler-git", "key": "token", "optional": True}


def test_service_account_is_annotated_for_irsa(objects: list[dict[str, Any]]) -> None:
    annotations = one(objects, "ServiceAccount")["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_service_and_service_monitor_find_the_pod(objects: list[dict[str, Any]]) -> None:
    deployment = one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(objects, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    monitor = one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http"
    assert endpoint["path"] == "/metrics"
    # The alerts tell plan-only installations apart by the `mode` target label.
    assert "mode" in monitor["spec"]["targetLabels"]
    assert service["metadata"]["labels"]["mode"] == config_mode(objects)


def config_mode(objects: list[dict[str, Any]]) -> str:
    (config,) = (
        o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"].startswith("reconciler-c")
    )
    return str(config["data"]["RECONCILER_MODE"])


def test_prometheus_rule_is_well_formed(objects: list[dict[str, Any]]) -> None:
    rule = one(objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    assert rule["spec"]["groups"]
    for group in rule["spec"]["groups"]:
        assert group["name"]
        for entry in group["rules"]:
            assert set(entry) <= {"alert", "record", "expr", "for", "labels", "annotations"}
            assert entry.get("alert") or entry.get("record")
            assert str(entry["expr"]).strip()


def test_dashboard_config_map_is_labelled_for_grafana(objects: list[dict[str, Any]]) -> None:
    dashboards = [
        o
        for o in of_kind(objects, "ConfigMap")
        if o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) == 1
    (content,) = dashboards[0]["data"].values()
    assert json.loads(content) == json.loads(DASHBOARD.read_text())


def test_mode_role_and_target_label_agree(objects: list[dict[str, Any]]) -> None:
    if one(objects, "ServiceAccount")["metadata"]["annotations"][
        "eks.amazonaws.com/role-arn"
    ].endswith("-readonly"):
        assert config_mode(objects) == "plan"
    if config_mode(objects) == "plan":
        assert one(objects, "Service")["metadata"]["labels"]["mode"] == "plan"


def test_overlay_differs_from_base_only_in_mode_and_role() -> None:
    plan_only = render(DEPLOY / "overlays" / "plan-only")
    assert config_mode(plan_only) == "plan"
    base = render(DEPLOY)
    assert config_mode(base) == "apply"
    # The rest is the base: the same objects, the dashboard and the alerts included.
    assert sorted(
        (o["kind"], o["metadata"]["name"]) for o in plan_only if o["kind"] != "ConfigMap"
    ) == sorted((o["kind"], o["metadata"]["name"]) for o in base if o["kind"] != "ConfigMap")
    assert one(plan_only, "PrometheusRule") == one(base, "PrometheusRule")
    role = one(plan_only, "ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(":role/reconciler-readonly")


# --- one copy of each artifact -------------------------------------------------------------------


def test_prometheus_rule_is_the_rule_file(objects: list[dict[str, Any]]) -> None:
    rendered = one(objects, "PrometheusRule")
    assert rendered["spec"] == yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]


@pytest.mark.parametrize("name", ["prometheusrule.yaml", "reconciler-dashboard.json"])
def test_base_holds_no_copy(name: str) -> None:
    found = sorted(str(path.relative_to(REPO)) for path in DEPLOY.rglob(name))
    assert len(found) == 1, found
