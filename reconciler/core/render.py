"""Render a Plan for people (text), machines (json) and pull-request comments (markdown).

Pure: Plan in, text out. All three carry the same changes in the same order.

JSON is a contract with other programs, versioned by `format_version`: each change is
`{action, kind, account, resource, summary, before, after}`, where before and after are JSON
values (policy documents as objects, tags as objects, numbers as numbers, null for nothing);
withheld changes add their `reason`. Its shape changes only with a new `format_version`.

Names come from the document and from AWS, and either may be hostile. Text and markdown show
every character a terminal would not print as an escape (`\n`, `\x1b`, `\u202e`), so a name
can neither fake a line nor send escape sequences; markdown puts every such line in a code
block whose fence is longer than any run of backticks inside it, where GitHub renders no HTML,
links or mentions. JSON escapes everything outside ASCII.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any

from reconciler.core import errors, plan

_BACKTICKS = re.compile("`+")
FORMAT_VERSION = 1


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def render(p: plan.Plan, fmt: Format, revision: str | None = None) -> str:
    """`revision`: the document's revision the plan was made from, when known (JSON shows it)."""
    if fmt == Format.JSON:
        return as_json(p, revision)
    return {Format.TEXT: text, Format.MARKDOWN: markdown}[fmt](p)


def text(p: plan.Plan) -> str:
    lines = _lines(p) + _notes(p)
    if not p.changes and not p.withheld:
        lines.append("No changes. The organization matches the document.")
    lines.append(p.summary())
    return "\n".join(errors.printable(line) for line in lines) + "\n"


def _lines(p: plan.Plan) -> list[str]:
    lines = [change.line() for change in p.changes]
    return lines + [f"! {w.change.line()} [withheld: {w.reason}]" for w in p.withheld]


def _notes(p: plan.Plan) -> list[str]:
    notes = [f"? account {name} unreachable: {why}" for name, why in sorted(p.unreachable.items())]
    for kind, names in sorted(p.unmanaged.items()):
        if names:
            notes.append(
                f"# unmanaged {kind}s (not in the document, left alone): {', '.join(names)}"
            )
    return notes


def as_json(p: plan.Plan, revision: str | None = None) -> str:
    counts = p.counts()
    document = {
        "format_version": FORMAT_VERSION,
        "revision": revision,
        "summary": {action.value: counts[action] for action in plan.Action},
        "changes": [_change(c) for c in p.changes],
        "withheld": [{**_change(w.change), "reason": w.reason} for w in p.withheld],
        "unreachable": dict(sorted(p.unreachable.items())),
        "unmanaged": {kind.value: list(names) for kind, names in sorted(p.unmanaged.items())},
    }
    return json.dumps(document, indent=2) + "\n"


def _change(change: plan.Change) -> dict[str, Any]:
    before, after = change.states()
    return {
        "action": change.action.value,
        "kind": change.kind.value,
        "account": change.account,
        "resource": change.target,
        "summary": change.detail(),
        "before": before,
        "after": after,
    }


def markdown(p: plan.Plan) -> str:
    parts = ["### reconciler plan", "", f"**{p.summary()}**", ""]
    if p.changes or p.withheld:
        parts += [*_fenced(_lines(p), "diff"), ""]
    else:
        parts += ["No changes. The organization matches the document.", ""]
    notes = _notes(p)
    if notes:
        parts += [
            "<details><summary>Notes</summary>",
            "",
            *_fenced([f"- {n}" for n in notes], "text"),
            "",
            "</details>",
            "",
        ]
    return "\n".join(parts)


def _fenced(lines: list[str], language: str) -> list[str]:
    """A code block of `lines`, each on one line, that no line can close early."""
    shown = [errors.printable(line) for line in lines]
    longest = max((len(run) for line in shown for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)  # CommonMark: only a fence as long closes the block
    return [fence + language, *shown, fence]
