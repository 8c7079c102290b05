"""Taking a group out of the document revokes its access at once, prune or not; a plan that
removes most of what the daemon manages needs --allow-mass-removal; `max_changes` counts what
each removal takes with it. Checked in AWS, read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import cli
from tests.aws.support import Aws, failures, run_pass
from tests.simulation.strict import StrictAws

DOCUMENT = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: ReadOnlyAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: acme
    email: acme@example.com
    roles: [ReadOnlyAccessRole]
groups:
  - name: Auditors
    users: [alice, james]
    grants: [{account: acme, role: ReadOnlyAccessRole}]
  - name: Contractors
    users: [carol]
    grants: [{account: acme, role: ReadOnlyAccessRole}]
policy:
  prune: {prune}
  max_changes: {max_changes}
"""


def document(*, prune: bool = False, max_changes: int = 50, without: str = "") -> str:
    text = DOCUMENT.replace("{prune}", str(prune).lower())
    text = text.replace("{max_changes}", str(max_changes))
    if without:
        start = text.index(f"  - name: {without}")
        following = text.find("  - name:", start + 1)
        end = following if following != -1 else text.index("policy:")
        text = text[:start] + text[end:]
    return text


def _group(aws: Aws, name: str) -> dict[str, list[str]]:
    return {
        "users": sorted(u["UserName"] for u in aws.iam.get_group(GroupName=name)["Users"]),
        "inline": aws.iam.list_group_policies(GroupName=name)["PolicyNames"],
    }


@pytest.fixture
def applied(aws: Aws, strict: StrictAws) -> Aws:
    aws.create_account("acme@example.com", "Acme")
    strict.catch_up()
    result = run_pass(aws.url, document(), apply=True)
    assert result.converged, failures(result)
    assert _group(aws, "Contractors") == {"users": ["carol"], "inline": ["reconciler-grants"]}
    return aws


def test_a_group_taken_out_of_the_document_loses_its_access_without_prune(applied: Aws) -> None:
    lines = [
        c.line()
        for c in run_pass(applied.url, document(without="Contractors"), apply=False).plan.changes
    ]
    assert lines[1:] == [
        "- membership Contractors/carol: remove user carol from group Contractors (not declared)"
    ]
    assert lines[0].startswith("~ group Contractors: revoke arn:aws:iam::")

    result = run_pass(applied.url, document(without="Contractors"), apply=True)

    assert result.converged, failures(result)
    assert _group(applied, "Contractors") == {"users": [], "inline": []}  # kept: no prune
    assert _group(applied, "Auditors") == {
        "users": ["alice", "james"],
        "inline": ["reconciler-grants"],
    }
    assert run_pass(applied.url, document(without="Contractors"), apply=False).plan.empty


def test_under_prune_the_group_goes_too(applied: Aws) -> None:
    result = run_pass(applied.url, document(prune=True, without="Contractors"), apply=True)

    assert result.converged, failures(result)
    groups = [g["GroupName"] for g in applied.iam.list_groups()["Groups"]]
    assert groups == ["Auditors"]


def test_removing_most_of_the_memberships_needs_the_flag(applied: Aws) -> None:
    """Auditors holds two of the three memberships: taking it out removes more than half."""
    refused = run_pass(applied.url, document(without="Auditors"), apply=True)

    assert str(refused.refused) == (
        "the plan removes 2 of the 3 memberships the daemon manages (counting those it adds), "
        "more than half; nothing was applied. If that is intended, run with "
        "--allow-mass-removal (kept out of the document, so that the pull request making the "
        "removal cannot also allow it)"
    )
    assert _group(applied, "Auditors") == {
        "users": ["alice", "james"],
        "inline": ["reconciler-grants"],
    }

    allowed = run_pass(
        applied.url, document(without="Auditors"), apply=True, allow_mass_removal=True
    )

    assert allowed.converged, failures(allowed)
    assert _group(applied, "Auditors") == {"users": [], "inline": []}
    assert _group(applied, "Contractors") == {"users": ["carol"], "inline": ["reconciler-grants"]}


def test_max_changes_counts_each_member_a_removal_takes(applied: Aws) -> None:
    """Two changes to make the group go, three in all with the member it holds."""
    refused = run_pass(
        applied.url, document(prune=True, max_changes=2, without="Contractors"), apply=True
    )

    assert str(refused.refused).startswith("the plan has 3 changes, more than")
    assert _group(applied, "Contractors") == {"users": ["carol"], "inline": ["reconciler-grants"]}


def _apply(applied: Aws, tmp_path: Path, *flags: str) -> int:
    path = tmp_path / "accounts.yaml"
    path.write_text(document(without="Auditors"))
    return cli.main(["apply", "--endpoint-url", applied.url, "--desired", str(path), *flags])


def test_the_command_line_refuses_a_mass_removal_without_the_flag(
    applied: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _apply(applied, tmp_path) == 1
    assert "run with --allow-mass-removal" in capsys.readouterr().err
    assert _group(applied, "Auditors")["users"] == ["alice", "james"]

    assert _apply(applied, tmp_path, "--allow-mass-removal") == 0
    assert _group(applied, "Auditors") == {"users": [], "inline": []}


@pytest.mark.parametrize(("value", "status"), [("true", 0), ("1", 0), ("false", 1), ("", 1)])
def test_the_flag_from_the_environment(
    applied: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, status: int
) -> None:
    monkeypatch.setenv("RECONCILER_ALLOW_MASS_REMOVAL", value)
    assert _apply(applied, tmp_path) == status


@pytest.mark.parametrize("value", ["maybe", "--allow-mass-removal", "yes please", "tru\u200be"])
def test_a_flag_value_that_is_neither_true_nor_false_is_refused(
    applied: Aws,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_ALLOW_MASS_REMOVAL", value)
    with pytest.raises(SystemExit) as stopped:
        _apply(applied, tmp_path)
    assert stopped.value.code != 0
    message = str(stopped.value.code) + capsys.readouterr().err
    assert "RECONCILER_ALLOW_MASS_REMOVAL" in message and "must be true or false" in message
    assert _group(applied, "Auditors")["users"] == ["alice", "james"]
