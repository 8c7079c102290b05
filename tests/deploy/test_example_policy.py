"""The example document converges under the shipped least-privilege policy.

`reconciler sandbox` seeds an organization from desired/accounts.yaml; one `reconciler apply`
then corrects it. Every AWS request that pass makes with the daemon's own credentials (the
management account; member accounts are entered through the bootstrap role, whose permissions
are the account's) is put to deploy/iam/reconciler-policy.json, as shipped, with the evaluator
of test_iam.py: each must be allowed. The example's groups are reconciler's own, under
`/reconciler/`, the only groups that policy lets the daemon change.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

from reconciler import cli, sandbox, source
from reconciler.core import state
from reconciler.simulator import Simulator
from tests.deploy.test_iam import POLICY, Request, decide, load_policy

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "desired" / "accounts.yaml"
DOCUMENT = source.read_document(EXAMPLE)
OWN_KEY = sandbox.DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]

pytestmark = pytest.mark.timeout(240)


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    for name, value in {**sandbox.DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    running = Simulator()
    running.start()
    running.reset()  # moto keeps its state per process, not per server
    try:
        yield running
    finally:
        running.stop()


def record_own_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every call made with the daemon's own credentials, from now on."""
    calls: list[Call] = []
    original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        credentials = client._request_signer._credentials
        if credentials is not None and credentials.access_key == OWN_KEY:
            calls.append(Call(client.meta.service_model.service_name, operation, dict(params)))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def apply(url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main([*args, "--desired", str(EXAMPLE), "--endpoint-url", url])
    return code, out.getvalue()


def as_request(call: Call, account: str, group_paths: dict[str, str]) -> Request:
    """The IAM request a call is authorized as: action, resource, condition keys."""
    action = f"{call.service}:{call.operation}"
    params = call.params

    def group(name: str) -> str:
        return f"arn:aws:iam::{account}:group{group_paths[name.lower()]}{name}"

    if call.service == "organizations" or action in (
        "sts:GetCallerIdentity",
        "iam:GetAccountAuthorizationDetails",
        "iam:ListRoles",
    ):
        return Request(action)
    if action == "sts:AssumeRole":
        return Request(action, params["RoleArn"])
    if action in ("iam:AddUserToGroup", "iam:RemoveUserFromGroup"):
        # IAM authorizes a membership change against the group.
        return Request(action, group(params["GroupName"]))
    if "GroupName" in params:
        return Request(action, group(params["GroupName"]))
    if action == "iam:GetUser":
        return Request(action, f"arn:aws:iam::{account}:user/{params['UserName']}")
    if action in ("iam:GetPolicy", "iam:GetPolicyVersion"):
        return Request(action, params["PolicyArn"])
    if "RoleName" in params:
        context = {"iam:PolicyARN": params["PolicyArn"]} if "PolicyArn" in params else {}
        return Request(action, f"arn:aws:iam::{account}:role/{params['RoleName']}", context)
    raise AssertionError(f"no resource known for {action} {params}")


def test_the_sandbox_seed_asks_no_change_outside_the_daemons_path(simulator: Simulator) -> None:
    """Whatever the seed makes by hand that the example declares is under /reconciler/."""
    sandbox.seed(simulator.url, EXAMPLE)
    iam = boto3.client("iam", endpoint_url=simulator.url, region_name="us-east-1")
    paths = {g["GroupName"]: g["Path"] for g in iam.list_groups()["Groups"]}
    declared = {g.name for g in DOCUMENT.groups}
    assert paths, "the seed makes a group"
    for name, path in paths.items():
        if name in declared:
            assert path == state.GROUP_PATH, f"{name} at {path}"


def test_the_example_converges_under_the_shipped_policy(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.seed(simulator.url, EXAMPLE)
    recorded = record_own_calls(monkeypatch)
    code, output = apply(simulator.url, "apply")
    assert code == 0, output
    assert "Applied" in output
    # Converged: a plan of the same document finds nothing left.
    code, output = apply(simulator.url, "plan")
    assert code == 0, output
    calls = list(recorded)  # the daemon's calls; the test's own reads below are not

    iam = boto3.client("iam", endpoint_url=simulator.url, region_name="us-east-1")
    group_paths = {g["GroupName"].lower(): g["Path"] for g in iam.list_groups()["Groups"]}
    account = DOCUMENT.organization.management_account_id
    statements = load_policy(POLICY)["Statement"]
    writes = {c.operation for c in calls if not c.operation.startswith(("Get", "List"))}
    # The pass made the example's changes with these credentials: groups, grants, members.
    assert {"CreateGroup", "PutGroupPolicy", "AddUserToGroup", "RemoveUserFromGroup"} <= writes
    refused = []
    for call in calls:
        request = as_request(call, account, group_paths)
        if decide(statements, request) != "Allow":
            refused.append(f"{request.action} on {request.resource} {dict(request.context)}")
    assert not refused, "the shipped policy refuses:\n" + "\n".join(sorted(set(refused)))
    # Every declared group lives under the daemon's path.
    for group in DOCUMENT.groups:
        assert group_paths[group.name.lower()] == state.GROUP_PATH, group.name
