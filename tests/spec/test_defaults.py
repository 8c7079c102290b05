"""What the document means where it says nothing: the defaults the README promises."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.core import load, spec

Variant = Callable[..., str]


def test_minimal_document_is_valid(minimal: str) -> None:
    document = load.parse_spec(minimal, "accounts.yaml")

    assert isinstance(document, spec.Spec)
    assert [account.name for account in document.accounts] == ["acme-dev", "shared"]


def test_source_account_defaults_to_the_management_account(minimal: str) -> None:
    document = load.parse_spec(minimal, "accounts.yaml")

    assert document.access.source_account_id is None
    assert document.source_account_id == "111111111111"


def test_source_account_when_declared(variant: Variant) -> None:
    text = variant(("access:\n", 'access:\n  source_account_id: "999999999999"\n'))

    assert load.parse_spec(text, "accounts.yaml").source_account_id == "999999999999"


def test_role_defaults_require_mfa_for_one_hour(minimal: str) -> None:
    role = load.parse_spec(minimal, "accounts.yaml").role("AccountAccessRole")

    assert role.require_mfa is True
    assert role.max_session_duration == 3600
    assert role.inline_policies == {}


def test_bootstrap_role_defaults_to_the_organizations_one(minimal: str) -> None:
    document = load.parse_spec(minimal, "accounts.yaml")

    assert document.organization.bootstrap_role == "OrganizationAccountAccessRole"


def test_account_defaults(minimal: str) -> None:
    shared = load.parse_spec(minimal, "accounts.yaml").account("shared")

    assert shared.unit is None  # the root
    assert shared.tags == {}


def test_policy_defaults_are_the_safe_ones(minimal: str) -> None:
    policy = load.parse_spec(minimal, "accounts.yaml").policy

    assert policy.prune is False
    assert policy.max_changes == 50
    assert policy.protected_accounts == ()


def test_sections_other_than_organization_and_access_may_be_left_out() -> None:
    text = 'organization:\n  management_account_id: "111111111111"\naccess: {}\n'

    document = load.parse_spec(text, "accounts.yaml")

    assert (document.accounts, document.groups, document.access.roles) == ((), (), ())
    assert document.organization.units == ()
