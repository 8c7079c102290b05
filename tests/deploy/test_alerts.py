"""The alerts, their unit tests, the runbook, the Grafana dashboard and the README's metrics
table stay true to the code.

promtool checks and unit-tests the rules (the `spec` of deploy/alerts/prometheusrule.yaml, a
plain rule file, extracted to a temporary directory beside a copy of the unit tests); every
`reconciler_` metric the rules and the dashboard query must exist in the code's registry, so
renaming a metric breaks the build rather than the pager.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from reconciler.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "alerts" / "prometheusrule.yaml"
RULE_TESTS = REPO / "deploy" / "alerts" / "tests.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "reconciler-dashboard.json"
RUNBOOK = REPO / "docs" / "runbook.md"
README = REPO / "README.md"

ALERTS = {
    "ReconcilerDriftNotCorrected",
    "ReconcilerReconcileFailing",
    "ReconcilerReconcileStale",
    "ReconcilerChangesFailing",
    "ReconcilerSourceInvalid",
    "ReconcilerAccountUnreachable",
    "ReconcilerUnmanagedAccess",
    "ReconcilerAbsent",
    "ReconcilerAwsApiErrorsRising",
    "ReconcilerWebhookRejected",
    "ReconcilerEventsRejected",
}

# A dashboard topic and a metric whose presence shows the dashboard covers it.
DASHBOARD_TOPICS = {
    "drift by kind and change": "reconciler_drift_resources",
    "drift by account": "reconciler_account_drift_resources",
    "passes and failures": "reconciler_reconcile_total",
    "pass duration by phase": "reconciler_reconcile_duration_seconds_bucket",
    "last success age": "reconciler_last_success_timestamp_seconds",
    "revision in force": "reconciler_source_info",
    "source valid": "reconciler_source_valid",
    "unreachable accounts": "reconciler_account_reachable",
    "unmanaged resources": "reconciler_unmanaged_resources",
    "unmanaged access by account and role": "reconciler_unmanaged_access",
    "changes applied and failed": "reconciler_changes_applied_total",
    "AWS API calls and errors": "reconciler_aws_api_calls_total",
}

# Sample-name suffixes each metric type exposes (prometheus_client, text format; no `_created`
# series, which the registry does not expose).
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "gauge": ("",),
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: it checks and unit-tests deploy/alerts. Install Debian's "
            "prometheus package (`apt-get install -y prometheus`), which provides promtool.",
            pytrace=False,
        )
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def rule_file() -> dict[str, Any]:
    """The PrometheusRule's `spec`: a Prometheus rule file (`groups:`)."""
    spec: dict[str, Any] = yaml.safe_load(RULES.read_text())["spec"]
    return spec


def load_rules() -> list[dict[str, Any]]:
    return [rule for group in rule_file()["groups"] for rule in group["rules"]]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The rule file as promtool reads it (`rules.yaml`, the name tests.yaml loads), beside a
    copy of the unit tests."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file(), sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    return tmp_path


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable.get("type") == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def metric_names(expr: str) -> set[str]:
    """The `reconciler_` metric names a PromQL expression uses, read loosely: identifiers
    outside label matchers and strings (a label could be called reconciler_something)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # label matchers
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(re.findall(r"\breconciler_[a-zA-Z0-9_:]*", expr))


def registry_names() -> set[str]:
    """Every sample name the registry exposes, including those of labelled metrics that have
    no series yet (accounts, AWS operations), derived from each family's type."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


# --- promtool ---------------------------------------------------------------------------------


def test_promtool_check_rules(rules_dir: Path) -> None:
    result = run_promtool("check", "rules", str(rules_dir / "rules.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass(rules_dir: Path) -> None:
    result = run_promtool("test", "rules", str(rules_dir / RULE_TESTS.name))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_fire_and_silence_every_alert() -> None:
    """Each alert has a case where it fires and one where it stays silent."""
    fires: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires == ALERTS
    assert silent == ALERTS


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool parses every dashboard query, as a recording rule, with the variables filled."""
    exprs = [
        t["expr"] for p in panels(load_dashboard()) for t in p.get("targets", []) if "expr" in t
    ]
    values = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": "x"}
    rules = []
    for number, expr in enumerate(exprs):
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- metric names -----------------------------------------------------------------------------


def test_metric_name_parsing() -> None:
    assert metric_names(
        'sum by (reconciler_x) (rate(reconciler_a_total{reconciler_y="reconciler_z"}[5m]))'
        " / on (job) reconciler_b"
    ) == {"reconciler_a_total", "reconciler_b"}


def test_rules_use_only_registry_metrics() -> None:
    used = {name for rule in load_rules() for name in metric_names(rule["expr"])}
    assert used, "no reconciler_ metric found in the rules"
    assert used - registry_names() == set()


def test_the_registry_exposes_no_created_series() -> None:
    """Counters and histograms carry no `_created` samples: nothing may query them."""
    samples = {s.name for family in Metrics().registry.collect() for s in family.samples}
    assert "reconciler_reconcile_total" in samples
    assert {name for name in samples if name.endswith("_created")} == set()


def test_dashboard_uses_only_registry_metrics() -> None:
    used = {name for expr in dashboard_exprs(load_dashboard()) for name in metric_names(expr)}
    assert used, "no reconciler_ metric found in the dashboard"
    assert used - registry_names() == set()


# --- the README's metrics table ---------------------------------------------------------------

# The name a metric is queried by, from its family's name and type.
QUERIED = {"counter": "_total", "info": "_info"}


def readme_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The README's metrics table (section Metrics, alerts, dashboards): name -> type, labels."""
    section = README.read_text().split("\n## Metrics, alerts, dashboards\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in section.splitlines():
        if line.startswith("| `reconciler_"):
            name, kind, labels, _ = (cell.strip() for cell in line.strip("|").split("|", 3))
            rows[name.strip("`")] = (kind, tuple(re.findall(r"`(\w+)`", labels)))
    return rows


def code_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The registry's metrics, by the name they are queried by: type, and labels (an info's
    labels are its values, so they are not compared)."""
    metrics = Metrics()
    labels = {
        metric._name: tuple(metric._labelnames)
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
    }
    return {
        family.name + QUERIED.get(family.type, ""): (family.type, labels.get(family.name, ()))
        for family in metrics.registry.collect()
    }


def test_the_readme_lists_every_metric_with_its_type_and_labels() -> None:
    documented = readme_metrics()
    assert "reconciler_unmanaged_access" in documented
    code = code_metrics()
    assert set(documented) == set(code)
    for name, (kind, labels) in code.items():
        assert documented[name][0] == kind, name
        if kind != "info":
            assert documented[name][1] == labels, name


def test_the_readme_describes_unmanaged_access() -> None:
    assert readme_metrics()["reconciler_unmanaged_access"] == ("gauge", ("account", "role"))


# --- alerts and runbook -----------------------------------------------------------------------


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings: lowercased, punctuation dropped."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*$", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_every_required_alert_exists() -> None:
    assert {rule["alert"] for rule in alerts()} == ALERTS


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_is_complete(name: str) -> None:
    (rule,) = [rule for rule in alerts() if rule["alert"] == name]
    assert rule.get("for"), f"{name} has no for:"
    assert rule.get("labels", {}).get("severity") in {"critical", "warning", "info"}
    annotations = rule.get("annotations", {})
    assert annotations.get("summary"), f"{name} has no summary"
    assert annotations.get("description"), f"{name} has no description"
    url = annotations.get("runbook_url", "")
    assert url.split("#")[0].endswith("docs/runbook.md"), url
    anchor = url.partition("#")[2]
    assert anchor == name.lower()
    assert anchor in runbook_anchors(), f"docs/runbook.md has no heading for #{anchor}"


# --- dashboard --------------------------------------------------------------------------------


def test_dashboard_identity() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "reconciler"
    assert dashboard["schemaVersion"] >= 36


def test_dashboard_variables() -> None:
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    job = variables["job"]
    assert job["type"] == "query"
    query = job["query"]["query"] if isinstance(job["query"], dict) else job["query"]
    assert query == "label_values(reconciler_build_info, job)"
    assert job["datasource"]["uid"] == "${datasource}"


def test_every_panel_uses_the_datasource_variable_and_job() -> None:
    checked = 0
    for panel in panels(load_dashboard()):
        if panel["type"] == "row":
            continue
        checked += 1
        title = panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", title
        assert panel["targets"], f"{title} has no query"
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == "${datasource}", title
            selectors = re.findall(r"reconciler_\w+(\{[^}]*\})?", target["expr"])
            assert selectors, f"{title}: no reconciler_ metric in {target['expr']}"
            assert all('job="$job"' in s for s in selectors), f"{title}: {target['expr']}"
    assert checked >= len(DASHBOARD_TOPICS)


@pytest.mark.parametrize("topic", sorted(DASHBOARD_TOPICS))
def test_dashboard_covers(topic: str) -> None:
    used = {name for expr in dashboard_exprs(load_dashboard()) for name in metric_names(expr)}
    assert DASHBOARD_TOPICS[topic] in used


def test_dashboard_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    every = list(panels(load_dashboard()))
    ids = [panel["id"] for panel in every]
    assert len(ids) == len(set(ids)), ids
    cells: dict[tuple[int, int], str] = {}
    for panel in load_dashboard()["panels"]:  # the top level; a row's own panels share its grid
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_unmanaged_access_panel_lists_only_accounts_and_roles_with_users() -> None:
    """A table of the current value per account and role, without the zero series every placed
    role has."""
    (panel,) = [p for p in panels(load_dashboard()) if "reconciler_unmanaged_access" in str(p)]
    assert panel["type"] == "table"
    (target,) = panel["targets"]
    assert target["expr"] == 'reconciler_unmanaged_access{job="$job"} > 0'
    assert (target["instant"], target["format"]) == (True, "table")
    renamed = panel["transformations"][0]["options"]["renameByName"]
    assert renamed == {"account": "Account", "role": "Role", "Value": "Users"}


def test_drift_panels_speak_of_the_drift_left() -> None:
    """The drift gauges show what the last pass left, not what its plan found."""
    drift = {
        panel["title"]
        for panel in panels(load_dashboard())
        if "reconciler_drift_resources" in str(panel.get("targets"))
        or "reconciler_account_drift_resources" in str(panel.get("targets"))
    }
    assert drift == {"Drift left", "Drift left by kind and change", "Drift left by account"}
    for panel in panels(load_dashboard()):
        assert "last plan found" not in panel.get("description", ""), panel["title"]
