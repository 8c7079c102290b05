"""Each safety rail, when it triggers, leaves AWS exactly as it was."""

from __future__ import annotations

import pytest

from reconciler import cli
from reconciler.core.plan import Kind
from tests.aws.support import EXAMPLE_TEXT, Aws, run_pass

ACME_DEV = "aws+acme-dev@example.com"


@pytest.fixture
def converged(aws: Aws) -> Aws:
    assert run_pass(aws.url, apply=True).converged
    return aws


def test_other_organization_is_refused(aws: Aws) -> None:
    before = aws.snapshot()
    document = EXAMPLE_TEXT.replace(
        'management_account_id: "123456789012"', 'management_account_id: "999999999999"'
    )
    document = document.replace('id: "123456789012"', 'id: "999999999999"')
    result = run_pass(aws.url, document, apply=True)
    refusal = str(result.refused)
    assert "999999999999" in refusal and "123456789012" in refusal
    assert result.outcomes == ()
    assert aws.snapshot() == before


def test_plan_larger_than_max_changes_is_refused_whole(aws: Aws) -> None:
    before = aws.snapshot()
    document = EXAMPLE_TEXT.replace("max_changes: 50", "max_changes: 5")
    result = run_pass(aws.url, document, apply=True)
    assert "max_changes" in str(result.refused)
    assert result.outcomes == ()
    assert aws.snapshot() == before


def test_max_changes_refusal_exits_1_from_the_command_line(
    aws: Aws, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"  # type: ignore[operator]
    path.write_text(EXAMPLE_TEXT.replace("max_changes: 50", "max_changes: 5"))
    assert cli.main(["apply", "--endpoint-url", aws.url, "--desired", str(path)]) == 1
    assert "refused, nothing was changed" in capsys.readouterr().err


def test_protected_account_is_never_changed(converged: Aws) -> None:
    account_id = converged.account_id(ACME_DEV)
    converged.org.tag_resource(ResourceId=account_id, Tags=[{"Key": "environment", "Value": "x"}])
    iam = converged.client("iam", account_id)
    iam.detach_role_policy(
        RoleName="AccountAccessRole", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    before = converged.snapshot()
    document = EXAMPLE_TEXT.replace(
        "protected_accounts: [management]", "protected_accounts: [management, acme-dev]"
    )
    result = run_pass(converged.url, document, apply=True)
    assert not result.converged  # the drift is reported, and stays
    assert {w.change.account for w in result.plan.withheld} == {"acme-dev"}
    assert converged.snapshot() == before


def test_without_prune_removing_groups_and_roles_deletes_nothing(converged: Aws) -> None:
    """Nothing is deleted; only the access the removed group gave is revoked, at once."""
    before = converged.snapshot()
    document = _without_auditors_and_read_only(EXAMPLE_TEXT)
    result = run_pass(converged.url, document, apply=True)
    assert result.converged
    after = converged.snapshot()
    assert after["groups"] == {**before["groups"], "Auditors": "[]"}
    assert after["members"] == {**before["members"], "carol": []}
    assert before["members"]["carol"] == ["Auditors"]
    assert {k: v for k, v in after.items() if k not in ("groups", "members")} == {
        k: v for k, v in before.items() if k not in ("groups", "members")
    }
    assert "Auditors" in result.plan.unmanaged[Kind.GROUP]


def test_with_prune_only_marked_resources_are_deleted(converged: Aws) -> None:
    converged.iam.create_group(GroupName="HandMade")  # no marker: never reconciler's to delete
    dev = converged.client("iam", converged.account_id(ACME_DEV))
    dev.create_role(RoleName="HandMadeRole", AssumeRolePolicyDocument="{}")
    document = _without_auditors_and_read_only(EXAMPLE_TEXT).replace("prune: false", "prune: true")
    result = run_pass(converged.url, document, apply=True)
    assert result.converged, result.failed
    groups = {g["GroupName"] for g in converged.iam.list_groups()["Groups"]}
    assert "Auditors" not in groups and "HandMade" in groups
    roles = {r["RoleName"] for r in dev.list_roles()["Roles"]}
    assert "ReadOnlyAccessRole" not in roles
    assert {"HandMadeRole", "AccountAccessRole", "OrganizationAccountAccessRole"} <= roles


def test_removing_an_account_from_the_document_never_closes_it(converged: Aws) -> None:
    accounts_before = converged.accounts()
    document = EXAMPLE_TEXT.replace("prune: false", "prune: true")
    document = _drop_account(document, "globex-prod")
    result = run_pass(converged.url, document, apply=True)
    assert converged.accounts().keys() == accounts_before.keys()
    assert all(a["State"] == "ACTIVE" for a in converged.accounts().values())
    assert "globex-prod" in result.plan.unmanaged[Kind.ACCOUNT]


def _without_auditors_and_read_only(text: str) -> str:
    start = text.index("  - name: Auditors")
    end = text.index("policy:")
    text = text[:start] + "\n" + text[end:]
    # acme-dev receives ReadOnlyAccessRole from the Clients unit: the unit stops handing it
    # down, and the other client accounts declare it themselves.
    read_only = "    roles: [ReadOnlyAccessRole]\n"
    acme_prod = "    tags: {client: acme, environment: production}\n"
    globex_prod = "    tags: {client: globex, environment: production}\n"
    for old, new in (
        ("      roles: [ReadOnlyAccessRole]   # every client account\n", ""),
        (acme_prod, acme_prod + read_only),
        (globex_prod, globex_prod + read_only),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _drop_account(text: str, name: str) -> str:
    start = text.index(f"  - name: {name}")
    end = text.index("\ngroups:") + 1  # the key, not a comment mentioning it
    text = text[:start] + "\n" + text[end:]
    return text.replace(f"      - {{account: {name}, role: ReadOnlyAccessRole}}\n", "")
