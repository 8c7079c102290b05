"""The daemon follows a git branch: converges, applies new commits, ignores invalid ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws.support import Aws
from tests.daemon.support import EXAMPLE_TEXT, Daemon, commit, git, new_repository

NEW_ACCOUNT = """  - name: initech-dev
    email: aws+initech-dev@example.com
    unit: Clients
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def daemon(aws: Aws, repository: Path, tmp_path: Path) -> Iterator[Daemon]:
    new_repository(repository)
    process = Daemon(
        ["run", "--source-url", f"file://{repository}", "--workdir", str(tmp_path / "work")],
        aws.url,
        tmp_path,
        RECONCILER_INTERVAL="2",
    )
    yield process
    if process.process.poll() is None:
        process.stop()


def _head(repository: Path) -> str:
    return git(repository, "rev-parse", "HEAD")


def test_first_pass_converges_and_reports_the_revision(
    daemon: Daemon, aws: Aws, repository: Path
) -> None:
    daemon.wait_for(lambda: daemon.get("/healthz")[0] == 200, what="/healthz 200")
    daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, what="/readyz 200")
    daemon.wait_for_passes(2)
    assert daemon.metric("reconciler_source_info", revision=_head(repository)) == 1
    assert daemon.metric("reconciler_source_valid") == 1
    assert daemon.total_drift() == 0
    assert len(aws.accounts()) == 5
    code, seconds = daemon.stop()
    assert code == 0 and seconds < 30


def test_a_new_commit_is_applied_within_one_interval(
    daemon: Daemon, aws: Aws, repository: Path
) -> None:
    daemon.wait_for_passes(1)
    text = EXAMPLE_TEXT.replace("groups:\n", NEW_ACCOUNT + "\ngroups:\n", 1)
    text = text.replace("users: [carol]", "users: [carol, mallory]")
    sha = commit(repository, text, "add initech-dev and mallory")
    daemon.wait_for(
        lambda: daemon.metric("reconciler_source_info", revision=sha) == 1,
        timeout=10,
        what="the new revision in force",
    )
    daemon.wait_for(lambda: "aws+initech-dev@example.com" in aws.accounts(), timeout=10)
    members = aws.iam.get_group(GroupName="Auditors")["Users"]
    daemon.wait_for(
        lambda: (
            {u["UserName"] for u in aws.iam.get_group(GroupName="Auditors")["Users"]}
            == {"carol", "mallory"}
        ),
        timeout=10,
        what=f"mallory in Auditors (was {members})",
    )
    assert aws.unit_path(aws.account_id("aws+initech-dev@example.com")) == "Clients"


def test_an_invalid_commit_is_not_applied_and_the_last_valid_one_is_enforced(
    daemon: Daemon, aws: Aws, repository: Path
) -> None:
    daemon.wait_for_passes(2)
    valid = _head(repository)
    broken = EXAMPLE_TEXT.replace("users: [carol]", "users: [carol, mallory]").replace(
        "email: aws+acme-dev@example.com", "email: not-an-email"
    )
    commit(repository, broken, "broken")
    daemon.wait_for(lambda: daemon.metric("reconciler_source_valid") == 0, timeout=10)
    # Drift by hand meanwhile is still corrected, from the last valid revision.
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="mallory")
    daemon.wait_for(
        lambda: all(
            u["UserName"] != "mallory"
            for u in aws.iam.get_group(GroupName="Administrators")["Users"]
        ),
        timeout=10,
        what="stray member removed",
    )
    # The invalid revision's change (mallory in Auditors) was never made.
    assert [u["UserName"] for u in aws.iam.get_group(GroupName="Auditors")["Users"]] == ["carol"]
    assert daemon.metric("reconciler_source_info", revision=valid) == 1
    assert "not-an-email" in daemon.output()


def test_plan_mode_reports_drift_and_leaves_it(aws: Aws, tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    applier = Daemon(
        ["run", "--desired", str(desired)], aws.url, tmp_path, RECONCILER_INTERVAL="60"
    )
    applier.wait_for_passes(1)
    applier.stop()
    dev = aws.account_id("aws+acme-dev@example.com")
    aws.org.tag_resource(ResourceId=dev, Tags=[{"Key": "environment", "Value": "staging"}])
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="mallory")

    planner = Daemon(
        ["run", "--desired", str(desired), "--mode", "plan"],
        aws.url,
        tmp_path,
        RECONCILER_INTERVAL="1",
    )
    try:
        planner.wait_for_passes(2)
        assert planner.metric("reconciler_drift_resources", kind="tag", change="update") == 1
        assert planner.metric("reconciler_drift_resources", kind="membership", change="delete") == 1
        assert planner.metric("reconciler_account_drift_resources", account="acme-dev") == 1
        assert planner.metric("reconciler_account_drift_resources", account="acme-prod") == 0
    finally:
        planner.stop()
    assert aws.tags(dev)["environment"] == "staging"
    assert "mallory" in {
        u["UserName"] for u in aws.iam.get_group(GroupName="Administrators")["Users"]
    }
