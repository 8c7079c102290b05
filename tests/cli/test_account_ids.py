"""An account declared without an id: `profiles` and `links` tell a user offline that its id is
unknown and why, and tell only a user whose lookup succeeded that it is not created yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import cli, source
from reconciler.aws.sessions import model_sharing_session
from reconciler.core import ways
from tests.cli import test_ways_documents as documents

EXISTING_LINK = (
    "https://signin.aws.amazon.com/switchrole?roleName=AccountAccessRole&account=222222222222"
    "&displayName=existing-account-access"
)


def test_offline_the_id_is_unknown_and_the_reason_given(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uncreated = documents.write(tmp_path, documents.UNCREATED)

    assert cli.main(["links", "--desired", str(uncreated)]) == 0

    out, err = capsys.readouterr()
    assert out.splitlines() == [
        EXISTING_LINK,
        "# newcomer-account-access: account 'newcomer' id unknown: could not look up account "
        "ids (organizations:ListAccounts: no AWS credentials found); pass credentials or "
        "declare its id",
    ]
    assert "apply" not in out
    assert err == (
        "note: could not look up account ids "
        "(organizations:ListAccounts: no AWS credentials found)\n"
    )


def test_an_account_the_lookup_does_not_find_is_not_created_yet(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uncreated = documents.write(tmp_path, documents.UNCREATED)

    status = cli.main(["links", "--desired", str(uncreated), "--endpoint-url", endpoint])

    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        EXISTING_LINK,
        "# newcomer-account-access: account 'newcomer' is not created yet: the daemon or "
        "'reconciler apply' creates it; run this again then",
    ]


def test_the_reason_stays_on_the_comment_line() -> None:
    way = ways.Way("newcomer", None, "AccountAccessRole", "newcomer-account-access", "a\nb\r\nc")

    assert ways.render_links([way]) == (
        "# newcomer-account-access: account 'newcomer' id unknown: could not look up account "
        "ids (a b c); pass credentials or declare its id\n"
    )
    assert ways.render_profiles([way], source_profile="default", mfa_serial="123456789") == (
        "# newcomer-account-access: account 'newcomer' id unknown: could not look up account "
        "ids (a b c); pass credentials or declare its id\n"
    )


def test_ids_of_accounts_found_are_not_reported_unknown(tmp_path: Path) -> None:
    document = source.read_document(str(documents.write(tmp_path, documents.UNCREATED)))

    found = ways.ways_in(document, ids={"newcomer": "333333333333"}, lookup_problem="offline")

    assert [(w.account_id, w.lookup_problem) for w in found] == [
        ("222222222222", None),
        ("333333333333", None),
    ]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_profile_that_does_not_exist_is_one_line_before_any_call(
    offline: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    # AWS's model files already loaded by an earlier client of the process, as in a daemon or
    # a test run: making the loader read the profile, sharing it does not.
    model_sharing_session()
    monkeypatch.setenv("AWS_PROFILE", "prod-typo")
    desired = documents.write(tmp_path, documents.UNCREATED)

    assert cli.main([command, "--desired", str(desired)]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: AWS configuration: The config profile (prod-typo) could not be found\n"
