"""Render a Plan for people (text), machines (json) and pull-request comments (markdown).

Pure: Plan in, text out. All three carry the same changes in the same order.

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
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from reconciler.core import errors, plan

_BACKTICKS = re.compile("`+")


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def render(p: plan.Plan, fmt: Format) -> str:
    return {Format.TEXT: text, Format.JSON: as_json, Format.MARKDOWN: markdown}[fmt](p)


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


def as_json(p: plan.Plan) -> str:
    counts = p.counts()
    document = {
        "summary": {action.value: counts[action] for action in plan.Action},
        "changes": [_change(c) for c in p.changes],
        "withheld": [{**_change(w.change), "reason": w.reason} for w in p.withheld],
        "unreachable": dict(sorted(p.unreachable.items())),
        "unmanaged": {kind.value: list(names) for kind, names in sorted(p.unmanaged.items())},
    }
    return json.dumps(document, indent=2) + "\n"


def _change(change: plan.Change) -> dict[str, Any]:
    data = {f.name: _plain(getattr(change, f.name)) for f in fields(change)}
    return {
        "action": change.action.value,
        "kind": change.kind.value,
        "type": type(change).__name__,
        "account": change.account,
        "target": change.target,
        "detail": change.detail(),
        "line": change.line(),
        "fields": data,
    }


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


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
