"""The desired-state document (see the README) as frozen pydantic models, and its cross-checks.

Pure: no file, network or AWS access. `load.py` reads the YAML and maps the errors raised here
back to lines and columns. Validation happens in two steps: the models check each value where
it stands (every such problem is reported at once), then `check_inline_policies` checks the
policy documents the models hold as plain mappings, and `check_references` checks what one
part of the document says about another (names that must exist, be unique, or fit AWS quotas).
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
)

from reconciler.core import policies

# AWS limits the document must respect, cited where they are enforced.
MAX_UNIT_DEPTH = 5  # Organizations: OUs nest at most five levels below the root
MAX_ROLE_POLICIES = 10  # IAM: default quota of managed policies attached to one role
MAX_TAGS = 50  # Organizations: tags per account
ROLE_INLINE_POLICY_LIMIT = 10_240  # IAM: all inline policies of one role, without whitespace
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
_TAG_TEXT = re.compile(r"^[\w\s+=.:/@-]*\Z")
# What CreateAccount accepts is wider, but the root user's password reset goes to this address:
# a lookalike domain (Cyrillic U+0430 for Latin 'a') would hand the account to whoever holds it.
_PRINTABLE_ASCII = re.compile(r"^[ -~]*\Z")
# Unicode categories that show nothing, or change how what follows is shown: controls (Cc),
# format characters such as U+200B or U+202E (Cf), line and paragraph separators (Zl, Zp).
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})

# Roles that AWS services create and rely on in member accounts; reconciler must never change
# them, so no role template or adoption may name them. IAM role names ignore case.
AWS_SERVICE_ROLE_NAMES = frozenset(
    {
        "AWSControlTowerExecution",  # Control Tower administers enrolled accounts through it
        "AWSCloudFormationStackSetExecutionRole",  # self-managed StackSets deploy through it
    }
)
AWS_SERVICE_ROLE_PREFIXES = (
    "AWSReservedSSO_",  # IAM Identity Center's permission sets
    "stacksets-exec-",  # service-managed StackSets
    "cdk-",  # CDK bootstrap roles
)
_SERVICE_NAMES = frozenset(name.lower() for name in AWS_SERVICE_ROLE_NAMES)
_SERVICE_PREFIXES = tuple(prefix.lower() for prefix in AWS_SERVICE_ROLE_PREFIXES)


def is_aws_service_role(name: str) -> bool:
    """Whether `name` is, ignoring case as IAM does, a role an AWS service relies on."""
    folded = name.lower()
    return folded in _SERVICE_NAMES or folded.startswith(_SERVICE_PREFIXES)


def _visible(value: str) -> str:
    """Refuse characters a reader cannot see: a name must look like what it is."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in _HIDDEN:
            name = unicodedata.name(char, "a control character")
            raise ValueError(
                f"{value!r} contains an invisible or control character at position {index + 1} "
                f"(U+{ord(char):04X}, {name}): a name must show all it holds"
            )
    return value


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
    if not _PRINTABLE_ASCII.match(value):
        raise ValueError(
            f"email {value!r} must be ASCII: the root user's password reset goes to it, and a "
            "lookalike letter from another script names a different domain"
        )
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
    # Organizations takes any text; ASCII keeps lookalike units (Cyrillic U+0410 for 'A') apart.
    if (
        not 1 <= len(value) <= 128
        or "/" in value
        or value != value.strip()
        or not _PRINTABLE_ASCII.match(value)
    ):
        raise ValueError(
            f"{value!r} is not a valid unit name: 1 to 128 printable ASCII characters, no '/' "
            "(it separates the parts of a unit path) and no leading or trailing spaces"
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


# Every name is checked for hidden characters first, so that is the message a person reads.
Text = Annotated[StrictStr, AfterValidator(_visible)]
AccountId = Annotated[StrictStr, BeforeValidator(_account_id)]
Email = Annotated[Text, AfterValidator(_email)]
AccountName = Annotated[Text, AfterValidator(_account_name)]
UnitName = Annotated[Text, AfterValidator(_unit_name)]
RoleName = Annotated[Text, _iam_name(64, "role")]
GroupName = Annotated[Text, _iam_name(128, "group")]
UserName = Annotated[Text, _iam_name(64, "user")]
PolicyName = Annotated[Text, _iam_name(128, "policy")]
PolicyArn = Annotated[Text, AfterValidator(_policy_arn)]
TagKey = Annotated[Text, AfterValidator(_tag_key)]
TagValue = Annotated[Text, AfterValidator(_tag_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(_Model):
    """An organizational unit and the units nested in it."""

    name: UnitName = Field(
        description="The unit's name, unique among its siblings; accounts name it in a path "
        "from the root, like Clients/Acme."
    )
    roles: tuple[RoleName, ...] = Field(
        default=(),
        description="Role templates (access.roles) that every account in this unit or in a "
        "unit nested in it carries, besides the account's own roles. Default: none.",
    )
    units: tuple[Unit, ...] = Field(
        default=(), description="Units nested in this one. Default: none."
    )


class Organization(_Model):
    """The organization: its management account, the daemon's way in, and its units."""

    management_account_id: AccountId = Field(
        description="The 12-digit id of the management account, quoted; apply refuses "
        "credentials of another organization."
    )
    bootstrap_role: RoleName = Field(
        default="OrganizationAccountAccessRole",
        description="The role the daemon assumes in member accounts; it is never read or "
        "changed. Default: OrganizationAccountAccessRole.",
    )
    units: tuple[Unit, ...] = Field(
        default=(), description="The organizational units under the root. Default: none."
    )


class RoleTemplate(_Model):
    """A role for people, created in every account that carries it."""

    name: RoleName = Field(description="The IAM role's name, unique ignoring case.")
    policies: tuple[PolicyArn, ...] = Field(
        default=(),
        max_length=MAX_ROLE_POLICIES,
        description=f"ARNs of managed policies attached to the role, at most "
        f"{MAX_ROLE_POLICIES}. Default: none.",
    )
    inline_policies: dict[PolicyName, dict[str, Any]] = Field(
        default_factory=dict,
        description="IAM policy documents embedded in the role, by policy name; "
        f"{ROLE_INLINE_POLICY_LIMIT} characters in all. Default: none.",
    )
    require_mfa: StrictBool = Field(
        default=True,
        description="Whether assuming the role requires MFA (a condition in its trust "
        "policy). Default: true.",
    )
    max_session_duration: StrictInt = Field(
        default=3600,
        ge=3600,
        le=43200,
        description="The longest session, in seconds, from 3600 to 43200. Default: 3600.",
    )
    adopt: StrictBool = Field(
        default=False,
        description="Take over a live role of this name made without the daemon's marker, "
        "in every account that carries it. Default: false.",
    )


class Access(_Model):
    """Where people's users live and the roles they may be granted."""

    source_account_id: AccountId | None = Field(
        default=None,
        description="The 12-digit id of the account holding people's IAM users and groups, "
        "quoted; roles trust it. Default: the management account.",
    )
    roles: tuple[RoleTemplate, ...] = Field(
        default=(),
        description="Role templates. A template is created only in the accounts that carry "
        "it: those listing it in accounts[].roles or in a unit above them "
        "(organization.units[].roles). Default: none.",
    )


class Account(_Model):
    """An account of the organization, created unless it has an id."""

    name: AccountName = Field(
        description="The account's name, unique; used in profile names and console links."
    )
    email: Email = Field(description="The root user's email address, unique.")
    id: AccountId | None = Field(
        default=None,
        description="The 12-digit id of an existing account, quoted, to adopt it. "
        "Default: none (found by email, else created).",
    )
    unit: Text | None = Field(
        default=None,
        description="The path of the account's unit from the root, like Clients/Acme. "
        "Default: the root.",
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        max_length=MAX_TAGS,
        description=f"The account's tags, at most {MAX_TAGS}; undeclared keys are left alone "
        "unless policy.prune is true. Default: none.",
    )
    roles: tuple[RoleName, ...] = Field(
        default=(),
        description="Role templates (access.roles) this account carries, besides those its "
        "unit and the units above it list. Default: none.",
    )
    adopt_roles: tuple[RoleName, ...] = Field(
        default=(),
        description="Roles of this account, among those it carries, to take over although "
        "they were made without the daemon's marker. Default: none.",
    )


class Grant(_Model):
    """The right to assume one role in one account."""

    account: Text = Field(description="The name of a declared account.")
    role: Text = Field(description="A role that account carries.")


class Group(_Model):
    """An IAM group in the source account: its members and the roles they may assume."""

    name: GroupName = Field(description="The IAM group's name, unique ignoring case.")
    users: tuple[UserName, ...] = Field(
        default=(),
        description="The group's members, exactly: others are removed. Default: none.",
    )
    grants: tuple[Grant, ...] = Field(
        default=(),
        description="The roles the members may assume, exactly: other policies on the group "
        "are removed. Default: none.",
    )
    adopt: StrictBool = Field(
        default=False,
        description="Take over a live group of this name made outside the daemon's path, "
        "with its members. Default: false.",
    )


class Policy(_Model):
    """What the daemon may do."""

    prune: StrictBool = Field(
        default=False,
        description="Delete marked resources the document no longer declares, and account "
        "tags it does not name. Default: false.",
    )
    max_changes: StrictInt = Field(
        default=50,
        ge=0,
        description="A plan with more changes than this is refused as a whole. Default: 50.",
    )
    protected_accounts: tuple[Text, ...] = Field(
        default=(),
        description="Names or ids of accounts whose unit, tags and roles are never changed. "
        "Default: none.",
    )


class Spec(_Model):
    """The whole document."""

    organization: Organization = Field(description="The organization and its units.")
    access: Access = Field(description="The source account and the role templates.")
    accounts: tuple[Account, ...] = Field(
        default=(), description="The accounts the daemon manages. Default: none."
    )
    groups: tuple[Group, ...] = Field(
        default=(), description="IAM groups in the source account. Default: none."
    )
    policy: Policy = Field(
        default_factory=Policy,
        description="What the daemon may do. Default: no pruning, at most 50 changes a plan, "
        "no protected accounts.",
    )
    # The roles each unit path hands down, from the unit upward: `role_names` runs for every
    # account on every pass, so the tree is walked once per document, not once per account.
    _inherited: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._inherited = dict(_inherited_roles(self.organization.units, ()))

    @property
    def source_account_id(self) -> str:
        """Where people's IAM users and groups live; the management account by default."""
        return self.access.source_account_id or self.organization.management_account_id

    def role_names(self, account: Account) -> tuple[str, ...]:
        """The role templates an account carries, each once: its own `roles` first, then those
        of its unit, of that unit's parent, and so on up to the root. No role is implied."""
        return _once((*account.roles, *self._inherited.get(account.unit or "", ())))

    def roles_known(self, account: Account) -> bool:
        """Whether `role_names` is the whole answer: not when the account names a unit the
        document does not declare, whose roles (and its ancestors') cannot be known."""
        return account.unit is None or account.unit in self._inherited

    def role(self, name: str) -> RoleTemplate:
        return next(role for role in self.access.roles if role.name == name)

    def account(self, name: str) -> Account:
        return next(account for account in self.accounts if account.name == name)

    def is_protected(self, account: Account) -> bool:
        protected = set(self.policy.protected_accounts)
        return account.name in protected or (account.id is not None and account.id in protected)


def _inherited_roles(
    units: tuple[Unit, ...], above: tuple[str, ...], parent: str = ""
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each unit's path with the roles it and its ancestors list, nearest first."""
    for unit in units:
        path = f"{parent}/{unit.name}" if parent else unit.name
        roles = _once((*unit.roles, *above))
        yield path, roles
        yield from _inherited_roles(unit.units, roles, path)


def _once(names: tuple[str, ...]) -> tuple[str, ...]:
    """`names` without repeats, each where it first appears."""
    return tuple(dict.fromkeys(names))


Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def unit_paths(units: tuple[Unit, ...], parent: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every unit's path from the root, parents before children."""
    for unit in units:
        path = (*parent, unit.name)
        yield path
        yield from unit_paths(unit.units, path)


@dataclass(frozen=True)
class Assumed:
    """Names taken to be declared although their entries are not in the document checked: the
    entries that had errors of their own and were left out so that the rest could be checked.
    A reference to one of them is not reported as unknown."""

    roles: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()


def check_references(spec: Spec, assumed: Assumed = Assumed()) -> list[Problem]:
    """Problems that span parts of the document, each at the location of the offending value."""
    templates = _templates(spec) | assumed.roles
    return [
        *_check_units(spec.organization.units, ("organization", "units"), templates),
        *_check_roles(spec),
        *_check_accounts(spec, templates),
        *_check_groups(spec, assumed.accounts),
        *_check_protected(spec, assumed.accounts),
    ]


def _templates(spec: Spec) -> set[str]:
    return {role.name for role in spec.access.roles}


def _check_units(
    units: tuple[Unit, ...], loc: Loc, templates: set[str], depth: int = 1
) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, unit in enumerate(units):
        here = (*loc, index)
        if unit.name in seen:
            yield (*here, "name"), f"unit {unit.name!r} appears twice under the same parent"
        seen.add(unit.name)
        yield from _check_role_list(unit.roles, (*here, "roles"), templates)
        if depth > MAX_UNIT_DEPTH:
            yield (
                (*here, "name"),
                f"unit {unit.name!r} is nested {depth} levels deep; "
                f"AWS allows at most {MAX_UNIT_DEPTH} levels below the root",
            )
            continue
        yield from _check_units(unit.units, (*here, "units"), templates, depth + 1)


def _check_role_list(roles: tuple[str, ...], loc: Loc, templates: set[str]) -> Iterator[Problem]:
    """A unit's or an account's `roles`: each names a role template, and names it once."""
    listed: set[str] = set()
    for index, role in enumerate(roles):
        if role not in templates:
            yield (*loc, index), _unknown("role", role, templates, "access.roles")
        elif role in listed:
            yield (*loc, index), f"role {role!r} is listed twice"
        listed.add(role)


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
        elif is_aws_service_role(role.name):
            yield loc, _service_role(role.name)


def _service_role(name: str) -> str:
    return (
        f"role {name!r} is named like a role an AWS service relies on (Control Tower, IAM "
        "Identity Center, CloudFormation StackSets, CDK; IAM names ignore case): reconciler "
        "never changes such roles, so give the people's role another name"
    )


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


def _check_accounts(spec: Spec, templates: set[str]) -> Iterator[Problem]:
    paths = {"/".join(path) for path in unit_paths(spec.organization.units)}
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
        yield from _check_role_list(account.roles, (*loc, "roles"), templates)
        carried = set(spec.role_names(account))
        for role_index, role in enumerate(account.adopt_roles):
            if is_aws_service_role(role):
                yield (*loc, "adopt_roles", role_index), _service_role(role)
            elif role not in carried and spec.roles_known(account):
                yield (
                    (*loc, "adopt_roles", role_index),
                    f"account {account.name!r} does not carry role {role!r}, so there is "
                    "nothing of that name to adopt",
                )


def _check_groups(spec: Spec, assumed_accounts: frozenset[str]) -> Iterator[Problem]:
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
            if grant.account not in assumed_accounts:
                where = (*loc, "grants", grant_index)
                yield from _check_grant(spec, accounts, grant, where, assumed_accounts)
        size = len(policies.compact_json(policies.grant_policy(_sized_arns(spec, group))))
        if size > policies.GROUP_INLINE_POLICY_LIMIT:
            yield (
                (*loc, "grants"),
                f"the grant policy of group {group.name!r} would be {size} characters; IAM "
                f"allows {policies.GROUP_INLINE_POLICY_LIMIT} per group: split its grants "
                "over several groups",
            )


def _check_grant(
    spec: Spec, accounts: dict[str, Account], grant: Grant, loc: Loc, assumed: frozenset[str]
) -> Iterator[Problem]:
    account = accounts.get(grant.account)
    if account is None:
        known = set(accounts) | assumed
        yield (*loc, "account"), _unknown("account", grant.account, known, "accounts")
        return
    carried = spec.role_names(account)
    # An undeclared unit is reported at the account; what it would hand down is unknown.
    if grant.role not in carried and spec.roles_known(account):
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


def _check_protected(spec: Spec, assumed_accounts: frozenset[str]) -> Iterator[Problem]:
    names = {account.name for account in spec.accounts} | assumed_accounts
    for index, entry in enumerate(spec.policy.protected_accounts):
        if entry not in names and not _ACCOUNT_ID.match(entry):
            yield (
                ("policy", "protected_accounts", index),
                f"{entry!r} is neither a declared account name nor a 12-digit account id",
            )


def _unknown(kind: str, name: str, known: set[str], where: str) -> str:
    choices = ", ".join(sorted(known)) or "none are declared"
    return f"{kind} {name!r} is not declared in {where} (declared: {choices})"


# The IAM policy language for roles' inline policies. Role inline policies are identity
# policies: the principal is the role itself, so Principal and NotPrincipal have no place.
_DOCUMENT_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
_SID = re.compile(r"^[A-Za-z0-9]*\Z")  # IAM: ASCII letters and digits only
_JSON_SCALARS = (str, bool, int, float)


def check_inline_policies(spec: Spec) -> list[Problem]:
    """Problems in the roles' inline policies: each an IAM policy document, all within quota."""
    problems: list[Problem] = []
    for index, role in enumerate(spec.access.roles):
        loc: Loc = ("access", "roles", index, "inline_policies")
        found = [
            problem
            for name, document in role.inline_policies.items()
            for problem in _check_document(document, (*loc, name))
        ]
        # Only documents without problems are sure to be JSON, and so can be measured.
        problems += found or list(_check_role_size(role, loc))
    return problems


def _check_role_size(role: RoleTemplate, loc: Loc) -> Iterator[Problem]:
    size = sum(len(policies.compact_json(d)) for d in role.inline_policies.values())
    if size > ROLE_INLINE_POLICY_LIMIT:
        yield (
            loc,
            f"the inline policies of role {role.name!r} come to {size} characters as JSON "
            f"without whitespace; IAM allows {ROLE_INLINE_POLICY_LIMIT} per role: move "
            "statements to managed policies",
        )


def _check_document(document: Mapping[str, Any], loc: Loc) -> Iterator[Problem]:
    yield from _unknown_keys(document, _DOCUMENT_KEYS, loc, "a policy document")
    if "Version" not in document:
        yield loc, "required key 'Version' is missing: write Version: \"2012-10-17\""
    elif document["Version"] != policies.VERSION:
        yield (*loc, "Version"), _version(document["Version"])
    if "Id" in document and not isinstance(document["Id"], str):
        yield (*loc, "Id"), f"Id must be text, not {_what(document['Id'])}"
    if "Statement" not in document:
        yield loc, "required key 'Statement' is missing: a policy lists its statements"
    else:
        yield from _check_statements(document["Statement"], (*loc, "Statement"))


def _version(value: Any) -> str:
    if isinstance(value, datetime.date):
        return (
            f'Version must be the text "{policies.VERSION}"; YAML reads the unquoted '
            f'{value.isoformat()} as a date: write Version: "{policies.VERSION}"'
        )
    return f'Version must be "{policies.VERSION}" (the IAM policy language), not {_what(value)}'


def _check_statements(value: Any, loc: Loc) -> Iterator[Problem]:
    # IAM accepts a single statement mapping as well as a list; canonical() compares both.
    if isinstance(value, Mapping):
        yield from _check_statement(value, loc)
    elif not isinstance(value, list) or not value:
        yield loc, f"Statement must be a list of one or more statements, not {_what(value)}"
    else:
        for index, statement in enumerate(value):
            if isinstance(statement, Mapping):
                yield from _check_statement(statement, (*loc, index))
            else:
                yield (*loc, index), f"a statement must be a mapping, not {_what(statement)}"


def _check_statement(statement: Mapping[Any, Any], loc: Loc) -> Iterator[Problem]:
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            yield (
                (*loc, key),
                f"a role's inline policy has no {key}: it applies to the role itself "
                "(who may assume the role is the trust policy, which reconciler writes)",
            )
    others = {k: v for k, v in statement.items() if k not in {"Principal", "NotPrincipal"}}
    yield from _unknown_keys(others, _STATEMENT_KEYS, loc, "a statement")
    sid = statement.get("Sid", "")
    if not isinstance(sid, str) or not _SID.match(sid):
        yield (*loc, "Sid"), f"Sid must be ASCII letters and digits, not {_what(sid)}"
    if statement.get("Effect") not in {"Allow", "Deny"}:
        effect = statement.get("Effect")
        where = (*loc, "Effect") if "Effect" in statement else loc
        yield where, f"Effect must be Allow or Deny, not {_what(effect)}"
    yield from _check_one_of(statement, "Action", "NotAction", loc)
    yield from _check_one_of(statement, "Resource", "NotResource", loc)
    if "Condition" in statement:
        yield from _check_condition(statement["Condition"], (*loc, "Condition"))


def _check_one_of(
    statement: Mapping[Any, Any], key: str, other: str, loc: Loc
) -> Iterator[Problem]:
    present = [k for k in (key, other) if k in statement]
    if not present:
        yield loc, f"a statement needs {key} or {other}"
    elif len(present) == 2:
        yield (*loc, other), f"a statement has {key} or {other}, not both"
    for name in present:
        value = statement[name]
        items = value if isinstance(value, list) and value else [value]
        if not all(isinstance(item, str) and item for item in items):
            yield (*loc, name), f"{name} must be text or a list of text, not {_what(value)}"


def _check_condition(condition: Any, loc: Loc) -> Iterator[Problem]:
    if not isinstance(condition, Mapping) or not condition:
        yield loc, f"Condition must map operators to their keys, not {_what(condition)}"
        return
    for operator, block in condition.items():
        if not isinstance(operator, str) or not isinstance(block, Mapping) or not block:
            yield (*loc, str(operator)), "a condition operator maps condition keys to values"
            continue
        for key, value in block.items():
            items = value if isinstance(value, list) and value else [value]
            if not isinstance(key, str) or not all(_is_json_scalar(v) for v in items):
                yield (
                    (*loc, operator, str(key)),
                    f"a condition value is text, a number or a boolean, not {_what(value)}",
                )


def _is_json_scalar(value: Any) -> bool:
    return isinstance(value, _JSON_SCALARS) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def _unknown_keys(
    mapping: Mapping[Any, Any], allowed: tuple[str, ...], loc: Loc, where: str
) -> Iterator[Problem]:
    for key in mapping:
        if key not in allowed:
            yield (
                (*loc, str(key)),
                f"unknown key {key!r} in {where}; allowed here: {', '.join(allowed)}",
            )


def _what(value: Any) -> str:
    """A value as a message names it, saying what YAML made of it when that was not text."""
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()}; YAML reads an unquoted date as one: quote it)"
    if isinstance(value, bytes | bytearray | set | tuple):
        return f"a YAML {type(value).__name__}, which JSON cannot carry"
    if isinstance(value, list | Mapping):
        return f"a {'list' if isinstance(value, list) else 'mapping'}"
    return repr(value)
