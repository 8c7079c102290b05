"""The kinds of change a plan can hold: every leaf class under `plan.Change` (bases such as
`RoleChange` are never planned themselves)."""

from __future__ import annotations

from reconciler.core import plan


def change_kinds() -> set[type]:
    return _leaves(plan.Change)


def _leaves(base: type) -> set[type]:
    found: set[type] = set()
    kind: type
    for kind in base.__subclasses__():
        found |= _leaves(kind)
        if not kind.__subclasses__():
            found.add(kind)
    return found
