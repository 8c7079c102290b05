"""`reconciler profiles --format` and `--output`: each format read back as its tool reads it,
profile names that survive reordering, and the output directory left as it was on refusal."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

from reconciler import cli
from tests.cli import test_ways_documents as documents

pytestmark = pytest.mark.usefixtures("offline")

ADMIN = "arn:aws:iam::222222222222:role/AccountAccessRole"
DEV_READ = "arn:aws:iam::222222222222:role/ReadOnlyAccessRole"
PROD_READ = "arn:aws:iam::333333333333:role/ReadOnlyAccessRole"
GRANTED_MFA = "{{ .Required.MFA_SERIAL }}"
PLACEHOLDER_MFA = "arn:aws:iam::999999999999:mfa/YOUR-IAM-USER-NAME"


@pytest.fixture
def access(tmp_path: Path) -> Path:
    return documents.write(tmp_path, documents.ACCESS)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["profiles", *args])
    out, err = capsys.readouterr()
    return status, out, err


def ini(text: str) -> dict[str, dict[str, str]]:
    """Sections as configparser reads them: strict, so a section twice is an error."""
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(text)
    return {name: dict(config[name]) for name in config.sections()}


def test_aws_config_into_a_directory_is_the_printed_profiles_marked(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = run(capsys, "--desired", str(access), "--user", "alice")[1]
    out_dir = tmp_path / "out"

    status, out, err = run(
        capsys, "--desired", str(access), "--user", "alice", "--output", str(out_dir)
    )

    written = (out_dir / "config").read_text(encoding="utf-8")
    assert (status, out) == (0, "")
    assert f"wrote {out_dir / 'config'}" in err
    assert written.splitlines()[0] == (
        "# Written by reconciler profiles --format aws-config; each run replaces this file."
    )
    assert (
        ini(written)
        == ini(printed)
        == {
            "profile acme-dev-account-access": {
                "role_arn": ADMIN,
                "source_profile": "default",
                "mfa_serial": "arn:aws:iam::999999999999:mfa/alice",
            },
            "profile acme-prod-read-only-access": {
                "role_arn": PROD_READ,
                "source_profile": "default",
                "mfa_serial": "arn:aws:iam::999999999999:mfa/alice",
            },
        }
    )
    assert sorted(p.name for p in out_dir.iterdir()) == ["config"]  # no temporary file left behind


def test_switch_roles_is_the_browser_extensions_configuration(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "--desired", str(access), "--format", "switch-roles", "--source-profile", "acme"
    )

    assert (status, err) == (0, "")
    assert ini(out) == {
        "acme": {"aws_account_id": "999999999999"},  # the account people sign in to
        "profile acme-dev-account-access": {
            "aws_account_id": "222222222222",
            "role_name": "AccountAccessRole",
            "color": "189263",
            "source_profile": "acme",
        },
        "profile acme-dev-read-only-access": {
            "aws_account_id": "222222222222",
            "role_name": "ReadOnlyAccessRole",
            "color": "189263",
            "source_profile": "acme",
        },
        "profile acme-prod-read-only-access": {
            "aws_account_id": "333333333333",
            "role_name": "ReadOnlyAccessRole",
            "color": "d2836b",
            "source_profile": "acme",
        },
    }


def test_switch_roles_into_a_directory(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"

    status = run(
        capsys, "--desired", str(access), "--format", "switch-roles", "--output", str(out_dir)
    )[0]

    written = ini((out_dir / "switch-roles.ini").read_text(encoding="utf-8"))
    assert status == 0
    assert written["default"] == {"aws_account_id": "999999999999"}
    assert written["profile acme-prod-read-only-access"]["role_name"] == "ReadOnlyAccessRole"


def test_granted_writes_a_profile_registry(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "registry"

    status, out, _ = run(
        capsys, "--desired", str(access), "--format", "granted", "--output", str(out_dir)
    )

    assert (status, out) == (0, "")
    assert sorted(p.name for p in out_dir.iterdir()) == ["config", "granted.yml"]
    registry = yaml.safe_load((out_dir / "granted.yml").read_text(encoding="utf-8"))
    assert registry == {
        "awsConfig": ["config"],
        "templateValues": [
            {
                "MFA_SERIAL": [
                    {"isRequired": "true"},
                    {"prompt": f"your MFA device ({PLACEHOLDER_MFA})"},
                ]
            }
        ],
    }
    assert ini((out_dir / "config").read_text(encoding="utf-8")) == {
        "profile acme-dev-account-access": {
            "role_arn": ADMIN,
            "source_profile": "default",
            "mfa_serial": GRANTED_MFA,
        },
        "profile acme-dev-read-only-access": {
            "role_arn": DEV_READ,
            "source_profile": "default",
            "mfa_serial": GRANTED_MFA,
        },
        "profile acme-prod-read-only-access": {
            "role_arn": PROD_READ,
            "source_profile": "default",
            "mfa_serial": GRANTED_MFA,
        },
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            [],
            "reconciler profiles: error: --format granted writes a registry directory: pass "
            "--output DIR; see 'reconciler profiles --help'",
        ),
        (
            ["--output", "registry", "--mfa-serial", "arn:aws:iam::999999999999:mfa/alice"],
            "reconciler profiles: error: --format granted asks each person for their MFA device: "
            "drop --mfa-serial; see 'reconciler profiles --help'",
        ),
    ],
)
def test_granted_options_that_do_not_go_together_are_a_usage_error(
    access: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)

    status, out, err = run(capsys, "--desired", str(access), "--format", "granted", *extra)

    assert (status, out, err) == (64, "", message + "\n")
    assert not (tmp_path / "registry").exists()


def test_format_from_the_environment(
    access: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_PROFILE_FORMAT", "switch-roles")
    monkeypatch.setenv("RECONCILER_FORMAT", "markdown")  # the plan's: not read by profiles

    status, out, _ = run(capsys, "--desired", str(access), "--user", "bob")

    assert status == 0
    assert ini(out)["profile acme-prod-read-only-access"]["role_name"] == "ReadOnlyAccessRole"


# --- Stable names ---------------------------------------------------------------------------

REORDERED = """\
organization:
  management_account_id: "111111111111"

access:
  source_account_id: "999999999999"
  roles:
    - name: ReadOnlyAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]

accounts:
  - name: acme-prod
    id: "333333333333"
    email: aws+acme-prod@example.com
    roles: [ReadOnlyAccessRole]
  - name: acme-dev
    id: "222222222222"
    email: aws+acme-dev@example.com
    roles: [ReadOnlyAccessRole, AccountAccessRole]

groups:
  - name: Contractors
    users: [carol]
    grants:
      - {account: acme-dev, role: ReadOnlyAccessRole}
  - name: Auditors
    users: [alice, bob]
    grants:
      - {account: acme-prod, role: ReadOnlyAccessRole}
  - name: Administrators
    users: [alice]
    grants:
      - {account: acme-dev, role: AccountAccessRole}
"""


@pytest.mark.parametrize("text", [documents.ACCESS, REORDERED], ids=["ordered", "reordered"])
def test_profile_names_survive_reordered_roles_accounts_and_grants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = documents.write(tmp_path, text)

    config = ini(run(capsys, "--desired", str(path))[1])
    switch_roles = ini(run(capsys, "--desired", str(path), "--format", "switch-roles")[1])

    assert {name: section["role_arn"] for name, section in config.items()} == {
        "profile acme-dev-account-access": ADMIN,
        "profile acme-dev-read-only-access": DEV_READ,
        "profile acme-prod-read-only-access": PROD_READ,
    }
    del switch_roles["default"]
    assert {
        name: (section["aws_account_id"], section["role_name"])
        for name, section in switch_roles.items()
    } == {
        "profile acme-dev-account-access": ("222222222222", "AccountAccessRole"),
        "profile acme-dev-read-only-access": ("222222222222", "ReadOnlyAccessRole"),
        "profile acme-prod-read-only-access": ("333333333333", "ReadOnlyAccessRole"),
    }


# --- Unknown users ---------------------------------------------------------------------------


def test_an_unknown_user_among_hundreds_is_told_the_first_known_and_how_many_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [f"user{index:03}" for index in range(300)]
    text = documents.ACCESS.replace("users: [carol]", f"users: [{', '.join(users)}]")
    path = documents.write(tmp_path, text)

    status, out, err = run(capsys, "--desired", str(path), "--user", "nobody")

    first_eighteen = ", ".join(users[:18])
    assert (status, out) == (1, "")
    assert err == (
        "error: user 'nobody' is in no group; the document knows: "
        f"alice, bob, {first_eighteen} and 282 more\n"
    )


# --- Hostile values --------------------------------------------------------------------------

HOSTILE = ["x\n[profile evil]", "x\rrole_arn=y", "[x]", "x]", "x#y", "x;y", "x\x1by", "x\ty", "x y"]
# IAM user names and MFA device names may hold '=', which only ever stands in a value; a
# profile name stands in a section header and as a value, never with '='.
FLAGS_AND_VALUES = [
    *(
        (flag, value)
        for flag in ("--source-profile", "--mfa-serial", "--user")
        for value in HOSTILE
    ),
    ("--source-profile", "x=y"),
    ("--mfa-serial", "x=y"),
]


@pytest.mark.parametrize(("flag", "value"), FLAGS_AND_VALUES)
@pytest.mark.parametrize("fmt", ["aws-config", "switch-roles", "granted"])
def test_a_value_the_outputs_cannot_carry_is_a_usage_error_and_nothing_is_written(
    access: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    flag: str,
    value: str,
) -> None:
    out_dir = tmp_path / "out"

    status, out, err = run(
        capsys, "--desired", str(access), "--format", fmt, "--output", str(out_dir), flag, value
    )

    assert status == 64
    assert out == ""
    assert err.startswith(f"reconciler profiles: error: {flag}: {value!r} is not ")
    assert err.count("\n") == 1
    assert not out_dir.exists()


@pytest.mark.parametrize("value", ["out\n[x]", "out\x1b", ""])
def test_an_output_directory_name_with_control_characters_is_a_usage_error(
    access: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status, out, err = run(capsys, "--desired", str(access), "--output", value)

    assert (status, out) == (64, "")
    assert err.startswith("reconciler profiles: error: --output: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["x\n[profile evil]", "a;b", "a#b", "a[b]"])
def test_links_refuse_a_hostile_user_as_a_usage_error(
    access: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status = cli.main(["links", "--desired", str(access), "--user", value])

    out, err = capsys.readouterr()
    assert (status, out) == (64, "")
    assert err.startswith(f"reconciler links: error: --user: {value!r} is not an IAM user name")
    assert err.count("\n") == 1


EVERY_ALLOWED = """\
organization:
  management_account_id: "111111111111"
access:
  source_account_id: "999999999999"
  roles:
    - name: "Ops+Admin=1,a@b.c_d-eRole"
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: a.b_c-D9
    id: "222222222222"
    email: a@example.com
    roles: ["Ops+Admin=1,a@b.c_d-eRole"]
groups:
  - name: Everyone
    users: ["u+s=e,r.n@m_e-1"]
    grants:
      - {account: a.b_c-D9, role: "Ops+Admin=1,a@b.c_d-eRole"}
"""


@pytest.mark.parametrize("fmt", ["aws-config", "switch-roles", "granted"])
def test_every_character_names_may_hold_reads_back_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    path = documents.write(tmp_path, EVERY_ALLOWED)
    out_dir = tmp_path / "out"

    status = run(
        capsys,
        "--desired",
        str(path),
        "--user",
        "U+S=E,R.N@M_E-1",
        "--source-profile",
        "me@corp.example+1",
        "--format",
        fmt,
        "--output",
        str(out_dir),
    )[0]

    written = ini(
        (out_dir / ("switch-roles.ini" if fmt == "switch-roles" else "config")).read_text()
    )
    assert status == 0
    profile = written["profile a.b_c-D9-ops-admin-1-a-b-c-d-e"]
    assert profile["source_profile"] == "me@corp.example+1"
    if fmt == "switch-roles":
        assert profile["role_name"] == "Ops+Admin=1,a@b.c_d-eRole"
        assert profile["aws_account_id"] == "222222222222"
        assert written["me@corp.example+1"] == {"aws_account_id": "999999999999"}
        return
    assert profile["role_arn"] == "arn:aws:iam::222222222222:role/Ops+Admin=1,a@b.c_d-eRole"
    assert profile["mfa_serial"] == (
        GRANTED_MFA if fmt == "granted" else "arn:aws:iam::999999999999:mfa/u+s=e,r.n@m_e-1"
    )


# --- The output directory --------------------------------------------------------------------


def test_an_output_path_that_is_a_file_is_refused(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("keep me\n", encoding="utf-8")

    status, out, err = run(capsys, "--desired", str(access), "--output", str(target))

    assert (status, out) == (1, "")
    assert err == f"error: --output {target} exists and is not a directory\n"
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_a_file_the_command_did_not_write_is_never_replaced(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "aws"
    out_dir.mkdir()
    (out_dir / "config").write_text("[default]\nregion = eu-west-1\n", encoding="utf-8")

    status, out, err = run(
        capsys, "--desired", str(access), "--format", "granted", "--output", str(out_dir)
    )

    assert (status, out) == (1, "")
    assert "was not written by reconciler: not replaced" in err
    assert (out_dir / "config").read_text(encoding="utf-8") == "[default]\nregion = eu-west-1\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["config"]  # granted.yml not written either


def test_a_symbolic_link_in_the_directory_is_not_followed(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.write_text("# Written by reconciler profiles --format aws-config; bait\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "config").symlink_to(outside)

    status, out, err = run(capsys, "--desired", str(access), "--output", str(out_dir))

    assert (status, out) == (1, "")
    assert err == f"error: {out_dir / 'config'} is a symbolic link: not followed, not replaced\n"
    assert outside.read_text() == "# Written by reconciler profiles --format aws-config; bait\n"
    assert (out_dir / "config").is_symlink()


def test_an_output_directory_that_is_a_symbolic_link_is_not_followed(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_dir = tmp_path / "out"
    out_dir.symlink_to(elsewhere, target_is_directory=True)

    status, out, err = run(capsys, "--desired", str(access), "--output", str(out_dir))

    assert (status, out) == (1, "")
    assert err == f"error: --output {out_dir} is a symbolic link: not followed\n"
    assert list(elsewhere.iterdir()) == []


def test_a_directory_where_a_file_goes_is_not_replaced(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    (out_dir / "switch-roles.ini").mkdir(parents=True)

    status = run(
        capsys, "--desired", str(access), "--format", "switch-roles", "--output", str(out_dir)
    )[0]

    assert status == 1
    assert (out_dir / "switch-roles.ini").is_dir()


def test_a_file_the_command_wrote_is_replaced_on_the_next_run(
    access: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    assert run(capsys, "--desired", str(access), "--output", str(out_dir))[0] == 0

    status = run(capsys, "--desired", str(access), "--user", "bob", "--output", str(out_dir))[0]

    assert status == 0
    assert list(ini((out_dir / "config").read_text(encoding="utf-8"))) == [
        "profile acme-prod-read-only-access"
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == ["config"]
