"""One frozen model for the state of an organization, declared or live.

The declared state is built here from the document (`declared`); the live state is built by the
AWS readers. Both are plain values, so the diff compares two `OrgState`s without I/O. This
module imports nothing from the AWS, git or scheduler code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler import policies, spec

# The ownership marker (SPEC section 7): only resources carrying it are ever deleted.
MARKER_KEY = "managed-by"
MARKER_VALUE = "reconciler"
GROUP_PATH = "/reconciler/"
GRANT_POLICY_NAME = "reconciler-grants"

UnitPath = tuple[str, ...]


@dataclass(frozen=True)
class Unit:
    path: UnitPath
    id: str = ""
    managed: bool = False


@dataclass(frozen=True)
class Role:
    """A role in one account. Policy documents are JSON text; compare them with `canonical`."""

    name: str
    trust_policy: str
    policies: frozenset[str] = frozenset()
    inline_policies: Mapping[str, str] = field(default_factory=dict)
    max_session_duration: int = 3600
    managed: bool = False


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


@dataclass(frozen=True)
class Group:
    """An IAM group in the source account; `grant_policy` is our inline policy's JSON text."""

    name: str
    path: str = GROUP_PATH
    grant_policy: str | None = None
    users: frozenset[str] = frozenset()


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
    unreachable: Mapping[str, str] = field(default_factory=dict)
    users: frozenset[str] = frozenset()
    source_unreachable: str = ""  # why the source account's groups could not be read

    def account_by_id(self) -> dict[str, Account]:
        return {a.id: a for a in self.accounts if a.id is not None}


def placeholder(account_name: str) -> str:
    """Stands for an account id not known until the account is created (`known after apply`)."""
    return f"<{account_name}>"


def declared(document: spec.Spec, live: OrgState) -> OrgState:
    """The state the document declares, with account ids resolved against the live state.

    An account is the live one with its declared `id`, else the live one with its email, else
    a CreateAccount request in flight under its name; otherwise it is still to be created.
    """
    found = match_accounts(document, live.accounts)
    ids = {name: account.id for name, account in found.items() if account.id is not None}
    accounts = tuple(
        _declared_account(document, account, found.get(account.name))
        for account in document.accounts
    )
    return OrgState(
        units={path: Unit(path) for path in spec.unit_paths(document.organization.units)},
        accounts=accounts,
        groups={g.name: _declared_group(g, document, ids) for g in document.groups},
        root_id=live.root_id,
        management_account_id=document.organization.management_account_id,
    )


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


def _declared_account(document: spec.Spec, account: spec.Account, live: Account | None) -> Account:
    source = document.source_account_id
    roles = {}
    for name in document.role_names(account):
        template = document.role(name)
        roles[name] = Role(
            name=name,
            trust_policy=policies.compact_json(
                policies.trust_policy(source, require_mfa=template.require_mfa)
            ),
            policies=frozenset(template.policies),
            inline_policies={
                policy: policies.compact_json(body)
                for policy, body in template.inline_policies.items()
            },
            max_session_duration=template.max_session_duration,
            managed=True,
        )
    return Account(
        name=account.name,
        email=account.email,
        id=account.id or (live.id if live else None),
        unit=tuple(account.unit.split("/")) if account.unit else (),
        tags=dict(account.tags),
        roles=roles,
        create_request=live.create_request if live and live.id is None else None,
    )


def _declared_group(group: spec.Group, document: spec.Spec, ids: Mapping[str, str]) -> Group:
    accounts = {a.name: a for a in document.accounts}
    arns = [
        policies.role_arn(
            accounts[g.account].id or ids.get(g.account) or placeholder(g.account), g.role
        )
        for g in group.grants
    ]
    policy = policies.compact_json(policies.grant_policy(arns)) if arns else None
    return Group(name=group.name, grant_policy=policy, users=frozenset(group.users))
