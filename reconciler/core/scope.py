"""What a pass reads and plans: the whole organization, or the part an event or a push touched.

A scheduled pass reads everything. A pass started by an AWS change event, or by a push whose
revision changes only some of the document, reads only what that touches (`Scope`) and plans
only the changes whose every input it has just read (`Scope.covers`); what lies outside is
left to the next full pass. Pure values: nothing here reads AWS or git.

What each part of a scope reads, and so which changes it may plan:

- `tree`: the units and each account's unit and state (Organizations' listings). Units are
  created and deleted, accounts created and moved; tags are not read, so not planned.
- `placement`: named accounts' unit and tags. Those accounts are moved and retagged.
- `roles`: named accounts' roles. Their role changes.
- `groups`: the source account's groups, members and users' policies. Group and membership
  changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core import plan, spec
from reconciler.core.plan import Kind


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    tree: bool = False
    placement: frozenset[str] = frozenset()  # account names (the document's)
    roles: frozenset[str] = frozenset()  # account names (the document's)
    groups: bool = False

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            everything=self.everything or other.everything,
            tree=self.tree or other.tree,
            placement=self.placement | other.placement,
            roles=self.roles | other.roles,
            groups=self.groups or other.groups,
        )

    @property
    def empty(self) -> bool:
        return not (self.everything or self.tree or self.placement or self.roles or self.groups)

    def covers(self, change: plan.Change) -> bool:
        """Whether a pass over this scope read everything the change depends on."""
        if self.everything:
            return True
        if isinstance(change, plan.RoleChange):
            return change.account_name in self.roles
        if change.group_name is not None:
            return self.groups
        if change.kind is Kind.UNIT or isinstance(change, plan.CreateAccount):
            return self.tree
        if isinstance(change, plan.MoveAccount):
            return self.tree or change.name in self.placement
        return change.account in self.placement  # tags: only a placement read reads them

    def limit(self, whole: plan.Plan) -> plan.Plan:
        """The plan's changes and withheld changes within this scope; the rest is not planned."""
        if self.everything:
            return whole
        return replace(
            whole,
            changes=tuple(c for c in whole.changes if self.covers(c)),
            withheld=tuple(w for w in whole.withheld if self.covers(w.change)),
        )

    def describe(self) -> str:
        """In words, for the log: "everything", or e.g. "roles of acme-prod; groups"."""
        if self.everything:
            return "everything"
        parts = ["units and placement of accounts"] if self.tree else []
        if self.placement:
            parts.append("unit and tags of " + ", ".join(sorted(self.placement)))
        if self.roles:
            parts.append("roles of " + ", ".join(sorted(self.roles)))
        if self.groups:
            parts.append("groups")
        return "; ".join(parts) or "nothing"


EVERYTHING = Scope(everything=True)
NOTHING = Scope()


def of_changes(changes: Iterable[plan.Change]) -> Scope:
    """What changes made (or tried) alter in AWS: the part a later pass must read again
    before it may trust what an earlier pass read."""
    scope = NOTHING
    for change in changes:
        if isinstance(change, plan.RoleChange):
            scope |= Scope(roles=frozenset({change.account_name}))
        elif change.group_name is not None:
            scope |= Scope(groups=True)
        elif isinstance(change, plan.UpdateAccountTags | plan.MoveAccount):
            scope |= Scope(
                tree=isinstance(change, plan.MoveAccount), placement=frozenset({change.name})
            )
        else:  # units and account creations
            scope |= Scope(tree=True)
    return scope


def of_revisions(old: spec.Spec, new: spec.Spec) -> Scope:
    """What a new revision of the document changes, as the scope a pass must cover to make it
    so. Anything but accounts and groups (the organization, its units, the role templates, the
    policy) may change what every account should carry: the whole organization then."""
    if _without(old, "accounts", "groups") != _without(new, "accounts", "groups"):
        return EVERYTHING
    scope = Scope(groups=_dumped(old.groups) != _dumped(new.groups))
    before, after = _by_name(old.accounts), _by_name(new.accounts)
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        # A new or removed account is created or left, its roles with it, and the grants
        # that name it change with the groups' policies; so do they when the declaration
        # now matches another live account (its id, or the email it is matched by).
        whole = name not in before or name not in after
        whole = whole or any(before[name][key] != after[name][key] for key in ("id", "email"))
        scope |= Scope(
            tree=whole, groups=whole, placement=frozenset({name}), roles=frozenset({name})
        )
    return scope


def _without(document: spec.Spec, *sections: str) -> dict[str, Any]:
    return document.model_dump(exclude=set(sections))


def _dumped(models: Iterable[spec.Group]) -> list[dict[str, Any]]:
    return [model.model_dump() for model in models]


def _by_name(accounts: Iterable[spec.Account]) -> Mapping[str, dict[str, Any]]:
    return {account.name: account.model_dump() for account in accounts}
