"""Plain values for the pure core: a document, the live state that matches it, and ways to drift.

Nothing here talks to AWS or mocks anything. `live` is built from the declared state itself, so
the diff of `document` against `live` is empty; each test changes one thing in it and reads the
plan a user would see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import diff, load, plan, policies, spec, state

FIXTURES = Path(__file__).parents[1] / "fixtures"
FILENAME = "accounts.yaml"
MANAGEMENT = "111111111111"


def _generated_id(index: int) -> str:
    """The id AWS gave the index-th declared account without one: 333333333333, 444444444444..."""
    return str(index + 3) * 12


def _bootstrap_role(document: spec.Spec) -> state.Role:
    """The role Organizations created at CreateAccount: trusts the management account, no MFA."""
    return state.Role(
        name=document.organization.bootstrap_role,
        trust_policy=policies.compact_json(
            policies.trust_policy(document.organization.management_account_id, require_mfa=False)
        ),
        policies=frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"}),
        managed=True,  # even marked, the diff must never look at it
    )


def converged(document: spec.Spec) -> state.OrgState:
    """The live state of an organization that already is what `document` declares."""
    skeleton = state.OrgState(
        units={},
        accounts=tuple(
            state.Account(a.name, a.email, a.id or _generated_id(i))
            for i, a in enumerate(document.accounts)
        ),
        groups={},
    )
    want = state.declared(document, skeleton)
    bootstrap = _bootstrap_role(document)
    accounts = tuple(
        replace(a, roles={**(a.roles or {}), bootstrap.name: bootstrap}) for a in want.accounts
    )
    users = frozenset(u for g in want.groups.values() for u in g.users)
    return state.OrgState(
        units={p: state.Unit(p, id=f"ou-{'-'.join(p).lower()}", managed=True) for p in want.units},
        accounts=accounts,
        groups=dict(want.groups),
        root_id="r-root",
        management_account_id=document.organization.management_account_id,
        users=users | {"mallory"},
    )


@pytest.fixture
def org_yaml() -> str:
    """tests/fixtures/diff_org.yaml as text."""
    return (FIXTURES / "diff_org.yaml").read_text(encoding="utf-8")


@pytest.fixture
def variant(org_yaml: str) -> Callable[..., spec.Spec]:
    """The document with each `old` text (occurring exactly once) replaced by `new`."""

    def change(*replacements: tuple[str, str]) -> spec.Spec:
        changed = org_yaml
        for old, new in replacements:
            assert changed.count(old) == 1, f"{old!r} must occur exactly once in diff_org.yaml"
            changed = changed.replace(old, new)
        return load.parse_spec(changed, FILENAME)

    return change


@pytest.fixture
def document(variant: Callable[..., spec.Spec]) -> spec.Spec:
    return variant()


@pytest.fixture
def live(document: spec.Spec) -> state.OrgState:
    return converged(document)


@pytest.fixture
def plan_of(document: spec.Spec) -> Callable[..., plan.Plan]:
    """The plan for a live state: `plan_of(live, other_document, prune=True)`."""

    def make(
        live: state.OrgState, doc: spec.Spec | None = None, *, prune: bool | None = None
    ) -> plan.Plan:
        doc = doc or document
        rules = diff.Rules(
            prune=doc.policy.prune if prune is None else prune,
            bootstrap_role=doc.organization.bootstrap_role,
        )
        return diff.diff(state.declared(doc, live), live, rules)

    return make


def edit_account(live: state.OrgState, name: str, /, **fields: Any) -> state.OrgState:
    assert any(a.name == name for a in live.accounts), f"no live account {name!r}"
    accounts = tuple(replace(a, **fields) if a.name == name else a for a in live.accounts)
    return replace(live, accounts=accounts)


def edit_role(live: state.OrgState, account: str, role: str, /, **fields: Any) -> state.OrgState:
    current = next(a for a in live.accounts if a.name == account)
    assert current.roles is not None and role in current.roles, f"no role {account}/{role}"
    roles = {**current.roles, role: replace(current.roles[role], **fields)}
    return edit_account(live, account, roles=roles)


def drop_role(live: state.OrgState, account: str, role: str) -> state.OrgState:
    current = next(a for a in live.accounts if a.name == account)
    roles = {n: r for n, r in (current.roles or {}).items() if n != role}
    assert roles != current.roles, f"no role {account}/{role}"
    return edit_account(live, account, roles=roles)


def add_role(live: state.OrgState, account: str, role: state.Role) -> state.OrgState:
    current = next(a for a in live.accounts if a.name == account)
    return edit_account(live, account, roles={**(current.roles or {}), role.name: role})


def edit_group(live: state.OrgState, name: str, /, **fields: Any) -> state.OrgState:
    assert name in live.groups, f"no live group {name!r}"
    return replace(live, groups={**live.groups, name: replace(live.groups[name], **fields)})


@pytest.fixture
def edit() -> Any:
    """Helpers that change one thing in a live state (each returns a new OrgState)."""

    class Edit:
        account = staticmethod(edit_account)
        role = staticmethod(edit_role)
        drop_role = staticmethod(drop_role)
        add_role = staticmethod(add_role)
        group = staticmethod(edit_group)
        converged = staticmethod(converged)

    return Edit
