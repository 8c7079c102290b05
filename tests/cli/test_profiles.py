"""`reconciler profiles`: an ~/.aws/config block per (account, role) a group grants."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from reconciler import cli
from tests.cli import test_ways_documents as documents

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def access(tmp_path: Path) -> Path:
    """Source account 999999999999; every account has an id."""
    return documents.write(tmp_path, documents.ACCESS)


@pytest.fixture
def uncreated(tmp_path: Path) -> Path:
    """Account `newcomer` has no id yet."""
    return documents.write(tmp_path, documents.UNCREATED)


ADMIN = "arn:aws:iam::222222222222:role/AccountAccessRole"
DEV_READ = "arn:aws:iam::222222222222:role/ReadOnlyAccessRole"
PROD_READ = "arn:aws:iam::333333333333:role/ReadOnlyAccessRole"


def profiles(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, str]]:
    """Run the command, check it succeeded, and read its output as the AWS CLI would."""
    status = cli.main(["profiles", *args])
    out = capsys.readouterr().out
    assert status == 0
    config = configparser.ConfigParser(interpolation=None)  # strict: no section twice
    config.read_string(out)
    return {name: dict(config[name]) for name in config.sections()}


def block(role_arn: str, mfa_serial: str, source_profile: str = "default") -> dict[str, str]:
    return {"role_arn": role_arn, "source_profile": source_profile, "mfa_serial": mfa_serial}


def test_a_profile_per_granted_account_and_role(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    placeholder = "arn:aws:iam::999999999999:mfa/YOUR-IAM-USER-NAME"

    found = profiles(capsys, "--desired", str(access))

    assert found == {
        "profile acme-dev-account-access": block(ADMIN, placeholder),
        "profile acme-dev-read-only-access": block(DEV_READ, placeholder),
        "profile acme-prod-read-only-access": block(PROD_READ, placeholder),
    }  # `sandbox` is granted to no group: no profile


def test_without_user_or_mfa_serial_a_note_says_what_to_pass(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["profiles", "--desired", str(access)])

    err = capsys.readouterr().err
    assert "--user" in err
    assert "--mfa-serial" in err


def test_user_limits_to_their_groups_and_names_their_mfa_device(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = profiles(capsys, "--desired", str(access), "--user", "alice")

    mfa = "arn:aws:iam::999999999999:mfa/alice"
    assert found == {
        "profile acme-dev-account-access": block(ADMIN, mfa),
        "profile acme-prod-read-only-access": block(PROD_READ, mfa),
    }
    assert capsys.readouterr().err == ""


def test_user_is_matched_ignoring_case_and_spelled_as_the_document_does(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = profiles(capsys, "--desired", str(access), "--user", "ALICE")

    assert list(found) == ["profile acme-dev-account-access", "profile acme-prod-read-only-access"]
    assert found["profile acme-dev-account-access"]["mfa_serial"] == (
        "arn:aws:iam::999999999999:mfa/alice"
    )


def test_profile_names_do_not_depend_on_the_user(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = profiles(capsys, "--desired", str(access), "--user", "carol")

    assert list(found) == ["profile acme-dev-read-only-access"]
    assert found["profile acme-dev-read-only-access"]["role_arn"] == DEV_READ


def test_user_the_document_does_not_know_is_an_error_naming_those_it_knows(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["profiles", "--desired", str(access), "--user", "mallory"])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err == "error: user 'mallory' is in no group; the document knows: alice, bob, carol\n"


def test_user_from_the_environment(
    access: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_DESIRED", str(access))
    monkeypatch.setenv("RECONCILER_USER", "bob")

    found = profiles(capsys)

    assert found == {
        "profile acme-prod-read-only-access": block(PROD_READ, "arn:aws:iam::999999999999:mfa/bob"),
    }


def test_source_profile_and_mfa_serial_are_honoured(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mfa = "arn:aws:iam::999999999999:mfa/alice-phone"

    found = profiles(
        capsys,
        "--desired",
        str(access),
        "--user",
        "alice",
        "--source-profile",
        "acme-iam",
        "--mfa-serial",
        mfa,
    )

    assert found == {
        "profile acme-dev-account-access": block(ADMIN, mfa, "acme-iam"),
        "profile acme-prod-read-only-access": block(PROD_READ, mfa, "acme-iam"),
    }


def test_profile_names_are_unique_and_valid(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["profiles", "--desired", str(access)])

    headers = re.findall(r"^\[(.*)\]$", capsys.readouterr().out, flags=re.MULTILINE)
    assert status == 0
    assert len(headers) == len(set(headers)) == 3
    for header in headers:
        assert re.fullmatch(r"profile [A-Za-z0-9][A-Za-z0-9._-]*", header), header


def test_source_account_defaults_to_management(
    uncreated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = profiles(capsys, "--desired", str(uncreated), "--user", "alice")

    assert found["profile existing-account-access"]["mfa_serial"] == (
        "arn:aws:iam::111111111111:mfa/alice"
    )


def test_account_without_an_id_is_named_not_given_a_broken_arn(
    uncreated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["profiles", "--desired", str(uncreated), "--user", "alice"])

    out = capsys.readouterr().out
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(out)
    assert status == 0
    assert config.sections() == ["profile existing-account-access"]
    assert config["profile existing-account-access"]["role_arn"] == (
        "arn:aws:iam::222222222222:role/AccountAccessRole"
    )
    assert (
        "# newcomer-account-access: account 'newcomer' id unknown: could not look up account "
        "ids (organizations:ListAccounts: no AWS credentials found); pass credentials or "
        "declare its id"
    ) in out.splitlines()
    assert re.findall(r"arn:aws:iam::[^:]*:role/", out) == ["arn:aws:iam::222222222222:role/"]


def test_profile_names_that_would_collide_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `acme` with ReadOnlyAccessRole and `acme-read-only` with AccessRole would both be
    # profile `acme-read-only-access`.
    text = """\
organization:
  management_account_id: "111111111111"
access:
  roles:
    - name: AccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    - name: ReadOnlyAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - {name: acme, id: "222222222222", email: a@example.com, roles: [ReadOnlyAccessRole]}
  - {name: acme-read-only, id: "333333333333", email: b@example.com, roles: [AccessRole]}
groups:
  - name: Everyone
    users: [alice]
    grants:
      - {account: acme, role: ReadOnlyAccessRole}
      - {account: acme-read-only, role: AccessRole}
"""
    path = documents.write(tmp_path, text)

    status = cli.main(["profiles", "--desired", str(path)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert "profile name 'acme-read-only-access' would name both" in err


def test_invalid_document_prints_no_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = documents.write(tmp_path, documents.ACCESS.replace('"333333333333"', '"3333"'))

    status = cli.main(["profiles", "--desired", str(path)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert f"{path}:18:9: accounts[1].id: " in err
