"""`reconciler import` against the simulator: an organization built by hand with plain boto3
is written as a document on which `plan` finds nothing and `apply` changes nothing; what the
document cannot express is listed; hostile values give one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.aws import read
from reconciler.aws.sessions import Sessions
from tests.aws.support import Aws
from tests.simulation.faults import Fault, FaultyServer
from tests.simulation.strict import StrictAws

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
SOURCE = "123456789012"
HOSTILE_NAME = "Globex Corp: prod #1"
LONG_VALUE = "v" * 300


def _trust(principal: str, *, mfa: bool) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "sts:AssumeRole",
    }
    if mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _role(aws: Aws, account_id: str, name: str, arns: list[str], **extra: object) -> None:
    iam = aws.client("iam", account_id)
    trust = str(extra.pop("trust", _trust(SOURCE, mfa=True)))
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **extra)
    for arn in arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)


def _grant(aws: Aws, group: str, users: list[str], policy: dict[str, object]) -> None:
    aws.iam.create_group(GroupName=group)
    for user in users:
        aws.iam.add_user_to_group(GroupName=group, UserName=user)
    aws.iam.put_group_policy(
        GroupName=group, PolicyName="by-hand", PolicyDocument=json.dumps(policy)
    )


def _assume(*arns: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(arns)}],
    }


def _build(aws: Aws) -> dict[str, str]:
    """Units, accounts with tags, two kinds of roles (one with an extra policy in one
    account), a role trusting a third party, groups with members: all by hand."""
    root = aws.root()
    clients = aws.org.create_organizational_unit(ParentId=root, Name="Clients")
    clients_id = clients["OrganizationalUnit"]["Id"]
    acme = aws.org.create_organizational_unit(ParentId=clients_id, Name="Acme")[
        "OrganizationalUnit"
    ]
    infra = aws.org.create_organizational_unit(ParentId=root, Name="Infra")["OrganizationalUnit"]
    ids = {
        "acme-dev": aws.create_account("dev@acme.example.com", "acme-dev"),
        "acme-prod": aws.create_account("prod@acme.example.com", "acme-prod"),
        "globex": aws.create_account("ops@globex.example.com", HOSTILE_NAME),
        "infra": aws.create_account("infra@example.com", "infra"),
    }
    for name, unit in (("acme-dev", acme), ("acme-prod", acme), ("infra", infra)):
        aws.org.move_account(
            AccountId=ids[name], SourceParentId=root, DestinationParentId=unit["Id"]
        )
    aws.org.move_account(
        AccountId=ids["globex"], SourceParentId=root, DestinationParentId=clients_id
    )
    aws.org.tag_resource(ResourceId=ids["acme-dev"], Tags=[{"Key": "client", "Value": "acme"}])
    aws.org.tag_resource(
        ResourceId=ids["globex"],
        Tags=[
            {"Key": "owner", "Value": "ops: team"},
            {"Key": "note", "Value": "a#b\nc"},
            {"Key": "long", "Value": LONG_VALUE},
        ],
    )
    for account_id in ids.values():
        _role(aws, account_id, "AccountAccessRole", [ADMIN])
    for name in ("acme-dev", "acme-prod"):
        extra = [AUDIT] if name == "acme-prod" else []
        _role(
            aws,
            ids[name],
            "ReadOnlyRole",
            [READ_ONLY, *extra],
            trust=_trust(SOURCE, mfa=False),
            MaxSessionDuration=7200,
        )
    _role(aws, ids["acme-dev"], "VendorRole", [READ_ONLY], trust=_trust("999999999999", mfa=False))
    arn = "arn:aws:iam::{}:role/{}".format
    _grant(
        aws,
        "Admins",
        ["alice", "james"],
        _assume(arn(ids["acme-dev"], "AccountAccessRole"), arn(ids["infra"], "AccountAccessRole")),
    )
    _grant(aws, "Readers", ["carol"], _assume(arn(ids["acme-dev"], "ReadOnlyRole")))
    _grant(
        aws,
        "Billing",
        ["mallory"],
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "aws-portal:*", "Resource": "*"}],
        },
    )
    return ids


@pytest.fixture
def built(aws: Aws, strict: StrictAws) -> dict[str, str]:
    ids = _build(aws)
    strict.catch_up()  # made long before import meets them
    return ids


def _import(url: str, *options: str) -> int:
    return cli.main(["import", "--endpoint-url", url, *options])


def test_import_plans_nothing_and_apply_changes_nothing(
    aws: Aws, built: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "accounts.yaml"
    assert _import(aws.url, "--output", str(document)) == 0
    err = capsys.readouterr().err
    text = document.read_text(encoding="utf-8")

    assert text.splitlines()[0] == "# yaml-language-server: $schema=./accounts.schema.json"
    assert "left out: role VendorRole in 1 account (acme-dev): its trust policy trusts" in err
    assert (
        "left out: role ReadOnlyRole in 1 account (acme-prod): differs from the template "
        f"(also attaches {AUDIT})" in err
    )
    assert "Billing" not in err + text  # its policy reaches no role: not the document's concern
    assert "left out: tag 'note' of account Globex-Corp-prod-1:" in err
    assert "left out: tag 'long' of account Globex-Corp-prod-1:" in err
    assert "#   - role VendorRole in 1 account (acme-dev)" in text
    assert (
        "  # role ReadOnlyRole not declared here: differs from the template "
        f"(also attaches {AUDIT})" in text
    )
    assert "  # named 'Globex Corp: prod #1' in AWS\n  - name: Globex-Corp-prod-1\n" in text
    assert '      owner: "ops: team"\n' in text
    assert "    - name: Clients\n      roles: [AccountAccessRole]\n" in text
    assert "    - name: Infra\n      roles: [AccountAccessRole]\n" in text
    assert (
        "  - name: Admins\n    adopt: true   # outside the daemon's path: taken over with its "
        "members\n    users: [alice, james]\n    grants:\n"
        "      - {account: acme-dev, role: AccountAccessRole}\n"
        "      - {account: infra, role: AccountAccessRole}\n"
    ) in text

    before = aws.snapshot()
    assert cli.main(["plan", "--desired", str(document), "--endpoint-url", aws.url]) == 0
    assert "Plan: 0 to create, 0 to update, 0 to delete." in capsys.readouterr().out
    assert cli.main(["apply", "--desired", str(document), "--endpoint-url", aws.url]) == 0
    assert "Applied 0 of 0 changes." in capsys.readouterr().out
    assert aws.snapshot() == before

    again = tmp_path / "again.yaml"
    assert _import(aws.url, "--output", str(again)) == 0
    assert again.read_bytes() == document.read_bytes()


def test_unreadable_account_is_listed_and_the_rest_imported(
    aws: Aws,
    built: dict[str, str],
    simulator: FaultyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    denied = built["infra"]
    simulator.injector.faults = [
        Fault(
            "sts:AssumeRole",
            code="AccessDenied",
            status=403,
            body_contains=f"arn:aws:iam::{denied}:role/",
            message=f"not authorized to perform sts:AssumeRole on {denied}",
        )
    ]
    document = tmp_path / "accounts.yaml"

    assert _import(aws.url, "--output", str(document)) == 0

    err = capsys.readouterr().err
    text = document.read_text(encoding="utf-8")
    line = f"account 'infra' ({denied}): its roles could not be read:"
    assert f"left out: {line}" in err
    assert f"#   - {line}" in text
    assert f'id: "{denied}"' not in text
    assert f'id: "{built["acme-dev"]}"' in text
    # The group granting a role in the account left out cannot be declared without it.
    assert "left out: group 'Admins': it grants arn:aws:iam::" in err
    assert "Traceback" not in err


def test_the_reader_tells_how_many_accounts_it_has_read(aws: Aws, built: dict[str, str]) -> None:
    told: list[tuple[int, int]] = []
    sessions = Sessions(
        management_account_id=SOURCE,
        bootstrap_role="OrganizationAccountAccessRole",
        endpoint_url=aws.url,
        read_only=True,
    )

    live = read.read_for_import(sessions, SOURCE, 4, lambda done, total: told.append((done, total)))

    active = len(live.accounts)  # the four built and the management account
    assert active == 5
    assert sorted(told) == [(done, active) for done in range(1, active + 1)]
    dev = next(a for a in live.accounts if a.id == built["acme-dev"])
    assert sorted(dev.roles or {}) == ["AccountAccessRole", "ReadOnlyRole", "VendorRole"]


def test_named_roles_and_groups_only(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _import(aws.url, "--roles", "readonlyrole", "--groups", "Readers") == 0

    text = capsys.readouterr().out
    assert "    - name: ReadOnlyRole\n" in text
    assert "name: AccountAccessRole" not in text
    assert "  - name: Readers\n" in text and "Admins" not in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--roles", "Admin,bad name"], "argument --roles: 'bad name' is not an IAM role name"),
        (["--roles", "Admin\n"], "argument --roles: 'Admin\\n' is not an IAM role name"),
        (["--groups", "a/b"], "argument --groups: 'a/b' is not granting, all, managed or an IAM"),
        (["--source-account-id", "12345"], "'12345' is not an account id: exactly 12 digits"),
    ],
)
def test_bad_options_are_one_line_and_exit_64(
    offline: None, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["import", *options])

    assert exited.value.code == 64
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert message in err


def test_output_in_a_missing_directory_is_refused(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "accounts.yaml"

    assert cli.main(["import", "--output", str(target)]) == 1

    assert capsys.readouterr().err == (
        f"error: --output {target}: directory {target.parent} does not exist\n"
    )


def test_output_symlink_is_refused_before_aws_is_asked(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "elsewhere.yaml"
    target.write_text("kept\n", encoding="utf-8")
    link = tmp_path / "accounts.yaml"
    link.symlink_to(target)

    assert cli.main(["import", "--output", str(link)]) == 1

    assert capsys.readouterr().err == (
        f"error: --output {link} is a symbolic link: not followed, not replaced\n"
    )
    assert target.read_text(encoding="utf-8") == "kept\n"
