"""Ways in: AWS CLI profiles and console switch-role links for the roles groups grant.

Pure: takes the document and the account ids known so far, returns text. An account still to
be created has no id yet; it is listed as such instead of getting a broken ARN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from reconciler.core import policies, spec
from reconciler.core.errors import ReconcilerError

_DISPLAY_NAME_LIMIT = 64  # the console truncates longer display names


@dataclass(frozen=True)
class Way:
    """One (account, role) pair a group grants, with the names people will see."""

    account: str
    account_id: str | None
    role: str
    profile: str


def ways_in(document: spec.Spec, ids: Mapping[str, str], user: str | None = None) -> list[Way]:
    """Every granted (account, role), or only those `user`'s groups grant, in document order.

    The first role an account carries gets the account's own name as profile name; the others
    get `<account>-<role>`, so adding a role never renames an existing profile.
    """
    granted = {(g.account, g.role) for group in _groups_of(document, user) for g in group.grants}
    ways = []
    for account in document.accounts:
        carried = document.role_names(account)
        for role in carried:
            if (account.name, role) not in granted:
                continue
            profile = account.name if role == carried[0] else f"{account.name}-{_kebab(role)}"
            ways.append(Way(account.name, account.id or ids.get(account.name), role, profile))
    _check_unique(ways)
    return ways


def _groups_of(document: spec.Spec, user: str | None) -> Iterable[spec.Group]:
    if user is None:
        return document.groups
    return [g for g in document.groups if user.lower() in (u.lower() for u in g.users)]


def _kebab(role: str) -> str:
    """`ReadOnlyAccessRole` -> `read-only-access`."""
    stem = role.removesuffix("Role") or role
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", stem)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "role"


def _check_unique(ways: list[Way]) -> None:
    seen: dict[str, Way] = {}
    for way in ways:
        other = seen.setdefault(way.profile, way)
        if other is not way:
            raise ReconcilerError(
                f"profile name {way.profile!r} would name both {other.account}/{other.role} "
                f"and {way.account}/{way.role}; rename one of the accounts"
            )


def render_profiles(
    ways: list[Way],
    *,
    source_profile: str,
    mfa_serial: str,
    partition: str = policies.DEFAULT_PARTITION,
) -> str:
    """An `~/.aws/config` block per way in, ready to append; role ARNs in `partition`."""
    blocks = []
    for way in ways:
        if way.account_id is None:
            blocks.append(_not_created(way))
            continue
        blocks.append(
            f"[profile {way.profile}]\n"
            f"role_arn = {policies.role_arn(way.account_id, way.role, partition)}\n"
            f"source_profile = {source_profile}\n"
            f"mfa_serial = {mfa_serial}\n"
        )
    return "\n".join(blocks)


def render_links(ways: list[Way], partition: str = policies.DEFAULT_PARTITION) -> str:
    """A console switch-role link per way in, one per line, on the partition's console."""
    lines = []
    for way in ways:
        if way.account_id is None:
            lines.append(_not_created(way).rstrip("\n"))
            continue
        query = urlencode(
            {
                "roleName": way.role,
                "account": way.account_id,
                "displayName": way.profile[:_DISPLAY_NAME_LIMIT],
            }
        )
        lines.append(f"{policies.switch_role_url(partition)}?{query}")
    return "\n".join(lines) + ("\n" if lines else "")


def _not_created(way: Way) -> str:
    return (
        f"# {way.profile}: account {way.account!r} has no id yet (not created); "
        "run 'reconciler apply', then run this again\n"
    )
