"""Rendering names built to spoof the output: whatever a name holds, each format keeps its
structure. Text has one line per change, with no terminal escapes; markdown keeps every name
inside a code block no name can close; JSON carries the names exactly, in ASCII."""

from __future__ import annotations

import json
import re

import pytest

from reconciler.core import plan, render

HOSTILE = {
    "fence": "a```\n### Approved",
    "newline": "a\n+ account root: create with email boss@example.com",
    "html": "a<details><summary>ok</summary><!-- hidden",
    "link": "a [click here](https://example.com/steal) ![x](https://example.com/x.png)",
    "terminal": "a\x1b[2J\x1b[1;1H\x1b]8;;https://example.com\x07link\x1b]8;;\x07",
    "bidi": "a\u202etxt.exe\u200b\ufeff",
    "separators": "a\r\u2028\u2029\x85b",
    "long fence": "a````````` ``` ~~~",
}


def hostile_plan(name: str) -> plan.Plan:
    """Every place a plan shows a name from the document or from AWS holds `name`."""
    create = plan.CreateAccount(name, f"{name}@example.com", (name,), {name: name}, name)
    move = plan.MoveAccount(name, "555555555555", (), (name,))
    return plan.Plan(
        changes=(create, plan.AddMember(name, name)),
        withheld=(plan.Withheld(move, f"account {name} is protected"),),
        unmanaged={plan.Kind.ACCOUNT: (name, "legacy")},
        unreachable={name: name},
    )


# The lines of a text plan: two changes, one withheld, two notes, the summary.
TEXT_SHAPE = re.compile(r"^(\+ account|\+ membership|! ~ account|\? account|# unmanaged|Plan:) ")


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_text_has_one_line_per_entry_and_no_control_characters(name: str) -> None:
    output = render.text(hostile_plan(name))

    lines = output.split("\n")
    assert lines[-1] == ""
    assert len(lines[:-1]) == 6
    assert all(TEXT_SHAPE.match(line) for line in lines[:-1]), lines
    assert all(char.isprintable() for line in lines for char in line)


def test_text_shows_hidden_characters_as_escapes() -> None:
    output = render.text(plan.Plan((plan.AddMember("Devs", "al\x1b[31m\u202eice"),)))

    assert output.splitlines()[0] == (
        "+ membership Devs/al\\x1b[31m\\u202eice: add user al\\x1b[31m\\u202eice to group Devs"
    )


def outside_code(markdown: str) -> tuple[list[str], list[list[str]]]:
    """The lines outside fenced code blocks, and each block's lines (CommonMark's rules:
    a block closes at a line of at least as many backticks as opened it)."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    fence = ""
    for line in markdown.split("\n"):
        if not fence:
            opening = re.match(r"^ {0,3}(`{3,})[^`]*$", line)
            if opening:
                fence = opening.group(1)
                blocks.append([])
            else:
                outside.append(line)
        elif re.match(rf"^ {{0,3}}{fence}`*\s*$", line):
            fence = ""
        else:
            blocks[-1].append(line)
    assert not fence, "a code block is left open"
    return outside, blocks


SKELETON = [
    "### reconciler plan",
    "",
    "**Plan: 2 to create, 0 to update, 0 to delete.**",
    "",
    "**Changes:**",
    "",
    "",
    "<details><summary>Notes</summary>",
    "",
    "",
    "</details>",
    "",
]


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_markdown_keeps_every_name_inside_a_code_block(name: str) -> None:
    outside, blocks = outside_code(render.markdown(hostile_plan(name)))

    assert outside == SKELETON
    assert [len(block) for block in blocks] == [3, 2]  # the changes and withheld; the notes
    assert all(char.isprintable() for block in blocks for line in block for char in line)


def test_markdown_fence_outgrows_the_longest_backtick_run() -> None:
    text = render.markdown(hostile_plan(HOSTILE["long fence"]))

    assert "\n``````````diff\n" in text  # ten: one more than the name's nine


@pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())
def test_json_carries_names_exactly_in_ascii(name: str) -> None:
    output = render.as_json(hostile_plan(name))

    assert all(char.isascii() and (char.isprintable() or char == "\n") for char in output)
    document = json.loads(output)
    [create, member] = document["changes"]
    assert (create["account"], create["resource"]) == (name, name)
    assert create["after"] == {
        "email": f"{name}@example.com",
        "unit": [name],
        "tags": {name: name},
        "request_id": None,
    }
    assert member["resource"] == f"{name}/{name}"
    assert document["unreachable"] == {name: name}
    assert document["unmanaged"]["account"] == [name, "legacy"]
