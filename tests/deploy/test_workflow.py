"""The pull-request workflow example (deploy/github-actions/plan.yml): it runs on pull requests
that touch desired/, validates, plans with read-only OIDC credentials, and posts the plan in
<details> comments split under GitHub's 65,536-character limit. Where node is installed, the
workflow's own splitting function is run on large plans.

It installs this project from its own checkout at the commit under review, never by name from an
index, pins every action by commit SHA, and passes actionlint (the `dev` extra installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "deploy" / "github-actions" / "plan.yml"
LIMIT = 65536
RESERVED = 1024


def workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def steps(job: str) -> list[dict[str, Any]]:
    return list(workflow()["jobs"][job]["steps"])


def runs(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: str, action: str) -> dict[str, Any]:
    (step,) = (s for s in steps(job) if s.get("uses", "").split("@")[0] == action)
    # A tag can be moved to other code; a commit SHA cannot.
    assert re.fullmatch(r"[0-9a-f]{40}", step["uses"].split("@")[1]), "pin a commit SHA"
    return step


def script() -> str:
    return str(uses("plan", "actions/github-script")["with"]["script"])


def test_triggers_on_pull_requests_touching_desired() -> None:
    document = workflow()
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers is not None
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
        assert re.search(r"pip install \.$", runs(job), re.M), job
    assert re.search(r"^reconciler validate\b", runs("validate"), re.M)
    plan = runs("plan")
    assert re.search(r"^\s*reconciler plan .*--format markdown", plan, re.M)
    assert workflow()["jobs"]["plan"]["needs"] == "validate"


def test_installs_the_checked_out_commit_never_a_package_by_name() -> None:
    for job in ("validate", "plan"):
        names = [s.get("uses", "").split("@")[0] or s.get("name") for s in steps(job)]
        checkout = uses(job, "actions/checkout")
        # The commit under review, without the token left in .git/config.
        assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
        assert checkout["with"]["persist-credentials"] is False
        installs = [s for s in steps(job) if "pip install" in s.get("run", "")]
        assert installs, job
        for step in installs:
            assert names.index("actions/checkout") < names.index(step["name"])
            for line in step["run"].splitlines():
                arguments = line.split("pip install", 1)[1].split()
                # Only local paths: a bare name would come from an index, and `reconciler`
                # there is someone else's project.
                assert arguments and all(a.startswith((".", "/")) for a in arguments), line


def test_every_action_is_pinned_by_commit() -> None:
    # (pull_request, never pull_request_target: test_triggers_on_pull_requests_touching_desired)
    pinned = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert pinned
    for reference in pinned:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", reference), reference


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"  # the venv's, where `make test` runs
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: `pip install -e '.[dev]'` installs it")
    return found


def run_actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_passes() -> None:
    for path in sorted(WORKFLOW.parent.glob("*.yml")):
        done = run_actionlint(path)
        assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_errors(tmp_path: Path) -> None:
    """The linter really reads the file: an unknown expression context fails it."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        WORKFLOW.read_text().replace("github.event.pull_request.number", "gihtub.event.number")
    )
    done = run_actionlint(broken)
    assert done.returncode != 0
    assert "gihtub" in done.stdout


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
