"""`reconciler access` offline: who the document lets reach which account as which role, in
each format, filtered by user and account; and when `plan` colours its text."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.core import access, render

DOCUMENT = """
organization:
  management_account_id: "111111111111"
access:
  roles:
    - name: Admin
    - name: ReadOnly
      require_mfa: false
accounts:
  - name: app
    email: app@example.com
    id: "222222222222"
    roles: [Admin, ReadOnly]
  - name: data
    email: data@example.com
    roles: [ReadOnly]
groups:
  - name: Devs
    users: [Alice, bob]
    grants:
      - {account: app, role: Admin}
      - {account: data, role: ReadOnly}
  - name: Readers
    users: [carol]
    grants: [{account: app, role: ReadOnly}]
"""

TEXT = [
    "Alice -> app as Admin (MFA) through group Devs",
    "bob -> app as Admin (MFA) through group Devs",
    "carol -> app as ReadOnly through group Readers",
    "Alice -> data as ReadOnly through group Devs",
    "bob -> data as ReadOnly through group Devs",
]


@pytest.fixture
def desired(offline: None, tmp_path: Path) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    return path


def _access(
    desired: Path, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(["access", "--desired", str(desired), *options])
    out, err = capsys.readouterr()
    return status, out, err


def test_text_lists_every_way_in_one_a_line(
    desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _access(desired, capsys)

    assert (status, err) == (0, "")
    assert out.splitlines() == TEXT


def test_markdown_has_the_title_and_the_lines_in_a_code_block(
    desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _access(desired, capsys, "--format", "markdown")

    assert status == 0
    assert out == "\n".join(
        ["### Who the document lets reach which role", "", "```text", *TEXT, "```", ""]
    )


def test_csv_reads_back_with_a_header(desired: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _access(desired, capsys, "--format", "csv")

    assert status == 0
    assert list(csv.reader(io.StringIO(out, newline=""))) == [
        ["user", "group", "account", "account_id", "role", "mfa", "policy"],
        ["Alice", "Devs", "app", "222222222222", "Admin", "true", "reconciler-grants"],
        ["bob", "Devs", "app", "222222222222", "Admin", "true", "reconciler-grants"],
        ["carol", "Readers", "app", "222222222222", "ReadOnly", "false", "reconciler-grants"],
        ["Alice", "Devs", "data", "", "ReadOnly", "false", "reconciler-grants"],
        ["bob", "Devs", "data", "", "ReadOnly", "false", "reconciler-grants"],
    ]


def test_json_is_exact(desired: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _access(desired, capsys, "--format", "json", "--user", "bob")

    assert status == 0
    assert json.loads(out) == [
        {
            "user": "bob",
            "group": "Devs",
            "account": "app",
            "account_id": "222222222222",
            "role": "Admin",
            "mfa": True,
            "policy": "reconciler-grants",
        },
        {
            "user": "bob",
            "group": "Devs",
            "account": "data",
            "account_id": None,
            "role": "ReadOnly",
            "mfa": False,
            "policy": "reconciler-grants",
        },
    ]


@pytest.mark.parametrize("user", ["alice", "ALICE", "Alice"])
def test_user_ignores_case(desired: Path, capsys: pytest.CaptureFixture[str], user: str) -> None:
    _, out, _ = _access(desired, capsys, "--user", user)

    assert out.splitlines() == [
        "Alice -> app as Admin (MFA) through group Devs",
        "Alice -> data as ReadOnly through group Devs",
    ]


@pytest.mark.parametrize("account", ["app", "222222222222"])
def test_account_by_name_or_id(
    desired: Path, capsys: pytest.CaptureFixture[str], account: str
) -> None:
    _, out, _ = _access(desired, capsys, "--account", account)

    assert out.splitlines() == TEXT[:3]


def test_user_and_account_together(desired: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _access(desired, capsys, "--user", "BOB", "--account", "data")

    assert out.splitlines() == ["bob -> data as ReadOnly through group Devs"]


@pytest.mark.parametrize(
    "options",
    [("--user", "mallory"), ("--account", "nowhere"), ("--account", "333333333333")],
)
def test_no_match_says_nobody_and_succeeds(
    desired: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, str]
) -> None:
    status, out, err = _access(desired, capsys, *options)

    assert (status, out, err) == (0, "Nobody: no way in matches.\n", "")


def test_no_match_in_markdown_keeps_the_title(
    desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _access(desired, capsys, "--format", "markdown", "--user", "mallory")

    assert out == (
        "### Who the document lets reach which role\n\n```text\nNobody: no way in matches.\n```\n"
    )


def test_no_match_in_csv_and_json_is_empty(
    desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, as_csv, _ = _access(desired, capsys, "--format", "csv", "--user", "mallory")
    _, as_json, _ = _access(desired, capsys, "--format", "json", "--user", "mallory")

    assert as_csv == "user,group,account,account_id,role,mfa,policy\r\n"
    assert json.loads(as_json) == []


def test_format_from_the_environment(
    desired: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_ACCESS_FORMAT", "json")

    _, out, _ = _access(desired, capsys, "--account", "app", "--user", "carol")

    assert [entry["role"] for entry in json.loads(out)] == ["ReadOnly"]


@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx"],
)
def test_csv_quotes_a_cell_a_spreadsheet_would_run(cell: str) -> None:
    entry = access.Access(cell, "Admin", cell, cell, "222222222222", True, cell)

    out = render.access_list([entry], render.AccessFormat.CSV, "title")

    assert list(csv.reader(io.StringIO(out, newline="")))[1] == [
        f"'{cell}",
        f"'{cell}",
        f"'{cell}",
        "222222222222",
        "Admin",
        "true",
        f"'{cell}",
    ]


def test_csv_leaves_ordinary_cells_alone() -> None:
    entry = access.Access("app", "Admin", "a=b", "Break-glass", None, False, "inline+1")

    out = render.access_list([entry], render.AccessFormat.CSV, "title")

    assert list(csv.reader(io.StringIO(out, newline="")))[1] == [
        "a=b",
        "Break-glass",
        "app",
        "",
        "Admin",
        "false",
        "inline+1",
    ]


@pytest.mark.parametrize(("cell", "shown"), [("\rx", "'\rx"), ("a\rb", "a\rb")])
def test_csv_keeps_a_carriage_return_inside_its_cell(cell: str, shown: str) -> None:
    entry = access.Access("app", "Admin", cell, "G", None, False)

    out = render.access_list([entry], render.AccessFormat.CSV, "title")

    assert list(csv.reader(io.StringIO(out, newline="")))[1:] == [
        [
            shown,
            "G",
            "app",
            "",
            "Admin",
            "false",
            "reconciler-grants",
        ]
    ]


def test_a_live_group_starting_with_equals_is_quoted_in_csv() -> None:
    entry = access.Access("app", "Admin", "mallory", "=cmd|' /C calc'!A0", "222222222222", True)

    out = render.access_list([entry], render.AccessFormat.CSV, "title")

    assert out.splitlines()[1] == (
        "mallory,'=cmd|' /C calc'!A0,app,222222222222,Admin,true,reconciler-grants"
    )


def test_text_names_a_users_own_policy() -> None:
    entry = access.Access("app", "Admin", "erin", access.OWN_POLICY, "222222222222", False, "hop")

    assert render.access_list([entry], render.AccessFormat.TEXT, "title") == (
        "erin -> app as Admin through their own policy (hop)\n"
    )
    assert (
        json.loads(render.access_list([entry], render.AccessFormat.JSON, "t"))[0]["group"] is None
    )


def test_text_escapes_hostile_live_names() -> None:
    entry = access.Access("app", "Admin", "eve\n\x1b[2J\u202e", "G", None, False)

    assert render.access_list([entry], render.AccessFormat.TEXT, "title") == (
        "eve\\n\\x1b[2J\\u202e -> app as Admin through group G\n"
    )


@pytest.mark.parametrize(
    "options",
    [
        ("--format", "x$(id)"),
        ("--format", "text\nFAKE LINE"),
        ("--format", "\x1b[31mred"),
        ("--bogus",),
        ("--live", "--format"),
    ],
)
def test_a_usage_error_exits_64_with_one_error_line(
    desired: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...]
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        cli.main(["access", "--desired", str(desired), *options])
    out, err = capsys.readouterr()

    assert stopped.value.code == 64
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("reconciler access: error: ")
    assert err.endswith("; see 'reconciler access --help'\n")
    assert "Traceback" not in err and "\x1b" not in err and "FAKE LINE" not in err.splitlines()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("no_color", "expected"), [(None, True), ("", True), ("1", False), ("0", False)]
)
def test_colour_on_a_terminal_unless_no_color_is_set(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, expected: bool
) -> None:
    monkeypatch.setattr(sys, "stdout", _Terminal())
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)

    assert cli._colour() is expected


def test_no_colour_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.delenv("NO_COLOR", raising=False)

    assert cli._colour() is False


def test_markdown_keeps_backticks_of_live_names_inside_the_code_block() -> None:
    entry = access.Access("app", "Admin", "eve````", "G", None, False)

    assert render.access_list([entry], render.AccessFormat.MARKDOWN, "Who") == (
        "### Who\n\n`````text\neve```` -> app as Admin through group G\n`````\n"
    )


def test_live_without_aws_is_an_error_line_and_exit_1(
    desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _access(desired, capsys, "--live")

    assert (status, out) == (1, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
