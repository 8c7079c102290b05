"""`reconciler profiles`: an ~/.aws/config block per (account, role) a group grants."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from reconciler import cli

pytestmark = pytest.mark.usefixtures("offline")

FIXTURES = Path(__file__).parents[1] / "fixtures"
ACCESS = FIXTURES / "access.yaml"  # source account 999999999999; every account has an id
UNCREATED = FIXTURES / "uncreated.yaml"  # account `newcomer` has no id yet
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


def test_a_profile_per_granted_account_and_role(capsys: pytest.CaptureFixture[str]) -> None:
    placeholder = "arn:aws:iam::999999999999:mfa/YOUR-IAM-USER-NAME"

    found = profiles(capsys, "--desired", str(ACCESS))

    assert found == {
        "profile acme-dev": block(ADMIN, placeholder),
        "profile acme-dev-read-only-access": block(DEV_READ, placeholder),
        "profile acme-prod": block(PROD_READ, placeholder),
    }  # `sandbox` is granted to no group: no profile


def test_without_user_or_mfa_serial_a_note_says_what_to_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli.main(["profiles", "--desired", str(ACCESS)])

    err = capsys.readouterr().err
    assert "--user" in err
    assert "--mfa-serial" in err


def test_user_limits_to_their_groups_and_names_their_mfa_device(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = profiles(capsys, "--desired", str(ACCESS), "--user", "alice")

    mfa = "arn:aws:iam::999999999999:mfa/alice"
    assert found == {
        "profile acme-dev": block(ADMIN, mfa),
        "profile acme-prod": block(PROD_READ, mfa),
    }
    assert capsys.readouterr().err == ""


def test_profile_names_do_not_depend_on_the_user(capsys: pytest.CaptureFixture[str]) -> None:
    found = profiles(capsys, "--desired", str(ACCESS), "--user", "carol")

    assert list(found) == ["profile acme-dev-read-only-access"]
    assert found["profile acme-dev-read-only-access"]["role_arn"] == DEV_READ


def test_user_in_no_group_gets_no_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert profiles(capsys, "--desired", str(ACCESS), "--user", "mallory") == {}


def test_user_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_DESIRED", str(ACCESS))
    monkeypatch.setenv("RECONCILER_USER", "bob")

    found = profiles(capsys)

    assert found == {
        "profile acme-prod": block(PROD_READ, "arn:aws:iam::999999999999:mfa/bob"),
    }


def test_source_profile_and_mfa_serial_are_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    mfa = "arn:aws:iam::999999999999:mfa/alice-phone"

    found = profiles(
        capsys,
        "--desired",
        str(ACCESS),
        "--user",
        "alice",
        "--source-profile",
        "acme-iam",
        "--mfa-serial",
        mfa,
    )

    assert found == {
        "profile acme-dev": block(ADMIN, mfa, "acme-iam"),
        "profile acme-prod": block(PROD_READ, mfa, "acme-iam"),
    }


def test_profile_names_are_unique_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["profiles", "--desired", str(ACCESS)])

    headers = re.findall(r"^\[(.*)\]$", capsys.readouterr().out, flags=re.MULTILINE)
    assert status == 0
    assert len(headers) == len(set(headers)) == 3
    for header in headers:
        assert re.fullmatch(r"profile [A-Za-z0-9][A-Za-z0-9._-]*", header), header


def test_source_account_defaults_to_management(capsys: pytest.CaptureFixture[str]) -> None:
    found = profiles(capsys, "--desired", str(UNCREATED), "--user", "alice")

    assert found["profile existing"]["mfa_serial"] == "arn:aws:iam::111111111111:mfa/alice"


def test_account_without_an_id_is_named_not_given_a_broken_arn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = cli.main(["profiles", "--desired", str(UNCREATED), "--user", "alice"])

    out = capsys.readouterr().out
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(out)
    assert status == 0
    assert config.sections() == ["profile existing"]
    assert config["profile existing"]["role_arn"] == (
        "arn:aws:iam::222222222222:role/AccountAccessRole"
    )
    assert (
        "# newcomer: account 'newcomer' has no id yet (not created); "
        "run 'reconciler apply', then run this again"
    ) in out.splitlines()
    assert re.findall(r"arn:aws:iam::[^:]*:role/", out) == ["arn:aws:iam::222222222222:role/"]


def test_profile_names_that_would_collide_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `acme`'s second role would be profile `acme-read-only-access`, an account's own name.
    path = tmp_path / "accounts.yaml"
    text = ACCESS.read_text(encoding="utf-8")
    text = text.replace("name: acme-dev", "name: acme").replace(
        "account: acme-dev", "account: acme"
    )
    text = text.replace("name: acme-prod", "name: acme-read-only-access")
    text = text.replace("account: acme-prod", "account: acme-read-only-access")
    path.write_text(text, encoding="utf-8")

    status = cli.main(["profiles", "--desired", str(path)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert "profile name 'acme-read-only-access' would name both" in err


def test_invalid_document_prints_no_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(ACCESS.read_text(encoding="utf-8").replace('"333333333333"', '"3333"'))

    status = cli.main(["profiles", "--desired", str(path)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert f"{path}:19:9: accounts[1].id: " in err
