"""Safety rails, applied to a Plan before anything is changed.

Pure: takes the document, the plan and facts read from AWS, returns the plan to apply or
raises `SafetyError`, in which case nothing at all is applied. Changes to protected accounts
(their unit, tags and roles) are withheld (reported, never applied) rather than failing the
whole organization. The groups the document declares are its access plane and are managed in
the source account even when that account is protected (commonly the management account).
"""

from __future__ import annotations

import json
from dataclasses import replace

from reconciler import plan, policies, spec
from reconciler.errors import SafetyError


def guard(
    document: spec.Spec,
    proposed: plan.Plan,
    management_account_id: str,
    caller_account_id: str | None = None,
) -> plan.Plan:
    """The plan that may be applied, or SafetyError naming the rail that refused it.

    `caller_account_id` is the account of the credentials in use: a member account of the
    right organization would otherwise write the source account's groups into itself.
    """
    _check_organization(document, management_account_id)
    _check_caller(document, caller_account_id)
    _check_bootstrap_role(document, proposed)
    _check_trust(proposed)
    guarded = _withhold_protected(document, proposed)
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
        if document is not None and _trusts_anyone(document):
            raise SafetyError(f"refusing a trust policy that trusts '*': {change.line()}")


def _trusts_anyone(document: str) -> bool:
    parsed = json.loads(policies.canonical(document))
    for statement in parsed.get("Statement", []):
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if principal == "*" or (
            isinstance(principal, dict) and any("*" in values for values in principal.values())
        ):
            return True
    return False


def _withhold_protected(document: spec.Spec, proposed: plan.Plan) -> plan.Plan:
    names = {a.name for a in document.accounts if document.is_protected(a)}
    ids = set(document.policy.protected_accounts)
    keep, withheld = [], list(proposed.withheld)
    for change in proposed.changes:
        if change.account in names or getattr(change, "account_id", None) in ids:
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


def _check_size(document: spec.Spec, proposed: plan.Plan) -> None:
    limit = document.policy.max_changes
    if len(proposed.changes) > limit:
        raise SafetyError(
            f"the plan has {len(proposed.changes)} changes, more than policy.max_changes "
            f"({limit}); nothing was applied. Review the plan, then raise the limit or apply "
            "the change in smaller steps"
        )
