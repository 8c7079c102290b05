"""What the command line decides on its own, pinned down: which credentials each command reads
and writes with, the exit status and the one-line messages on stderr, how options are parsed
and refused, and exactly what reaches stdout. AWS is the strict simulator, read back with plain
boto3 or through the requests it received."""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from reconciler import cli, source
from reconciler.aws.sessions import READ_ONLY_SESSION_POLICY
from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.aws.support import Aws, failures, run_pass
from tests.cli import test_ways_documents as documents
from tests.simulation.faults import Fault, FaultyServer
from tests.simulation.strict import StrictAws

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
DOCUMENT = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: app
    email: app@example.com
    roles: [AccountAccessRole]
groups:
  - name: Devs
    users: [alice]
    grants: [{account: app, role: AccountAccessRole}]
"""
# What `plan` shows for DOCUMENT against an organization holding only its management account.
PLANNED = (
    "+ account app: create with email app@example.com in the root\n"
    "+ role app/AccountAccessRole: create with ReadOnlyAccess, MFA required, sessions up to 1 h\n"
    "+ group Devs: create at path /reconciler/ granting 1 role(s)\n"
    "+ membership Devs/alice: add user alice to group Devs\n"
    "# unmanaged accounts (not in the document, left alone): master\n"
    "Plan: 4 to create, 0 to update, 0 to delete.\n"
)


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as a person's shell is."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def desired(aws: Aws, tmp_path: Path) -> Path:
    """DOCUMENT, not applied yet."""
    path = tmp_path / "accounts.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    return path


@pytest.fixture
def converged(aws: Aws, desired: Path) -> Path:
    """DOCUMENT applied: app exists with its role, alice in Devs."""
    result = run_pass(aws.url, DOCUMENT, apply=True)
    assert result.converged, failures(result)
    return desired


def _assume_role_requests(simulator: FaultyServer) -> list[dict[str, list[str]]]:
    return [parse_qs(body.decode()) for _, body in simulator.injector.requests]


def _record_assume_role(simulator: FaultyServer) -> None:
    simulator.injector.record = frozenset({"sts:AssumeRole"})
    simulator.injector.requests = []


# Which credentials: plan, access and import read through sessions capped to reading.


def test_plan_assumes_member_roles_with_the_read_only_session_policy(
    aws: Aws, converged: Path, simulator: FaultyServer
) -> None:
    _record_assume_role(simulator)

    assert cli.main(["plan", "--endpoint-url", aws.url, "--desired", str(converged)]) == 0

    requests = _assume_role_requests(simulator)
    assert requests
    assert all(request.get("Policy") == [READ_ONLY_SESSION_POLICY] for request in requests)


def test_apply_assumes_member_roles_without_a_session_policy(
    aws: Aws, converged: Path, simulator: FaultyServer
) -> None:
    _record_assume_role(simulator)

    assert cli.main(["apply", "--endpoint-url", aws.url, "--desired", str(converged)]) == 0

    requests = _assume_role_requests(simulator)
    assert requests
    assert not any("Policy" in request for request in requests)


def test_access_live_reads_with_read_only_sessions(
    aws: Aws, converged: Path, simulator: FaultyServer
) -> None:
    _record_assume_role(simulator)

    status = cli.main(["access", "--live", "--endpoint-url", aws.url, "--desired", str(converged)])

    assert status == 0
    requests = _assume_role_requests(simulator)
    assert requests
    assert all(request.get("Policy") == [READ_ONLY_SESSION_POLICY] for request in requests)


# import: an organization built by hand.


def _trust(principal: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def built(aws: Aws, strict: StrictAws) -> dict[str, str]:
    """Accounts app and people; in app, roles Xray and Bootstrap trusting the management
    account and FromPeople trusting people; groups Xperts and Billing (granting nothing) in
    the management account, Crew in people. Their ids by name."""
    ids = {
        "app": aws.create_account("app@example.com", "app"),
        "people": aws.create_account("people@example.com", "people"),
    }
    app, people = aws.client("iam", ids["app"]), aws.client("iam", ids["people"])
    for name in ("Xray", "Bootstrap"):
        app.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(MANAGEMENT_ACCOUNT_ID))
    app.create_role(RoleName="FromPeople", AssumeRolePolicyDocument=_trust(ids["people"]))
    people.create_role(RoleName="Bootstrap", AssumeRolePolicyDocument=_trust(MANAGEMENT_ACCOUNT_ID))
    aws.iam.create_group(GroupName="Xperts")
    aws.iam.create_group(GroupName="Billing")
    people.create_group(GroupName="Crew")
    strict.catch_up()  # made long before import meets them
    return ids


def _import(aws: Aws, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(["import", "--endpoint-url", aws.url, *options])
    out, err = capsys.readouterr()
    return status, out, err


def _group_names(text: str) -> list[str]:
    groups = text.split("\ngroups:", 1)[1]
    return [line.split("- name: ", 1)[1] for line in groups.splitlines() if "- name: " in line]


def _role_templates(text: str) -> list[str]:
    roles = text.split("\naccess:", 1)[1].split("\naccounts:", 1)[0]
    return [line.split("- name: ", 1)[1] for line in roles.splitlines() if "- name: " in line]


def test_import_reads_with_read_only_sessions_and_its_own_credentials_in_management(
    aws: Aws, built: dict[str, str], simulator: FaultyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _record_assume_role(simulator)

    status, _, _ = _import(aws, capsys)

    assert status == 0
    requests = _assume_role_requests(simulator)
    assert sorted(arn for request in requests for arn in request["RoleArn"]) == sorted(
        f"arn:aws:iam::{built[name]}:role/OrganizationAccountAccessRole"
        for name in ("app", "people")
    )  # none in the management account, whose roles are read with the caller's credentials
    assert all(request.get("Policy") == [READ_ONLY_SESSION_POLICY] for request in requests)


def test_import_reads_the_groups_of_the_source_account_given(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _import(aws, capsys, "--groups", "all", "--source-account-id", built["people"])

    assert status == 0
    assert f'  source_account_id: "{built["people"]}"\n' in out
    assert _group_names(out) == ["Crew"]
    assert _role_templates(out) == ["FromPeople"]


def test_import_groups_all_takes_groups_that_grant_nothing(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _import(aws, capsys, "--groups", "all")

    assert status == 0
    assert _group_names(out) == ["Billing", "Xperts"]


def test_import_by_default_takes_only_groups_that_grant_a_role(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _import(aws, capsys)

    assert status == 0
    assert out.endswith("\ngroups: []\n")  # printed as written: no blank line after it
    assert _role_templates(out) == ["Bootstrap", "Xray"]


def test_import_never_declares_the_bootstrap_role_given(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _import(aws, capsys, "--bootstrap-role", "Bootstrap")

    assert status == 0
    assert "  bootstrap_role: Bootstrap\n" in out
    assert _role_templates(out) == ["OrganizationAccountAccessRole", "Xray"]


def test_import_takes_the_roles_and_groups_named_as_written(
    aws: Aws, built: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _import(aws, capsys, "--roles", " Xray ", "--groups", "Xperts, billing")

    assert status == 0
    assert _role_templates(out) == ["Xray"]
    assert _group_names(out) == ["Billing", "Xperts"]


def test_import_to_a_file_says_what_it_wrote_on_one_line(
    aws: Aws, built: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "imported.yaml"

    status, out, err = _import(aws, capsys, "--output", str(target))

    assert (status, out) == (0, "")
    assert err.splitlines() == [
        "left out: role FromPeople in 1 account (app): its trust policy trusts other principals "
        f"or conditions than {MANAGEMENT_ACCOUNT_ID}",
        f"wrote {target}: 3 accounts, 2 role templates, 0 groups, 1 left out",
    ]
    assert target.read_text(encoding="utf-8").endswith("\ngroups: []\n")


def test_import_draws_its_progress_on_a_terminal(
    aws: Aws, built: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    assert cli.main(["import", "--endpoint-url", aws.url, "--roles", "xray"]) == 0

    shown = terminal.getvalue()
    assert "\r\x1b[Kaccounts read 3/3" in shown
    assert "\r\x1b[Kaccounts read 3/3\r\x1b[K" in shown  # erased before the document is told


# Exit statuses and the one-line messages on stderr.


def test_plan_apply_would_refuse_is_one_line_on_stderr_and_exit_1(
    aws: Aws, desired: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired.write_text(DOCUMENT + "policy:\n  max_changes: 1\n", encoding="utf-8")
    capsys.readouterr()

    status = cli.main(["plan", "--endpoint-url", aws.url, "--desired", str(desired)])

    out, err = capsys.readouterr()
    assert (status, out) == (1, PLANNED)
    assert err == (
        "apply would refuse this plan: the plan has 4 changes, more than policy.max_changes "
        "(1), counting each policy a deletion takes with it; nothing was applied. Review the "
        "plan, then raise the limit or apply the change in smaller steps\n"
    )


def test_plan_judges_ownership_by_the_instance_given(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    status = cli.main(
        ["plan", "--endpoint-url", aws.url, "--desired", str(converged), "--instance", "blue"]
    )

    out, err = capsys.readouterr()
    assert (status, err) == (2, "")
    assert out.startswith(
        "! ~ role app/AccountAccessRole: take under management (tag managed-by=blue) [withheld: "
    )


def test_apply_prints_the_plan_then_one_line_per_change_not_applied(
    aws: Aws, desired: Path, simulator: FaultyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator.injector.faults = [Fault("iam:PutGroupPolicy", code="AccessDenied", status=403)]
    capsys.readouterr()

    status = cli.main(["apply", "--endpoint-url", aws.url, "--desired", str(desired)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == (
        f"{PLANNED}\nAccess effect:\n+ alice -> app as AccountAccessRole (MFA)\n"
        "Applied 3 of 4 changes.\n"
    )
    assert err == (
        "failed: + group Devs: create at path /reconciler/ granting 1 role(s): "
        "iam:PutGroupPolicy: AccessDenied: injected AccessDenied\n"
    )


def test_a_first_ctrl_c_during_apply_stops_it_at_a_safe_point(
    aws: Aws,
    desired: Path,
    simulator: FaultyServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C comes as AWS receives the account's creation: it is left to finish on its own,
    and nothing that waits for it is attempted."""
    served = simulator.injector._app

    def ctrl_c_at_create_account(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".CreateAccount"):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        return served(environ, start_response)

    monkeypatch.setattr(simulator.injector, "_app", ctrl_c_at_create_account)
    capsys.readouterr()

    status = cli.main(["apply", "--endpoint-url", aws.url, "--desired", str(desired)])

    out, err = capsys.readouterr()
    assert status == 1
    lines = err.splitlines()
    assert lines[0] == (
        "reconciler apply: stopping after the changes under way; Ctrl-C again to stop at once"
    )
    # The account's creation may or may not be seen through before the pass stops; the role,
    # the grants and the membership wait for it, so they are never attempted.
    skipped = lines[1:]
    assert len(skipped) in (3, 4) and all(line.startswith("skipped: ") for line in skipped)
    assert out.endswith(f"\nApplied {4 - len(skipped)} of 4 changes.\n")
    assert lines[-1] == (
        "skipped: + membership Devs/alice: add user alice to group Devs: not attempted: "
        "shutting down"
    )
    assert aws.iam.list_groups_for_user(UserName="alice")["Groups"] == []


def test_access_live_names_what_it_could_not_read_one_line_each(
    aws: Aws, converged: Path, simulator: FaultyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.iam.create_group(GroupName="Admins")
    aws.iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    aws.iam.add_user_to_group(GroupName="Admins", UserName="mallory")
    app = aws.account_id("app@example.com")
    simulator.injector.faults = [
        Fault("iam:GetPolicy", code="AccessDenied", status=403),
        Fault("sts:AssumeRole", code="AccessDenied", status=403, body_contains=app),
    ]
    capsys.readouterr()

    status = cli.main(
        [
            "access",
            "--live",
            "--format",
            "markdown",
            "--endpoint-url",
            aws.url,
            "--desired",
            str(converged),
        ]
    )

    out, err = capsys.readouterr()
    assert status == 0
    assert out == (
        "### Who can reach the managed roles (live)\n\n```text\n"
        "alice -> app as AccountAccessRole (MFA) through group Devs\n```\n"
    )
    assert err.splitlines() == [
        f"note: policy {ADMIN} could not be read (iam:GetPolicy: AccessDenied: injected "
        "AccessDenied); its access is not listed",
        "note: account app could not be read (sts:AssumeRole: AccessDenied: injected "
        "AccessDenied); its roles' MFA is taken from the document",
    ]


# On a terminal: a progress line on stderr, colours on stdout.


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> tuple[_Terminal, _Terminal]:
    """stdout and stderr are a person's terminal, NO_COLOR not set (called in the test itself,
    as pytest's capture takes the streams back between setup and the test)."""
    out, err = _Terminal(), _Terminal()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def test_plan_on_a_terminal_colours_the_plan_and_draws_its_progress(
    aws: Aws, converged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converged.write_text(DOCUMENT.replace("[alice]", "[alice, james]"), encoding="utf-8")
    out, err = _on_a_terminal(monkeypatch)

    assert cli.main(["plan", "--endpoint-url", aws.url, "--desired", str(converged)]) == 2

    assert out.getvalue().startswith(
        "\x1b[32m+ membership Devs/james: add user james to group Devs\x1b[0m\n"
    )
    assert err.getvalue() == "\r\x1b[Kaccounts read 1/1\r\x1b[K"


def test_apply_on_a_terminal_colours_the_plan(
    aws: Aws, desired: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = _on_a_terminal(monkeypatch)

    assert cli.main(["apply", "--endpoint-url", aws.url, "--desired", str(desired)]) == 0

    assert out.getvalue().startswith(
        "\x1b[32m+ account app: create with email app@example.com in the root\x1b[0m\n"
    )


# Options parsed and refused before anything is read: one line, exit status 64.


def _usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """Run a command line that must be refused; its stderr lines."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (64, "")
    return err.splitlines()


def test_a_group_name_with_a_tab_is_refused_whole(
    offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _usage_error(capsys, "import", "--groups", "Readers\t") == [
        "reconciler import: error: argument --groups: 'Readers\\t' is not granting, all, "
        "managed or an IAM group name: 1 to 128 of letters, digits and + = , . @ _ -; "
        "see 'reconciler import --help'"
    ]


def test_seconds_that_are_not_a_number_are_refused_with_the_bound(
    offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _usage_error(capsys, "run", "--interval", "soon") == [
        "reconciler run: error: argument --interval: 'soon' is not a number of seconds, more "
        "than 0; see 'reconciler run --help'"
    ]


def test_an_instance_name_in_the_aws_prefix_is_refused_saying_why(
    offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _usage_error(capsys, "plan", "--instance", "aws-blue") == [
        "reconciler plan: error: argument --instance: 'aws-blue' is not an instance name: 1 to "
        "64 of A-Z a-z 0-9 + = . @ _ -, not starting with aws or -; "
        "see 'reconciler plan --help'"
    ]


# profiles: its output directory, its note, and stdout as rendered.


@pytest.fixture
def granting(offline: None, tmp_path: Path) -> Path:
    """Every account has an id: nothing is looked up in AWS."""
    return documents.write(tmp_path, documents.ACCESS)


def _profiles(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(["profiles", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("directory", "shown"), [("", "''"), ("profiles\x7fold", "'profiles\\x7fold'")]
)
def test_profiles_output_empty_or_with_delete_is_refused(
    granting: Path, capsys: pytest.CaptureFixture[str], directory: str, shown: str
) -> None:
    status, out, err = _profiles(capsys, "--desired", str(granting), "--output", directory)

    assert (status, out) == (64, "")
    assert err == (
        f"reconciler profiles: error: --output: {shown} is not a directory name: empty or "
        "control characters; see 'reconciler profiles --help'\n"
    )


def test_profiles_output_may_have_spaces(
    granting: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "my profiles"
    directory.mkdir()

    status, out, err = _profiles(
        capsys, "--desired", str(granting), "--user", "alice", "--output", str(directory)
    )

    assert (status, out, err) == (0, "", f"wrote {directory / 'config'}\n")


def test_profiles_without_user_note_what_to_pass_in_one_line(
    granting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _profiles(capsys, "--desired", str(granting))

    assert (status, err) == (
        0,
        "note: pass --user NAME or --mfa-serial ARN to fill in mfa_serial for your MFA device\n",
    )


def test_profiles_print_the_file_as_rendered(
    granting: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _profiles(capsys, "--desired", str(granting), "--user", "alice")

    assert status == 0
    assert out.startswith("[profile acme-dev-account-access]\n")
    assert out.endswith("\nmfa_serial = arn:aws:iam::999999999999:mfa/alice\n")


# run: where the daemon takes the document from.


def test_run_follows_the_desired_file_without_a_source_url(offline: None) -> None:
    args = cli._parser().parse_args(["run", "--desired", "org/accounts.yaml"])

    assert cli._source(args) == source.DirectorySource(Path("org/accounts.yaml"))


def test_run_follows_the_git_remote_with_every_option_given(
    offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, hosts, signers = (tmp_path / name for name in ("key", "known_hosts", "signers"))
    for path in (key, hosts, signers):
        path.write_text("x\n", encoding="utf-8")
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", "s3cret")
    args = cli._parser().parse_args(
        [
            "run",
            *("--source-url", "https://git.example.com/org.git", "--source-ref", "prod"),
            *("--source-path", "org/accounts.yaml", "--workdir", str(tmp_path / "clone")),
            *("--git-ssh-key-file", str(key), "--git-known-hosts-file", str(hosts)),
            *("--verify-signatures", "--allowed-signers", str(signers)),
        ]
    )

    followed = cli._source(args)

    assert isinstance(followed, source.GitSource)
    assert (followed.url, followed.ref, followed.path) == (
        "https://git.example.com/org.git",
        "prod",
        "org/accounts.yaml",
    )
    assert followed.workdir == tmp_path / "clone"
    assert (followed.ssh_key_file, followed.known_hosts_file, followed.allowed_signers) == (
        str(key),
        str(hosts),
        str(signers),
    )
    assert followed.token == "s3cret"


def test_run_takes_an_empty_git_token_as_none(
    offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", "")
    args = cli._parser().parse_args(["run", "--source-url", "https://git.example.com/org.git"])

    followed = cli._source(args)

    assert isinstance(followed, source.GitSource)
    assert followed.token is None
