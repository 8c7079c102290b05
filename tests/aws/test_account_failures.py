"""One account's failure is reported and never stops the others."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import cli
from reconciler.aws.sessions import Sessions
from reconciler.core import plan
from tests.aws.support import EXAMPLE_TEXT, Aws, canned, run_pass
from tests.simulation.faults import Fault, FaultyServer

ACME_DEV = "aws+acme-dev@example.com"


def _deny_assume_role_into(account_id: str) -> Any:
    body = f"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>not authorized to perform sts:AssumeRole in {account_id}</Message>
  </Error><RequestId>1</RequestId></ErrorResponse>""".encode()

    def handler(request: Any, **_: Any) -> Any:
        sent = request.body or b""
        if account_id in (sent.decode() if isinstance(sent, bytes) else sent):
            return canned(403, body, "text/xml")
        return None

    return handler


def test_unreachable_account_is_reported_and_the_others_converge(aws: Aws) -> None:
    assert run_pass(aws.url, apply=True).converged
    denied = aws.account_id(ACME_DEV)
    # Drift in every account: the reachable ones must still be corrected.
    for account in aws.accounts().values():
        if account["Id"] != "123456789012":
            aws.org.tag_resource(
                ResourceId=account["Id"], Tags=[{"Key": "environment", "Value": "drifted"}]
            )

    def hook(sessions: Sessions) -> None:
        sessions.on_event("before-send.sts.AssumeRole", _deny_assume_role_into(denied))

    result = run_pass(aws.url, apply=True, hook=hook)
    assert not result.converged
    assert list(result.plan.unreachable) == ["acme-dev"]
    assert "AccessDenied" in result.plan.unreachable["acme-dev"]
    for account in aws.accounts().values():
        environment = aws.tags(account["Id"]).get("environment")
        if account["Id"] != "123456789012":
            assert (environment == "drifted") == (account["Id"] == denied), account["Name"]


def test_unreachable_account_makes_apply_and_plan_exit_1(
    aws: Aws, simulator: FaultyServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_pass(aws.url, apply=True).converged
    denied = aws.account_id(ACME_DEV)
    path = tmp_path / "accounts.yaml"
    path.write_text(EXAMPLE_TEXT)
    command = ["--endpoint-url", aws.url, "--desired", str(path)]
    simulator.injector.faults = [
        Fault("sts:AssumeRole", code="AccessDenied", status=403, body_contains=denied)
    ]
    capsys.readouterr()

    applied = cli.main(["apply", *command])
    apply_out = capsys.readouterr().out
    planned = cli.main(["plan", *command])
    plan_out = capsys.readouterr().out

    assert simulator.injector.injected["sts:AssumeRole"] >= 2  # both commands were refused
    assert (applied, planned) == (1, 1), (apply_out, plan_out)
    for out in (apply_out, plan_out):
        assert "? account acme-dev unreachable: " in out and "AccessDenied" in out, out
    simulator.injector.faults = []
    assert cli.main(["plan", *command]) == 0  # the account alone kept them from 0
    assert cli.main(["apply", *command]) == 0


def test_failed_creation_names_the_account_and_reason_and_holds_nothing_else(aws: Aws) -> None:
    failing: dict[str, str] = {}

    def remember_request(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        status = parsed.get("CreateAccountStatus", {})
        if model.name == "CreateAccount" and status.get("AccountName") == "acme-prod":
            failing["id"] = status["Id"]

    def fail(request: Any, **_: Any) -> Any:
        body = json.loads(request.body or b"{}")
        if failing and body.get("CreateAccountRequestId") == failing["id"]:
            status = {
                "CreateAccountStatus": {
                    "Id": failing["id"],
                    "AccountName": "acme-prod",
                    "State": "FAILED",
                    "RequestedTimestamp": 1700000000.0,
                    "CompletedTimestamp": 1700000005.0,
                    "FailureReason": "EMAIL_ALREADY_EXISTS",
                }
            }
            return canned(200, json.dumps(status).encode(), "application/x-amz-json-1.1")
        return None

    def hook(sessions: Sessions) -> None:
        sessions.on_event("after-call.organizations.CreateAccount", remember_request)
        sessions.on_event("before-send.organizations.DescribeCreateAccountStatus", fail)

    result = run_pass(aws.url, apply=True, hook=hook)
    failed = [o for o in result.outcomes if o.status == plan.Status.FAILED]
    creation, *grants = failed  # the account, then the groups whose grants need its id
    assert isinstance(creation.change, plan.CreateAccount)
    assert "acme-prod" in creation.reason and "EMAIL_ALREADY_EXISTS" in creation.reason
    assert "already used by another AWS account" in creation.reason
    assert {o.change.target for o in grants} == {"Administrators", "AcmeDevelopers", "Auditors"}
    assert all("grants on acme-prod not written" in o.reason for o in grants)
    skipped = [o for o in result.outcomes if o.status == plan.Status.SKIPPED]
    assert {o.change.account for o in skipped} == {"acme-prod"}  # only its roles wait
    # Everything else converged: a pass without the fault finds only acme-prod's work left.
    later = run_pass(aws.url, apply=False).plan
    assert {c.account for c in later.changes if c.account} == {"acme-prod"}
