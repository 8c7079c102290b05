"""Render a Plan for people (text), machines (json) and pull-request comments (markdown).

Pure: Plan in, text out. All three carry the same changes in the same order, then the
findings (live access the document does not declare), the summary, and the access effect (who
gains and who loses which role). A change that rewrites a policy shows it as a line diff of the
pretty-printed canonical JSON in text and markdown, and as JSON objects in JSON.

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

import csv
import difflib
import enum
import html
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.core import access, errors, plan, policies, state

_BACKTICKS = re.compile("`+")
FORMAT_VERSION = 1
DIFF_CONTEXT = 3  # unchanged lines shown around each changed line of a policy
FOLD_AFTER = 30  # lines: a longer markdown plan folds its changes per account
MARKDOWN_LINES = 200  # access lines shown in a pull-request comment; the rest are counted
_COLOURS = {"+": "\x1b[32m", "-": "\x1b[31m", "!": "\x1b[33m"}
_RESET = "\x1b[0m"
# Places one policy diff line ("+", "-" or " ", and the JSON line) in the plan's layout.
_DiffLine = Callable[[str, str], str]


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def render(p: plan.Plan, fmt: Format, revision: str | None = None, *, colour: bool = False) -> str:
    """`revision`: the document's revision the plan was made from, when known (JSON shows it).
    `colour`: text for a terminal (the caller decides: a TTY and no NO_COLOR)."""
    if fmt == Format.JSON:
        return as_json(p, revision)
    if fmt == Format.MARKDOWN:
        return markdown(p)
    return text(p, colour=colour)


def text(p: plan.Plan, *, colour: bool = False) -> str:
    lines = [*_change_lines(p, _indented), *_notes(p), *_findings(p)]
    if not p.changes and not p.withheld:
        lines.append("No changes. The organization matches the document.")
    lines.append(p.summary())
    if p.access:
        lines += ["", "Access effect:", *(a.line() for a in p.access)]
    shown = [errors.printable(line) for line in lines]
    return "\n".join(_coloured(line) if colour else line for line in shown) + "\n"


def _coloured(line: str) -> str:
    colour = _COLOURS.get(line.lstrip()[:1])
    return f"{colour}{line}{_RESET}" if colour else line


def _indented(sign: str, line: str) -> str:
    """A policy diff line under its change in text: indented, the sign before the JSON."""
    return f"    {sign} {line}"


def _at_margin(sign: str, line: str) -> str:
    """A policy diff line in a markdown `diff` block: the sign in the first column, where
    GitHub colours it, the JSON indented after it."""
    return f"{sign}     {line}"


def _change_lines(p: plan.Plan, diff_line: _DiffLine) -> list[str]:
    lines = []
    for change in p.changes:
        lines += [change.line(), *_policy_diff(change, diff_line)]
    for w in p.withheld:
        lines += [f"! {w.change.line()} [withheld: {w.reason}]", *_policy_diff(w.change, diff_line)]
    return lines


def _policy_diff(change: plan.Change, diff_line: _DiffLine) -> list[str]:
    texts = change.policy_texts()
    if texts is None:
        return []
    before, after = (policies.PolicyDocument.of(t).pretty() if t else [] for t in texts)
    return [diff_line(sign, line) for sign, line in policy_diff(before, after)]


def policy_diff(before: list[str], after: list[str]) -> Iterator[tuple[str, str]]:
    """(sign, line) of a line diff: "+" added, "-" removed, " " context; "..." between hunks."""
    hunks = difflib.unified_diff(before, after, lineterm="", n=DIFF_CONTEXT)
    first = True
    for line in hunks:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if not first:
                yield " ", "..."
            first = False
            continue
        yield line[:1], line[1:]


def _notes(p: plan.Plan) -> list[str]:
    notes = [f"? account {name} unreachable: {why}" for name, why in sorted(p.unreachable.items())]
    for kind, names in sorted(p.unmanaged.items()):
        if names:
            notes.append(
                f"# unmanaged {kind}s (not in the document, left alone): {', '.join(names)}"
            )
    return notes


def _findings(p: plan.Plan) -> list[str]:
    return [finding.line() for finding in p.findings]


def as_json(p: plan.Plan, revision: str | None = None) -> str:
    counts = p.counts()
    document = {
        "format_version": FORMAT_VERSION,
        "revision": revision,
        "summary": {action.value: counts[action] for action in plan.Action},
        "changes": [_change(c) for c in p.changes],
        "withheld": [{**_change(w.change), "reason": w.reason} for w in p.withheld],
        "access": [_access_change(a) for a in p.access],
        "findings": [_finding(f) for f in p.findings],
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


def _access_change(a: plan.AccessChange) -> dict[str, Any]:
    return {
        "change": a.change.value,
        "user": a.user,
        "group": a.group or None,
        "account": a.account,
        "account_id": a.account_id,
        "role": a.role,
        "mfa": a.mfa,
    }


def _finding(f: plan.Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "account": f.account,
        "resource": f.resource,
        "detail": f.detail,
        "users": list(f.users),
    }


def markdown(p: plan.Plan) -> str:
    """A pull-request comment: the summary first, then the access effect and findings, then
    the changes (folded per account when long), then notes; names only inside code blocks."""
    parts = ["### reconciler plan", "", f"**{p.summary()}**", ""]
    if p.access:
        parts += [
            f"**Access effect:** {_access_counts(p)}",
            "",
            *_long_list([a.line() for a in p.access], "access changes", "diff"),
        ]
    if p.findings:
        ways = "way in" if len(p.findings) == 1 else "ways in"
        parts += [f"**Findings:** {len(p.findings)} {ways} the document does not declare", ""]
        parts += _long_list(_findings(p), "findings", "text")
    if p.changes or p.withheld:
        parts += ["**Changes:**", "", *_changes_markdown(p)]
    else:
        parts += ["No changes. The organization matches the document.", ""]
    notes = _notes(p)
    if notes:
        parts += _details("Notes", _fenced([f"- {n}" for n in notes], "text"))
    return "\n".join(parts)


def _long_list(lines: list[str], noun: str, language: str) -> list[str]:
    """A code block of `lines`, folded when long and cut at MARKDOWN_LINES: one group of
    administrators reaches every role, and a pull-request comment has a size limit."""
    shown = lines[:MARKDOWN_LINES]
    if len(lines) > MARKDOWN_LINES:
        shown.append(f"... and {len(lines) - MARKDOWN_LINES} more in the text or JSON plan")
    block = _fenced(shown, language)
    if len(lines) <= FOLD_AFTER:
        return [*block, ""]
    return _details(f"{len(lines)} {noun}", block)


def _access_counts(p: plan.Plan) -> str:
    granted = sum(a.change == plan.AccessAction.GRANT for a in p.access)
    return f"{granted} granted, {len(p.access) - granted} revoked"


def _changes_markdown(p: plan.Plan) -> list[str]:
    lines = _change_lines(p, _at_margin)
    if len(lines) <= FOLD_AFTER:
        return [*_fenced(lines, "diff"), ""]
    parts = []
    for where, group in _by_account(p).items():
        noun = "change" if len(group) == 1 else "changes"
        lines = []
        for line, change in group:
            lines += [line, *_policy_diff(change, _at_margin)]
        parts += _details(f"{where}: {len(group)} {noun}", _fenced(lines, "diff"))
    return parts


def _by_account(p: plan.Plan) -> dict[str, list[tuple[str, plan.Change]]]:
    """Change lines by the account they touch, in plan order; units and groups apart."""
    found: dict[str, list[tuple[str, plan.Change]]] = {}
    entries = [(c.line(), c) for c in p.changes]
    entries += [(f"! {w.change.line()} [withheld: {w.reason}]", w.change) for w in p.withheld]
    for line, change in entries:
        found.setdefault(_where(change), []).append((line, change))
    return found


def _where(change: plan.Change) -> str:
    if change.account:
        return f"account {change.account}"
    if change.kind == plan.Kind.UNIT:
        return "organizational units"
    return "groups in the source account"


def _details(summary: str, body: list[str]) -> list[str]:
    shown = html.escape(errors.printable(summary))
    return [f"<details><summary>{shown}</summary>", "", *body, "", "</details>", ""]


def _fenced(lines: list[str], language: str) -> list[str]:
    """A code block of `lines`, each on one line, that no line can close early."""
    shown = [errors.printable(line) for line in lines]
    longest = max((len(run) for line in shown for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)  # CommonMark: only a fence as long closes the block
    return [fence + language, *shown, fence]


class AccessFormat(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"


def access_list(entries: list[access.Access], fmt: AccessFormat, title: str) -> str:
    """Who can reach which account as which role, through what: `reconciler access`."""
    if fmt == AccessFormat.JSON:
        return json.dumps([_access(e) for e in entries], indent=2) + "\n"
    if fmt == AccessFormat.CSV:
        return _access_csv(entries)
    lines = [_access_line(e) for e in entries] or ["Nobody: no way in matches."]
    if fmt == AccessFormat.MARKDOWN:
        return "\n".join([f"### {title}", "", *_fenced(lines, "text"), ""])
    return "\n".join(errors.printable(line) for line in lines) + "\n"


def _access_line(entry: access.Access) -> str:
    mfa = " (MFA)" if entry.mfa else ""
    where = f"group {entry.group}" if entry.group != access.OWN_POLICY else "their own policy"
    policy = "" if entry.through == state.GRANT_POLICY_NAME else f" ({entry.through})"
    return f"{entry.user} -> {entry.account} as {entry.role}{mfa} through {where}{policy}"


def _access(entry: access.Access) -> dict[str, Any]:
    return {
        "user": entry.user,
        "group": entry.group or None,
        "account": entry.account,
        "account_id": entry.account_id,
        "role": entry.role,
        "mfa": entry.mfa,
        "policy": entry.through,
    }


# A spreadsheet runs a cell starting with one of these as a formula: such cells get a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _access_csv(entries: list[access.Access]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180's CRLF: a carriage return inside a cell is quoted
    writer.writerow(["user", "group", "account", "account_id", "role", "mfa", "policy"])
    for e in entries:
        row = [e.user, e.group, e.account, e.account_id or "", e.role, str(e.mfa).lower()]
        writer.writerow([_cell(value) for value in [*row, e.through]])
    return out.getvalue()


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value
