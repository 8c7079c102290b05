"""Safety rails, applied to a Plan before anything is changed.

Pure: takes the document, the plan and facts read from AWS, returns the plan to apply or
raises `SafetyError`, in which case nothing at all is applied. Changes to protected accounts
(their unit, tags and roles) are withheld (reported, never applied) rather than failing the
whole organization. The groups the document declares are its access plane and are managed in
the source account even when that account is protected (commonly the management account).

Also withheld, each with its reason: changes to a live role or group made outside the daemon
that the document does not `adopt`, and changes to roles never ours to change (the daemon's
own, service-linked ones, those AWS services rely on). Refused as a whole: one live account
declared twice, and a mass removal the operator did not allow.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from reconciler.core import plan, policies, spec, state
from reconciler.core.errors import SafetyError

_NOTHING = state.OrgState(units={}, accounts=(), groups={})


@dataclass(frozen=True)
class Facts:
    """What the rails need besides the document: the live and declared states of the pass,
    whose marker is ours, and whether the operator allowed a mass removal (a flag kept out of
    the document, so that the pull request making a removal cannot also allow it)."""

    live: state.OrgState = _NOTHING
    declared: state.OrgState = _NOTHING
    instance: str = state.DEFAULT_INSTANCE
    allow_mass_removal: bool = False

    @functools.cached_property
    def live_roles(self) -> dict[tuple[str, str], state.Role]:
        """Live roles by (account id, name in lower case: IAM names ignore case), indexed
        once per pass rather than once per change."""
        return {
            (account.id, name.lower()): role
            for account in self.live.accounts
            if account.id is not None
            for name, role in (account.roles or {}).items()
        }

    @functools.cached_property
    def live_groups(self) -> dict[str, state.Group]:
        """Live groups by name in lower case."""
        return {name.lower(): group for name, group in self.live.groups.items()}

    def live_role(self, account_id: str | None, name: str) -> state.Role | None:
        return self.live_roles.get((account_id or "", name.lower()))


def guard(
    document: spec.Spec,
    proposed: plan.Plan,
    management_account_id: str,
    caller_account_id: str | None = None,
    facts: Facts | None = None,
) -> plan.Plan:
    """The plan that may be applied, or SafetyError naming the rail that refused it.

    `caller_account_id` is the account of the credentials in use: a member account of the
    right organization would otherwise write the source account's groups into itself.
    """
    facts = facts or Facts()
    _check_organization(document, management_account_id)
    _check_caller(document, caller_account_id)
    _check_one_declaration_per_account(facts.declared)
    _check_bootstrap_role(document, proposed)
    _check_trust(proposed)
    guarded = _withhold_protected(document, proposed, facts.declared)
    guarded = _withhold(guarded, lambda change: _reserved(change, facts))
    guarded = _withhold(guarded, lambda change: _not_adopted(change, document, facts))
    if not facts.allow_mass_removal:
        _check_mass_removal(guarded, facts)
    _check_size(document, guarded)
    return guarded


def _check_organization(document: spec.Spec, management_account_id: str) -> None:
    expected = document.organization.management_account_id
    if management_account_id != expected:
        raise SafetyError(
            f"these credentials belong to the organization managed by {management_account_id}, "
            f"but the document declares management_account_id {expected}; refusing to change it"
        )


def _check_caller(document: spec.Spec, caller_account_id: str | None) -> None:
    expected = document.organization.management_account_id
    if caller_account_id is not None and caller_account_id != expected:
        raise SafetyError(
            f"these credentials belong to account {caller_account_id}, not to the management "
            f"account {expected}; run reconciler with the management account's credentials"
        )


def _check_bootstrap_role(document: spec.Spec, proposed: plan.Plan) -> None:
    bootstrap = document.organization.bootstrap_role.lower()
    touching = [
        c.line()
        for c in proposed.changes
        if isinstance(c, plan.RoleChange) and c.role.lower() == bootstrap
    ]
    if touching:
        raise SafetyError(
            "the plan would modify the bootstrap role, which would lock the daemon out: "
            + "; ".join(touching)
        )


def _check_trust(proposed: plan.Plan) -> None:
    for change in proposed.changes:
        document = (
            change.after
            if isinstance(change, plan.UpdateRoleTrust)
            else change.definition.trust_policy
            if isinstance(change, plan.CreateRole)
            else None
        )
        if document is not None and policies.PolicyDocument.of(document).trusts_anyone:
            raise SafetyError(f"refusing a trust policy that trusts '*': {change.line()}")


def _check_one_declaration_per_account(declared: state.OrgState) -> None:
    names_by_id: dict[str, list[str]] = {}
    for account in declared.accounts:
        if account.id is not None:
            names_by_id.setdefault(account.id, []).append(account.name)
    for account_id, names in sorted(names_by_id.items()):
        if len(names) > 1:
            raise SafetyError(
                f"accounts {' and '.join(names)} are one live account, {account_id} (declared "
                "once by id and once by email); nothing was applied. Declare it once"
            )


def _protected(document: spec.Spec, declared: state.OrgState) -> tuple[set[str], set[str]]:
    """Names and ids of the protected accounts, each entry resolved to the live account it
    is, so that no second name or id of that account escapes protection."""
    listed = set(document.policy.protected_accounts)
    names = {a.name for a in document.accounts}
    resolved = {a.name: a.id for a in document.accounts if a.id}
    resolved.update({a.name: a.id for a in declared.accounts if a.id})
    ids = {entry for entry in listed if entry not in names}
    ids |= {resolved[name] for name in listed & set(resolved)}
    protected_names = (listed & names) | {name for name, i in resolved.items() if i in ids}
    return protected_names, ids


def _withhold_protected(
    document: spec.Spec, proposed: plan.Plan, declared: state.OrgState
) -> plan.Plan:
    names, ids = _protected(document, declared)
    keep, withheld = [], list(proposed.withheld)
    for change in proposed.changes:
        if change.account in names or change.account_id in ids:
            withheld.append(plan.Withheld(change, f"account {change.account} is protected"))
        else:
            keep.append(change)
    # A unit that only empties once a protected account moves out stays: it will not be empty.
    held_units = {w.change.source for w in withheld if isinstance(w.change, plan.MoveAccount)}
    for change in list(keep):
        if isinstance(change, plan.DeleteUnit) and any(
            unit[: len(change.path)] == change.path for unit in held_units
        ):
            keep.remove(change)
            withheld.append(plan.Withheld(change, "a protected account stays in this unit"))
    return replace(proposed, changes=tuple(keep), withheld=tuple(withheld))


def _withhold(proposed: plan.Plan, reason: Callable[[plan.Change], str]) -> plan.Plan:
    """The plan without the changes `reason` names a reason for, which are withheld."""
    keep, withheld = [], list(proposed.withheld)
    for change in proposed.changes:
        why = reason(change)
        if why:
            withheld.append(plan.Withheld(change, why))
        else:
            keep.append(change)
    return replace(proposed, changes=tuple(keep), withheld=tuple(withheld))


def _reserved(change: plan.Change, facts: Facts) -> str:
    """Why a role is never changed, whatever the document says, or ""."""
    if not isinstance(change, plan.RoleChange):
        return ""
    live = facts.live
    if change.account_id == live.caller_account_id and (
        change.role.lower() == live.caller_role.lower()
    ):
        return f"role {change.role} holds the daemon's own credentials: never changed"
    role = facts.live_role(change.account_id, change.role)
    if role is not None and role.path.startswith(state.SERVICE_ROLE_PATH):
        return f"role {change.role} is a service-linked role, AWS's own: never changed"
    if spec.is_aws_service_role(change.role):
        return f"role {change.role} is one AWS services rely on: never changed"
    return ""


def _not_adopted(change: plan.Change, document: spec.Spec, facts: Facts) -> str:
    """Why a change would take over a live resource made outside the daemon, or "": that
    needs `adopt` in the document."""
    if isinstance(change, plan.RoleChange) and not isinstance(change, plan.CreateRole):
        role = facts.live_role(change.account_id, change.role)
        if role is not None and not role.managed and not _adopts_role(document, change):
            return (
                f"role {role.name} exists in {change.account} without the {state.MARKER_KEY} "
                f"marker: to take it over, set adopt: true on the role template or list it in "
                f"the account's adopt_roles"
            )
    group_name = change.group_name
    if group_name is not None:
        group = facts.live_groups.get(group_name.lower())
        ours = state.group_path(facts.instance)
        if group is not None and group.path != ours and not _adopts_group(document, group_name):
            return (
                f"group {group.name} exists at path {group.path}, not under {ours}: to take it "
                "over with its members and policies, set adopt: true on the group"
            )
    return ""


def _adopts_role(document: spec.Spec, change: plan.RoleChange) -> bool:
    name = change.role.lower()
    templates = [t for t in document.access.roles if t.name.lower() == name]
    accounts = [a for a in document.accounts if a.name == change.account]
    return any(t.adopt for t in templates) or any(
        name in {r.lower() for r in a.adopt_roles} for a in accounts
    )


def _adopts_group(document: spec.Spec, name: str) -> bool:
    return any(g.adopt for g in document.groups if g.name.lower() == name.lower())


def _check_mass_removal(proposed: plan.Plan, facts: Facts) -> None:
    """Refuse a plan removing more than half of what the daemon manages of a kind, counting
    what the plan itself adds: an emptied document is refused, a renamed group (its members
    removed from one and added to the other) or a stray member on a first pass is not."""
    managed = _managed_counts(facts) + _counts(proposed, _added)
    for kind, count in _counts(proposed, _removed).items():
        if count and 2 * count > managed[kind]:
            raise SafetyError(
                f"the plan removes {count} of the {managed[kind]} {kind} the daemon manages "
                "(counting those it adds), more than half; nothing was applied. If that is "
                "intended, run with --allow-mass-removal (kept out of the document, so that "
                "the pull request making the removal cannot also allow it)"
            )


def _managed_counts(facts: Facts) -> Counter[str]:
    ours = state.group_path(facts.instance)
    declared = {name.lower() for name in facts.declared.groups}
    groups = [g for g in facts.live.groups.values() if g.path == ours or g.name.lower() in declared]
    roles = [
        role
        for account in facts.live.accounts
        for role in (account.roles or {}).values()
        if role.managed
    ]
    return Counter(
        groups=len(groups),
        memberships=sum(len(g.users) for g in groups),
        grants=sum(len(plan.grants_of(g.grant_policy)) for g in groups),
        roles=len(roles),
    )


# What one change adds or removes, by kind, for the mass-removal rail.
_Tally = Callable[[plan.Change], dict[str, int]]


def _added(change: plan.Change) -> dict[str, int]:
    if isinstance(change, plan.CreateGroup):
        return {"groups": 1, "grants": len(plan.grants_of(change.definition.grant_policy))}
    if isinstance(change, plan.PutGroupGrants):
        return {"grants": len(plan.grants_of(change.after) - plan.grants_of(change.before))}
    if isinstance(change, plan.AddMember):
        return {"memberships": 1}
    return {"roles": 1} if isinstance(change, plan.CreateRole) else {}


def _removed(change: plan.Change) -> dict[str, int]:
    if isinstance(change, plan.DeleteGroup):
        return {"groups": 1}
    if isinstance(change, plan.PutGroupGrants):
        return {"grants": len(plan.grants_of(change.before) - plan.grants_of(change.after))}
    if isinstance(change, plan.RemoveMember):
        return {"memberships": 1}
    return {"roles": 1} if isinstance(change, plan.DeleteRole) else {}


def _counts(proposed: plan.Plan, tally: _Tally) -> Counter[str]:
    total: Counter[str] = Counter()
    for change in proposed.changes:
        total.update(tally(change))
    return total


def _check_size(document: spec.Spec, proposed: plan.Plan) -> None:
    limit = document.policy.max_changes
    if proposed.size > limit:
        raise SafetyError(
            f"the plan has {proposed.size} changes, more than policy.max_changes ({limit}), "
            "counting each policy a deletion takes with it; nothing was applied. Review the "
            "plan, then raise the limit or apply the change in smaller steps"
        )
