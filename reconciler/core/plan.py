"""Changes as typed values, the `Plan` that orders them, and the `Outcome` of applying one.

Pure data: `plan` renders a Plan, `apply` executes the same Plan. Each change is a frozen
dataclass carrying what it needs to be applied and its before and after, and knows how to
describe itself in one line and show its before and after as JSON values (`states`). Nothing
here performs I/O.
"""

from __future__ import annotations

import abc
import enum
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reconciler.core import policies, state
from reconciler.core.errors import ReconcilerError


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Kind(enum.StrEnum):
    """Resource kinds, as used in plans and in the `kind` metric label."""

    ACCOUNT = "account"
    UNIT = "unit"
    ROLE = "role"
    GROUP = "group"
    MEMBERSHIP = "membership"
    TAG = "tag"


class Stage(enum.IntEnum):
    """Dependency order of apply: each stage may rely on everything before it."""

    UNITS = 1
    ACCOUNTS = 2
    PLACEMENT = 3  # moves and tags
    ROLES = 4
    GROUPS = 5
    MEMBERSHIPS = 6
    PRUNE = 7  # deletions, after everything that might still refer to what is deleted


SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-"}
# The `Plan.unreachable` entry for the source account, whose groups and users were not read.
SOURCE_ACCOUNT = "source account"


class _NoAccountId:
    """`Change.account_id` of a change that carries none: None.

    Not a property: an instance value cannot shadow a property, so the `account_id` field of
    the changes that carry one could not be set. This descriptor only answers reads, and an
    instance's own value takes precedence over it. Those fields are declared
    `account_id: str = field()`, or dataclasses would take this descriptor for their default.
    """

    def __get__(self, instance: object, owner: type | None = None) -> str | None:
        return None


# A JSON value: what the machine-readable plan shows as a change's before and after.
Json = Any
# Told (done, total) as a pass reads accounts or applies changes: a progress line's source.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Change(abc.ABC):
    """Base of every change. `account` is the account's document name, when there is one;
    `account_id` its id, when the change carries one; `group_name` the group it changes."""

    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind]
    stage: ClassVar[Stage]
    # Order among the changes to one resource. A role: trust first (who may assume it is
    # settled before what it may do changes), then removals, then additions (IAM's quota of
    # 10 managed policies per role counts what is attached at each moment), then the session
    # duration and the marker. A group: removals before the grant policy (IAM's 5,120
    # characters count all of a group's inline policies).
    rank: ClassVar[int] = 0

    account_id = _NoAccountId()

    @property
    def account(self) -> str | None:
        return None

    @property
    def group_name(self) -> str | None:
        return None

    @property
    def weight(self) -> int:
        """How many things this change does, for `policy.max_changes`: a deletion counts
        each member and policy it takes with it."""
        return 1

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """The resource changed, as the plan names it."""

    @abc.abstractmethod
    def detail(self) -> str:
        """What the change does to its target, in words."""

    @abc.abstractmethod
    def states(self) -> tuple[Json, Json]:
        """What is there before and after the change, as JSON values (None for nothing)."""

    def line(self) -> str:
        return f"{SYMBOLS[self.action]} {self.kind} {self.target}: {self.detail()}"

    def policy_texts(self) -> tuple[str | None, str | None] | None:
        """The policy document (JSON text) before and after, for a change that rewrites one:
        plans show those as a line diff. None for every other change."""
        return None

    def sort_key(self) -> tuple[int, str, str, int, int, str]:
        # By stage, account, resource and rank; units order by depth instead (see theirs).
        return (self.stage, self.account or "", self.target, self.rank, 0, self.detail())


@dataclass(frozen=True)
class CreateUnit(Change):
    path: state.UnitPath
    action = Action.CREATE
    kind = Kind.UNIT
    stage = Stage.UNITS

    @property
    def target(self) -> str:
        return "/".join(self.path)

    def detail(self) -> str:
        parent = "/".join(self.path[:-1]) or "the root"
        return f"create under {parent}"

    def states(self) -> tuple[Json, Json]:
        return None, {"path": list(self.path)}

    def sort_key(self) -> tuple[int, str, str, int, int, str]:
        return (self.stage, "", "", 0, len(self.path), self.target)


@dataclass(frozen=True)
class DeleteUnit(Change):
    path: state.UnitPath
    unit_id: str
    action = Action.DELETE
    kind = Kind.UNIT
    stage = Stage.PRUNE

    @property
    def target(self) -> str:
        return "/".join(self.path)

    def detail(self) -> str:
        return "delete the empty unit, no longer declared"

    def states(self) -> tuple[Json, Json]:
        return {"path": list(self.path), "id": self.unit_id}, None

    def sort_key(self) -> tuple[int, str, str, int, int, str]:
        return (self.stage, "~", "", 0, -len(self.path), self.target)


@dataclass(frozen=True)
class CreateAccount(Change):
    name: str
    email: str
    unit: state.UnitPath
    tags: Mapping[str, str]
    bootstrap_role: str
    request_id: str | None = None
    # Bookkeeping, not what the change does: the fingerprint of this declaration, recorded if
    # the request fails, and a recorded failed request this one supersedes.
    fingerprint: str = field(default="", compare=False)
    earlier_failure: str | None = field(default=None, compare=False)
    action = Action.CREATE
    kind = Kind.ACCOUNT
    stage = Stage.ACCOUNTS

    @property
    def account(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        return self.name

    def detail(self) -> str:
        where = "/".join(self.unit) or "the root"
        text = f"create with email {self.email} in {where}"
        if self.tags:
            text += ", tags " + _tags(self.tags)
        if self.request_id:
            text += f" (creation already in progress, request {self.request_id})"
        return text

    def states(self) -> tuple[Json, Json]:
        after = {"email": self.email, "unit": list(self.unit), "tags": dict(self.tags)}
        return None, {**after, "request_id": self.request_id}


@dataclass(frozen=True)
class MoveAccount(Change):
    name: str
    account_id: str = field()
    source: state.UnitPath
    destination: state.UnitPath
    kind = Kind.ACCOUNT
    stage = Stage.PLACEMENT

    @property
    def account(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        return self.name

    def detail(self) -> str:
        return f"move {_unit(self.source)} -> {_unit(self.destination)}"

    def states(self) -> tuple[Json, Json]:
        return {"unit": list(self.source)}, {"unit": list(self.destination)}


@dataclass(frozen=True)
class UpdateAccountTags(Change):
    name: str
    account_id: str = field()
    before: Mapping[str, str]
    after: Mapping[str, str]
    kind = Kind.TAG
    stage = Stage.PLACEMENT

    @property
    def account(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        return self.name

    def detail(self) -> str:
        parts = []
        for key in sorted(set(self.before) | set(self.after)):
            old, new = self.before.get(key), self.after.get(key)
            if old == new:
                continue
            if old is None:
                parts.append(f"add {key}={new!r}")
            elif new is None:
                parts.append(f"remove {key}={old!r}")
            else:
                parts.append(f"{key} {old!r} -> {new!r}")
        return ", ".join(parts)

    def states(self) -> tuple[Json, Json]:
        return dict(self.before), dict(self.after)


@dataclass(frozen=True)
class RoleChange(Change):
    """A change to one role in one account; `account_id` is None until the account exists."""

    account_name: str
    account_id: str | None = field()
    role: str
    kind = Kind.ROLE
    stage = Stage.ROLES

    @property
    def account(self) -> str:
        return self.account_name

    @property
    def target(self) -> str:
        return f"{self.account_name}/{self.role}"


@dataclass(frozen=True)
class CreateRole(RoleChange):
    definition: state.Role
    action = Action.CREATE

    def detail(self) -> str:
        trust = policies.PolicyDocument.of(self.definition.trust_policy)
        mfa = "MFA required" if trust.requires_mfa else "no MFA"
        names = ", ".join(sorted(arn.rsplit("/", 1)[-1] for arn in self.definition.policies))
        hours = self.definition.max_session_duration / 3600
        return f"create with {names or 'no policies'}, {mfa}, sessions up to {hours:g} h"

    def states(self) -> tuple[Json, Json]:
        role = self.definition
        return None, {
            "trust_policy": _document(role.trust_policy),
            "policies": sorted(role.policies),
            "inline_policies": {n: _document(d) for n, d in sorted(role.inline_policies.items())},
            "max_session_duration": role.max_session_duration,
        }


@dataclass(frozen=True)
class UpdateRoleTrust(RoleChange):
    before: str
    after: str
    rank = 1

    def detail(self) -> str:
        return "trust policy " + _trust_difference(self.before, self.after)

    def policy_texts(self) -> tuple[str | None, str | None]:
        return self.before, self.after

    def states(self) -> tuple[Json, Json]:
        return _document(self.before), _document(self.after)


@dataclass(frozen=True)
class AttachRolePolicy(RoleChange):
    policy_arn: str
    rank = 3

    def detail(self) -> str:
        return f"attach {self.policy_arn}"

    def states(self) -> tuple[Json, Json]:
        return None, self.policy_arn


@dataclass(frozen=True)
class DetachRolePolicy(RoleChange):
    policy_arn: str
    rank = 2

    def detail(self) -> str:
        return f"detach {self.policy_arn} (not declared)"

    def states(self) -> tuple[Json, Json]:
        return self.policy_arn, None


@dataclass(frozen=True)
class PutRoleInlinePolicy(RoleChange):
    policy_name: str
    before: str | None
    after: str
    rank = 3

    def detail(self) -> str:
        verb = "add" if self.before is None else "rewrite"
        return f"{verb} inline policy {self.policy_name}"

    def policy_texts(self) -> tuple[str | None, str | None]:
        return self.before, self.after

    def states(self) -> tuple[Json, Json]:
        return _document(self.before), _document(self.after)


@dataclass(frozen=True)
class DeleteRoleInlinePolicy(RoleChange):
    policy_name: str
    rank = 2

    def detail(self) -> str:
        return f"delete inline policy {self.policy_name} (not declared)"

    def states(self) -> tuple[Json, Json]:
        return {"policy_name": self.policy_name}, None


@dataclass(frozen=True)
class UpdateRoleSession(RoleChange):
    before: int
    after: int
    rank = 4

    def detail(self) -> str:
        return f"max session duration {self.before} -> {self.after} s"

    def states(self) -> tuple[Json, Json]:
        return self.before, self.after


@dataclass(frozen=True)
class MarkRole(RoleChange):
    """Adoption: an existing role of the declared name is taken under management."""

    owner: str = state.DEFAULT_INSTANCE
    rank = 5

    def detail(self) -> str:
        return f"take under management (tag {state.MARKER_KEY}={self.owner})"

    def states(self) -> tuple[Json, Json]:
        return None, {state.MARKER_KEY: self.owner}


@dataclass(frozen=True)
class DeleteRole(RoleChange):
    owner: str = state.DEFAULT_INSTANCE
    policies: int = 0  # managed and inline policies removed with it
    action = Action.DELETE
    stage = Stage.PRUNE

    @property
    def weight(self) -> int:
        return 1 + self.policies

    def detail(self) -> str:
        noun = "policy" if self.policies == 1 else "policies"
        taken = f" with {self.policies} {noun}" if self.policies else ""
        return f"delete{taken} (carries {state.MARKER_KEY}={self.owner}, no longer declared)"

    def states(self) -> tuple[Json, Json]:
        return {state.MARKER_KEY: self.owner, "policies": self.policies}, None


@dataclass(frozen=True)
class CreateGroup(Change):
    definition: state.Group
    action = Action.CREATE
    kind = Kind.GROUP
    stage = Stage.GROUPS

    @property
    def target(self) -> str:
        return self.definition.name

    @property
    def group_name(self) -> str:
        return self.definition.name

    def detail(self) -> str:
        count = len(grants_of(self.definition.grant_policy))
        return f"create at path {self.definition.path} granting {count} role(s)"

    def states(self) -> tuple[Json, Json]:
        group = self.definition
        return None, {
            "path": group.path,
            "grant_policy": _document(group.grant_policy),
            "users": sorted(group.users),
        }


@dataclass(frozen=True)
class GroupChange(Change):
    """A change to one IAM group of the source account: its policies, or the group itself."""

    group: str
    kind = Kind.GROUP
    stage = Stage.GROUPS

    @property
    def target(self) -> str:
        return self.group

    @property
    def group_name(self) -> str:
        return self.group


@dataclass(frozen=True)
class PutGroupGrants(GroupChange):
    before: str | None
    after: str | None
    rank = 2

    def detail(self) -> str:
        old, new = grants_of(self.before), grants_of(self.after)
        if old == new:
            return "rewrite the grant policy (same grants, other statements)"
        parts = [f"grant {arn}" for arn in sorted(new - old)]
        parts += [f"revoke {arn}" for arn in sorted(old - new)]
        return ", ".join(parts)

    def policy_texts(self) -> tuple[str | None, str | None]:
        return self.before, self.after

    def states(self) -> tuple[Json, Json]:
        return _document(self.before), _document(self.after)


@dataclass(frozen=True)
class DeleteGroupInlinePolicy(GroupChange):
    """An inline policy of a declared group that the document does not declare."""

    policy_name: str
    document: str
    rank = 1

    def detail(self) -> str:
        return f"delete inline policy {self.policy_name} (not declared)"

    def policy_texts(self) -> tuple[str | None, str | None]:
        return self.document, None

    def states(self) -> tuple[Json, Json]:
        return {"policy_name": self.policy_name, "document": _document(self.document)}, None


@dataclass(frozen=True)
class DetachGroupPolicy(GroupChange):
    """A managed policy attached to a declared group that the document does not declare."""

    policy_arn: str
    rank = 1

    def detail(self) -> str:
        return f"detach {self.policy_arn} (not declared)"

    def states(self) -> tuple[Json, Json]:
        return self.policy_arn, None


@dataclass(frozen=True)
class MembershipChange(GroupChange):
    """One user's membership of one group in the source account."""

    user: str
    kind = Kind.MEMBERSHIP
    stage = Stage.MEMBERSHIPS

    @property
    def target(self) -> str:
        return f"{self.group}/{self.user}"


@dataclass(frozen=True)
class AddMember(MembershipChange):
    user_exists: bool = True  # False: no such IAM user in the source account (yet)
    action = Action.CREATE

    def detail(self) -> str:
        text = f"add user {self.user} to group {self.group}"
        if not self.user_exists:
            return text + " (no such IAM user in the source account: create it first)"
        return text

    def states(self) -> tuple[Json, Json]:
        return None, self.user


@dataclass(frozen=True)
class RemoveMember(MembershipChange):
    """A user in a declared group that the document does not list: access to revoke."""

    action = Action.DELETE

    def detail(self) -> str:
        return f"remove user {self.user} from group {self.group} (not declared)"

    def states(self) -> tuple[Json, Json]:
        return self.user, None


@dataclass(frozen=True)
class DeleteGroup(GroupChange):
    """An undeclared group of ours, deleted under prune with what it still holds (the
    revocation changes planned alongside remove its members and policies first)."""

    owner: str = state.DEFAULT_INSTANCE
    action = Action.DELETE
    stage = Stage.PRUNE

    def detail(self) -> str:
        path = state.group_path(self.owner)
        return f"delete the group (at path {path}, no longer declared)"

    def states(self) -> tuple[Json, Json]:
        return {"path": state.group_path(self.owner)}, None


@dataclass(frozen=True)
class Withheld:
    """A change the diff found but a safety rail keeps from being applied."""

    change: Change
    reason: str


class AccessAction(enum.StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True, order=True)
class AccessChange:
    """One (user, account, role) pair the plan grants or revokes: its access effect.

    `group` is the group the access comes through (after the plan for a grant, before it for
    a revocation); `mfa` whether assuming the role asks for MFA.
    """

    account: str
    role: str
    user: str
    change: AccessAction
    group: str
    account_id: str | None
    mfa: bool

    def line(self) -> str:
        symbol = "+" if self.change == AccessAction.GRANT else "-"
        mfa = " (MFA)" if self.mfa else ""
        return f"{symbol} {self.user} -> {self.account} as {self.role}{mfa}"


@dataclass(frozen=True, order=True)
class Finding:
    """Something live that the document does not declare and apply will not change, which a
    reviewer must see. Kind "access": `users` can assume the managed role `resource` in
    `account` through a group or user policy the document does not declare (`detail` says
    which)."""

    kind: str
    account: str
    resource: str
    detail: str
    users: tuple[str, ...] = ()

    def line(self) -> str:
        return f"! {self.kind} {self.account}/{self.resource}: {self.detail}"


@dataclass(frozen=True)
class Cause:
    """Who made a resource drift, and when: the `userIdentity.arn` and `eventTime` of the AWS
    change event (CloudTrail, through EventBridge) that reported the hand-made change."""

    actor: str
    time: str
    event: str = ""  # the API call, e.g. UpdateAssumeRolePolicy

    def text(self) -> str:
        return f"made by {self.actor} at {self.time}"


def resource_of(change: Change) -> str:
    """The resource a change is to, as events name resources: a role in an account, a group
    of the source account (its memberships included), an account's place, or a unit. IAM
    names ignore case, so role and group names are folded."""
    if isinstance(change, RoleChange):
        return f"role {change.account_name}/{change.role.lower()}"
    if change.group_name is not None:
        return f"group {change.group_name.lower()}"
    if change.kind is Kind.UNIT:
        return f"unit {change.target}"
    return f"account {change.target}"  # an account change's target is the account's name


@dataclass(frozen=True)
class Plan:
    """The changes to make, sorted in apply order, and what the diff noticed but will not touch.

    `access` is the plan's access effect and `findings` the live access it leaves undeclared
    (see `access.review`)."""

    changes: tuple[Change, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    unmanaged: Mapping[Kind, tuple[str, ...]] = field(default_factory=dict)
    unreachable: Mapping[str, str] = field(default_factory=dict)
    access: tuple[AccessChange, ...] = ()
    findings: tuple[Finding, ...] = ()
    causes: Mapping[str, Cause] = field(default_factory=dict)  # by `resource_of` a change

    @classmethod
    def of(cls, changes: list[Change], **rest: object) -> Plan:
        unique = {_identity(c): c for c in changes}
        ordered = tuple(sorted(unique.values(), key=lambda c: c.sort_key()))
        return cls(changes=ordered, **rest)  # type: ignore[arg-type]

    def counts(self) -> Counter[Action]:
        return Counter(change.action for change in self.changes)

    @property
    def size(self) -> int:
        """What the plan does, counted as `policy.max_changes` counts it."""
        return sum(change.weight for change in self.changes)

    def summary(self) -> str:
        counts = self.counts()
        return (
            f"Plan: {counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to update, "
            f"{counts[Action.DELETE]} to delete."
        )

    @property
    def empty(self) -> bool:
        return not self.changes and not self.withheld

    def cause_of(self, change: Change) -> Cause | None:
        """Who made the drift this change corrects, when an AWS change event told it."""
        return self.causes.get(resource_of(change))

    def line(self, change: Change) -> str:
        """The change's line, followed by who made the drift and when, if that is known."""
        cause = self.cause_of(change)
        return change.line() if cause is None else f"{change.line()} ({cause.text()})"


class Status(enum.StrEnum):
    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one change. `blocks_account`: the account cannot be worked on further
    in this pass (it was not created, or its credentials were refused)."""

    change: Change
    status: Status
    error: ReconcilerError | None = None
    blocks_account: bool = False
    deferred: bool = False  # not final: it waits on accounts this pass is still creating

    @property
    def reason(self) -> str:
        """The error in words, "" when there is none."""
        return "" if self.error is None else str(self.error)

    @property
    def error_class(self) -> str:
        """The error's class name, a bounded label for metrics ("" when there is none)."""
        return "" if self.error is None else type(self.error).__name__


def _identity(change: Change) -> str:
    return f"{type(change).__name__}|{change.target}|{change.detail()}"


def _tags(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _unit(path: state.UnitPath) -> str:
    return "/".join(path) or "(root)"


def grants_of(document: str | None) -> frozenset[str]:
    """The role ARNs a grant policy allows assuming."""
    return frozenset() if document is None else policies.PolicyDocument.of(document).grants


def _document(text: str | None) -> Json:
    return None if text is None else policies.PolicyDocument.of(text).value


def _trust_difference(before: str, after: str) -> str:
    """What differs between two trust policies, in words where a common case allows it."""
    old, new = policies.PolicyDocument.of(before), policies.PolicyDocument.of(after)
    if old.requires_mfa != new.requires_mfa and (
        old.without_conditions() == new.without_conditions()
    ):
        return "add the MFA condition" if new.requires_mfa else "remove the MFA condition"
    return f"{old.text} -> {after}"
