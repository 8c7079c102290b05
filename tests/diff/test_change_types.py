"""The base `Change`: abstract, and what every change says of its account and group."""

from __future__ import annotations

import pytest

from reconciler.core import plan, state

ACME = "333333333333"
GROUP = state.Group("Devs")

# A change of each shape, with the account id and the group it carries.
CARRIED: dict[str, tuple[plan.Change, str | None, str | None]] = {
    "unit": (plan.CreateUnit(("Clients",)), None, None),
    "new account": (plan.CreateAccount("a", "a@example.com", (), {}, "Boot"), None, None),
    "move": (plan.MoveAccount("a", ACME, (), ("Clients",)), ACME, None),
    "tags": (plan.UpdateAccountTags("a", ACME, {}, {"k": "v"}), ACME, None),
    "role": (plan.MarkRole("a", ACME, "R"), ACME, None),
    "role of a new account": (plan.MarkRole("a", None, "R"), None, None),
    "new group": (plan.CreateGroup(GROUP), None, "Devs"),
    "grants": (plan.PutGroupGrants("Ops", None, None), None, "Ops"),
    "group policy": (plan.DetachGroupPolicy("Ops", "arn:aws:iam::aws:policy/X"), None, "Ops"),
    "member": (plan.AddMember("Ops", "al"), None, "Ops"),
    "group deletion": (plan.DeleteGroup("Old"), None, "Old"),
}


@pytest.mark.parametrize(("change", "account_id", "group"), CARRIED.values(), ids=CARRIED)
def test_account_id_and_group_name(
    change: plan.Change, account_id: str | None, group: str | None
) -> None:
    assert change.account_id == account_id
    assert change.group_name == group


def test_the_account_id_is_a_field_of_the_changes_that_carry_one() -> None:
    move = plan.MoveAccount(name="a", account_id=ACME, source=(), destination=("B",))

    assert move == plan.MoveAccount("a", ACME, (), ("B",))
    assert "account_id" in {f for f in move.__dataclass_fields__}


@pytest.mark.parametrize("base", [plan.Change, plan.RoleChange, plan.MembershipChange])
def test_the_bases_are_never_planned_themselves(base: type[plan.Change]) -> None:
    with pytest.raises(TypeError, match="abstract"):
        base()


def test_a_change_type_states_its_kind() -> None:
    assert not hasattr(plan.Change, "kind")
    assert plan.RoleChange.kind == plan.Kind.ROLE
