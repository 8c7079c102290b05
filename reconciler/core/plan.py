"""Changes as typed values, the `Plan` that orders them, and the `Outcome` of applying one.

Pure data: `plan` renders a Plan, `apply` executes the same Plan. Each change is a frozen
dataclass carrying what it needs to be applied and its before and after, and knows how to
describe itself in one line. Nothing here performs I/O.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from reconciler.core import policies, state


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


@dataclass(frozen=True)
class Change:
    """Base of every change. `account` is the account's document name, when there is one."""

    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind] = Kind.ROLE
    stage: ClassVar[Stage] = Stage.ROLES
    # Order among the changes to one resource. A role: trust first (who may assume it is
    # settled before what it may do changes), then removals, then additions (IAM's quota of
    # 10 managed policies per role counts what is attached at each moment), then the session
    # duration and the marker. A group: removals before the grant policy (IAM's 5,120
    # characters count all of a group's inline policies).
    rank: ClassVar[int] = 0

    @property
    def account(self) -> str | None:
        return None

    @property
    def weight(self) -> int:
        """How many things this change does, for `policy.max_changes`: a deletion counts
        each member and policy it takes with it."""
        return 1

    @property
    def target(self) -> str:
        raise NotImplementedError

    def detail(self) -> str:
        raise NotImplementedError

    def line(self) -> str:
        return f"{SYMBOLS[self.action]} {self.kind} {self.target}: {self.detail()}"

    def sort_key(self) -> tuple[int, str, str, int, int, str]:
        # Deeper units first when deleting, so a parent is only removed once it is empty.
        depth = self.target.count("/")
        return (self.stage, self.account or "", self.target, self.rank, -depth, self.detail())


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


@dataclass(frozen=True)
class MoveAccount(Change):
    name: str
    account_id: str
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


@dataclass(frozen=True)
class UpdateAccountTags(Change):
    name: str
    account_id: str
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


@dataclass(frozen=True)
class RoleChange(Change):
    """A change to one role in one account; `account_id` is None until the account exists."""

    account_name: str
    account_id: str | None
    role: str

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
        mfa = (
            "MFA required"
            if '"aws:MultiFactorAuthPresent"' in self.definition.trust_policy
            else "no MFA"
        )
        names = ", ".join(sorted(arn.rsplit("/", 1)[-1] for arn in self.definition.policies))
        hours = self.definition.max_session_duration / 3600
        return f"create with {names or 'no policies'}, {mfa}, sessions up to {hours:g} h"


@dataclass(frozen=True)
class UpdateRoleTrust(RoleChange):
    before: str
    after: str
    rank = 1

    def detail(self) -> str:
        return "trust policy " + _trust_difference(self.before, self.after)


@dataclass(frozen=True)
class AttachRolePolicy(RoleChange):
    policy_arn: str
    rank = 3

    def detail(self) -> str:
        return f"attach {self.policy_arn}"


@dataclass(frozen=True)
class DetachRolePolicy(RoleChange):
    policy_arn: str
    rank = 2

    def detail(self) -> str:
        return f"detach {self.policy_arn} (not declared)"


@dataclass(frozen=True)
class PutRoleInlinePolicy(RoleChange):
    policy_name: str
    before: str | None
    after: str
    rank = 3

    def detail(self) -> str:
        verb = "add" if self.before is None else "rewrite"
        return f"{verb} inline policy {self.policy_name}"


@dataclass(frozen=True)
class DeleteRoleInlinePolicy(RoleChange):
    policy_name: str
    rank = 2

    def detail(self) -> str:
        return f"delete inline policy {self.policy_name} (not declared)"


@dataclass(frozen=True)
class UpdateRoleSession(RoleChange):
    before: int
    after: int
    rank = 4

    def detail(self) -> str:
        return f"max session duration {self.before} -> {self.after} s"


@dataclass(frozen=True)
class MarkRole(RoleChange):
    """Adoption: an existing role of the declared name is taken under management."""

    owner: str = state.DEFAULT_INSTANCE
    rank = 5

    def detail(self) -> str:
        return f"take under management (tag {state.MARKER_KEY}={self.owner})"


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


@dataclass(frozen=True)
class CreateGroup(Change):
    definition: state.Group
    action = Action.CREATE
    kind = Kind.GROUP
    stage = Stage.GROUPS

    @property
    def target(self) -> str:
        return self.definition.name

    def detail(self) -> str:
        count = len(grants_of(self.definition.grant_policy))
        return f"create at path {self.definition.path} granting {count} role(s)"


@dataclass(frozen=True)
class PutGroupGrants(Change):
    group: str
    before: str | None
    after: str | None
    kind = Kind.GROUP
    stage = Stage.GROUPS
    rank = 2

    @property
    def target(self) -> str:
        return self.group

    def detail(self) -> str:
        old, new = grants_of(self.before), grants_of(self.after)
        if old == new:
            return "rewrite the grant policy (same grants, other statements)"
        parts = [f"grant {arn}" for arn in sorted(new - old)]
        parts += [f"revoke {arn}" for arn in sorted(old - new)]
        return ", ".join(parts)


@dataclass(frozen=True)
class DeleteGroupInlinePolicy(Change):
    """An inline policy of a declared group that the document does not declare."""

    group: str
    policy_name: str
    document: str
    kind = Kind.GROUP
    stage = Stage.GROUPS
    rank = 1

    @property
    def target(self) -> str:
        return self.group

    def detail(self) -> str:
        return f"delete inline policy {self.policy_name} (not declared)"


@dataclass(frozen=True)
class DetachGroupPolicy(Change):
    """A managed policy attached to a declared group that the document does not declare."""

    group: str
    policy_arn: str
    kind = Kind.GROUP
    stage = Stage.GROUPS
    rank = 1

    @property
    def target(self) -> str:
        return self.group

    def detail(self) -> str:
        return f"detach {self.policy_arn} (not declared)"


@dataclass(frozen=True)
class MembershipChange(Change):
    """One user's membership of one group in the source account."""

    group: str
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


@dataclass(frozen=True)
class RemoveMember(MembershipChange):
    """A user in a declared group that the document does not list: access to revoke."""

    action = Action.DELETE

    def detail(self) -> str:
        return f"remove user {self.user} from group {self.group} (not declared)"


@dataclass(frozen=True)
class DeleteGroup(Change):
    """An undeclared group of ours, deleted under prune with what it still holds (the
    revocation changes planned alongside remove its members and policies first)."""

    group: str
    owner: str = state.DEFAULT_INSTANCE
    action = Action.DELETE
    kind = Kind.GROUP
    stage = Stage.PRUNE

    @property
    def target(self) -> str:
        return self.group

    def detail(self) -> str:
        path = state.group_path(self.owner)
        return f"delete the group (at path {path}, no longer declared)"


@dataclass(frozen=True)
class Withheld:
    """A change the diff found but a safety rail keeps from being applied."""

    change: Change
    reason: str


@dataclass(frozen=True)
class Plan:
    """The changes to make, sorted in apply order, and what the diff noticed but will not touch."""

    changes: tuple[Change, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    unmanaged: Mapping[Kind, tuple[str, ...]] = field(default_factory=dict)
    unreachable: Mapping[str, str] = field(default_factory=dict)

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
    error: str = ""
    blocks_account: bool = False
    deferred: bool = False  # not final: it waits on accounts this pass is still creating


def _identity(change: Change) -> str:
    return f"{type(change).__name__}|{change.target}|{change.detail()}"


def _tags(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _unit(path: state.UnitPath) -> str:
    return "/".join(path) or "(root)"


def grants_of(document: str | None) -> frozenset[str]:
    """The role ARNs a grant policy allows assuming."""
    if document is None:
        return frozenset()
    parsed = json.loads(policies.canonical(document))
    arns: set[str] = set()
    for statement in parsed.get("Statement", []):
        if isinstance(statement, dict) and statement.get("Effect") == "Allow":
            arns.update(str(r) for r in statement.get("Resource", []))
    return frozenset(arns)


def _trust_difference(before: str, after: str) -> str:
    """What differs between two trust policies, in words where a common case allows it."""
    mfa = '"aws:multifactorauthpresent"'
    had, has = mfa in policies.canonical(before).lower(), mfa in policies.canonical(after).lower()
    if had != has and _without_conditions(before) == _without_conditions(after):
        return "add the MFA condition" if has else "remove the MFA condition"
    return f"{policies.compact_json(policies.parse(before))} -> {after}"


def _without_conditions(document: str) -> str:
    parsed = json.loads(policies.canonical(document))
    for statement in parsed.get("Statement", []):
        if isinstance(statement, dict):
            statement.pop("Condition", None)
    return json.dumps(parsed, sort_keys=True)
