"""Apply a Plan: execute its changes in dependency order and record an Outcome for each.

Order: units; then one lane per account (create, move and tag, roles), lanes in parallel,
at most 5 account creations in flight (AWS's limit); then the source account's groups and
memberships; then deletions. A change that fails is recorded and the rest go on; only the
later changes of the same account that need what failed are skipped.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler import plan, policies, state
from reconciler.aws.sessions import Sessions, call, pages
from reconciler.errors import AccessError, AwsRequestError, ReconcilerError

log = logging.getLogger(__name__)

MAX_CREATIONS_IN_FLIGHT = 5  # Organizations: concurrent CreateAccount requests per organization
CREATE_TIMEOUT = 30 * 60  # seconds; AWS usually needs a few minutes
POLL_INTERVAL = (1.0, 15.0)  # first and longest wait between CreateAccount status polls
NEW_ACCOUNT_ACCESS_WAIT = 120  # seconds a fresh account's bootstrap role may take to be assumable

_FAILURE_REASONS = {
    "EMAIL_ALREADY_EXISTS": "the email address is already used by another AWS account",
    "ACCOUNT_LIMIT_EXCEEDED": "the organization has reached its account quota (ask AWS Support)",
    "INVALID_EMAIL": "AWS rejected the email address",
    "INVALID_ADDRESS": "AWS rejected the account's address",
    "CONCURRENT_ACCOUNT_MODIFICATION": "another change to the organization was in progress",
    "INTERNAL_FAILURE": "AWS had an internal failure; the next pass tries again",
}
_PLACEHOLDER = re.compile(r"arn:aws:iam::<([^>]+)>:")


@dataclass
class Context:
    """What appliers share: clients, and ids learnt while applying (new units and accounts)."""

    sessions: Sessions
    root_id: str
    source_account_id: str
    unit_ids: dict[state.UnitPath, str]
    account_ids: dict[str, str]
    creations: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_CREATIONS_IN_FLIGHT)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set on shutdown: changes not yet started are skipped, so a pass ends at a safe point.
    stop: threading.Event = field(default_factory=threading.Event)

    def pause(self, seconds: float, resumes: str) -> None:
        """Wait on AWS, unless shutting down: then end this change now, saying what resumes."""
        if self.stop.wait(seconds):
            raise _ShutdownError(f"not finished: shutting down; {resumes}")

    def unit_id(self, path: state.UnitPath) -> str:
        if not path:
            return self.root_id
        with self.lock:
            if path not in self.unit_ids:
                raise AwsRequestError(f"unit {'/'.join(path)} does not exist")
            return self.unit_ids[path]

    def account_id(self, name: str, known: str | None) -> str:
        if known:
            return known
        with self.lock:
            if name not in self.account_ids:
                raise AwsRequestError(f"account {name} has no id: it was not created")
            return self.account_ids[name]


def execute(p: plan.Plan, context: Context, concurrency: int = 16) -> list[plan.Outcome]:
    """Apply every change of the plan; return one Outcome per change, in plan order."""
    by_stage: dict[str, list[plan.Change]] = {"units": [], "lanes": [], "source": [], "prune": []}
    for change in p.changes:
        by_stage[_phase(change)].append(change)
    outcomes = _sequential(by_stage["units"], context)
    outcomes += _lanes(by_stage["lanes"], context, concurrency)
    outcomes += _sequential(by_stage["source"], context)
    outcomes += _sequential(by_stage["prune"], context)
    order = {id(c): i for i, c in enumerate(p.changes)}
    return sorted(outcomes, key=lambda o: order[id(o.change)])


def _phase(change: plan.Change) -> str:
    if change.stage == plan.Stage.UNITS:
        return "units"
    if change.stage in (plan.Stage.GROUPS, plan.Stage.MEMBERSHIPS):
        return "source"
    if change.stage == plan.Stage.PRUNE:
        return "prune"
    return "lanes"


def _sequential(changes: Iterable[plan.Change], context: Context) -> list[plan.Outcome]:
    return [_apply_one(change, context) for change in changes]


def _lanes(changes: list[plan.Change], context: Context, concurrency: int) -> list[plan.Outcome]:
    lanes: dict[str, list[plan.Change]] = {}
    for change in changes:
        lanes.setdefault(change.account or "", []).append(change)
    # Lanes that create an account wait on AWS (and on the 5-creations limit): start the
    # others first, so waiting creations never hold back changes to existing accounts.
    ordered = sorted(lanes.values(), key=lambda lane: isinstance(lane[0], plan.CreateAccount))
    outcomes: list[plan.Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        # Each lane runs in a copy of this context: log lines keep the pass id and revision.
        futures = [
            pool.submit(contextvars.copy_context().run, _lane, lane, context) for lane in ordered
        ]
        for future in futures:
            outcomes += future.result()
    return outcomes


def _lane(changes: list[plan.Change], context: Context) -> list[plan.Outcome]:
    """One account's changes in order; after a creation or access failure the rest is skipped."""
    outcomes: list[plan.Outcome] = []
    blocked = ""
    for change in changes:
        if blocked:
            outcomes.append(plan.Outcome(change, plan.Status.SKIPPED, blocked))
            continue
        outcome = _apply_one(change, context)
        outcomes.append(outcome)
        if outcome.blocks_account:
            blocked = f"not attempted: {outcome.error}"
    return outcomes


class _ShutdownError(ReconcilerError):
    """A change left at a safe point because the process is stopping."""


def _apply_one(change: plan.Change, context: Context) -> plan.Outcome:
    if context.stop.is_set():
        return plan.Outcome(change, plan.Status.SKIPPED, "not attempted: shutting down")
    try:
        _apply(change, context)
    except _ShutdownError as exc:
        return plan.Outcome(change, plan.Status.SKIPPED, str(exc))
    except AccessError as exc:
        return plan.Outcome(change, plan.Status.FAILED, f"access: {exc}", blocks_account=True)
    except ReconcilerError as exc:
        creation = isinstance(change, plan.CreateAccount)
        return plan.Outcome(change, plan.Status.FAILED, str(exc), blocks_account=creation)
    except Exception as exc:  # an answer we did not expect: fail this one
        log.exception("applying %s failed unexpectedly", change.line())
        return plan.Outcome(change, plan.Status.FAILED, f"unexpected {type(exc).__name__}: {exc}")
    return plan.Outcome(change, plan.Status.APPLIED)


@functools.singledispatch
def _apply(change: plan.Change, context: Context) -> None:
    raise NotImplementedError(f"no applier for {type(change).__name__}")


# --- units -------------------------------------------------------------------------------


@_apply.register
def _(change: plan.CreateUnit, context: Context) -> None:
    org = context.sessions.client("organizations")
    parent = context.unit_id(change.path[:-1])
    try:
        created = call(
            org,
            "create_organizational_unit",
            ParentId=parent,
            Name=change.path[-1],
            Tags=[{"Key": state.MARKER_KEY, "Value": state.MARKER_VALUE}],
        )
        unit_id = created["OrganizationalUnit"]["Id"]
    except AwsRequestError as exc:
        if exc.code != "DuplicateOrganizationalUnitException":
            raise
        unit_id = _find_unit(org, parent, change.path[-1])
    with context.lock:
        context.unit_ids[change.path] = unit_id


def _find_unit(org: Any, parent: str, name: str) -> str:
    units = pages(
        org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
    )
    return next(str(u["Id"]) for u in units if u["Name"] == name)


@_apply.register
def _(change: plan.DeleteUnit, context: Context) -> None:
    org = context.sessions.client("organizations")
    # AWS refuses to delete a unit that is not empty; check first rather than rely on it.
    children = [
        *pages(org, "list_accounts_for_parent", "Accounts", ParentId=change.unit_id),
        *pages(
            org,
            "list_organizational_units_for_parent",
            "OrganizationalUnits",
            ParentId=change.unit_id,
        ),
    ]
    if children:
        raise AwsRequestError(f"unit {change.target} is not empty; left in place")
    call(org, "delete_organizational_unit", OrganizationalUnitId=change.unit_id)


# --- accounts ------------------------------------------------------------------------------


@_apply.register
def _(change: plan.CreateAccount, context: Context) -> None:
    org = context.sessions.client("organizations")
    with context.creations:
        request_id = (
            change.request_id
            or call(
                org,
                "create_account",
                Email=change.email,
                AccountName=change.name,
                RoleName=change.bootstrap_role,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(change.tags.items())],
            )["CreateAccountStatus"]["Id"]
        )
        status = _wait_for_creation(org, request_id, context)
    if status["State"] != "SUCCEEDED":
        reason = status.get("FailureReason", "UNKNOWN")
        raise AwsRequestError(
            f"account {change.name} ({change.email}) could not be created: {reason}: "
            f"{_FAILURE_REASONS.get(reason, 'see the CreateAccount request ' + request_id)}",
            operation="organizations:CreateAccount",
            code=reason,
        )
    account_id = status["AccountId"]
    with context.lock:
        context.account_ids[change.name] = account_id
    if change.unit:
        call(
            org,
            "move_account",
            AccountId=account_id,
            SourceParentId=context.root_id,
            DestinationParentId=context.unit_id(change.unit),
        )
    _wait_for_access(context, account_id)


def _wait_for_creation(org: Any, request_id: str, context: Context) -> dict[str, Any]:
    """Poll a CreateAccount request until it ends, backing off; the lane waits, others go on."""
    deadline = time.monotonic() + CREATE_TIMEOUT
    delay = POLL_INTERVAL[0]
    while True:
        status: dict[str, Any] = call(
            org, "describe_create_account_status", CreateAccountRequestId=request_id
        )["CreateAccountStatus"]
        if status["State"] != "IN_PROGRESS":
            return status
        if time.monotonic() > deadline:
            raise AwsRequestError(f"CreateAccount request {request_id} still in progress")
        context.pause(delay, f"CreateAccount request {request_id} resumes next pass")
        delay = min(delay * 2, POLL_INTERVAL[1])


def _wait_for_access(context: Context, account_id: str) -> None:
    """A new account's bootstrap role can take a little while to become assumable."""
    deadline = time.monotonic() + NEW_ACCOUNT_ACCESS_WAIT
    while True:
        try:
            context.sessions.client("iam", account_id)
            return
        except AccessError:
            if time.monotonic() > deadline:
                raise
            context.pause(5, "its roles are made next pass")


@_apply.register
def _(change: plan.MoveAccount, context: Context) -> None:
    call(
        context.sessions.client("organizations"),
        "move_account",
        AccountId=change.account_id,
        SourceParentId=context.unit_id(change.source),
        DestinationParentId=context.unit_id(change.destination),
    )


@_apply.register
def _(change: plan.UpdateAccountTags, context: Context) -> None:
    org = context.sessions.client("organizations")
    changed = {k: v for k, v in change.after.items() if change.before.get(k) != v}
    removed = sorted(set(change.before) - set(change.after))
    if changed:
        tags = [{"Key": k, "Value": v} for k, v in sorted(changed.items())]
        call(org, "tag_resource", ResourceId=change.account_id, Tags=tags)
    if removed:
        call(org, "untag_resource", ResourceId=change.account_id, TagKeys=removed)


# --- roles ---------------------------------------------------------------------------------


def _iam(change: plan.RoleChange, context: Context) -> Any:
    return context.sessions.client(
        "iam", context.account_id(change.account_name, change.account_id)
    )


_MARKER_TAGS = [{"Key": state.MARKER_KEY, "Value": state.MARKER_VALUE}]


@_apply.register
def _(change: plan.CreateRole, context: Context) -> None:
    iam = _iam(change, context)
    role = change.definition
    try:
        call(
            iam,
            "create_role",
            RoleName=role.name,
            AssumeRolePolicyDocument=role.trust_policy,
            MaxSessionDuration=role.max_session_duration,
            Description="Access for people; managed by reconciler",
            Tags=_MARKER_TAGS,
        )
    except AwsRequestError as exc:
        if exc.code != "EntityAlreadyExists":
            raise
        # Created by an earlier pass that was interrupted: finish the job instead.
        call(iam, "update_assume_role_policy", RoleName=role.name, PolicyDocument=role.trust_policy)
        call(iam, "update_role", RoleName=role.name, MaxSessionDuration=role.max_session_duration)
        call(iam, "tag_role", RoleName=role.name, Tags=_MARKER_TAGS)
    for arn in sorted(role.policies):
        call(iam, "attach_role_policy", RoleName=role.name, PolicyArn=arn)
    for name, document in sorted(role.inline_policies.items()):
        call(iam, "put_role_policy", RoleName=role.name, PolicyName=name, PolicyDocument=document)


@_apply.register
def _(change: plan.UpdateRoleTrust, context: Context) -> None:
    call(
        _iam(change, context),
        "update_assume_role_policy",
        RoleName=change.role,
        PolicyDocument=change.after,
    )


@_apply.register
def _(change: plan.AttachRolePolicy, context: Context) -> None:
    call(
        _iam(change, context),
        "attach_role_policy",
        RoleName=change.role,
        PolicyArn=change.policy_arn,
    )


@_apply.register
def _(change: plan.DetachRolePolicy, context: Context) -> None:
    call(
        _iam(change, context),
        "detach_role_policy",
        RoleName=change.role,
        PolicyArn=change.policy_arn,
    )


@_apply.register
def _(change: plan.PutRoleInlinePolicy, context: Context) -> None:
    call(
        _iam(change, context),
        "put_role_policy",
        RoleName=change.role,
        PolicyName=change.policy_name,
        PolicyDocument=change.after,
    )


@_apply.register
def _(change: plan.DeleteRoleInlinePolicy, context: Context) -> None:
    call(
        _iam(change, context),
        "delete_role_policy",
        RoleName=change.role,
        PolicyName=change.policy_name,
    )


@_apply.register
def _(change: plan.UpdateRoleSession, context: Context) -> None:
    call(
        _iam(change, context), "update_role", RoleName=change.role, MaxSessionDuration=change.after
    )


@_apply.register
def _(change: plan.MarkRole, context: Context) -> None:
    call(_iam(change, context), "tag_role", RoleName=change.role, Tags=_MARKER_TAGS)


@_apply.register
def _(change: plan.DeleteRole, context: Context) -> None:
    iam = _iam(change, context)
    for attached in list(
        pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=change.role)
    ):
        call(iam, "detach_role_policy", RoleName=change.role, PolicyArn=attached["PolicyArn"])
    for name in list(pages(iam, "list_role_policies", "PolicyNames", RoleName=change.role)):
        call(iam, "delete_role_policy", RoleName=change.role, PolicyName=name)
    call(iam, "delete_role", RoleName=change.role)


# --- groups in the source account -------------------------------------------------------------


def _source_iam(context: Context) -> Any:
    return context.sessions.client("iam", context.source_account_id)


@_apply.register
def _(change: plan.CreateGroup, context: Context) -> None:
    iam = _source_iam(context)
    group = change.definition
    try:
        call(iam, "create_group", GroupName=group.name, Path=group.path)
    except AwsRequestError as exc:
        if exc.code != "EntityAlreadyExists":
            raise
    _put_grants(iam, group.name, group.grant_policy, context)


@_apply.register
def _(change: plan.PutGroupGrants, context: Context) -> None:
    _put_grants(_source_iam(context), change.group, change.after, context)


def _put_grants(iam: Any, group: str, document: str | None, context: Context) -> None:
    """Write the grant policy with every account id resolved. Grants on accounts that do not
    exist (their creation failed) are left out and reported, and the others still land."""
    if document is None:
        try:
            call(iam, "delete_group_policy", GroupName=group, PolicyName=state.GRANT_POLICY_NAME)
        except AwsRequestError as exc:
            if exc.code != "NoSuchEntity":
                raise
        return
    resolved, missing = _resolve(document, context)
    if resolved is not None:
        call(
            iam,
            "put_group_policy",
            GroupName=group,
            PolicyName=state.GRANT_POLICY_NAME,
            PolicyDocument=resolved,
        )
    if missing:
        raise AwsRequestError(
            f"grants on {', '.join(sorted(missing))} not written: account not created"
        )


def _resolve(document: str, context: Context) -> tuple[str | None, set[str]]:
    parsed = json.loads(document)
    missing: set[str] = set()
    arns: list[str] = []
    for statement in parsed["Statement"]:
        resources = statement["Resource"]
        for arn in [resources] if isinstance(resources, str) else resources:
            match = _PLACEHOLDER.match(arn)
            if match is None:
                arns.append(arn)
                continue
            with context.lock:
                account_id = context.account_ids.get(match.group(1))
            if account_id is None:
                missing.add(match.group(1))
            else:
                arns.append(_PLACEHOLDER.sub(f"arn:aws:iam::{account_id}:", arn))
    if not arns:
        return None, missing
    return policies.compact_json(policies.grant_policy(arns)), missing


@_apply.register
def _(change: plan.AddMember, context: Context) -> None:
    try:
        call(
            _source_iam(context), "add_user_to_group", GroupName=change.group, UserName=change.user
        )
    except AwsRequestError as exc:
        if exc.code == "NoSuchEntity":
            raise AwsRequestError(
                f"user {change.user} does not exist in the source account "
                f"{context.source_account_id}; create the IAM user first",
                code=exc.code,
            ) from exc
        raise


@_apply.register
def _(change: plan.RemoveMember, context: Context) -> None:
    call(
        _source_iam(context), "remove_user_from_group", GroupName=change.group, UserName=change.user
    )


@_apply.register
def _(change: plan.DeleteGroup, context: Context) -> None:
    iam = _source_iam(context)
    for user in list(pages(iam, "get_group", "Users", GroupName=change.group)):
        call(iam, "remove_user_from_group", GroupName=change.group, UserName=user["UserName"])
    for name in list(pages(iam, "list_group_policies", "PolicyNames", GroupName=change.group)):
        call(iam, "delete_group_policy", GroupName=change.group, PolicyName=name)
    for attached in list(
        pages(iam, "list_attached_group_policies", "AttachedPolicies", GroupName=change.group)
    ):
        call(iam, "detach_group_policy", GroupName=change.group, PolicyArn=attached["PolicyArn"])
    call(iam, "delete_group", GroupName=change.group)
