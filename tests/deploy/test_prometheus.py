"""The alerts as a plain Prometheus loads them, against a running daemon; and the installation
without the Prometheus Operator.

A real Prometheus (Debian's `prometheus` package, which also provides promtool) scrapes
`reconciler sandbox` every second with the plain rule file, the `spec` of
deploy/alerts/prometheusrule.yaml extracted as deploy/README.md says: the target is up, every
rule evaluates, and a document made invalid makes ReconcilerSourceInvalid pending.

The objects whose kinds are the Operator's CRDs (ServiceMonitor, PrometheusRule) are the ones
the Component deploy/prometheus leaves out; nothing else in an installation needs a CRD.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.daemon.support import Daemon, free_port
from tests.deploy.kustomize import render

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_RULE = DEPLOY / "alerts" / "prometheusrule.yaml"
COMPONENT = DEPLOY / "prometheus"
EXAMPLE = DEPLOY / "overlays" / "example"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
BUILTIN_API_GROUPS = {"v1", "apps/v1", "networking.k8s.io/v1"}

T = TypeVar("T")


def plain_rule_file() -> dict[str, Any]:
    """What `yq .spec deploy/alerts/prometheusrule.yaml` prints: a Prometheus rule file."""
    spec: dict[str, Any] = yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]
    return spec


def rule_names() -> set[str]:
    return {
        rule.get("alert") or rule["record"]
        for group in plain_rule_file()["groups"]
        for rule in group["rules"]
    }


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed. Install Debian's prometheus package "
            "(`apt-get install -y prometheus`), which provides prometheus and promtool; .ci/run "
            "does.",
            pytrace=False,
        )
    return path


# --- without the Operator ------------------------------------------------------------------------


def with_component(tmp_path: Path, overlay: Path) -> list[dict[str, Any]]:
    """The overlay with deploy/prometheus added, as an operator's overlay would add it."""
    here = tmp_path / "overlay"
    here.mkdir()
    (here / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(overlay, here)],
                "components": [os.path.relpath(COMPONENT, here)],
            }
        )
    )
    return render(here)


@pytest.mark.parametrize("overlay", [DEPLOY, EXAMPLE], ids=["base", "example"])
def test_the_component_leaves_out_every_object_that_needs_a_crd(
    tmp_path: Path, overlay: Path
) -> None:
    everything = render(overlay)
    plain = with_component(tmp_path, overlay)
    # Only the Operator's kinds need a CRD, and the Component removes exactly those.
    assert {o["apiVersion"] for o in everything if o["kind"] not in CRD_KINDS} <= (
        BUILTIN_API_GROUPS
    )
    assert sorted((o["kind"], o["metadata"]["name"]) for o in plain) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in everything if o["kind"] not in CRD_KINDS
    )
    (deployment,) = (o for o in plain if o["kind"] == "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = (p["containerPort"] for p in container["ports"] if p["name"] == "http")
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }


def test_the_plain_rule_file_passes_promtool(tmp_path: Path) -> None:
    rules = tmp_path / "reconciler-rules.yaml"
    rules.write_text(yaml.safe_dump(plain_rule_file(), sort_keys=False))
    done = subprocess.run(
        [binary("promtool"), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- a real Prometheus against the sandbox -------------------------------------------------------


class Prometheus:
    def __init__(self, tmp_path: Path, target: str, rules: Path) -> None:
        self.port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(rules)],
                    "scrape_configs": [
                        # The job name the alert ReconcilerAbsent looks for.
                        {"job_name": "reconciler", "static_configs": [{"targets": [target]}]}
                    ],
                }
            )
        )
        self.log = tmp_path / "prometheus.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            cwd=tmp_path,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def api(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body = json.loads(answer.read())
        except (OSError, urllib.error.URLError, ValueError):
            return None
        return body["data"] if body.get("status") == "success" else None

    def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-4000:]}")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log_file.close()


@pytest.fixture
def document(tmp_path: Path) -> Path:
    """A copy of the example document for the sandbox to follow."""
    path = tmp_path / "desired" / "accounts.yaml"
    path.parent.mkdir()
    shutil.copy(REPO / "desired" / "accounts.yaml", path)
    return path


@pytest.fixture
def sandbox(tmp_path: Path, document: Path) -> Iterator[Daemon]:
    daemon = Daemon(["sandbox", "--interval", "1", "--desired", str(document)], None, tmp_path)
    try:
        yield daemon
    finally:
        daemon.stop()


def rules_by_name(prometheus: Prometheus) -> dict[str, dict[str, Any]]:
    data = prometheus.api("rules") or {"groups": []}
    return {rule["name"]: rule for group in data["groups"] for rule in group["rules"]}


@pytest.mark.timeout(240)
def test_prometheus_scrapes_the_sandbox_and_evaluates_every_rule(
    tmp_path: Path, document: Path, sandbox: Daemon
) -> None:
    rules = tmp_path / "reconciler-rules.yaml"
    rules.write_text(yaml.safe_dump(plain_rule_file(), sort_keys=False))
    sandbox.wait_for_passes(1, timeout=90)
    prometheus = Prometheus(tmp_path, f"127.0.0.1:{sandbox.port}", rules)
    try:

        def target_up() -> dict[str, Any] | None:
            data = prometheus.api("targets") or {"activeTargets": []}
            return next(
                (
                    t
                    for t in data["activeTargets"]
                    if t["labels"].get("job") == "reconciler" and t["health"] == "up"
                ),
                None,
            )

        prometheus.wait_for(target_up, 60, "the sandbox's target to be up")

        def all_rules_ok() -> dict[str, dict[str, Any]] | None:
            found = rules_by_name(prometheus)
            if set(found) == rule_names() and all(r["health"] == "ok" for r in found.values()):
                return found
            return None

        healthy = prometheus.wait_for(all_rules_ok, 60, "every rule to evaluate with health ok")
        # A valid document: its alert stays quiet.
        assert healthy["ReconcilerSourceInvalid"]["state"] == "inactive"

        # The next revision of the document is invalid; the daemon keeps the last valid one and
        # says so, and the alert goes pending at its next evaluation.
        text = document.read_text()
        document.write_text(text.replace('management_account_id: "123456789012"', "x: [1"))
        sandbox.wait_for(
            lambda: sandbox.metric("reconciler_source_valid") == 0, 60, "the source to be invalid"
        )

        def source_invalid_alert() -> dict[str, Any] | None:
            data = prometheus.api("alerts") or {"alerts": []}
            return next(
                (
                    a
                    for a in data["alerts"]
                    if a["labels"]["alertname"] == "ReconcilerSourceInvalid"
                    and a["state"] in ("pending", "firing")
                ),
                None,
            )

        alert = prometheus.wait_for(source_invalid_alert, 60, "ReconcilerSourceInvalid")
        assert alert["state"] == "pending"  # its `for:` has not passed yet
        assert alert["labels"]["job"] == "reconciler"
        assert rules_by_name(prometheus)["ReconcilerSourceInvalid"]["state"] == "pending"
        assert all(r["health"] == "ok" for r in rules_by_name(prometheus).values())
    finally:
        prometheus.stop()
