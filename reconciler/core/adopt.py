"""Import: from the live state of an organization to a document that declares it as it is.

Pure: the live state comes in as an `OrgState` read by `aws/read.py` (every role of each
account, not only declared ones); the document comes out as text, with what it cannot express
listed (`Imported.left_out`), never silently dropped. No AWS call, no file written here.

The document is built so that `plan` on it finds nothing to change: accounts by `id`, one role
template per role name (the variant most accounts share; accounts whose role differs do not
carry the template and say why in a comment), each template placed on the highest unit whose
accounts all carry it and on single accounts otherwise, `adopt: true` on templates and groups
made without the daemon's marker. The text is deterministic (sorted, fixed formatting), so an
unchanged organization imports byte for byte the same.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from reconciler.core import load, policies, spec, state
from reconciler.core.errors import ReconcilerError, SpecError

SCHEMA_LINE = "# yaml-language-server: $schema=./accounts.schema.json"
_ASSUME = "sts:assumerole"
_ROLE_ARN = re.compile(r"^arn:([a-z-]+):iam::(\d{12}):role/([\w+=,.@-]+)\Z", re.ASCII)
# A scalar YAML reads back as the same text without quotes: no indicator first, no ": " or
# " #", and not a word YAML 1.1 reads as a boolean or null.
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_./@+=:-]*\Z", re.ASCII)
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
_SHOWN = 80  # characters of a value quoted in a comment or a left-out line


class GroupChoice(enum.StrEnum):
    # The groups that concern the document: those whose policies let members assume an
    # imported role, and those under the daemon's path (left out, they would lose their access).
    GRANTING = "granting"
    ALL = "all"  # every group of the source account
    MANAGED = "managed"  # only the groups under the daemon's path
    NAMED = "named"  # only the groups named


@dataclass(frozen=True)
class Choice:
    """What to import. `roles`: lowercased names, or None for every role trusting the source
    account that is not AWS's own; `group_names` (lowercased) with `GroupChoice.NAMED`."""

    source_account_id: str
    bootstrap_role: str = "OrganizationAccountAccessRole"
    roles: frozenset[str] | None = None
    groups: GroupChoice = GroupChoice.GRANTING
    group_names: frozenset[str] = frozenset()
    instance: str = state.DEFAULT_INSTANCE


@dataclass(frozen=True)
class Imported:
    text: str
    left_out: tuple[str, ...]
    accounts: int
    roles: int
    groups: int


@dataclass(frozen=True, order=True)
class _Variant:
    """What a role template says about one live role: equal variants share a template."""

    policies: tuple[str, ...]
    inline: tuple[tuple[str, str], ...]  # name, canonical JSON
    require_mfa: bool
    max_session_duration: int


@dataclass
class _Account:
    name: str
    live: state.Account
    tags: dict[str, str]
    roles: dict[str, _Variant] = field(default_factory=dict)  # role name -> variant
    adoptable: set[str] = field(default_factory=set)  # roles without the marker
    considered: set[str] = field(default_factory=set)  # roles chosen, imported or not
    notes: list[str] = field(default_factory=list)  # comments at the account

    @property
    def id(self) -> str:
        return self.live.id or ""


@dataclass(frozen=True)
class _Template:
    name: str
    variant: _Variant
    adopt: bool


@dataclass(frozen=True)
class _Group:
    name: str
    adopt: bool
    users: tuple[str, ...]
    grants: tuple[tuple[str, str], ...]  # account name, role name


class _LeftOut:
    """What the document cannot express, one line each; similar lines about roles are joined
    so that a role left out of 500 accounts is one line, not 500."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._roles: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def role(self, role: str, reason: str, account: str) -> None:
        self._roles[(role, reason)].append(account)

    def all(self) -> tuple[str, ...]:
        joined = [
            f"role {role} in {_counted(accounts)}: {reason}"
            for (role, reason), accounts in self._roles.items()
        ]
        return tuple(sorted(self.lines + joined))


def document(live: state.OrgState, choice: Choice) -> Imported:
    """The document declaring `live` as it is, and what it leaves out.

    `live.accounts` carry every role of the account (`roles` None: not read, the reason in
    `live.unreachable` under the account's id). Raises `ReconcilerError` should the text not
    validate, which would be a defect here: a document is never written that `validate` refuses.
    """
    left_out = _LeftOut()
    units = _units(live.units, left_out)
    accounts = _accounts(live, choice, units, left_out)
    templates = _templates(accounts, left_out)
    _missing_roles(live, choice, left_out)
    unit_roles, account_roles = _placement(units, accounts, templates)
    groups = _groups(live, choice, accounts, left_out)
    lines = left_out.all()
    text = _render(
        _Rendered(live, choice, units, accounts, templates, unit_roles, account_roles, groups),
        lines,
    )
    _check(text)
    return Imported(text, lines, len(accounts), len(templates), len(groups))


# --- units -------------------------------------------------------------------------------


def _units(live: Mapping[state.UnitPath, state.Unit], left_out: _LeftOut) -> list[state.UnitPath]:
    """The unit paths the document can name (parents before children)."""
    kept: list[state.UnitPath] = []
    for path in sorted(live):
        problem = _problem(spec.UnitName, path[-1])
        if problem is None and path[:-1] in (*kept, ()):
            kept.append(path)
        elif problem is not None:
            left_out.add(f"unit {_quoted('/'.join(path))} and what it holds: {problem}")
    return kept


# --- accounts ----------------------------------------------------------------------------


def _accounts(
    live: state.OrgState, choice: Choice, units: list[state.UnitPath], left_out: _LeftOut
) -> list[_Account]:
    names: set[str] = set()
    emails: set[str] = set()
    result = []
    for account in sorted(live.accounts, key=lambda a: (a.id or "", a.name)):
        problem = _account_problem(account, live, set(units), emails)
        if problem:
            left_out.add(
                f"account {_quoted(account.name)} ({account.id or 'no id yet'}): {problem}"
            )
            continue
        name = _account_name(account, names)
        names.add(name)
        emails.add(account.email.lower())
        imported = _Account(name, account, _tags(account, name, left_out))
        if name != account.name:
            imported.notes.append(f"named {_quoted(account.name)} in AWS")
        _roles_of(imported, live, choice, left_out)
        result.append(imported)
    return sorted(result, key=lambda a: a.name)


def _account_problem(
    account: state.Account, live: state.OrgState, units: set[state.UnitPath], emails: set[str]
) -> str | None:
    if account.id is None:
        return "its creation is still in progress"
    if account.state != state.ACTIVE:
        return f"the account is {account.state}"
    if account.roles is None:
        return f"its roles could not be read: {live.unreachable.get(account.id, 'unknown reason')}"
    if account.unit and account.unit not in units:
        return "its unit cannot be named in the document (see that unit)"
    problem = _problem(spec.Email, account.email)
    if problem:
        return problem
    if account.email.lower() in emails:
        return f"its email {_quoted(account.email)} is another account's too"
    return None


def _account_name(account: state.Account, taken: set[str]) -> str:
    """The live name if the document takes it, else one made of its letters and digits."""
    name = account.name
    if _problem(spec.AccountName, name) is not None:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip("._-")[:50].rstrip("-") or "account"
    if name in taken:
        name = f"{name[:37]}-{account.id}"
    return name


def _tags(account: state.Account, name: str, left_out: _LeftOut) -> dict[str, str]:
    """The tags the document can carry; the others stay as they are (without prune, tags
    the document does not name are left alone)."""
    kept = {}
    for key, value in sorted(account.tags.items()):
        problem = _problem(spec.TagKey, key) or _problem(spec.TagValue, value)
        if problem:
            left_out.add(f"tag {_quoted(key)} of account {name}: {problem}")
        else:
            kept[key] = value
    return kept


# --- roles -------------------------------------------------------------------------------


def _roles_of(account: _Account, live: state.OrgState, choice: Choice, left_out: _LeftOut) -> None:
    for role in sorted((account.live.roles or {}).values(), key=lambda r: r.name):
        if _aws_own(role, account.live, live, choice) or not _chosen(role, choice):
            continue
        account.considered.add(role.name)
        variant, problem = _variant(role, choice.source_account_id, live.partition)
        if variant is None:
            left_out.role(role.name, problem, account.name)
            continue
        account.roles[role.name] = variant
        if not role.managed:
            account.adoptable.add(role.name)


def _aws_own(
    role: state.Role, account: state.Account, live: state.OrgState, choice: Choice
) -> bool:
    """Roles never imported: AWS's, the daemon's way in, and the role of the credentials."""
    return (
        role.path == state.SERVICE_ROLE_PATH
        or spec.is_aws_service_role(role.name)
        or role.name.lower() == choice.bootstrap_role.lower()
        or (account.id == live.caller_account_id and role.name == live.caller_role)
    )


def _chosen(role: state.Role, choice: Choice) -> bool:
    return choice.roles is None or role.name.lower() in choice.roles


def _variant(role: state.Role, source: str, partition: str) -> tuple[_Variant | None, str]:
    """The role as a template would declare it, or why no template can."""
    mfa = _trust_mfa(role.trust_policy, source, partition)
    if mfa is None:
        return None, f"its trust policy trusts other principals or conditions than {source}"
    variant = _Variant(
        policies=tuple(sorted(role.policies)),
        inline=tuple(
            (name, policies.PolicyDocument.of(text).canonical)
            for name, text in sorted(role.inline_policies.items())
        ),
        require_mfa=mfa,
        max_session_duration=role.max_session_duration,
    )
    problem = _template_problem(role.name, variant)
    return (None, problem) if problem else (variant, "")


def _trust_mfa(trust: str, source: str, partition: str) -> bool | None:
    """Whether the trust policy is ours with MFA (True) or without (False); None otherwise."""
    found = policies.PolicyDocument.of(trust)
    for mfa in (True, False):
        ours = policies.trust_policy(source, require_mfa=mfa, partition=partition)
        if found == policies.PolicyDocument.of(ours):
            return mfa
    return None


@functools.lru_cache(maxsize=1024)  # a role shared by a thousand accounts is checked once
def _template_problem(name: str, variant: _Variant) -> str:
    """What the document refuses in this role: a policy ARN, an inline policy, a quota."""
    try:
        template = spec.RoleTemplate.model_validate(_template_fields(name, variant))
    except pydantic.ValidationError as exc:
        return _first_error(exc)
    document = spec.Spec(
        organization=spec.Organization(management_account_id="000000000000"),
        access=spec.Access(roles=(template,)),
    )
    problems = spec.check_inline_policies(document)
    return problems[0][1] if problems else ""


def _template_fields(name: str, variant: _Variant) -> dict[str, Any]:
    return {
        "name": name,
        "policies": list(variant.policies),
        "inline_policies": {n: json.loads(text) for n, text in variant.inline},
        "require_mfa": variant.require_mfa,
        "max_session_duration": variant.max_session_duration,
    }


def _templates(accounts: list[_Account], left_out: _LeftOut) -> list[_Template]:
    """One template per role name, the variant most accounts share (ties: the first in
    order, for a stable answer); accounts with another variant do not carry it."""
    by_name: dict[str, dict[_Variant, list[_Account]]] = defaultdict(lambda: defaultdict(list))
    for account in accounts:
        for name, variant in account.roles.items():
            by_name[name][variant].append(account)
    templates = []
    folded: set[str] = set()
    for name in sorted(by_name):
        if name.lower() in folded:  # IAM names ignore case: one template per name
            for holders in by_name[name].values():
                for account in holders:
                    _drop_role(account, name, "another role's name differs only in case", left_out)
            continue
        folded.add(name.lower())
        variants = by_name[name]
        chosen = min(variants, key=lambda v: (-len(variants[v]), v))
        for variant, holders in variants.items():
            if variant != chosen:
                for account in holders:
                    _drop_role(account, name, _difference(variant, chosen), left_out)
        adopt = any(name in a.adoptable for a in variants[chosen])
        templates.append(_Template(name, chosen, adopt))
    return templates


def _missing_roles(live: state.OrgState, choice: Choice, left_out: _LeftOut) -> None:
    """Roles asked for by name that no account read holds: said, not passed over."""
    found = {name.lower() for a in live.accounts for name in (a.roles or {})}
    for name in sorted((choice.roles or frozenset()) - found):
        left_out.add(f"role {_quoted(name)}: in no account read")


def _drop_role(account: _Account, role: str, why: str, left_out: _LeftOut) -> None:
    del account.roles[role]
    account.notes.append(f"role {role} not declared here: {why}")
    left_out.role(role, why, account.name)


def _difference(variant: _Variant, template: _Variant) -> str:
    """How an account's role differs from the template, in words."""
    said = [
        *(f"also attaches {arn}" for arn in variant.policies if arn not in template.policies),
        *(f"lacks {arn}" for arn in template.policies if arn not in variant.policies),
    ]
    if variant.inline != template.inline:
        said.append("other inline policies")
    if variant.require_mfa != template.require_mfa:
        said.append("MFA required" if variant.require_mfa else "MFA not required")
    if variant.max_session_duration != template.max_session_duration:
        said.append(f"sessions up to {variant.max_session_duration} s")
    return f"differs from the template ({', '.join(said)})"


# --- placement ---------------------------------------------------------------------------


def _placement(
    units: list[state.UnitPath], accounts: list[_Account], templates: list[_Template]
) -> tuple[dict[state.UnitPath, list[str]], dict[str, list[str]]]:
    """Each template on the highest units whose accounts (nested ones included) all carry it,
    and on each other account that carries it."""
    inside = {path: [a for a in accounts if a.live.unit[: len(path)] == path] for path in units}
    unit_roles: dict[state.UnitPath, list[str]] = defaultdict(list)
    account_roles: dict[str, list[str]] = defaultdict(list)
    for template in templates:
        covered: set[str] = set()
        for path in units:  # parents first: a unit under a placed one is already covered
            members = inside[path]
            if (
                members
                and _all_carry(members, template.name)
                and not _placed_above(path, unit_roles, template.name)
            ):
                unit_roles[path].append(template.name)
                covered.update(a.name for a in members)
        for account in accounts:
            if template.name in account.roles and account.name not in covered:
                account_roles[account.name].append(template.name)
    return unit_roles, account_roles


def _all_carry(accounts: list[_Account], role: str) -> bool:
    return all(role in a.roles for a in accounts)


def _placed_above(
    path: state.UnitPath, unit_roles: Mapping[state.UnitPath, list[str]], role: str
) -> bool:
    return any(role in unit_roles.get(path[:depth], []) for depth in range(1, len(path)))


# --- groups ------------------------------------------------------------------------------


def _groups(
    live: state.OrgState, choice: Choice, accounts: list[_Account], left_out: _LeftOut
) -> list[_Group]:
    if live.source_unreachable:
        left_out.add(
            f"every group: the source account could not be read: {live.source_unreachable}"
        )
        return []
    ours = state.group_path(choice.instance)
    if choice.groups == GroupChoice.NAMED:
        present = {name.lower() for name in live.groups}
        for missing in sorted(choice.group_names - present):
            left_out.add(f"group {_quoted(missing)}: not in the source account")
    roles = {(a.id, role): (a.name, role) for a in accounts for role in a.roles}
    # Groups reaching a role left out are the document's concern too: they are listed.
    reach = _Reach(
        arns=frozenset(
            policies.role_arn(a.id, role, live.partition) for a in accounts for role in a.considered
        ),
        accounts_left_out=frozenset(a.id for a in live.accounts if a.id) - {a.id for a in accounts},
    )
    groups = []
    for name, group in sorted(live.groups.items()):
        if not _group_chosen(group, choice, ours) or not _concerns(
            group, choice, ours, reach, live
        ):
            continue
        imported, problem = _group(group, ours, roles, live.partition)
        if imported is None:
            revoked = (
                " (under the daemon's path: the plan revokes it)" if group.path == ours else ""
            )
            left_out.add(f"group {_quoted(name)}: {problem}{revoked}")
        else:
            groups.append(imported)
    return groups


def _group_chosen(group: state.Group, choice: Choice, ours: str) -> bool:
    if choice.groups == GroupChoice.MANAGED:
        return group.path == ours
    if choice.groups == GroupChoice.NAMED:
        return group.name.lower() in choice.group_names
    return True


@dataclass(frozen=True)
class _Reach:
    """What makes a group the document's concern: the roles considered for import (imported
    or left out), and the accounts left out, whose roles were not read."""

    arns: frozenset[str]
    accounts_left_out: frozenset[str]


def _concerns(
    group: state.Group, choice: Choice, ours: str, reach: _Reach, live: state.OrgState
) -> bool:
    """Whether the group is one the document is about (see `GroupChoice.GRANTING`); a managed
    policy whose document was not read might reach a role, so it counts."""
    if choice.groups != GroupChoice.GRANTING or group.path == ours:
        return True
    texts = [*group.other_policies.values(), *filter(None, [group.grant_policy])]
    if any(arn not in live.managed_policies for arn in group.attached):
        return True
    texts += [live.managed_policies[arn] for arn in group.attached]
    return any(
        policies.PolicyDocument.of(text).allows_assuming(reach.arns)
        or any(f":{account}:" in text for account in reach.accounts_left_out)
        for text in texts
    )


def _group(
    group: state.Group,
    ours: str,
    roles: Mapping[tuple[str, str], tuple[str, str]],
    partition: str,
) -> tuple[_Group | None, str]:
    """The group as the document declares it, or why it cannot."""
    problem = _problem(spec.GroupName, group.name) or next(
        (p for p in (_problem(spec.UserName, u) for u in sorted(group.users)) if p), None
    )
    if problem:
        return None, problem
    if group.attached:
        return None, f"managed policies are attached to it ({', '.join(sorted(group.attached))})"
    grants, problem = _grants(group, roles, partition)
    if grants is None:
        return None, problem
    return _Group(group.name, group.path != ours, tuple(sorted(group.users)), grants), ""


def _grants(
    group: state.Group, roles: Mapping[tuple[str, str], tuple[str, str]], partition: str
) -> tuple[tuple[tuple[str, str], ...] | None, str]:
    """The grants of the group's one policy, if it grants sts:AssumeRole on imported roles and
    nothing else (the form the daemon writes, under any name)."""
    documents = dict(group.other_policies)
    if group.grant_policy is not None:
        documents[state.GRANT_POLICY_NAME] = group.grant_policy
    if not documents:
        return (), ""
    if len(documents) > 1:
        return None, f"it holds several inline policies ({', '.join(sorted(documents))})"
    [(name, text)] = documents.items()
    arns = _assumed_arns(text)
    if arns is None or policies.PolicyDocument.of(text) != policies.PolicyDocument.of(
        policies.grant_policy(arns)
    ):
        return None, f"its policy {name} grants more than sts:AssumeRole on roles"
    grants = []
    for arn in sorted(arns):
        match = _ROLE_ARN.match(arn)
        found = roles.get((match.group(2), match.group(3))) if match else None
        if found is None or match is None or match.group(1) != partition:
            return None, f"it grants {arn}, which is not an imported role"
        grants.append(found)
    return tuple(sorted(grants)), ""


def _assumed_arns(text: str) -> list[str] | None:
    """The resources of a policy made of one statement allowing sts:AssumeRole, else None."""
    parsed = policies.parse(text)
    statements = parsed.get("Statement") if isinstance(parsed, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or len(statements) != 1:
        return None
    resources = statements[0].get("Resource") if isinstance(statements[0], dict) else None
    if isinstance(resources, str):
        resources = [resources]
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return None
    return [str(r) for r in resources]


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rendered:
    live: state.OrgState
    choice: Choice
    units: list[state.UnitPath]
    accounts: list[_Account]
    templates: list[_Template]
    unit_roles: Mapping[state.UnitPath, list[str]]
    account_roles: Mapping[str, list[str]]
    groups: list[_Group]


def _render(parts: _Rendered, left_out: Iterable[str]) -> str:
    lines = [SCHEMA_LINE, *_header(left_out)]
    lines += _organization(parts)
    lines += _access(parts)
    lines += _accounts_text(parts)
    lines += _groups_text(parts.groups)
    return "\n".join(lines) + "\n"


def _header(left_out: Iterable[str]) -> Iterator[str]:
    yield "#"
    yield "# Written by `reconciler import` from the live organization. `reconciler plan` on it"
    yield "# should show no change; review it, then commit it."
    listed = list(left_out)
    if listed:
        yield "#"
        yield "# Left out, as the document cannot express it (not declared, so left as it is):"
        yield from (f"#   - {_one_line(line)}" for line in listed)
    yield ""


def _organization(parts: _Rendered) -> Iterator[str]:
    yield "organization:"
    yield f"  management_account_id: {_scalar(parts.live.management_account_id)}"
    yield f"  bootstrap_role: {_scalar(parts.choice.bootstrap_role)}"
    if parts.units:
        yield "  units:"
        yield from _unit_tree(parts, (), "    ")


def _unit_tree(parts: _Rendered, parent: state.UnitPath, indent: str) -> Iterator[str]:
    for path in parts.units:
        if path[:-1] != parent:
            continue
        yield f"{indent}- name: {_scalar(path[-1])}"
        if parts.unit_roles.get(path):
            yield f"{indent}  roles: {_flow(parts.unit_roles[path])}"
        if any(p[:-1] == path for p in parts.units):
            yield f"{indent}  units:"
            yield from _unit_tree(parts, path, indent + "    ")


def _access(parts: _Rendered) -> Iterator[str]:
    yield ""
    yield "access:"
    if parts.choice.source_account_id != parts.live.management_account_id:
        yield f"  source_account_id: {_scalar(parts.choice.source_account_id)}"
    if not parts.templates:
        yield "  roles: []"
        return
    yield "  roles:"
    for template in parts.templates:
        yield from _template_text(template)


def _template_text(template: _Template) -> Iterator[str]:
    variant = template.variant
    yield f"    - name: {_scalar(template.name)}"
    if variant.policies:
        yield f"      policies: {_flow(variant.policies)}"
    if variant.inline:
        yield "      inline_policies:"
        for name, text in variant.inline:
            body = json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
            yield f"        {_scalar(name)}: {body}"
    if not variant.require_mfa:
        yield "      require_mfa: false"
    if variant.max_session_duration != 3600:
        yield f"      max_session_duration: {variant.max_session_duration}"
    if template.adopt:
        yield "      adopt: true   # made without reconciler's marker: taken over as it is"


def _accounts_text(parts: _Rendered) -> Iterator[str]:
    yield ""
    if not parts.accounts:
        yield "accounts: []"
        return
    yield "accounts:"
    for account in parts.accounts:
        yield from (f"  # {_one_line(note)}" for note in account.notes)
        yield f"  - name: {_scalar(account.name)}"
        yield f"    id: {json.dumps(account.id)}"
        yield f"    email: {_scalar(account.live.email)}"
        if account.live.unit:
            yield f"    unit: {_scalar('/'.join(account.live.unit))}"
        if account.tags:
            yield "    tags:"
            yield from (f"      {_scalar(k)}: {_scalar(v)}" for k, v in account.tags.items())
        if parts.account_roles.get(account.name):
            yield f"    roles: {_flow(parts.account_roles[account.name])}"


def _groups_text(groups: list[_Group]) -> Iterator[str]:
    yield ""
    if not groups:
        yield "groups: []"
        return
    yield "groups:"
    for group in groups:
        yield f"  - name: {_scalar(group.name)}"
        if group.adopt:
            yield "    adopt: true   # outside the daemon's path: taken over with its members"
        yield f"    users: {_flow(group.users)}"
        if group.grants:
            yield "    grants:"
            for account, role in group.grants:
                yield f"      - {{account: {_scalar(account)}, role: {_scalar(role)}}}"


def _flow(items: Iterable[str]) -> str:
    return f"[{', '.join(_scalar(item) for item in items)}]"


def _scalar(value: str) -> str:
    """`value` as YAML reads it back: plain when that is unambiguous, else double-quoted
    (JSON's escapes are YAML's). Values reaching here passed the document's own checks."""
    if _PLAIN.match(value) and not value.endswith(":") and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


# --- checks and words --------------------------------------------------------------------


def _problem(kind: Any, value: str) -> str | None:
    """Why the document refuses `value` as a `kind` (one of `spec`'s annotated types)."""
    try:
        _adapter(kind).validate_python(value)
    except pydantic.ValidationError as exc:
        return _first_error(exc)
    return None


@functools.lru_cache(maxsize=32)
def _adapter(kind: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(kind)


def _first_error(exc: pydantic.ValidationError) -> str:
    message = str(exc.errors()[0]["msg"])
    return _one_line(message.removeprefix("Value error, "))


def _check(text: str) -> None:
    try:
        load.parse_spec(text, "the imported document")
    except SpecError as exc:
        raise ReconcilerError(f"the imported document does not validate: {exc}") from exc


def _quoted(value: str) -> str:
    shown = value if len(value) <= _SHOWN else f"{value[:_SHOWN]}... ({len(value)} characters)"
    return f"'{_one_line(shown)}'"


def _one_line(text: str) -> str:
    """`text` on one line: control and invisible characters shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _counted(accounts: list[str]) -> str:
    shown = ", ".join(sorted(accounts)[:5])
    more = f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
    return f"{len(accounts)} account{'s' if len(accounts) != 1 else ''} ({shown}{more})"
