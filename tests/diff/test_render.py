"""Rendering a plan: text for people, JSON for machines, markdown for pull requests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from reconciler.core import plan, policies, render, state
from tests.kinds import change_kinds

ACME = "333333333333"
TRUST = policies.compact_json(policies.trust_policy("444444444444", require_mfa=True))
NO_MFA = policies.compact_json(policies.trust_policy("444444444444", require_mfa=False))
GRANTS = policies.compact_json(
    policies.grant_policy(["arn:aws:iam::333333333333:role/AccountAccessRole"])
)
ROLE = state.Role(
    "AccountAccessRole",
    trust_policy=TRUST,
    policies=frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"}),
    inline_policies={"deny": '{"Statement":[]}'},
    max_session_duration=7200,
    managed=True,
)

# One change of every type, with the line a user reads for it.
EVERY: dict[str, tuple[plan.Change, str]] = {
    "CreateUnit": (
        plan.CreateUnit(("Clients", "Acme")),
        "+ unit Clients/Acme: create under Clients",
    ),
    "DeleteUnit": (
        plan.DeleteUnit(("Old",), "ou-old"),
        "- unit Old: delete the empty unit, no longer declared",
    ),
    "CreateAccount": (
        plan.CreateAccount(
            "acme-prod",
            "aws+acme-prod@example.com",
            ("Clients",),
            {"client": "acme"},
            "OrganizationAccountAccessRole",
        ),
        "+ account acme-prod: create with email aws+acme-prod@example.com in Clients, "
        "tags client=acme",
    ),
    "MoveAccount": (
        plan.MoveAccount("acme-dev", ACME, ("Old",), ("Clients", "Acme")),
        "~ account acme-dev: move Old -> Clients/Acme",
    ),
    "UpdateAccountTags": (
        plan.UpdateAccountTags("acme-dev", ACME, {"env": "dev", "x": "1"}, {"env": "prod"}),
        "~ tag acme-dev: env 'dev' -> 'prod', remove x='1'",
    ),
    "CreateRole": (
        plan.CreateRole("acme-prod", None, "AccountAccessRole", ROLE),
        "+ role acme-prod/AccountAccessRole: create with AdministratorAccess, MFA required, "
        "sessions up to 2 h",
    ),
    "UpdateRoleTrust": (
        plan.UpdateRoleTrust("acme-dev", ACME, "AccountAccessRole", before=NO_MFA, after=TRUST),
        "~ role acme-dev/AccountAccessRole: trust policy add the MFA condition",
    ),
    "AttachRolePolicy": (
        plan.AttachRolePolicy("acme-dev", ACME, "R", policy_arn="arn:aws:iam::aws:policy/A"),
        "~ role acme-dev/R: attach arn:aws:iam::aws:policy/A",
    ),
    "DetachRolePolicy": (
        plan.DetachRolePolicy("acme-dev", ACME, "R", policy_arn="arn:aws:iam::aws:policy/B"),
        "~ role acme-dev/R: detach arn:aws:iam::aws:policy/B (not declared)",
    ),
    "PutRoleInlinePolicy": (
        plan.PutRoleInlinePolicy("acme-dev", ACME, "R", "deny", before=None, after="{}"),
        "~ role acme-dev/R: add inline policy deny",
    ),
    "DeleteRoleInlinePolicy": (
        plan.DeleteRoleInlinePolicy("acme-dev", ACME, "R", policy_name="legacy"),
        "~ role acme-dev/R: delete inline policy legacy (not declared)",
    ),
    "UpdateRoleSession": (
        plan.UpdateRoleSession("acme-dev", ACME, "R", before=3600, after=7200),
        "~ role acme-dev/R: max session duration 3600 -> 7200 s",
    ),
    "MarkRole": (
        plan.MarkRole("acme-dev", ACME, "R"),
        "~ role acme-dev/R: take under management (tag managed-by=reconciler)",
    ),
    "DeleteRole": (
        plan.DeleteRole("acme-dev", ACME, "Old"),
        "- role acme-dev/Old: delete (carries managed-by=reconciler, no longer declared)",
    ),
    "CreateGroup": (
        plan.CreateGroup(state.Group("Devs", grant_policy=GRANTS, users=frozenset({"bob", "al"}))),
        "+ group Devs: create at path /reconciler/ granting 1 role(s)",
    ),
    "PutGroupGrants": (
        plan.PutGroupGrants("Ops", before=None, after=GRANTS),
        "~ group Ops: grant arn:aws:iam::333333333333:role/AccountAccessRole",
    ),
    "DeleteGroupInlinePolicy": (
        plan.DeleteGroupInlinePolicy("Ops", "by-hand", document="{}"),
        "~ group Ops: delete inline policy by-hand (not declared)",
    ),
    "DetachGroupPolicy": (
        plan.DetachGroupPolicy("Ops", "arn:aws:iam::aws:policy/AdministratorAccess"),
        "~ group Ops: detach arn:aws:iam::aws:policy/AdministratorAccess (not declared)",
    ),
    "AddMember": (plan.AddMember("Devs", "al"), "+ membership Devs/al: add user al to group Devs"),
    "RemoveMember": (
        plan.RemoveMember("Devs", "eve"),
        "- membership Devs/eve: remove user eve from group Devs (not declared)",
    ),
    "DeleteGroup": (
        plan.DeleteGroup("Old"),
        "- group Old: delete the group (at path /reconciler/, no longer declared)",
    ),
}
CREATES, UPDATES, DELETES = 5, 12, 4
SUMMARY = f"Plan: {CREATES} to create, {UPDATES} to update, {DELETES} to delete."
EMPTY_SUMMARY = "Plan: 0 to create, 0 to update, 0 to delete."
NO_CHANGES = "No changes. The organization matches the document."
LINE = re.compile(r"^([+~-]) (account|unit|role|group|membership|tag) (\S+): (.+)$")


@pytest.fixture
def full() -> plan.Plan:
    return plan.Plan.of([change for change, _ in EVERY.values()])


def test_every_change_type_is_covered_here() -> None:
    assert {type(c).__name__ for c, _ in EVERY.values()} == {t.__name__ for t in change_kinds()}
    assert all(type(c).__name__ == name for name, (c, _) in EVERY.items())


@pytest.mark.parametrize(("change", "line"), EVERY.values(), ids=EVERY.keys())
def test_each_change_is_one_line_with_symbol_kind_target(change: plan.Change, line: str) -> None:
    assert change.line() == line
    symbol, kind, target, _ = LINE.match(line).groups()  # type: ignore[union-attr]
    assert symbol == {"create": "+", "update": "~", "delete": "-"}[change.action]
    assert kind == change.kind.value
    assert target == change.target


def test_text_is_one_line_per_change_then_the_summary(full: plan.Plan) -> None:
    all_lines = render.text(full).splitlines()
    # Policy diffs sit under their change, indented; every other line is a change.
    lines = [line for line in all_lines if not line.startswith("    ")]

    assert lines[:-1] == [c.line() for c in full.changes]
    assert sorted(lines[:-1]) == sorted(line for _, line in EVERY.values())
    assert all(LINE.match(line) for line in lines[:-1])
    assert all_lines[-1] == SUMMARY
    assert full.summary() == SUMMARY


def test_empty_plan_says_there_are_no_changes() -> None:
    assert render.text(plan.Plan()) == f"{NO_CHANGES}\n{EMPTY_SUMMARY}\n"


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ([plan.AddMember("Devs", "al")], "Plan: 1 to create, 0 to update, 0 to delete."),
        (
            [plan.MarkRole("a", ACME, "R"), plan.MarkRole("a", ACME, "S")],
            "Plan: 0 to create, 2 to update, 0 to delete.",
        ),
        (
            [plan.DeleteGroup("Old"), plan.RemoveMember("Devs", "eve"), plan.AddMember("D", "x")],
            "Plan: 1 to create, 0 to update, 2 to delete.",
        ),
    ],
)
def test_summary_counts_each_action(changes: list[plan.Change], summary: str) -> None:
    assert render.text(plan.Plan.of(changes)).splitlines()[-1] == summary


def _noted() -> plan.Plan:
    move = plan.MoveAccount("vault", "555555555555", (), ("Sec",))
    return plan.Plan(
        changes=(plan.AddMember("Devs", "al"),),
        withheld=(plan.Withheld(move, "account vault is protected"),),
        unmanaged={plan.Kind.ACCOUNT: ("legacy", "sandbox"), plan.Kind.ROLE: ()},
        unreachable={"acme-dev": "AccessDenied"},
    )


def test_text_shows_withheld_unreachable_and_unmanaged_apart_from_changes() -> None:
    lines = render.text(_noted()).splitlines()

    assert lines == [
        "+ membership Devs/al: add user al to group Devs",
        "! ~ account vault: move (root) -> Sec [withheld: account vault is protected]",
        "? account acme-dev unreachable: AccessDenied",
        "# unmanaged accounts (not in the document, left alone): legacy, sandbox",
        "Plan: 1 to create, 0 to update, 0 to delete.",
    ]


CHANGE_KEYS = ["action", "kind", "account", "resource", "summary", "before", "after"]


def test_json_carries_the_same_changes_and_summary(full: plan.Plan) -> None:
    document = json.loads(render.as_json(full))

    assert document["format_version"] == 1
    assert len(document["changes"]) == len(full.changes) == len(EVERY)
    assert all(list(c) == CHANGE_KEYS for c in document["changes"])
    symbols = {"create": "+", "update": "~", "delete": "-"}
    assert [
        f"{symbols[c['action']]} {c['kind']} {c['resource']}: {c['summary']}"
        for c in document["changes"]
    ] == [c.line() for c in full.changes]
    assert [c["account"] for c in document["changes"]] == [c.account for c in full.changes]
    assert document["summary"] == {"create": CREATES, "update": UPDATES, "delete": DELETES}
    text_summary = render.text(full).splitlines()[-1]
    assert (
        text_summary
        == "Plan: {create} to create, {update} to update, {delete} to delete.".format(
            **document["summary"]
        )
    )


MFA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ],
}
NO_MFA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
GRANTS_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": ["arn:aws:iam::333333333333:role/AccountAccessRole"],
        }
    ],
}
# What a program reading the JSON plan finds before and after each change.
BEFORE_AFTER: dict[str, tuple[object, object]] = {
    "CreateUnit": (None, {"path": ["Clients", "Acme"]}),
    "DeleteUnit": ({"path": ["Old"], "id": "ou-old"}, None),
    "CreateAccount": (
        None,
        {
            "email": "aws+acme-prod@example.com",
            "unit": ["Clients"],
            "tags": {"client": "acme"},
            "request_id": None,
        },
    ),
    "MoveAccount": ({"unit": ["Old"]}, {"unit": ["Clients", "Acme"]}),
    "UpdateAccountTags": ({"env": "dev", "x": "1"}, {"env": "prod"}),
    "CreateRole": (
        None,
        {
            "trust_policy": MFA_TRUST,
            "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "inline_policies": {"deny": {"Statement": []}},
            "max_session_duration": 7200,
        },
    ),
    "UpdateRoleTrust": (NO_MFA_TRUST, MFA_TRUST),
    "AttachRolePolicy": (None, "arn:aws:iam::aws:policy/A"),
    "DetachRolePolicy": ("arn:aws:iam::aws:policy/B", None),
    "PutRoleInlinePolicy": (None, {}),
    "DeleteRoleInlinePolicy": ({"policy_name": "legacy"}, None),
    "UpdateRoleSession": (3600, 7200),
    "MarkRole": (None, {"managed-by": "reconciler"}),
    "DeleteRole": ({"managed-by": "reconciler", "policies": 0}, None),
    "CreateGroup": (
        None,
        {"path": "/reconciler/", "grant_policy": GRANTS_DOCUMENT, "users": ["al", "bob"]},
    ),
    "PutGroupGrants": (None, GRANTS_DOCUMENT),
    "DeleteGroupInlinePolicy": ({"policy_name": "by-hand", "document": {}}, None),
    "DetachGroupPolicy": ("arn:aws:iam::aws:policy/AdministratorAccess", None),
    "AddMember": (None, "al"),
    "RemoveMember": ("eve", None),
    "DeleteGroup": ({"path": "/reconciler/"}, None),
}


def test_every_change_type_has_its_before_and_after_here() -> None:
    assert set(BEFORE_AFTER) == set(EVERY)


@pytest.mark.parametrize("name", EVERY)
def test_json_before_and_after_are_json_values(name: str) -> None:
    change, _ = EVERY[name]

    [shown] = json.loads(render.as_json(plan.Plan((change,))))["changes"]

    assert (shown["before"], shown["after"]) == BEFORE_AFTER[name]


def test_json_shows_a_url_encoded_live_document_as_an_object() -> None:
    encoded = "%7B%22Statement%22%3A%5B%5D%7D"
    change = plan.PutGroupGrants("Ops", before=encoded, after=None)

    [shown] = json.loads(render.as_json(plan.Plan((change,))))["changes"]

    assert (shown["before"], shown["after"]) == ({"Statement": []}, None)


def test_json_names_the_revision_when_known() -> None:
    assert json.loads(render.as_json(plan.Plan()))["revision"] is None
    assert json.loads(render.as_json(plan.Plan(), "0a1b2c3"))["revision"] == "0a1b2c3"
    shown = render.render(plan.Plan(), render.Format.JSON, revision="0a1b2c3")
    assert json.loads(shown)["revision"] == "0a1b2c3"


def test_json_carries_withheld_unreachable_and_unmanaged() -> None:
    document = json.loads(render.as_json(_noted()))

    assert document["withheld"] == [
        {
            "action": "update",
            "kind": "account",
            "account": "vault",
            "resource": "vault",
            "summary": "move (root) -> Sec",
            "before": {"unit": []},
            "after": {"unit": ["Sec"]},
            "reason": "account vault is protected",
        }
    ]
    assert document["unreachable"] == {"acme-dev": "AccessDenied"}
    assert document["unmanaged"] == {"account": ["legacy", "sandbox"], "role": []}


def test_json_of_an_empty_plan() -> None:
    assert json.loads(render.as_json(plan.Plan())) == {
        "format_version": 1,
        "revision": None,
        "summary": {"create": 0, "update": 0, "delete": 0},
        "changes": [],
        "withheld": [],
        "access": [],
        "findings": [],
        "unreachable": {},
        "unmanaged": {},
    }


def test_markdown_has_the_summary_and_a_diff_block_of_the_same_lines() -> None:
    short = plan.Plan.of([c for c, _ in EVERY.values() if c.policy_texts() is None])
    text = render.markdown(short)

    assert f"**{short.summary()}**" in text
    block = "```diff\n" + "\n".join(c.line() for c in short.changes) + "\n```\n"
    assert block in text
    assert text.count("```") == 2
    assert NO_CHANGES not in text


def test_markdown_of_an_empty_plan_says_no_changes() -> None:
    text = render.markdown(plan.Plan())

    assert f"**{EMPTY_SUMMARY}**" in text
    assert NO_CHANGES in text
    assert "```" not in text


def test_markdown_puts_withheld_in_the_block_and_notes_in_details() -> None:
    text = render.markdown(_noted())

    assert (
        "```diff\n+ membership Devs/al: add user al to group Devs\n"
        "! ~ account vault: move (root) -> Sec [withheld: account vault is protected]\n```"
    ) in text
    assert "- ? account acme-dev unreachable: AccessDenied" in text
    assert "<details>" in text and "</details>" in text


@pytest.mark.parametrize("fmt", list(render.Format))
def test_render_dispatches_on_the_format(full: plan.Plan, fmt: render.Format) -> None:
    renderers: dict[render.Format, Callable[[plan.Plan], str]] = {
        render.Format.TEXT: render.text,
        render.Format.JSON: render.as_json,
        render.Format.MARKDOWN: render.markdown,
    }
    expected = renderers[fmt](full)

    assert render.render(full, fmt) == expected
