"""The IAM policy documents in deploy/iam are valid policy grammar and grant exactly what the
code needs.

The AWS operations the code calls are collected from reconciler/aws/*.py with `ast`: the
method names passed to `call`, `pages` and `each_page`, and direct client method calls such as
`.assume_role(`. botocore's service models turn each method into its service and API operation
(`list_roots` -> `organizations:ListRoots`).

How IAM operations are treated. The daemon's own credentials (the pod's role, in the management
account) act in the management account only: member accounts are entered through the bootstrap
role, whose permissions Organizations grants (AdministratorAccess), not this policy. But the
management account can itself be the source account (the default: groups and memberships) and
a declared account (as in desired/accounts.yaml: its roles are read, and would be changed, with
the pod's credentials). So reconciler-policy.json must allow every IAM operation the code calls,
scoped to what the daemon manages: groups under the /reconciler/ path, and the role templates
of desired/accounts.yaml; never the bootstrap role.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from reconciler import load, state

REPO = Path(__file__).resolve().parents[2]
IAM = REPO / "deploy" / "iam"
POLICY = IAM / "reconciler-policy.json"
READONLY = IAM / "reconciler-readonly-policy.json"
IRSA_TRUST = IAM / "pod-trust-policy.json"
POD_IDENTITY_TRUST = IAM / "pod-identity-trust-policy.json"
PERMISSION_POLICIES = [POLICY, READONLY]
TRUST_POLICIES = [IRSA_TRUST, POD_IDENTITY_TRUST]
CODE = REPO / "reconciler" / "aws"
SERVICES = ("organizations", "iam", "sts")
# The helpers that make one AWS call, and where their method name is among the arguments.
HELPERS = {"call": 1, "pages": 1, "each_page": 1, "_settled_call": 2}
READ_PREFIXES = ("Get", "List", "Describe")
# Permissions that are not API operations of their service (so botocore does not know them).
PERMISSION_ONLY = {"sts:TagSession"}
MANAGED_POLICY_LIMIT = 6144  # characters, whitespace excluded
MANAGEMENT = "111111111111"
MEMBER = "222222222222"
DOCUMENT = load.load_spec(REPO / "desired" / "accounts.yaml")
BOOTSTRAP_ROLE = DOCUMENT.organization.bootstrap_role


# --- what the code calls ---------------------------------------------------------------------


@cache
def operations_by_method() -> dict[str, list[str]]:
    """snake_case client method -> every `service:Operation` among our services that has it."""
    session = botocore.session.get_session()
    methods: dict[str, list[str]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            methods.setdefault(xform_name(operation), []).append(f"{service}:{operation}")
    return methods


def called_methods(paths: list[Path]) -> set[str]:
    known = operations_by_method()
    methods: set[str] = set()

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in HELPERS:
            return  # the helpers themselves pass their `method` parameter on
        if isinstance(node, ast.Call):
            function = node.func
            name = (
                function.id
                if isinstance(function, ast.Name)
                else function.attr
                if isinstance(function, ast.Attribute)
                else None
            )
            if name == "partial" and node.args and isinstance(node.args[0], ast.Name):
                name, node.args = node.args[0].id, node.args[1:]  # partial(call, client, ...)
            if name in HELPERS:
                index = HELPERS[name]
                method = node.args[index] if len(node.args) > index else None
                assert isinstance(method, ast.Constant) and isinstance(method.value, str), (
                    f"{where}:{node.lineno}: {name}() with a method name that is not a "
                    "literal; this test cannot see which operation it calls"
                )
                methods.add(method.value)
            elif isinstance(function, ast.Attribute) and function.attr in known:
                methods.add(function.attr)
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    for path in paths:
        visit(ast.parse(path.read_text(), str(path)), path.name)
    return methods


def called_operations(paths: list[Path]) -> set[str]:
    known = operations_by_method()
    operations = set()
    for method in called_methods(paths):
        assert method in known, f"{method} is no operation of {', '.join(SERVICES)}"
        operations.update(known[method])  # ambiguous names count for every service that has them
    return operations


ALL_CALLS = called_operations(sorted(CODE.glob("*.py")))
# `plan` and the daemon in plan mode: the readers, and AssumeRole to enter member accounts.
READ_CALLS = called_operations([CODE / "read.py", CODE / "sessions.py"])


def test_the_collector_finds_the_calls() -> None:
    assert {
        "organizations:ListRoots",
        "organizations:CreateAccount",
        "iam:GetAccountAuthorizationDetails",
        "iam:AddUserToGroup",
        "iam:CreateRole",
        "sts:AssumeRole",
    } <= ALL_CALLS
    assert READ_CALLS < ALL_CALLS
    assert all(op.split(":")[1].startswith(READ_PREFIXES) for op in READ_CALLS - {"sts:AssumeRole"})


# --- grammar ---------------------------------------------------------------------------------


def load_policy(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    assert isinstance(document, dict)
    return document


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("path", PERMISSION_POLICIES + TRUST_POLICIES, ids=lambda p: p.name)
def test_policy_grammar(path: Path) -> None:
    document = load_policy(path)
    trust = path in TRUST_POLICIES
    assert set(document) <= {"Version", "Id", "Statement"}
    assert document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert isinstance(statements, list) and statements
    sids = [s["Sid"] for s in statements if "Sid" in s]
    assert len(sids) == len(set(sids)), "duplicate Sid"
    for statement in statements:
        allowed = {"Sid", "Effect", "Action", "Resource", "Condition"}
        if trust:
            allowed = (allowed - {"Resource"}) | {"Principal"}
        assert set(statement) <= allowed, f"{path.name}: {sorted(set(statement) - allowed)}"
        assert re.fullmatch(r"[A-Za-z0-9]*", statement.get("Sid", "")), statement.get("Sid")
        assert statement["Effect"] in ("Allow", "Deny")
        actions = as_list(statement["Action"])
        assert actions
        for action in actions:
            assert isinstance(action, str)
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), (
                f"not service:Operation: {action}"
            )
            assert "*" not in action
        if trust:
            assert statement["Principal"]
        else:
            resources = as_list(statement["Resource"])
            assert resources and all(isinstance(r, str) and r for r in resources)
            for resource in resources:
                assert resource == "*" or resource.startswith("arn:aws:"), resource
        condition = statement.get("Condition", {})
        assert isinstance(condition, dict)
        assert all(isinstance(v, dict) and v for v in condition.values())


@pytest.mark.parametrize("path", PERMISSION_POLICIES + TRUST_POLICIES, ids=lambda p: p.name)
def test_actions_exist(path: Path) -> None:
    """A misspelt action grants nothing and fails silently in AWS; here it fails the build."""
    session = botocore.session.get_session()
    for statement in load_policy(path)["Statement"]:
        for action in as_list(statement["Action"]):
            if action in PERMISSION_ONLY:
                continue
            service, operation = action.split(":")
            assert operation in session.get_service_model(service).operation_names, action


@pytest.mark.parametrize("path", PERMISSION_POLICIES, ids=lambda p: p.name)
def test_fits_a_managed_policy(path: Path) -> None:
    compact = re.sub(r"\s", "", path.read_text())
    assert len(compact) <= MANAGED_POLICY_LIMIT


# --- what the policies allow -------------------------------------------------------------------


def matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if not case:
        value = value.lower()
        patterns = [p.lower() for p in patterns]
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def allows(path: Path, action: str, resource: str = "*") -> bool:
    """Identity-policy evaluation, enough for these documents: an explicit Deny wins, then an
    Allow is needed. A request on "*" (an action without resource-level permissions) needs a
    statement whose Resource is "*"."""
    verdict = False
    for statement in load_policy(path)["Statement"]:
        assert "Condition" not in statement, "conditional statements need a real evaluator"
        resources = as_list(statement["Resource"])
        if not matches(as_list(statement["Action"]), action, case=False):
            continue
        hit = "*" in resources if resource == "*" else matches(resources, resource, case=True)
        if hit and statement["Effect"] == "Deny":
            return False
        verdict = verdict or hit
    return verdict


def resources_for(operation: str) -> list[str]:
    """The resources the daemon's own credentials act on for this operation."""
    service, name = operation.split(":")
    if operation == "sts:AssumeRole":
        return [f"arn:aws:iam::{MEMBER}:role/{BOOTSTRAP_ROLE}"]
    if service == "iam" and "Group" in name:
        return [f"arn:aws:iam::{MANAGEMENT}:group{state.GROUP_PATH}AcmeDevelopers"]
    if service == "iam" and "Role" in name and name != "ListRoles":
        return [f"arn:aws:iam::{MANAGEMENT}:role/{role.name}" for role in DOCUMENT.access.roles]
    if operation == "iam:GetUser":
        return [f"arn:aws:iam::{MANAGEMENT}:user/alice"]
    return ["*"]


@pytest.mark.parametrize("operation", sorted(ALL_CALLS))
def test_policy_allows_every_operation_the_code_calls(operation: str) -> None:
    for resource in resources_for(operation):
        assert allows(POLICY, operation, resource), f"{operation} on {resource}"


@pytest.mark.parametrize("operation", sorted(READ_CALLS))
def test_readonly_policy_allows_every_read(operation: str) -> None:
    for resource in resources_for(operation):
        assert allows(READONLY, operation, resource), f"{operation} on {resource}"


def test_policy_grants_nothing_the_code_does_not_call() -> None:
    for path, calls in ((POLICY, ALL_CALLS), (READONLY, READ_CALLS)):
        granted = {
            action
            for statement in load_policy(path)["Statement"]
            if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
        }
        assert granted <= calls, f"{path.name} grants unused {sorted(granted - calls)}"


def test_readonly_policy_has_no_write_action() -> None:
    for statement in load_policy(READONLY)["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            # AssumeRole changes nothing; it is how plan reads member accounts.
            assert action == "sts:AssumeRole" or action.split(":")[1].startswith(READ_PREFIXES)


def test_assume_role_only_on_the_bootstrap_role() -> None:
    for path in PERMISSION_POLICIES:
        assert allows(path, "sts:AssumeRole", f"arn:aws:iam::{MEMBER}:role/{BOOTSTRAP_ROLE}")
        for role in ("AccountAccessRole", "Admin", f"{BOOTSTRAP_ROLE}2", f"x/{BOOTSTRAP_ROLE}"):
            assert not allows(path, "sts:AssumeRole", f"arn:aws:iam::{MEMBER}:role/{role}"), role


def test_iam_writes_are_scoped() -> None:
    writes = sorted(
        op for op in ALL_CALLS if op.startswith("iam:") and not op.split(":")[1].startswith("List")
    )
    for operation in writes:
        if operation in ("iam:GetAccountAuthorizationDetails", "iam:ListRoles"):
            continue
        for resource in (
            f"arn:aws:iam::{MANAGEMENT}:role/{BOOTSTRAP_ROLE}",  # never the bootstrap role
            f"arn:aws:iam::{MANAGEMENT}:role/reconciler",  # nor the daemon's own role
            f"arn:aws:iam::{MANAGEMENT}:group/Administrators",  # nor groups outside our path
            f"arn:aws:iam::{MANAGEMENT}:policy/AdministratorAccess",
            "*",
        ):
            assert not allows(POLICY, operation, resource), f"{operation} on {resource}"


def test_accounts_are_never_closed_or_removed() -> None:
    for action in (
        "organizations:CloseAccount",
        "organizations:RemoveAccountFromOrganization",
        "organizations:LeaveOrganization",
        "organizations:DeleteOrganization",
    ):
        assert not allows(POLICY, action)
        assert not allows(READONLY, action)


# --- the pod's trust ---------------------------------------------------------------------------


def test_irsa_trust_names_the_service_account() -> None:
    (statement,) = load_policy(IRSA_TRUST)["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert ":oidc-provider/" in statement["Principal"]["Federated"]
    equals = statement["Condition"]["StringEquals"]
    subjects = [v for k, v in equals.items() if k.endswith(":sub")]
    audiences = [v for k, v in equals.items() if k.endswith(":aud")]
    assert subjects == ["system:serviceaccount:reconciler:reconciler"]
    assert audiences == ["sts.amazonaws.com"]


def test_trust_policies_trust_no_one_at_large() -> None:
    for path in TRUST_POLICIES:
        text = path.read_text()
        assert '"*"' not in text, path.name
        for statement in load_policy(path)["Statement"]:
            assert statement["Condition"], f"{path.name}: an unconditional trust"
