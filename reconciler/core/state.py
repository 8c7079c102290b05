"""One frozen model for the state of an organization, declared or live.

The declared state is built here from the document (`declared`); the live state is built by the
AWS readers. Both are plain values, so the diff compares two `OrgState`s without I/O. This
module imports nothing from the AWS, git or scheduler code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from reconciler.core import policies, spec

# The ownership marker: only resources carrying it are ever deleted. Its value names the
# instance (`--instance`), so two daemons sharing accounts never prune each other's resources:
# roles and units carry the tag managed-by=<instance>, groups live under the path /<instance>/.
MARKER_KEY = "managed-by"
DEFAULT_INSTANCE = "reconciler"
GROUP_PATH = f"/{DEFAULT_INSTANCE}/"
GRANT_POLICY_NAME = "reconciler-grants"
SERVICE_ROLE_PATH = "/aws-service-role/"  # service-linked roles: AWS's, never changed
ACTIVE = "ACTIVE"  # the one account state in which an account is read and changed


def group_path(instance: str) -> str:
    return f"/{instance}/"


UnitPath = tuple[str, ...]


@dataclass(frozen=True)
class Unit:
    path: UnitPath
    id: str = ""
    managed: bool = False


@dataclass(frozen=True)
class Role:
    """A role in one account. Policy documents are JSON text; compare them as `PolicyDocument`s."""

    name: str
    trust_policy: str
    policies: frozenset[str] = frozenset()
    inline_policies: Mapping[str, str] = field(default_factory=dict)
    max_session_duration: int = 3600
    managed: bool = False
    path: str = "/"  # live only: /aws-service-role/ marks a role AWS owns
    # Live only: when it was created (seconds since the epoch; 0 when not known). Not part of
    # what a role is: two reads of one role compare equal.
    created: float = field(default=0.0, compare=False)
    # Declared only: the document takes over a live role of this name made without the marker
    # (`adopt` on the template, or the account's `adopt_roles`).
    adopted: bool = False


@dataclass(frozen=True)
class Account:
    """An account. `roles` is None when its roles could not be read (see `OrgState.unreachable`).

    A declared account has `id` None until it exists; `create_request` names a CreateAccount
    request still in flight for it, which counts as the account (it is never requested twice).
    """

    name: str
    email: str
    id: str | None
    unit: UnitPath = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, Role] | None = field(default_factory=dict)
    create_request: str | None = None
    state: str = ACTIVE  # Organizations' account State: ACTIVE, SUSPENDED, PENDING_CLOSURE...
    joined: float = 0.0  # when it joined the organization (seconds since the epoch), if known
    failed_creation: str = ""  # declared only: why it is not requested again (see `declared`)


@dataclass(frozen=True)
class Group:
    """An IAM group in the source account; `grant_policy` is our inline policy's JSON text.

    `other_policies` (inline, by name) and `attached` (managed policy ARNs) are what else the
    group grants: a declared group grants only what the document says, so these are drift.
    """

    name: str
    path: str = GROUP_PATH
    grant_policy: str | None = None
    users: frozenset[str] = frozenset()
    other_policies: Mapping[str, str] = field(default_factory=dict)
    attached: frozenset[str] = frozenset()


@dataclass(frozen=True)
class UserPolicies:
    """The policies an IAM user of the source account holds itself (not through a group):
    inline ones by name (JSON text) and attached managed policy ARNs."""

    inline: Mapping[str, str] = field(default_factory=dict)
    attached: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FailedCreation:
    """The latest CreateAccount request for an account name that ended FAILED.

    `fingerprint` is that of the declaration it was sent for, recorded by the daemon that saw
    it fail ("" when none was recorded: another tool's request, or the record was lost).
    """

    request_id: str
    reason: str
    fingerprint: str = ""


@dataclass(frozen=True)
class OrgState:
    """Units by path, accounts, and the source account's groups and users.

    Live-only fields: `root_id`, `management_account_id`, `caller_account_id` (whose
    credentials read it), `unreachable` (account name -> why
    its roles could not be read) and `users` (the IAM users of the source account).
    """

    units: Mapping[UnitPath, Unit]
    accounts: tuple[Account, ...]
    groups: Mapping[str, Group]
    root_id: str = ""
    management_account_id: str = ""
    caller_account_id: str = ""
    caller_role: str = ""  # the role of the daemon's own credentials ("" for a user)
    unreachable: Mapping[str, str] = field(default_factory=dict)
    users: frozenset[str] = frozenset()
    source_unreachable: str = ""  # why the source account's groups could not be read
    partition: str = policies.DEFAULT_PARTITION  # of the credentials: ARNs are built in it
    failed_creations: Mapping[str, FailedCreation] = field(default_factory=dict)  # by name
    foreign_creations: int = 0  # CreateAccount requests in flight for no declared account
    # Who else may assume roles: users' own policies, and the documents (JSON text) of the
    # managed policies attached to the source account's users and groups, by ARN.
    user_policies: Mapping[str, UserPolicies] = field(default_factory=dict)
    managed_policies: Mapping[str, str] = field(default_factory=dict)
    unreadable_policies: Mapping[str, str] = field(default_factory=dict)  # ARN -> why

    def account_by_id(self) -> dict[str, Account]:
        return {a.id: a for a in self.accounts if a.id is not None}


def grant_policy_name(group: Group) -> str:
    """The name of the inline policy holding a live group's grants: ours, or, on a group made
    by hand that holds no other policy, its one inline policy, whatever it was named."""
    if group.grant_policy is None and not group.attached and len(group.other_policies) == 1:
        return next(iter(group.other_policies))
    return GRANT_POLICY_NAME


def role_of(caller_arn: str) -> str:
    """The role name in a caller ARN (`arn:aws:sts::1:assumed-role/NAME/session`), or ""."""
    resource = caller_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return rest.split("/", 1)[0] if kind == "assumed-role" else ""


def placeholder(account_name: str) -> str:
    """Stands for an account id not known until the account is created (`known after apply`)."""
    return f"<{account_name}>"


def declared(document: spec.Spec, live: OrgState, instance: str = DEFAULT_INSTANCE) -> OrgState:
    """The state the document declares, with account ids resolved against the live state.

    An account is the live one with its declared `id`, else the live one with its email, else
    a CreateAccount request in flight under its name; otherwise it is still to be created,
    unless its last request FAILED for this very declaration: then it carries the reason in
    `failed_creation` and is not requested again until the document changes it. Grants on it
    are left out meanwhile. ARNs are built in the live state's partition.
    """
    found = match_accounts(document, live.accounts)
    ids = {name: account.id for name, account in found.items() if account.id is not None}
    accounts = tuple(
        _declared_account(document, account, found.get(account.name), live)
        for account in document.accounts
    )
    blocked = {a.name for a in accounts if a.failed_creation}
    return OrgState(
        units={path: Unit(path) for path in spec.unit_paths(document.organization.units)},
        accounts=accounts,
        groups={
            g.name: _declared_group(g, document, ids, blocked, live.partition, instance)
            for g in document.groups
        },
        root_id=live.root_id,
        management_account_id=document.organization.management_account_id,
        partition=live.partition,
    )


def fingerprint(account: Account) -> str:
    """What identifies one declaration of an account for creation: a changed name, email,
    unit or tags is a new request. Short: it is stored as a tag value."""
    text = json.dumps(
        [account.name, account.email.lower(), list(account.unit), sorted(account.tags.items())]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def creation_record_key(instance: str, request_id: str) -> str:
    """The tag, on the organization's root, recording which declaration a CreateAccount
    request was sent for (its value: the declaration's fingerprint)."""
    return f"{instance}:creation:{request_id}"


def match_accounts(document: spec.Spec, live: Iterable[Account]) -> dict[str, Account]:
    """Declared account name -> the live account (or request in flight) that it is."""
    accounts = list(live)
    by_id = {a.id: a for a in accounts if a.id is not None}
    by_email = {a.email.lower(): a for a in accounts if a.email}
    by_request = {a.name: a for a in accounts if a.create_request and a.id is None}
    found = {}
    for account in document.accounts:
        match = (
            by_id.get(account.id)
            if account.id
            else by_email.get(account.email.lower()) or by_request.get(account.name)
        )
        if match is not None:
            found[account.name] = match
    return found


def _declared_account(
    document: spec.Spec, account: spec.Account, live: Account | None, org: OrgState
) -> Account:
    source = document.source_account_id
    roles = {}
    for name in document.role_names(account):
        template = document.role(name)
        roles[name] = Role(
            name=name,
            trust_policy=policies.compact_json(
                policies.trust_policy(
                    source, require_mfa=template.require_mfa, partition=org.partition
                )
            ),
            policies=frozenset(template.policies),
            inline_policies={
                policy: policies.compact_json(body)
                for policy, body in template.inline_policies.items()
            },
            max_session_duration=template.max_session_duration,
            managed=True,
            adopted=template.adopt or name.lower() in {r.lower() for r in account.adopt_roles},
        )
    result = Account(
        name=account.name,
        email=account.email,
        id=account.id or (live.id if live else None),
        unit=tuple(account.unit.split("/")) if account.unit else (),
        tags=dict(account.tags),
        roles=roles,
        create_request=live.create_request if live and live.id is None else None,
    )
    failed = org.failed_creations.get(account.name)
    if (
        live is None
        and failed
        and failed.reason not in PASSING_CREATION_FAILURES
        and failed.fingerprint == fingerprint(result)
    ):
        return replace(result, failed_creation=_failure_text(failed))
    return result


# CreateAccount's documented failure reasons, said so a person knows what to do.
CREATION_FAILURES = {
    "EMAIL_ALREADY_EXISTS": "the email address is already used by another AWS account",
    "ACCOUNT_LIMIT_EXCEEDED": "the organization has reached its account quota (ask AWS Support)",
    "INVALID_EMAIL": "AWS rejected the email address",
    "INVALID_ADDRESS": "AWS rejected the account's address",
    "CONCURRENT_ACCOUNT_MODIFICATION": (
        "a request with the same information was already made; the next pass tries again"
    ),
    "FAILED_BUSINESS_VALIDATION": "the management account failed AWS's business validation",
    "PENDING_BUSINESS_VALIDATION": "the management account awaits AWS's business validation",
    "MISSING_BUSINESS_VALIDATION": "the management account has not been validated by AWS",
    "MISSING_PAYMENT_INSTRUMENT": "the management account has no valid payment method",
    "INTERNAL_FAILURE": "AWS had an internal failure; the next pass tries again",
}


# Failures that may pass by themselves: requested again on the next pass.
PASSING_CREATION_FAILURES = frozenset({"INTERNAL_FAILURE", "CONCURRENT_ACCOUNT_MODIFICATION"})


def creation_failure(reason: str, request_id: str) -> str:
    """A FAILED CreateAccount request, in words."""
    explained = CREATION_FAILURES.get(reason, "see the request in the AWS console")
    return f"creation failed: {reason}: {explained} (request {request_id})"


def _failure_text(failed: FailedCreation) -> str:
    return (
        f"{creation_failure(failed.reason, failed.request_id)}; not requested again until "
        "the document changes this account"
    )


def _declared_group(
    group: spec.Group,
    document: spec.Spec,
    ids: Mapping[str, str],
    blocked: set[str],
    partition: str,
    instance: str,
) -> Group:
    accounts = {a.name: a for a in document.accounts}
    arns = [
        policies.role_arn(
            accounts[g.account].id or ids.get(g.account) or placeholder(g.account),
            g.role,
            partition,
        )
        for g in group.grants
        if g.account not in blocked
    ]
    policy = policies.compact_json(policies.grant_policy(arns)) if arns else None
    return Group(
        name=group.name,
        path=group_path(instance),
        grant_policy=policy,
        users=frozenset(group.users),
    )
