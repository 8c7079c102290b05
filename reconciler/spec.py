"""The desired-state document (see the README) as frozen pydantic models, and its cross-checks.

Pure: no file, network or AWS access. `load.py` reads the YAML and maps the errors raised here
back to lines and columns. Validation happens in two steps: the models check each value where
it stands (every such problem is reported at once), then `check_references` checks what one
part of the document says about another (names that must exist, be unique, or fit AWS quotas).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from reconciler import policies

# AWS limits the document must respect, cited where they are enforced.
MAX_UNIT_DEPTH = 5  # Organizations: OUs nest at most five levels below the root
MAX_ROLE_POLICIES = 10  # IAM: default quota of managed policies attached to one role
MAX_TAGS = 50  # Organizations: tags per account
# Sizes a grant before the account exists: ids are 12 characters. Each account gets its own
# placeholder (never a real id), or every uncreated account's ARN would collapse into one.
ACCOUNT_ID_PLACEHOLDER = "#{:011d}"

# ASCII and \Z: `\d` would take other scripts' digits, `$` a trailing newline.
_ACCOUNT_ID = re.compile(r"^\d{12}\Z", re.ASCII)
# The pattern CreateAccount enforces on Email, 6 to 64 characters.
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+\Z")
_IAM_NAME = re.compile(r"^[\w+=,.@-]+\Z", re.ASCII)  # IAM takes ASCII letters only
# Account names appear in CLI profile names, switch-role links and metric labels.
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+\Z", re.ASCII)
_TAG_TEXT = re.compile(r"^[\w\s+=.:/@-]*$")


def _account_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # Only a 12-digit number reads back as written: YAML drops leading zeros, and reads
        # `012345670123` as an octal number, so padding anything shorter would suggest a wrong id.
        exact = _ACCOUNT_ID.match(f"{value}")
        example = f'as "{value}"' if exact else 'like "123456789012"'
        raise ValueError(
            f"account id {value} must be quoted, {example}: "
            "YAML reads an unquoted number as an integer, losing leading zeros"
        )
    if isinstance(value, str) and not _ACCOUNT_ID.match(value):
        raise ValueError(f'account id {value!r} must be exactly 12 digits, like "123456789012"')
    return value


def _email(value: str) -> str:
    if not 6 <= len(value) <= 64 or not _EMAIL.match(value):
        raise ValueError(
            f"{value!r} is not an email address AWS accepts (name@domain.tld, 6 to 64 characters)"
        )
    return value


def _iam_name(limit: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not 1 <= len(value) <= limit or not _IAM_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid IAM {what} name: 1 to {limit} characters from "
                "letters, digits and + = , . @ _ -"
            )
        return value

    return AfterValidator(check)


def _account_name(value: str) -> str:
    if not 1 <= len(value) <= 50 or not _ACCOUNT_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid account name: 1 to 50 characters from letters, digits, "
            ". _ - (it is used in profile names and links), starting with a letter or digit"
        )
    return value


def _unit_name(value: str) -> str:
    if not 1 <= len(value) <= 128 or "/" in value or value != value.strip():
        raise ValueError(
            f"{value!r} is not a valid unit name: 1 to 128 characters, no '/' (it separates "
            "the parts of a unit path) and no leading or trailing spaces"
        )
    return value


def _policy_arn(value: str) -> str:
    if not _POLICY_ARN.match(value):
        raise ValueError(
            f"{value!r} is not a managed policy ARN, like arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
    return value


def _tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128 or not _TAG_TEXT.match(value) or value.startswith("aws:"):
        raise ValueError(
            f"tag key {value!r} is not allowed: 1 to 128 letters, digits, spaces and "
            "_ . : / = + - @, not starting with 'aws:'"
        )
    return value


def _tag_value(value: str) -> str:
    if len(value) > 256 or not _TAG_TEXT.match(value):
        raise ValueError(
            f"tag value {value!r} is not allowed: up to 256 letters, digits, spaces and "
            "_ . : / = + - @ (quote values YAML would read as numbers or booleans)"
        )
    return value


AccountId = Annotated[StrictStr, BeforeValidator(_account_id)]
Email = Annotated[StrictStr, AfterValidator(_email)]
AccountName = Annotated[StrictStr, AfterValidator(_account_name)]
UnitName = Annotated[StrictStr, AfterValidator(_unit_name)]
RoleName = Annotated[StrictStr, _iam_name(64, "role")]
GroupName = Annotated[StrictStr, _iam_name(128, "group")]
UserName = Annotated[StrictStr, _iam_name(64, "user")]
PolicyName = Annotated[StrictStr, _iam_name(128, "policy")]
PolicyArn = Annotated[StrictStr, AfterValidator(_policy_arn)]
TagKey = Annotated[StrictStr, AfterValidator(_tag_key)]
TagValue = Annotated[StrictStr, AfterValidator(_tag_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(_Model):
    """An organizational unit and the units nested in it."""

    name: UnitName
    units: tuple[Unit, ...] = ()


class Organization(_Model):
    management_account_id: AccountId
    bootstrap_role: RoleName = "OrganizationAccountAccessRole"
    units: tuple[Unit, ...] = ()


class RoleTemplate(_Model):
    """A role for people, created in every account that carries it."""

    name: RoleName
    policies: tuple[PolicyArn, ...] = Field(default=(), max_length=MAX_ROLE_POLICIES)
    inline_policies: dict[PolicyName, dict[str, Any]] = Field(default_factory=dict)
    require_mfa: StrictBool = True
    max_session_duration: StrictInt = Field(default=3600, ge=3600, le=43200)
    # Take over a live role of this name made without the daemon's marker, in every account.
    adopt: StrictBool = False


class Access(_Model):
    source_account_id: AccountId | None = None
    roles: tuple[RoleTemplate, ...] = ()


class Account(_Model):
    name: AccountName
    email: Email
    id: AccountId | None = None
    unit: StrictStr | None = None
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS)
    roles: tuple[RoleName, ...] | None = None
    # Roles of this account to take over although they were made without the daemon's marker.
    adopt_roles: tuple[RoleName, ...] = ()


class Grant(_Model):
    account: StrictStr
    role: StrictStr


class Group(_Model):
    name: GroupName
    users: tuple[UserName, ...] = ()
    grants: tuple[Grant, ...] = ()
    # Take over a live group of this name made outside the daemon's path (and its members).
    adopt: StrictBool = False


class Policy(_Model):
    prune: StrictBool = False
    max_changes: StrictInt = Field(default=50, ge=0)
    protected_accounts: tuple[StrictStr, ...] = ()


class Spec(_Model):
    """The whole document."""

    organization: Organization
    access: Access
    accounts: tuple[Account, ...] = ()
    groups: tuple[Group, ...] = ()
    policy: Policy = Field(default_factory=Policy)

    @property
    def source_account_id(self) -> str:
        """Where people's IAM users and groups live; the management account by default."""
        return self.access.source_account_id or self.organization.management_account_id

    def role_names(self, account: Account) -> tuple[str, ...]:
        """The role templates an account carries: its own list, or every template."""
        if account.roles is not None:
            return account.roles
        return tuple(role.name for role in self.access.roles)

    def role(self, name: str) -> RoleTemplate:
        return next(role for role in self.access.roles if role.name == name)

    def account(self, name: str) -> Account:
        return next(account for account in self.accounts if account.name == name)

    def is_protected(self, account: Account) -> bool:
        protected = set(self.policy.protected_accounts)
        return account.name in protected or (account.id is not None and account.id in protected)


Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def unit_paths(units: tuple[Unit, ...], parent: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every unit's path from the root, parents before children."""
    for unit in units:
        path = (*parent, unit.name)
        yield path
        yield from unit_paths(unit.units, path)


def check_references(spec: Spec) -> list[Problem]:
    """Problems that span parts of the document, each at the location of the offending value."""
    return [
        *_check_units(spec.organization.units, ("organization", "units")),
        *_check_roles(spec),
        *_check_accounts(spec),
        *_check_groups(spec),
        *_check_protected(spec),
    ]


def _check_units(units: tuple[Unit, ...], loc: Loc, depth: int = 1) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, unit in enumerate(units):
        here = (*loc, index)
        if unit.name in seen:
            yield (*here, "name"), f"unit {unit.name!r} appears twice under the same parent"
        seen.add(unit.name)
        if depth > MAX_UNIT_DEPTH:
            yield (
                (*here, "name"),
                f"unit {unit.name!r} is nested {depth} levels deep; "
                f"AWS allows at most {MAX_UNIT_DEPTH} levels below the root",
            )
            continue
        yield from _check_units(unit.units, (*here, "units"), depth + 1)


def _check_roles(spec: Spec) -> Iterator[Problem]:
    seen: set[str] = set()
    bootstrap = spec.organization.bootstrap_role
    for index, role in enumerate(spec.access.roles):
        loc: Loc = ("access", "roles", index, "name")
        if role.name.lower() in seen:  # IAM role names are unique case-insensitively
            yield loc, f"role {role.name!r} is declared twice (IAM names ignore case)"
        seen.add(role.name.lower())
        if role.name.lower() == bootstrap.lower():
            yield loc, _bootstrap_clash(role, bootstrap)


def _bootstrap_clash(role: RoleTemplate, bootstrap: str) -> str:
    if role.require_mfa:
        return (
            f"role {role.name!r} has the bootstrap role's name and requires MFA: the daemon "
            f"assumes {bootstrap!r} without MFA and would lock itself out of every account; "
            "give the people's role another name"
        )
    return (
        f"role {role.name!r} has the bootstrap role's name; the daemon never modifies "
        f"{bootstrap!r}, so give the people's role another name"
    )


def _check_accounts(spec: Spec) -> Iterator[Problem]:
    paths = {"/".join(path) for path in unit_paths(spec.organization.units)}
    templates = {role.name for role in spec.access.roles}
    names: set[str] = set()
    emails: set[str] = set()
    ids: set[str] = set()
    for index, account in enumerate(spec.accounts):
        loc: Loc = ("accounts", index)
        if account.name in names:
            yield (*loc, "name"), f"account name {account.name!r} is used twice"
        if account.email.lower() in emails:
            yield (*loc, "email"), f"email {account.email!r} is used by two accounts"
        if account.id is not None and account.id in ids:
            yield (*loc, "id"), f"account id {account.id!r} is declared twice"
        names.add(account.name)
        emails.add(account.email.lower())
        ids.update([account.id] if account.id else [])
        if account.unit is not None and account.unit not in paths:
            allowed = ", ".join(sorted(paths)) or "none are declared"
            yield (*loc, "unit"), f"unit {account.unit!r} is not in organization.units ({allowed})"
        for role_index, role in enumerate(account.roles or ()):
            if role not in templates:
                yield (*loc, "roles", role_index), _unknown("role", role, templates, "access.roles")
        carried = set(spec.role_names(account))
        for role_index, role in enumerate(account.adopt_roles):
            if role not in carried:
                yield (
                    (*loc, "adopt_roles", role_index),
                    f"account {account.name!r} does not carry role {role!r}, so there is "
                    "nothing of that name to adopt",
                )


def _check_groups(spec: Spec) -> Iterator[Problem]:
    accounts = {account.name: account for account in spec.accounts}
    seen: set[str] = set()
    for index, group in enumerate(spec.groups):
        loc: Loc = ("groups", index)
        if group.name.lower() in seen:
            yield (*loc, "name"), f"group {group.name!r} is declared twice (IAM names ignore case)"
        seen.add(group.name.lower())
        users_seen: set[str] = set()
        for user_index, user in enumerate(group.users):
            if user.lower() in users_seen:
                yield (*loc, "users", user_index), f"user {user!r} is listed twice"
            users_seen.add(user.lower())
        for grant_index, grant in enumerate(group.grants):
            yield from _check_grant(spec, accounts, grant, (*loc, "grants", grant_index))
        size = len(policies.compact_json(policies.grant_policy(_sized_arns(spec, group))))
        if size > policies.GROUP_INLINE_POLICY_LIMIT:
            yield (
                (*loc, "grants"),
                f"the grant policy of group {group.name!r} would be {size} characters; IAM "
                f"allows {policies.GROUP_INLINE_POLICY_LIMIT} per group: split its grants "
                "over several groups",
            )


def _check_grant(
    spec: Spec, accounts: dict[str, Account], grant: Grant, loc: Loc
) -> Iterator[Problem]:
    account = accounts.get(grant.account)
    if account is None:
        yield (*loc, "account"), _unknown("account", grant.account, set(accounts), "accounts")
        return
    carried = spec.role_names(account)
    if grant.role not in carried:
        yield (
            (*loc, "role"),
            f"account {grant.account!r} does not carry role {grant.role!r}; "
            f"it carries: {', '.join(carried) or 'no roles'}",
        )


def _sized_arns(spec: Spec, group: Group) -> list[str]:
    ids = {
        account.name: account.id or ACCOUNT_ID_PLACEHOLDER.format(index)
        for index, account in enumerate(spec.accounts)
    }
    return [policies.role_arn(ids[g.account], g.role) for g in group.grants if g.account in ids]


def _check_protected(spec: Spec) -> Iterator[Problem]:
    names = {account.name for account in spec.accounts}
    for index, entry in enumerate(spec.policy.protected_accounts):
        if entry not in names and not _ACCOUNT_ID.match(entry):
            yield (
                ("policy", "protected_accounts", index),
                f"{entry!r} is neither a declared account name nor a 12-digit account id",
            )


def _unknown(kind: str, name: str, known: set[str], where: str) -> str:
    choices = ", ".join(sorted(known)) or "none are declared"
    return f"{kind} {name!r} is not declared in {where} (declared: {choices})"
