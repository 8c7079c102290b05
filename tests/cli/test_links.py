"""`reconciler links`: a console switch-role link per (account, role) a group grants."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from reconciler import cli
from tests.cli import test_ways_documents as documents

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def access(tmp_path: Path) -> Path:
    return documents.write(tmp_path, documents.ACCESS)


def switch_role(url: str) -> tuple[str, str, str]:
    """(roleName, account, displayName) of a well-formed switch-role link; fails otherwise."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "signin.aws.amazon.com",
        "/switchrole",
    ), url
    assert parts.fragment == ""
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert sorted(query) == ["account", "displayName", "roleName"], url
    assert all(len(values) == 1 for values in query.values()), url
    account = query["account"][0]
    assert re.fullmatch(r"\d{12}", account), url
    return query["roleName"][0], account, query["displayName"][0]


def links(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    status = cli.main(["links", *args])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    assert out.endswith("\n") or out == ""
    return out.splitlines()


def test_a_link_per_granted_account_and_role(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = links(capsys, "--desired", str(access))

    assert [switch_role(line) for line in lines] == [
        ("AccountAccessRole", "222222222222", "acme-dev-account-access"),
        ("ReadOnlyAccessRole", "222222222222", "acme-dev-read-only-access"),
        ("ReadOnlyAccessRole", "333333333333", "acme-prod-read-only-access"),
    ]


def test_user_limits_to_their_groups(access: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = links(capsys, "--desired", str(access), "--user", "alice")

    assert [switch_role(line) for line in lines] == [
        ("AccountAccessRole", "222222222222", "acme-dev-account-access"),
        ("ReadOnlyAccessRole", "333333333333", "acme-prod-read-only-access"),
    ]


def test_user_the_document_does_not_know_is_an_error_naming_those_it_knows(
    access: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["links", "--desired", str(access), "--user", "Mallory"])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err == "error: user 'Mallory' is in no group; the document knows: alice, bob, carol\n"


def test_desired_and_user_from_the_environment(
    access: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_DESIRED", str(access))
    monkeypatch.setenv("RECONCILER_USER", "carol")

    lines = links(capsys)

    assert [switch_role(line) for line in lines] == [
        ("ReadOnlyAccessRole", "222222222222", "acme-dev-read-only-access"),
    ]


def test_account_without_an_id_gets_a_comment_not_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uncreated = documents.write(tmp_path, documents.UNCREATED)

    status = cli.main(["links", "--desired", str(uncreated)])

    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert switch_role(lines[0]) == (
        "AccountAccessRole",
        "222222222222",
        "existing-account-access",
    )
    assert lines[1:] == [
        "# newcomer-account-access: account 'newcomer' id unknown: could not look up account "
        "ids (organizations:ListAccounts: no AWS credentials found); pass credentials or "
        "declare its id"
    ]


def test_characters_iam_allows_survive_the_query_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `+` would read back as a space if it were not percent-encoded.
    text = documents.ACCESS.replace("AccountAccessRole", '"Ops+Admin=1,a@b"')
    path = documents.write(tmp_path, text)

    lines = links(capsys, "--desired", str(path), "--user", "alice")

    assert switch_role(lines[0]) == ("Ops+Admin=1,a@b", "222222222222", "acme-dev-ops-admin-1-a-b")


def test_long_display_names_are_cut_to_what_the_console_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "a" * 50  # the longest account name; its second role's profile is 67 characters
    text = documents.ACCESS.replace("name: acme-dev", f"name: {name}")
    text = text.replace("account: acme-dev", f"account: {name}")
    path = documents.write(tmp_path, text)

    lines = links(capsys, "--desired", str(path), "--user", "carol")

    assert switch_role(lines[0])[2] == f"{name}-read-only-access"[:64]
