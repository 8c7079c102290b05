"""Reading again only what a `Scope` names, on top of a live state read earlier.

A pass started by an AWS change event or by a push reads the part of the organization it
touched, not the whole: an account's roles are two IAM calls, its unit and tags two
Organizations calls, the source account's groups one paginated call. How many calls that
takes does not depend on the organization's size, except for the tree (the units and the
accounts' places), which is read as a full pass reads it, without any account's IAM.

Reads only; never changes anything. Everything outside the scope is returned as `known`
had it, and `Scope.covers` keeps the plan from acting on it.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from reconciler.aws import read
from reconciler.aws.sessions import Sessions, organizations_pages
from reconciler.core import spec, state
from reconciler.core.errors import AccessError, AwsError
from reconciler.core.scope import Scope

_Value = TypeVar("_Value")


def read_scope(
    document: spec.Spec,
    sessions: Sessions,
    known: state.OrgState,
    scope: Scope,
    concurrency: int = 16,
    instance: str = state.DEFAULT_INSTANCE,
) -> state.OrgState:
    """`known` with the parts `scope` names read again."""
    live = known
    if scope.tree:
        live = _with_tree(live, document, sessions, concurrency, instance)
    matched = state.match_accounts(document, live.accounts)
    ids = {name: a.id for name, a in matched.items() if a.id is not None}
    placements = _each(scope.placement & set(ids), concurrency, lambda n: _place(sessions, ids[n]))
    if any(isinstance(p, tuple) and p[0] not in _paths(live) for p in placements.values()):
        # A unit created since `known` was read: learn its path with the tree.
        live = _with_tree(live, document, sessions, concurrency, instance)
    active = {n for n in scope.roles & set(ids) if matched[n].state == state.ACTIVE}
    roles = _each(
        active,
        concurrency,
        lambda n: read.roles_of(document, sessions, matched[n], document.account(n), instance),
    )
    for name, value in (placements | roles).items():
        if isinstance(value, AccessError):
            sessions.forget(ids[name])  # revoked credentials are not reused
    live = _with_accounts(live, matched, placements, roles)
    if scope.groups:
        live = _with_source(live, sessions, document.source_account_id)
    return live


def _paths(live: state.OrgState) -> dict[str, state.UnitPath]:
    paths = {unit.id: path for path, unit in live.units.items()}
    paths[live.root_id] = ()
    return paths


def _place(sessions: Sessions, account_id: str) -> tuple[str, dict[str, str]]:
    """The account's parent (a unit or the root, by id) and its tags."""
    client = sessions.organizations()
    parents = organizations_pages(
        client, lambda c, more: c.list_parents(ChildId=account_id, **more)
    )
    parent = next(p for page in parents for p in page.get("Parents", []))["Id"]
    tags = read.tags_of(client, account_id)
    return parent, {t["Key"]: t["Value"] for t in tags}


def _each(
    names: set[str] | frozenset[str], concurrency: int, reader: Callable[[str], _Value]
) -> dict[str, _Value | AwsError]:
    """`reader(name)` for each name in parallel; an AWS failure is that name's value."""
    if not names:
        return {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {
            name: pool.submit(contextvars.copy_context().run, reader, name)
            for name in sorted(names)
        }
    results: dict[str, _Value | AwsError] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result()
        except AwsError as exc:
            results[name] = exc
    return results


def _with_accounts(
    live: state.OrgState,
    matched: Mapping[str, state.Account],
    placements: Mapping[str, tuple[str, dict[str, str]] | AwsError],
    roles: Mapping[str, dict[str, state.Role] | AwsError],
) -> state.OrgState:
    """Each account read again in place, and `unreachable` as these reads found them."""
    unreachable = dict(live.unreachable)
    fresh: dict[str, state.Account] = {}
    paths = _paths(live)
    for name, account in matched.items():
        place, held = placements.get(name), roles.get(name)
        if place is None and held is None:
            continue
        if isinstance(place, tuple):
            account = replace(account, unit=paths[place[0]], tags=place[1])
        if isinstance(held, dict):  # reachable again only once its roles could be read
            unreachable.pop(name, None)
            account = replace(account, name=name, roles=held)
        problem = next((p for p in (place, held) if isinstance(p, AwsError)), None)
        if problem is not None:
            unreachable[name] = str(problem)
            account = replace(account, name=name, roles=None)
        fresh[name] = account
    by_id = {a.id: a for a in fresh.values()}
    accounts = tuple(by_id.get(a.id, a) if a.id else a for a in live.accounts)
    return replace(live, accounts=accounts, unreachable=unreachable)


def _with_tree(
    live: state.OrgState,
    document: spec.Spec,
    sessions: Sessions,
    concurrency: int,
    instance: str,
) -> state.OrgState:
    """The units and every account's unit and state read again; each account keeps the tags
    and roles `live` had for it (a tree read does not read them)."""
    declared_units = set(spec.unit_paths(document.organization.units))
    org = read.read_organization(sessions, declared_units, concurrency, instance)
    before = live.account_by_id()
    accounts = []
    for account in org.accounts:
        held = before.get(account.id) if account.id else None
        if held is not None:
            roles = held.roles if account.state == state.ACTIVE else None
            account = replace(account, name=held.name, tags=held.tags, roles=roles)
        accounts.append(account)
    return replace(
        live,
        units=org.units,
        accounts=tuple(accounts),
        root_id=org.root_id,
        failed_creations=org.failed,
        foreign_creations=read.foreign_creations(document, org.accounts),
    )


def _with_source(
    live: state.OrgState, sessions: Sessions, source_account_id: str
) -> state.OrgState:
    source, why = read.read_source_or_why(sessions, source_account_id)
    if why:  # what was read before stays; the groups are reported unread
        return replace(live, source_unreachable=why)
    return replace(
        live,
        groups=source.groups,
        users=source.users,
        user_policies=source.user_policies,
        managed_policies=source.managed_policies,
        unreadable_policies=source.unreadable_policies,
        source_unreachable="",
    )
