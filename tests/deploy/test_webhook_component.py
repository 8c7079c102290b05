"""The optional git webhook (deploy/webhook, a kustomize Component): added to the worked example
it renders and passes strict validation, exposes POST /hooks/git and nothing else of the port,
and hands the daemon the Secret's key as the file RECONCILER_WEBHOOK_SECRET_FILE names. The
Secret is made from the operator's file, which git ignores."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import webhook
from tests.deploy.kustomize import render
from tests.deploy.test_kustomize import check_network_policy

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPONENT = DEPLOY / "webhook"
SECRET = DEPLOY / "overlays" / "example" / "webhook-secret"


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = (o for o in objects if o["kind"] == kind)
    return found


@pytest.fixture
def objects(tmp_path: Path) -> list[dict[str, Any]]:
    """The worked example with the Component, as an overlay of one's own would add it."""
    example = os.path.relpath(DEPLOY / "overlays" / "example", tmp_path)
    component = os.path.relpath(COMPONENT, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [example], "components": [component]})
    )
    return render(tmp_path)


def test_it_adds_only_an_ingress(objects: list[dict[str, Any]]) -> None:
    without = render(DEPLOY / "overlays" / "example")
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted([*(o["kind"] for o in without), "Ingress"])
    assert all(
        o["metadata"].get("namespace") == "reconciler" for o in objects if o["kind"] != "Namespace"
    )


def test_everything_passes_strict_validation(objects: list[dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.utils.latest_version()
    for obj in objects:
        if obj["kind"] in {"ServiceMonitor", "PrometheusRule"}:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {exc.path}")


def test_the_ingress_exposes_the_hook_and_nothing_else(objects: list[dict[str, Any]]) -> None:
    ingress = one(objects, "Ingress")["spec"]
    (rule,) = ingress["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == (webhook.PATH, "Exact")
    service = one(objects, "Service")
    backend = path["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert "defaultBackend" not in ingress
    assert [rule["host"]] == ingress["tls"][0]["hosts"], "HTTPS only"


def test_the_daemon_reads_the_secret_from_the_mounted_file(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    secret_file = Path(env["RECONCILER_WEBHOOK_SECRET_FILE"])
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    mount = mounts[str(secret_file.parent)]
    assert mount["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "reconciler-webhook"
    assert "optional" not in secret, "without the Secret the pod waits rather than runs open"
    assert secret_file.name == "secret"  # the key of the Secret
    assert secret["defaultMode"] == 0o440
    # The base's hardening and network policy are unchanged: the controller reaches 8080.
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    check_network_policy(one(objects, "NetworkPolicy"), labels)


def test_the_secret_is_made_from_the_operators_file(tmp_path: Path) -> None:
    copy = tmp_path / "webhook-secret"
    shutil.copytree(SECRET, copy)
    (copy / "secret").write_text("not-a-real-secret\n")
    (secret,) = render(copy)
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "reconciler-webhook"
    assert secret["metadata"]["namespace"] == "reconciler"
    assert set(secret["data"]) == {"secret"}


def test_no_secret_is_in_git() -> None:
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--", str(SECRET.relative_to(REPO))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {Path(p).name for p in tracked} <= {"kustomization.yaml", ".gitignore"}
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", str(SECRET / "secret")], check=False
    )
    assert ignored.returncode == 0, "webhook-secret/secret is not ignored by git"
    kustomization = yaml.safe_load((SECRET / "kustomization.yaml").read_text())
    (generator,) = kustomization["secretGenerator"]
    assert generator["files"] == ["secret"]
    assert "literals" not in generator
