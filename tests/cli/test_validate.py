"""`reconciler validate`: offline check, exit 0 when valid, 1 with file:line:column when not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import cli

ROOT = Path(__file__).parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
BAD_EMAIL_ERROR = (
    "accounts[1].email: 'aws+shared' is not an email address AWS accepts "
    "(name@domain.tld, 6 to 64 characters)"
)
EMAIL_ERROR = "{!r} is not an email address AWS accepts (name@domain.tld, 6 to 64 characters)"


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    """minimal.yaml with a malformed email on line 22, column 12."""
    path = tmp_path / "accounts.yaml"
    text = MINIMAL.read_text(encoding="utf-8").replace("aws+shared@example.com", "aws+shared")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("RECONCILER_")]:
        monkeypatch.delenv(variable)


def test_valid_document(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["validate", "--desired", str(MINIMAL)])

    out, err = capsys.readouterr()
    assert status == 0
    assert out == f"{MINIMAL}: valid (2 accounts, 2 roles, 1 groups)\n"
    assert err == ""


def test_invalid_document(invalid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["validate", "--desired", str(invalid)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err == f"invalid document: 1 problem:\n{invalid}:22:12: {BAD_EMAIL_ERROR}\n"


def test_every_problem_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "accounts.yaml"
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace("aws+shared@example.com", "aws+shared").replace("unit:", "ou:")
    path.write_text(text, encoding="utf-8")

    status = cli.main(["validate", "--desired", str(path)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines() == [
        "invalid document: 2 problems:",
        f"{path}:19:5: accounts[0].ou: unknown key 'ou'; "
        "allowed here: name, email, id, unit, tags, roles, adopt_roles",
        f"{path}:22:12: {BAD_EMAIL_ERROR}",
    ]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.yaml"

    status = cli.main(["validate", "--desired", str(path)])

    assert status == 1
    assert f"{path}:1:1: cannot read the file" in capsys.readouterr().err


def test_desired_defaults_to_the_repository_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)

    status = cli.main(["validate"])

    assert status == 0
    assert capsys.readouterr().out.startswith("desired/accounts.yaml: valid (")


def test_desired_from_the_environment(
    invalid: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_DESIRED", str(invalid))

    status = cli.main(["validate"])

    assert status == 1
    assert f"{invalid}:22:12: " in capsys.readouterr().err


def test_flag_overrides_the_environment(
    invalid: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_DESIRED", str(invalid))

    status = cli.main(["validate", "--desired", str(MINIMAL)])

    assert status == 0
    assert capsys.readouterr().out.startswith(f"{MINIMAL}: valid")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_as_a_process_valid() -> None:
    result = run("validate")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("desired/accounts.yaml: valid (")


def test_as_a_process_invalid(invalid: Path) -> None:
    result = run("validate", "--desired", str(invalid))

    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{invalid}:22:12: {BAD_EMAIL_ERROR}" in result.stderr


def test_at_most_a_hundred_problems_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"
    accounts = "".join(f"  - {{name: a{n}, email: nope{n}}}\n" for n in range(150))
    text = MINIMAL.read_text(encoding="utf-8").replace("accounts:\n", "accounts:\n" + accounts)
    path.write_text(text, encoding="utf-8")

    status = cli.main(["validate", "--desired", str(path)])

    lines = capsys.readouterr().err.splitlines()
    assert status == 1
    assert lines[0] == "invalid document: 150 problems:"
    assert lines[1] == f"{path}:17:23: accounts[0].email: {EMAIL_ERROR.format('nope0')}"
    assert len(lines) == 102
    assert lines[-1] == "... and 50 more problems"


def test_names_cannot_write_to_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"
    text = MINIMAL.read_text(encoding="utf-8").replace("unit:", '"\\e[2J\\nunit\\u202e":')
    path.write_text(text, encoding="utf-8")

    status = cli.main(["validate", "--desired", str(path)])

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 2
    assert "\x1b" not in err and "\u202e" not in err
    assert "accounts[0].\\x1b[2J\\nunit\\u202e: unknown key '\\x1b[2J\\nunit\\u202e'" in err
