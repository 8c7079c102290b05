"""The IAM policy documents in deploy/iam are valid policy grammar and grant exactly what the
code needs.

The AWS operations the code calls are collected from reconciler/aws/*.py with `ast`: the
method names passed to `call`, `pages` and `each_page`, and direct client method calls such as
`.assume_role(`. botocore's service models turn each method into its service and API operation
(`list_roots` -> `organizations:ListRoots`).

How IAM operations are treated. The daemon's own credentials (the pod's role, in the management
account) act in the management account only: member accounts are entered through the bootstrap
role, whose permissions Organizations grants (AdministratorAccess), not this policy. In the
management account the policy allows groups under the /reconciler/ path and their members (the
management account may be the source account), and refuses every role change unless the
operator removes the statement `RefuseRoleChangesInThisAccount`; even then only the role
templates of desired/accounts.yaml, with the AWS managed policies the document names, and never
the daemon's own roles or the bootstrap role. A small evaluator (below) decides requests
against the statements, conditions included, and the tests ask it about the calls the daemon
makes and the requests that would raise its privileges.

The events queue (deploy/events) is read with the daemon's own credentials too, in either mode:
both policies allow what reconciler/aws/queue.py calls on the queue `reconciler-events` in
us-east-1, and nothing else of SQS.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from reconciler import source
from reconciler.aws import sessions
from reconciler.core import state

REPO = Path(__file__).resolve().parents[2]
IAM = REPO / "deploy" / "iam"
POLICY = IAM / "reconciler-policy.json"
READONLY = IAM / "reconciler-readonly-policy.json"
IRSA_TRUST = IAM / "pod-trust-policy.json"
POD_IDENTITY_TRUST = IAM / "pod-identity-trust-policy.json"
PERMISSION_POLICIES = [POLICY, READONLY]
TRUST_POLICIES = [IRSA_TRUST, POD_IDENTITY_TRUST]
CODE = REPO / "reconciler" / "aws"
SERVICES = ("organizations", "iam", "sts", "sqs")
# A batch call is authorized as the action it repeats.
AUTHORIZED_AS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage"}
# The helpers that make one AWS call, and where their method name is among the arguments.
HELPERS = {"call": 1, "pages": 1, "each_page": 1, "_settled_call": 2}
READ_PREFIXES = ("Get", "List", "Describe")
# Permissions that are not API operations of their service (so botocore does not know them).
PERMISSION_ONLY = {"sts:TagSession"}
MANAGED_POLICY_LIMIT = 6144  # characters, whitespace excluded
MANAGEMENT = "111111111111"
MEMBER = "222222222222"
DOCUMENT = source.read_document(REPO / "desired" / "accounts.yaml")
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
    operations: set[str] = set()
    for method in called_methods(paths):
        assert method in known, f"{method} is no operation of {', '.join(SERVICES)}"
        # ambiguous names count for every service that has them
        operations.update(AUTHORIZED_AS.get(op, op) for op in known[method])
    return operations


ALL_CALLS = called_operations(sorted(CODE.glob("*.py")))
# `plan` and the daemon in plan mode: the readers (of everything, and of what an event
# touched), and AssumeRole to enter member accounts.
READ_CALLS = called_operations([CODE / "read.py", CODE / "read_scope.py", CODE / "sessions.py"])
# The daemon, in either mode, reading its events queue (central.yaml of deploy/events names it).
EVENT_CALLS = called_operations([CODE / "queue.py"])
QUEUE = f"arn:aws:sqs:us-east-1:{MANAGEMENT}:reconciler-events"


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
    # Receive, and delete in batches (authorized as DeleteMessage); a new SQS call shows here.
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} == EVENT_CALLS
    assert EVENT_CALLS < ALL_CALLS


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
        # Only operators the evaluator below knows, so what it proves holds for AWS too.
        assert set(condition) <= set(CONDITION_OPERATORS), sorted(condition)


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


# --- a small policy evaluator ------------------------------------------------------------------
#
# Identity-policy evaluation as IAM documents it, for what these documents use: an explicit Deny
# wins, else an Allow is needed, else the request is implicitly denied. A statement applies when
# its Action (or NotAction) matches the action (case-insensitive, `*` and `?` wildcards), its
# Resource (or NotResource) matches the resource (case-sensitive wildcards; `*` matches `/` too,
# as in IAM), and every condition holds: operators AND-ed, keys AND-ed, a key's values OR-ed. A
# key absent from the request fails a positive operator and satisfies a negated one. ArnEquals
# takes wildcards like ArnLike, as IAM's does. An operator it does not know fails the test
# instead of being guessed. A request on "*" stands for an action without resource-level
# permissions: only a statement whose Resource is "*" matches it.

_WILDCARD_OPERATORS = {"StringLike", "ArnEquals", "ArnLike"}
CONDITION_OPERATORS = {
    "StringEquals": False,
    "StringLike": False,
    "ArnEquals": False,
    "ArnLike": False,
    "StringNotEquals": True,
    "StringNotLike": True,
    "ArnNotEquals": True,
    "ArnNotLike": True,
}  # operator -> negated


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    context: Mapping[str, str] = field(default_factory=dict)


def matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if not case:
        value = value.lower()
        patterns = [p.lower() for p in patterns]
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def _condition_holds(operator: str, key: str, values: list[str], request: Request) -> bool:
    assert operator in CONDITION_OPERATORS, f"the evaluator does not know {operator}"
    negated = CONDITION_OPERATORS[operator]
    if key not in request.context:
        return negated
    positive = operator.replace("Not", "")
    actual = request.context[key]
    hit = (
        matches(values, actual, case=True) if positive in _WILDCARD_OPERATORS else actual in values
    )
    return hit != negated


def applies(statement: dict[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not matches(as_list(statement["Action"]), request.action, case=False):
            return False
    elif matches(as_list(statement["NotAction"]), request.action, case=False):
        return False
    if "Resource" in statement:
        if not matches(as_list(statement["Resource"]), request.resource, case=True):
            return False
    elif matches(as_list(statement["NotResource"]), request.resource, case=True):
        return False
    return all(
        _condition_holds(operator, key, as_list(values), request)
        for operator, keys in statement.get("Condition", {}).items()
        for key, values in keys.items()
    )


def decide(statements: list[dict[str, Any]], request: Request) -> str:
    """ "Deny" (explicit), "Allow", or "ImplicitDeny"."""
    relevant = [s["Effect"] for s in statements if applies(s, request)]
    if "Deny" in relevant:
        return "Deny"
    return "Allow" if "Allow" in relevant else "ImplicitDeny"


def statements_of(policy: Path | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return load_policy(policy)["Statement"] if isinstance(policy, Path) else policy


def allows(
    policy: Path | list[dict[str, Any]],
    action: str,
    resource: str = "*",
    context: Mapping[str, str] | None = None,
) -> bool:
    return decide(statements_of(policy), Request(action, resource, context or {})) == "Allow"


def test_evaluator_on_known_answers() -> None:
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    deny_role = {"Effect": "Deny", "Action": "iam:*Role*", "Resource": "arn:aws:iam::*:role/x"}
    attach = {
        "Effect": "Allow",
        "Action": "iam:AttachRolePolicy",
        "Resource": "arn:aws:iam::*:role/*",
        "Condition": {"ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/A"]}},
    }
    not_like = {
        "Effect": "Allow",
        "NotAction": "iam:Delete*",
        "Resource": "*",
        "Condition": {"StringNotLike": {"aws:PrincipalTag/team": "ops*"}},
    }
    role = "arn:aws:iam::1:role/x"
    assert decide([allow_all, deny_role], Request("IAM:putrolepolicy", role)) == "Deny"
    assert decide([allow_all, deny_role], Request("iam:PutRolePolicy", role + "y")) == "Allow"
    assert decide([deny_role], Request("iam:CreateGroup", role)) == "ImplicitDeny"
    a, b = ({"iam:PolicyARN": f"arn:aws:iam::aws:policy/{n}"} for n in "AB")
    assert decide([attach], Request("iam:AttachRolePolicy", role, a)) == "Allow"
    assert decide([attach], Request("iam:AttachRolePolicy", role, b)) == "ImplicitDeny"
    assert decide([attach], Request("iam:AttachRolePolicy", role)) == "ImplicitDeny"
    assert decide([attach], Request("iam:AttachRolePolicy", "*", a)) == "ImplicitDeny"
    assert decide([not_like], Request("iam:GetRole")) == "Allow"  # the key is absent
    ops = {"aws:PrincipalTag/team": "ops1"}
    assert decide([not_like], Request("iam:GetRole", context=ops)) == "ImplicitDeny"
    assert decide([not_like], Request("iam:DeleteRole")) == "ImplicitDeny"
    with pytest.raises(AssertionError, match="does not know"):
        decide(
            [{**attach, "Condition": {"NumericEquals": {"k": "1"}}}],
            Request("iam:AttachRolePolicy", role, a),
        )


# --- the daemon's policy: what it may do --------------------------------------------------------

# The statement an operator removes to let the daemon manage people's roles in the account its
# own role lives in (deploy/iam/README.md).
OPT_IN = "RefuseRoleChangesInThisAccount"
MANAGED_POLICY_SID = "AttachOnlyTheManagedPoliciesTheDocumentNames"
DEFAULT = load_policy(POLICY)["Statement"]
ROLES_ENABLED = [s for s in DEFAULT if s.get("Sid") != OPT_IN]
DAEMON_ROLES = ("reconciler", "reconciler-readonly")
DOCUMENT_POLICIES = sorted({arn for role in DOCUMENT.access.roles for arn in role.policies})


def is_role_write(operation: str) -> bool:
    service, name = operation.split(":")
    return service == "iam" and "Role" in name and not name.startswith(READ_PREFIXES)


def resources_for(operation: str) -> list[str]:
    """The resources the daemon's own credentials act on for this operation."""
    service, name = operation.split(":")
    if operation == "sts:AssumeRole":
        return [f"arn:aws:iam::{MEMBER}:role/{BOOTSTRAP_ROLE}"]
    if service == "sqs":
        return [QUEUE]
    if service == "iam" and "Group" in name:
        return [f"arn:aws:iam::{MANAGEMENT}:group{state.GROUP_PATH}AcmeDevelopers"]
    if service == "iam" and "Role" in name and name != "ListRoles":
        return [f"arn:aws:iam::{MANAGEMENT}:role/{role.name}" for role in DOCUMENT.access.roles]
    if operation == "iam:GetUser":
        return [f"arn:aws:iam::{MANAGEMENT}:user/alice"]
    if operation in ("iam:GetPolicy", "iam:GetPolicyVersion"):
        return [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            f"arn:aws:iam::{MANAGEMENT}:policy/x",
        ]
    return ["*"]


def contexts_for(operation: str) -> list[dict[str, str]]:
    """The request contexts: AttachRolePolicy once per managed policy the document names."""
    if operation == "iam:AttachRolePolicy":
        return [{"iam:PolicyARN": arn} for arn in DOCUMENT_POLICIES]
    return [{}]


def test_the_opt_in_statement_exists() -> None:
    assert len(ROLES_ENABLED) == len(DEFAULT) - 1


@pytest.mark.parametrize("operation", sorted(ALL_CALLS))
def test_policy_allows_every_operation_the_code_calls(operation: str) -> None:
    """Everything but role changes with the policy as shipped; role changes once the operator
    removes the one opt-in statement."""
    policy = ROLES_ENABLED if is_role_write(operation) else DEFAULT
    for resource in resources_for(operation):
        for context in contexts_for(operation):
            assert allows(policy, operation, resource, context), f"{operation} on {resource}"


@pytest.mark.parametrize("operation", sorted(op for op in ALL_CALLS if is_role_write(op)))
def test_role_changes_in_this_account_are_refused_by_default(operation: str) -> None:
    for resource in resources_for(operation):
        for context in contexts_for(operation):
            request = Request(operation, resource, context)
            assert decide(DEFAULT, request) == "Deny", f"{operation} on {resource}"


def test_attachable_policies_are_the_aws_managed_ones_the_document_names() -> None:
    (statement,) = (s for s in DEFAULT if s.get("Sid") == MANAGED_POLICY_SID)
    named = as_list(statement["Condition"]["ArnEquals"]["iam:PolicyARN"])
    assert all(arn.startswith("arn:aws:iam::aws:policy/") for arn in named), named
    assert set(DOCUMENT_POLICIES) <= set(named), "a role template's policy cannot be attached"
    attach = [s for s in DEFAULT if "iam:AttachRolePolicy" in as_list(s.get("Action", []))]
    assert all(s["Effect"] == "Deny" or s is statement for s in attach)


# --- the daemon's policy: what it may never do ---------------------------------------------------

OWN_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/reconciler"
PEOPLES_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/AccountAccessRole"
ADMIN = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}

# Closed while the policy is as shipped; an operator who removes the opt-in statement accepts
# these, bounded to the role templates and the policies the document names.
DENIED_BY_DEFAULT = [
    Request("iam:CreateRole", PEOPLES_ROLE),
    Request("iam:AttachRolePolicy", PEOPLES_ROLE, ADMIN),
    Request("iam:UpdateAssumeRolePolicy", PEOPLES_ROLE),
    Request("iam:PutRolePolicy", PEOPLES_ROLE),
    Request("iam:TagRole", PEOPLES_ROLE),
]

# Closed whatever the operator enables: ways the daemon could raise its own privileges or hand
# out more than the document can.
ALWAYS_DENIED = [
    # its own roles: no new trust, no new policy, no lifted boundary
    *(
        Request(action, f"arn:aws:iam::{MANAGEMENT}:role/{role}", context)
        for role in DAEMON_ROLES
        for action, context in (
            ("iam:UpdateAssumeRolePolicy", {}),
            ("iam:PutRolePolicy", {}),
            ("iam:AttachRolePolicy", ADMIN),
            ("iam:DeleteRolePermissionsBoundary", {}),
            ("iam:PutRolePermissionsBoundary", {}),
            ("iam:UpdateRole", {}),
            ("iam:TagRole", {}),
            ("iam:CreateRole", {}),
        )
    ),
    # a bootstrap role in this account would be assumable under its own AssumeRole grant
    Request("iam:CreateRole", f"arn:aws:iam::{MANAGEMENT}:role/{BOOTSTRAP_ROLE}"),
    Request("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{MANAGEMENT}:role/{BOOTSTRAP_ROLE}"),
    Request("iam:AttachRolePolicy", f"arn:aws:iam::{MANAGEMENT}:role/{BOOTSTRAP_ROLE}", ADMIN),
    # roles the document does not name, and policies it does not name
    Request("iam:CreateRole", f"arn:aws:iam::{MANAGEMENT}:role/Admin"),
    Request("iam:AttachRolePolicy", f"arn:aws:iam::{MANAGEMENT}:role/Admin", ADMIN),
    Request(
        "iam:AttachRolePolicy",
        PEOPLES_ROLE,
        {"iam:PolicyARN": f"arn:aws:iam::{MANAGEMENT}:policy/Everything"},
    ),
    Request(
        "iam:AttachRolePolicy",
        PEOPLES_ROLE,
        {"iam:PolicyARN": "arn:aws:iam::aws:policy/IAMFullAccess"},
    ),
    Request("iam:AddRoleToInstanceProfile", PEOPLES_ROLE),
    # managed policies: no new version of one that is attached somewhere
    *(
        Request(action, f"arn:aws:iam::{MANAGEMENT}:policy/{name}")
        for action in ("iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
        for name in ("Everything", "reconciler")
    ),
    # handing a role to a service, or entering any role but the bootstrap role
    *(
        Request("iam:PassRole", arn)
        for arn in (OWN_ROLE, PEOPLES_ROLE, f"arn:aws:iam::{MEMBER}:role/{BOOTSTRAP_ROLE}")
    ),
    *(
        Request("sts:AssumeRole", f"arn:aws:iam::{account}:role/{role}")
        for account in (MANAGEMENT, MEMBER)
        for role in ("AccountAccessRole", "reconciler", "Admin", f"x/{BOOTSTRAP_ROLE}")
    ),
    # users: no keys, passwords or policies of their own
    *(
        Request(action, f"arn:aws:iam::{MANAGEMENT}:user/mallory")
        for action in (
            "iam:CreateUser",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
            "iam:AttachUserPolicy",
            "iam:PutUserPolicy",
        )
    ),
    # groups outside its path, and managed policies on groups
    Request("iam:AddUserToGroup", f"arn:aws:iam::{MANAGEMENT}:group/Administrators"),
    Request("iam:PutGroupPolicy", f"arn:aws:iam::{MANAGEMENT}:group/Administrators"),
    Request("iam:AttachGroupPolicy", f"arn:aws:iam::{MANAGEMENT}:group/reconciler/Admins", ADMIN),
    Request("iam:UpdateGroup", f"arn:aws:iam::{MANAGEMENT}:group/Administrators"),
]


@pytest.mark.parametrize("request_", DENIED_BY_DEFAULT, ids=lambda r: f"{r.action} {r.resource}")
def test_role_escalation_in_this_account_is_closed_by_default(request_: Request) -> None:
    assert decide(DEFAULT, request_) != "Allow"


@pytest.mark.parametrize("request_", ALWAYS_DENIED, ids=lambda r: f"{r.action} {r.resource}")
def test_escalation_is_closed_even_with_role_changes_enabled(request_: Request) -> None:
    for policy in (DEFAULT, ROLES_ENABLED):
        assert decide(policy, request_) != "Allow"


def test_own_and_bootstrap_roles_are_denied_explicitly() -> None:
    """An explicit Deny, so a broader policy attached later cannot reopen them either."""
    broader = [*ROLES_ENABLED, {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]
    for role in (*DAEMON_ROLES, BOOTSTRAP_ROLE):
        for action in sorted(op for op in ALL_CALLS if is_role_write(op)):
            request = Request(action, f"arn:aws:iam::{MANAGEMENT}:role/{role}", ADMIN)
            assert decide(broader, request) == "Deny", f"{action} on {role}"


def test_readonly_policy_matches_the_plan_session_policy() -> None:
    """Plan reads member accounts through the bootstrap role under the session policy in
    reconciler/aws/sessions.py, and the management account under reconciler-readonly-policy.json:
    the IAM reads of the two are the same, and are the IAM reads the code makes."""
    session = json.loads(sessions.READ_ONLY_SESSION_POLICY)["Statement"]
    session_actions = {a for s in session for a in as_list(s["Action"])}
    readonly_iam = {
        a
        for s in load_policy(READONLY)["Statement"]
        for a in as_list(s["Action"])
        if a.startswith("iam:")
    }
    assert session_actions == readonly_iam
    assert session_actions == {op for op in READ_CALLS if op.startswith("iam:")}
    for action in session_actions:
        for resource in resources_for(action):
            assert allows(session, action, resource), action


@pytest.mark.parametrize("operation", sorted(READ_CALLS | EVENT_CALLS))
def test_readonly_policy_allows_every_read(operation: str) -> None:
    for resource in resources_for(operation):
        assert allows(READONLY, operation, resource), f"{operation} on {resource}"


def test_policy_grants_nothing_the_code_does_not_call() -> None:
    for path, calls in ((POLICY, ALL_CALLS), (READONLY, READ_CALLS | EVENT_CALLS)):
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
            if action == "sts:AssumeRole":
                continue
            # Deleting a handled message changes nothing the daemon manages: its own queue only.
            if action in EVENT_CALLS:
                assert as_list(statement["Resource"]) == [QUEUE_RESOURCE], action
                continue
            assert action.split(":")[1].startswith(READ_PREFIXES), action


# The queue as the policies name it: in us-east-1 (where IAM's and Organizations' events are
# delivered), of whichever account the daemon's role lives in.
QUEUE_RESOURCE = "arn:aws:sqs:us-east-1:*:reconciler-events"


@pytest.mark.parametrize("path", PERMISSION_POLICIES, ids=lambda p: p.name)
def test_the_events_queue_and_nothing_else_of_sqs(path: Path) -> None:
    (statement,) = (s for s in load_policy(path)["Statement"] if s.get("Sid") == "ReadChangeEvents")
    assert as_list(statement["Resource"]) == [QUEUE_RESOURCE]
    for action in sorted(EVENT_CALLS):
        assert allows(path, action, QUEUE)
        for other in (
            f"arn:aws:sqs:us-east-1:{MANAGEMENT}:reconciler-events-dead-letter",
            f"arn:aws:sqs:us-east-1:{MANAGEMENT}:orders",
            f"arn:aws:sqs:eu-west-1:{MANAGEMENT}:reconciler-events",
            "*",
        ):
            assert not allows(path, action, other), f"{action} on {other}"
    for action in (
        "sqs:SendMessage",
        "sqs:PurgeQueue",
        "sqs:SetQueueAttributes",
        "sqs:DeleteQueue",
        "sqs:AddPermission",
        "sqs:ChangeMessageVisibility",
    ):
        assert not allows(path, action, QUEUE), action


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
        if operation in READ_CALLS:
            continue
        for resource in (
            f"arn:aws:iam::{MANAGEMENT}:role/{BOOTSTRAP_ROLE}",  # never the bootstrap role
            f"arn:aws:iam::{MANAGEMENT}:role/reconciler",  # nor the daemon's own role
            f"arn:aws:iam::{MANAGEMENT}:group/Administrators",  # nor groups outside our path
            f"arn:aws:iam::{MANAGEMENT}:policy/AdministratorAccess",
            "*",
        ):
            for policy in (DEFAULT, ROLES_ENABLED):
                assert not allows(policy, operation, resource, ADMIN), f"{operation} on {resource}"


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
