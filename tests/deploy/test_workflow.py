"""The pull-request workflow example (deploy/github-actions/plan.yml): it runs on pull requests
that touch desired/, validates, plans with read-only OIDC credentials, and posts the plan in
<details> comments split under GitHub's 65,536-character limit. Where node is installed, the
workflow's own splitting function is run on large plans."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "deploy" / "github-actions" / "plan.yml"
LIMIT = 65536
RESERVED = 1024


def workflow() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def steps(job: str) -> list[dict[str, Any]]:
    return list(workflow()["jobs"][job]["steps"])


def runs(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: str, action: str) -> dict[str, Any]:
    (step,) = (s for s in steps(job) if s.get("uses", "").split("@")[0] == action)
    assert re.fullmatch(r"v\d+", step["uses"].split("@")[1]), "pin a major version"
    return step


def script() -> str:
    return str(uses("plan", "actions/github-script")["with"]["script"])


def test_triggers_on_pull_requests_touching_desired() -> None:
    document = workflow()
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request"}
    assert triggers["pull_request"]["paths"] == ["desired/**"]


def test_least_privilege_tokens() -> None:
    document = workflow()
    assert document["permissions"] == {"contents": "read"}
    assert "permissions" not in document["jobs"]["validate"]
    assert document["jobs"]["plan"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }


def test_validates_then_plans_in_markdown() -> None:
    for job in ("validate", "plan"):
        uses(job, "actions/checkout")
        uses(job, "actions/setup-python")
        assert re.search(r"pip install \"?reconciler\b", runs(job)), job
    assert re.search(r"^reconciler validate\b", runs("validate"), re.M)
    plan = runs("plan")
    assert re.search(r"^\s*reconciler plan .*--format markdown", plan, re.M)
    assert workflow()["jobs"]["plan"]["needs"] == "validate"


def test_plan_uses_read_only_oidc_credentials() -> None:
    names = [s.get("uses", s.get("name")) for s in steps("plan")]
    credentials = uses("plan", "aws-actions/configure-aws-credentials")
    assert names.index(credentials["uses"]) < names.index("Plan")
    settings = credentials["with"]
    assert "role-to-assume" in settings
    assert "aws-access-key-id" not in settings and "aws-secret-access-key" not in settings
    assert "reconciler-readonly-policy.json" in WORKFLOW.read_text()
    # Forks get no OIDC token: the plan job runs for branches of this repository only.
    assert "head.repo.full_name == github.repository" in workflow()["jobs"]["plan"]["if"]


def test_plan_errors_fail_the_job_after_commenting() -> None:
    plan = runs("plan")
    assert "set +e" in plan and "status=$?" in plan
    last = steps("plan")[-1]
    assert last["if"] == "steps.plan.outputs.status == '1'"
    assert "exit 1" in last["run"]


def test_comment_is_folded_and_size_limited() -> None:
    body = script()
    assert f"LIMIT = {LIMIT}" in body
    assert "<details>" in body or "<details><summary>" in body
    assert "</details>" in body
    assert "body.length > LIMIT" in body
    assert "createComment" in body
    assert "deleteComment" in body and "MARKER" in body


def run_split(text: str, budget: int) -> list[str]:
    source = script()
    function = source[source.index("// split:begin") : source.index("// split:end")]
    program = f"{function}\nconst input = require('fs').readFileSync(0, 'utf8');\n"
    program += f"process.stdout.write(JSON.stringify(split(input, {budget})));\n"
    done = subprocess.run(
        ["node", "-e", program], input=text, capture_output=True, text=True, check=True
    )
    chunks = json.loads(done.stdout)
    assert isinstance(chunks, list)
    return chunks


def without_fences(text: str) -> list[str]:
    return [line for line in text.split("\n") if not line.startswith("```")]


node = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")


@node
def test_small_plan_is_one_comment() -> None:
    text = "### reconciler plan\n\n**Plan: 1 to create, 0 to update, 0 to delete.**\n"
    assert run_split(text, LIMIT - RESERVED) == [text]


@node
@pytest.mark.parametrize("lines", [10, 3000, 20000])
def test_large_plan_splits_under_the_limit_and_loses_nothing(lines: int) -> None:
    changes = [f"+ role acme-{i:05d} AccountAccessRole {'x' * (i % 90)}" for i in range(lines)]
    text = "\n".join(
        ["### reconciler plan", "", "**Plan: many.**", "", "```diff", *changes, "```", "", "end"]
    )
    budget = LIMIT - RESERVED
    chunks = run_split(text, budget)
    assert all(len(chunk) <= budget for chunk in chunks)
    assert len(chunks) <= 2 * len(text) // budget + 1  # chunks are reasonably full
    for chunk in chunks:  # every comment renders its part of the diff as a diff
        fences = [line for line in chunk.split("\n") if line.startswith("```")]
        assert len(fences) % 2 == 0
    # Nothing lost or reordered, apart from the fences closed and reopened at the cuts.
    assert [line for chunk in chunks for line in without_fences(chunk)] == without_fences(text)
    assert chunks[0].startswith("### reconciler plan") and chunks[-1].endswith("end")


@node
def test_a_line_longer_than_a_comment_is_cut() -> None:
    text = "before\n" + "y" * (3 * LIMIT) + "\nafter"
    budget = LIMIT - RESERVED
    chunks = run_split(text, budget)
    assert all(len(chunk) <= budget for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")
