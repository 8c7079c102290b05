"""The words of plan lines a reviewer reads, written out in full: where a unit or account goes,
what a new role carries, and a member the source account does not have."""

from __future__ import annotations

import json

from reconciler.core import plan, state

SOURCE = "111111111111"
NO_MFA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_a_nested_unit_names_its_parent_path() -> None:
    assert plan.CreateUnit(("Clients", "Acme", "Dev")).line() == (
        "+ unit Clients/Acme/Dev: create under Clients/Acme"
    )
    assert plan.CreateUnit(("Clients",)).line() == "+ unit Clients: create under the root"


def test_an_account_for_the_root_says_so_and_keeps_its_request() -> None:
    account = plan.CreateAccount("acme", "acme@example.com", (), {}, "Bootstrap")
    assert account.detail() == "create with email acme@example.com in the root"
    resumed = plan.CreateAccount(
        "acme", "acme@example.com", ("Clients",), {"env": "dev"}, "Bootstrap", "car-123"
    )
    assert resumed.detail() == (
        "create with email acme@example.com in Clients, tags env=dev "
        "(creation already in progress, request car-123)"
    )


def test_a_new_role_names_its_policies_by_their_last_path_part() -> None:
    role = state.Role(
        "Access",
        NO_MFA_TRUST,
        policies=frozenset(
            {
                "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
            }
        ),
        max_session_duration=5400,
    )
    assert plan.CreateRole("acme", None, "Access", role).detail() == (
        "create with ReadOnlyAccess, ViewOnlyAccess, no MFA, sessions up to 1.5 h"
    )


def test_a_new_role_without_policies_says_so() -> None:
    role = state.Role("Access", NO_MFA_TRUST)
    assert plan.CreateRole("acme", None, "Access", role).detail() == (
        "create with no policies, no MFA, sessions up to 1 h"
    )


def test_a_member_the_source_account_lacks_is_named_as_such() -> None:
    change = plan.AddMember("Devs", "zed", user_exists=False)
    assert change.line() == (
        "+ membership Devs/zed: add user zed to group Devs "
        "(no such IAM user in the source account: create it first)"
    )
