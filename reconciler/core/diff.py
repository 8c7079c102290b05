"""The diff: from the declared and the live `OrgState` to a sorted, deterministic `Plan`.

Purely computational: no I/O, no AWS, git or scheduler imports (a test checks the imports).
Deletions appear only under `prune` and only for resources carrying the ownership marker;
accounts are never deleted; the bootstrap role is never looked at. Safety rails that refuse or
withhold changes run afterwards, in `safety`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from reconciler.core import plan, policies, state


@dataclass(frozen=True)
class Rules:
    prune: bool
    bootstrap_role: str
    instance: str = state.DEFAULT_INSTANCE  # whose ownership marker counts as ours


def diff(declared: state.OrgState, live: state.OrgState, rules: Rules) -> plan.Plan:
    live_accounts = live.account_by_id()
    changes = list(_units(declared, live, rules))
    names = {a.name for a in declared.accounts}
    unreachable = {n: why for n, why in live.unreachable.items() if n in names}
    if live.source_unreachable:
        # Groups were not read: nothing is known to differ, and nothing is planned for them.
        unreachable[plan.SOURCE_ACCOUNT] = live.source_unreachable
    else:
        changes += _groups(declared, live, rules)
    for account in declared.accounts:
        current = live_accounts.get(account.id) if account.id else None
        if account.id and current is None:
            # An id is only ever adopted, never created: a missing one is a mistake to report.
            unreachable[account.name] = f"account id {account.id} is not in the organization"
            continue
        if account.failed_creation:
            unreachable[account.name] = account.failed_creation
            continue
        if current is not None and current.state != state.ACTIVE:
            # Suspended or closing: AWS refuses changes, and it is not ours to revive.
            unreachable[account.name] = f"account is {current.state}: not read nor changed"
            continue
        changes += _account(account, current, rules, unreachable, live)
    declared_ids = {a.id for a in declared.accounts if a.id}
    unmanaged = _unmanaged(declared, live, declared_ids, rules)
    return plan.Plan.of(changes, unmanaged=unmanaged, unreachable=unreachable)


def _units(declared: state.OrgState, live: state.OrgState, rules: Rules) -> Iterator[plan.Change]:
    for path in declared.units:
        if path not in live.units:
            yield plan.CreateUnit(path)
    if rules.prune:
        for unit in _prunable_units(declared, live):
            yield plan.DeleteUnit(unit.path, unit.id)


def _prunable_units(declared: state.OrgState, live: state.OrgState) -> list[state.Unit]:
    """Marked, undeclared units that will hold no account and no kept unit once applied."""
    declared_ids = {a.id for a in declared.accounts if a.id}
    # Accounts not declared stay where they are; declared ones end up in declared units.
    occupied = {a.unit for a in live.accounts if a.id not in declared_ids}
    kept = set(declared.units) | {p for p, u in live.units.items() if not u.managed}

    def removable(path: state.UnitPath) -> bool:
        inside = [p for p in (occupied | kept) if p[: len(path)] == path]
        return not inside

    return [
        u for p, u in live.units.items() if u.managed and p not in declared.units and removable(p)
    ]


def _account(
    account: state.Account,
    live: state.Account | None,
    rules: Rules,
    unreachable: Mapping[str, str],
    org: state.OrgState,
) -> list[plan.Change]:
    if live is None:
        return [_create_account(account, rules, org), *_create_roles(account)]
    changes: list[plan.Change] = []
    assert account.id is not None  # an account matched to a live one has its id
    if live.unit != account.unit:
        changes.append(plan.MoveAccount(account.name, account.id, live.unit, account.unit))
    if live.roles is None or account.name in unreachable:
        return changes  # its tags and roles were not read: nothing is known to differ
    # Declared tags are enforced; keys the document does not name (cost allocation, other
    # tools) are removed only under prune, like any other undeclared resource.
    wanted = dict(account.tags) if rules.prune else {**live.tags, **account.tags}
    if dict(live.tags) != wanted:
        changes.append(plan.UpdateAccountTags(account.name, account.id, live.tags, wanted))
    return changes + _roles(account, live.roles, rules)


def _create_account(
    account: state.Account, rules: Rules, org: state.OrgState
) -> plan.CreateAccount:
    earlier = org.failed_creations.get(account.name)
    return plan.CreateAccount(
        name=account.name,
        email=account.email,
        unit=account.unit,
        tags=account.tags,
        bootstrap_role=rules.bootstrap_role,
        request_id=account.create_request,
        fingerprint=state.fingerprint(account),
        # The record of an earlier failure for another declaration is cleared by this request.
        earlier_failure=earlier.request_id if earlier and earlier.fingerprint else None,
    )


def _create_roles(account: state.Account) -> Iterator[plan.Change]:
    for role in (account.roles or {}).values():
        yield plan.CreateRole(account.name, account.id, role.name, role)


def _roles(
    account: state.Account, live: Mapping[str, state.Role], rules: Rules
) -> list[plan.Change]:
    assert account.id is not None
    live_by_name = {name.lower(): role for name, role in live.items()}
    changes: list[plan.Change] = []
    for role in (account.roles or {}).values():
        current = live_by_name.get(role.name.lower())
        if current is None:
            changes.append(plan.CreateRole(account.name, account.id, role.name, role))
        else:
            changes += _role_updates(account.name, account.id, role, current, rules)
    if rules.prune:
        for name in _undeclared_roles(account, live, rules):
            role = live[name]
            removed = len(role.policies) + len(role.inline_policies)
            changes.append(
                plan.DeleteRole(account.name, account.id, name, rules.instance, policies=removed)
            )
    return changes


def _undeclared_roles(
    account: state.Account, live: Mapping[str, state.Role], rules: Rules
) -> list[str]:
    """Roles carrying our marker that the document no longer declares in this account."""
    declared = {name.lower() for name in account.roles or {}} | {rules.bootstrap_role.lower()}
    return [
        name for name, role in sorted(live.items()) if role.managed and name.lower() not in declared
    ]


def _undeclared_groups(declared: state.OrgState, live: state.OrgState, rules: Rules) -> list[str]:
    """Groups under our path that the document no longer declares."""
    names = {name.lower() for name in declared.groups}
    path = state.group_path(rules.instance)
    return [
        name
        for name, group in sorted(live.groups.items())
        if group.path == path and name.lower() not in names
    ]


def _role_updates(
    account: str, account_id: str, want: state.Role, have: state.Role, rules: Rules
) -> Iterator[plan.Change]:
    where = (account, account_id, have.name)
    changes = list(_role_corrections(where, want, have))
    yield from changes
    # An adopted role that already is as declared is not written to only to be tagged: a
    # takeover of hundreds of hand-made roles plans nothing. The marker comes with the first
    # change the daemon makes to it; until then prune never deletes it (never written by us).
    if not have.managed and (changes or not want.adopted):
        yield plan.MarkRole(*where, owner=rules.instance)


def _role_corrections(
    where: tuple[str, str, str], want: state.Role, have: state.Role
) -> Iterator[plan.Change]:
    if _document(want.trust_policy) != _document(have.trust_policy):
        yield plan.UpdateRoleTrust(*where, before=have.trust_policy, after=want.trust_policy)
    for arn in sorted(want.policies - have.policies):
        yield plan.AttachRolePolicy(*where, policy_arn=arn)
    for arn in sorted(have.policies - want.policies):
        yield plan.DetachRolePolicy(*where, policy_arn=arn)
    for name, document in sorted(want.inline_policies.items()):
        current = have.inline_policies.get(name)
        if current is None or _document(current) != _document(document):
            yield plan.PutRoleInlinePolicy(*where, policy_name=name, before=current, after=document)
    for name in sorted(set(have.inline_policies) - set(want.inline_policies)):
        yield plan.DeleteRoleInlinePolicy(*where, policy_name=name)
    if want.max_session_duration != have.max_session_duration:
        yield plan.UpdateRoleSession(
            *where, before=have.max_session_duration, after=want.max_session_duration
        )


def _groups(declared: state.OrgState, live: state.OrgState, rules: Rules) -> Iterator[plan.Change]:
    live_by_name = {name.lower(): group for name, group in live.groups.items()}
    # IAM user names are unique ignoring case: compare them that way.
    existing = {user.lower() for user in live.users}
    for group in declared.groups.values():
        current = live_by_name.get(group.name.lower())
        if current is None:
            yield plan.CreateGroup(group)
            current = state.Group(group.name)  # nobody in it yet
        elif not _granted_in_place(group, current):
            yield from _group_policies(current)
            if _policy_differs(group.grant_policy, current.grant_policy):
                yield plan.PutGroupGrants(current.name, current.grant_policy, group.grant_policy)
        wanted = {user.lower() for user in group.users}
        present = {user.lower() for user in current.users}
        # No order here: the plan sorts every change by what it touches.
        for user in group.users:
            if user.lower() not in present:
                yield plan.AddMember(current.name, user, user_exists=user.lower() in existing)
        for user in current.users:
            if user.lower() not in wanted:
                yield plan.RemoveMember(current.name, user)
    for name in _undeclared_groups(declared, live, rules):
        yield from _revoke_group(live.groups[name])
        if rules.prune:
            yield plan.DeleteGroup(name, rules.instance)


def _granted_in_place(want: state.Group, have: state.Group) -> bool:
    """A group made by hand whose one inline policy grants exactly the declared grants, under
    another name than ours: nothing to rewrite. The next change of its grants replaces it."""
    name = state.grant_policy_name(have)
    if name == state.GRANT_POLICY_NAME:
        return False
    return not _policy_differs(want.grant_policy, have.other_policies[name])


def _revoke_group(group: state.Group) -> Iterator[plan.Change]:
    """A group of ours that the document no longer declares grants nothing and holds nobody,
    at once: revoking access never waits for prune, which only decides on deleting it."""
    if group.grant_policy is not None:
        yield plan.PutGroupGrants(group.name, group.grant_policy, None)
    yield from _group_policies(group)
    for user in group.users:
        yield plan.RemoveMember(group.name, user)


def _group_policies(live: state.Group) -> Iterator[plan.Change]:
    """A declared group grants what the document says and nothing else: any other inline or
    attached policy (a hand-added sts:AssumeRole, say) is access to revoke."""
    for name, document in sorted(live.other_policies.items()):
        yield plan.DeleteGroupInlinePolicy(live.name, name, document)
    for arn in sorted(live.attached):
        yield plan.DetachGroupPolicy(live.name, arn)


def _policy_differs(want: str | None, have: str | None) -> bool:
    if want is None or have is None:
        return want != have
    return _document(want) != _document(have)


def _document(text: str) -> policies.PolicyDocument:
    return policies.PolicyDocument.of(text)


def _unmanaged(
    declared: state.OrgState, live: state.OrgState, declared_ids: set[str], rules: Rules
) -> dict[plan.Kind, tuple[str, ...]]:
    """Live resources the document does not declare and this plan does not remove."""
    accounts = [a.name or a.id or "" for a in live.accounts if a.id and a.id not in declared_ids]
    # Under prune, undeclared marked roles and groups are deleted by this plan instead.
    groups = [] if rules.prune else _undeclared_groups(declared, live, rules)
    roles = [] if rules.prune else _unmanaged_roles(declared, live, rules)
    pruned = {u.path for u in _prunable_units(declared, live)} if rules.prune else set()
    units = [
        "/".join(p)
        for p, u in live.units.items()
        if u.managed and p not in declared.units and p not in pruned
    ]
    return {
        plan.Kind.ACCOUNT: tuple(sorted(accounts)),
        plan.Kind.GROUP: tuple(sorted(groups)),
        plan.Kind.ROLE: tuple(sorted(roles)),
        plan.Kind.UNIT: tuple(sorted(units)),
    }


def _unmanaged_roles(declared: state.OrgState, live: state.OrgState, rules: Rules) -> list[str]:
    by_id = live.account_by_id()
    found = []
    for account in declared.accounts:
        current = by_id.get(account.id) if account.id else None
        if current is None or current.roles is None:
            continue
        found += [f"{account.name}/{n}" for n in _undeclared_roles(account, current.roles, rules)]
    return found
