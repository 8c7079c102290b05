"""Organizational units: created when missing, deleted only when marked, empty and prune is on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.core import plan, state

PlanOf = Callable[..., plan.Plan]

OLD = ("Old",)
OLD_TEAM = ("Old", "Team")


def only_change(p: plan.Plan) -> plan.Change:
    assert len(p.changes) == 1, [c.line() for c in p.changes]
    return p.changes[0]


def with_units(live: state.OrgState, *units: state.Unit) -> state.OrgState:
    return replace(live, units={**live.units, **{u.path: u for u in units}})


def without_units(live: state.OrgState, *paths: state.UnitPath) -> state.OrgState:
    return replace(live, units={p: u for p, u in live.units.items() if p not in paths})


def marked(path: state.UnitPath) -> state.Unit:
    return state.Unit(path, id=f"ou-{'-'.join(path).lower()}", managed=True)


def stray_account(unit: state.UnitPath) -> state.Account:
    return state.Account("legacy", "aws+legacy@example.com", "777777777777", unit=unit)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("Clients",), "+ unit Clients: create under the root"),
        (
            ("Environments", "Development"),
            "+ unit Environments/Development: create under Environments",
        ),
    ],
)
def test_missing_unit_is_created(
    live: state.OrgState, plan_of: PlanOf, path: state.UnitPath, line: str
) -> None:
    # An empty leaf, or a parent whose children exist (the live state is keyed by path).
    change = only_change(plan_of(without_units(live, path)))

    assert change == plan.CreateUnit(path)
    assert change.line() == line


def test_missing_unit_tree_is_created_parents_first(live: state.OrgState, plan_of: PlanOf) -> None:
    bare = without_units(
        live, ("Environments",), ("Environments", "Development"), ("Environments", "Production")
    )

    assert [c.line() for c in plan_of(bare).changes] == [
        "+ unit Environments: create under the root",
        "+ unit Environments/Development: create under Environments",
        "+ unit Environments/Production: create under Environments",
    ]


def test_unmarked_unit_of_a_declared_path_is_used_as_it_is(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    adopted = with_units(live, state.Unit(("Clients",), "ou-by-hand", managed=False))

    assert plan_of(adopted, prune=True).changes == ()


@pytest.mark.parametrize(
    "units", [(marked(OLD),), (marked(OLD), marked(OLD_TEAM))], ids=["one", "nested"]
)
def test_without_prune_marked_undeclared_units_are_kept_and_reported(
    live: state.OrgState, plan_of: PlanOf, units: tuple[state.Unit, ...]
) -> None:
    p = plan_of(with_units(live, *units), prune=False)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.UNIT] == tuple("/".join(u.path) for u in units)


def test_with_prune_an_empty_marked_undeclared_unit_is_deleted(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    p = plan_of(with_units(live, marked(OLD)), prune=True)

    change = only_change(p)
    assert change == plan.DeleteUnit(OLD, "ou-old")
    assert change.line() == "- unit Old: delete the empty unit, no longer declared"
    assert p.unmanaged[plan.Kind.UNIT] == ()


def test_with_prune_nested_empty_units_are_deleted_children_first(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    p = plan_of(with_units(live, marked(OLD), marked(OLD_TEAM)), prune=True)

    assert p.changes == (plan.DeleteUnit(OLD_TEAM, "ou-old-team"), plan.DeleteUnit(OLD, "ou-old"))


@pytest.mark.parametrize("prune", [False, True])
def test_an_unmarked_undeclared_unit_is_never_touched(
    live: state.OrgState, plan_of: PlanOf, prune: bool
) -> None:
    p = plan_of(with_units(live, state.Unit(OLD, "ou-old", managed=False)), prune=prune)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.UNIT] == ()


@pytest.mark.parametrize("where", [OLD, OLD_TEAM], ids=["in it", "below it"])
def test_a_unit_holding_an_undeclared_account_is_never_deleted(
    live: state.OrgState, plan_of: PlanOf, where: state.UnitPath
) -> None:
    crowded = with_units(live, marked(OLD), marked(OLD_TEAM))
    crowded = replace(crowded, accounts=(*crowded.accounts, stray_account(where)))

    p = plan_of(crowded, prune=True)

    deleted = [c.path for c in p.changes if isinstance(c, plan.DeleteUnit)]
    assert OLD not in deleted
    assert where not in deleted
    assert "Old" in p.unmanaged[plan.Kind.UNIT]


def test_a_unit_holding_an_unmarked_unit_is_never_deleted(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    units = with_units(live, marked(OLD), state.Unit(OLD_TEAM, "ou-by-hand", managed=False))

    p = plan_of(units, prune=True)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.UNIT] == ("Old",)


def test_a_unit_emptied_by_this_plan_is_deleted_after_the_move(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    moved_out = edit.account(with_units(live, marked(OLD)), "acme-dev", unit=OLD)

    p = plan_of(moved_out, prune=True)

    assert p.changes == (
        plan.MoveAccount("acme-dev", "333333333333", OLD, ("Clients", "Acme")),
        plan.DeleteUnit(OLD, "ou-old"),
    )
