"""The YAML layer: whatever the text, the loader answers with a position a person can jump to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler import source
from reconciler.core.errors import SpecError, SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]


def test_syntax_error_names_the_line_and_column_of_the_problem(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(("    unit: Clients/Acme\n", "    unit: Clients/Acme: Globex\n"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (19, 23)  # the second colon
    assert issue.field == ""
    assert issue.message == "YAML syntax: mapping values are not allowed in this context"


def test_duplicate_key_is_reported_at_the_second_occurrence(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(
        ("    unit: Clients/Acme\n", "    unit: Clients/Acme\n    email: aws+other@example.com\n")
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (20, 5)
    assert issue.field == "accounts[0].email"
    assert issue.message == "key 'email' appears twice"


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing declared yet\n"], ids=repr)
def test_empty_document(only_issue: OnlyIssue, text: str) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == (1, 1)
    assert issue.message == "the document is empty"


@pytest.mark.parametrize("text", ["- organization\n- access\n", "just words\n", "42\n"])
def test_document_that_is_not_a_mapping(only_issue: OnlyIssue, text: str) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == (1, 1)
    assert issue.message == "expected a mapping of keys to values"


# Accented letters take two bytes each in UTF-8, where libyaml counts: columns count characters.
@pytest.mark.parametrize("local_part", ["aws+shared", "aws+shéréd"])
def test_character_yaml_forbids_is_reported_where_it_stands(
    variant: Variant, only_issue: OnlyIssue, local_part: str
) -> None:
    text = variant(("aws+shared@example.com", f"{local_part}\x07@example.com"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (22, 22)
    assert issue.message == "YAML: control characters are not allowed"


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        pytest.param(
            "organization:\r  name: x\x85  id: a\x07\n",
            (3, 8),
            "YAML: control characters are not allowed",
            id="lines broken by CR and NEL, as YAML breaks them",
        ),
        pytest.param(
            "organization:\n  name: a\ud800\n",
            (2, 10),
            "YAML: a lone surrogate is not a character",
            id="a lone surrogate, which has no UTF-8 form",
        ),
        pytest.param(
            "organization: [",
            (1, 16),
            "YAML syntax: while parsing a flow node did not find expected node content",
            id="the end of a text without a final line break, which libyaml puts a line below",
        ),
    ],
)
def test_problem_is_placed_where_it_stands_in_the_text(
    only_issue: OnlyIssue, text: str, position: tuple[int, int], message: str
) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == position
    assert issue.message == message


def test_nesting_past_a_hundred_levels_inside_a_value_is_refused_where_it_starts(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    deep = "[" * 493 + "]" * 493  # copying it for the reference checks exhausted Python's stack
    text = variant(
        ("    unit: Clients/Acme\n", f"    unit: Clients/Acme\n    tags: {{a: {deep}}}\n")
    )

    issue = only_issue(text)

    # accounts[0].tags.a is 4 levels; the 98th bracket opens the 101st, at column 14 + 98.
    assert (issue.line, issue.column, issue.field) == (20, 112, "")
    assert issue.message == "the document nests deeper than 100 levels"


@pytest.mark.parametrize("text", ["---", "# a comment\n---", "%YAML 1.1\n---"])
def test_document_of_nothing_but_its_start_is_placed_on_its_last_line(
    only_issue: OnlyIssue, text: str
) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == (text.count("\n") + 1, 4)
    assert issue.message == "expected a mapping of keys to values"


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("organization: !!int", 15, "cannot read '' as int (string index out of range)"),
        ("organization: !!timestamp abc", 15, "cannot read 'abc' as timestamp ("),
    ],
)
def test_value_a_tag_cannot_convert_is_an_error_where_it_stands(
    only_issue: OnlyIssue, text: str, column: int, message: str
) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == (1, column)
    assert issue.message.startswith(f"YAML syntax: {message}")


# libyaml leaves out what it found; the message names it, as PyYAML's own parser did, and says
# where what libyaml was reading began when that is not where the error stands.
@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        (
            "organization:\n\tname: x\n",
            (2, 1),
            "while scanning for the next token found character '\\t' that cannot start any token",
        ),
        ("organization: *default\n", (1, 15), "found undefined alias '*default'"),
        ("organization: [é, *gone]\n", (1, 19), "found undefined alias '*gone'"),
        (
            "a: &base {x: 1}\nb: [1, &base 2]\n",
            (2, 8),
            "the anchor &base is defined twice (first at line 1, column 4)",
        ),
        (
            'organization: "é\\q"\n',
            (1, 17),
            "while parsing a quoted scalar at line 1, column 15: "
            "found unknown escape character 'q'",
        ),
        (
            'organization: "\\xZZ"\n',
            (1, 18),
            "while parsing a quoted scalar at line 1, column 15: "
            "did not find expected hexadecimal number",
        ),
        (
            "organization: [1, 2\n",
            (2, 1),
            "while parsing a flow sequence at line 1, column 15: did not find expected ',' or ']'",
        ),
        (
            "organization:\n  name: 'open\n",
            (3, 1),
            "while scanning a quoted scalar at line 2, column 9: found unexpected end of stream",
        ),
        (
            "organization:\n  name: x\n bad: y\n",
            (3, 2),
            "while parsing a block mapping at line 1, column 1: did not find expected key",
        ),
    ],
)
def test_syntax_error_names_what_was_found_and_where_what_was_read_began(
    only_issue: OnlyIssue, text: str, position: tuple[int, int], message: str
) -> None:
    issue = only_issue(text)

    assert (issue.line, issue.column) == position
    assert issue.message == f"YAML syntax: {message}"


def test_alias_inside_its_own_anchor_is_an_error_not_a_crash(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(
        ("  units:\n    - name: Clients\n", "  units: &tree\n    - name: Clients\n"),
        ("        - name: Acme\n", "        - name: Acme\n          units: *tree\n"),
    )

    issue = only_issue(text)

    assert issue.field == "organization.units[0].units[0].units"
    assert (issue.line, issue.column) == (4, 10)  # the anchor
    assert issue.message == "this value contains an alias to itself"


def test_alias_bomb_is_refused_without_expanding_it(minimal: str, only_issue: OnlyIssue) -> None:
    # Seven levels of ten aliases each stand for 10**7 values in a few hundred characters.
    levels = ["bomb0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"bomb{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 8)]
    text = minimal + "\n".join(levels) + "\n"

    issue = only_issue(text)

    assert issue.message == "the document has over 500000 values"


def test_absurdly_deep_nesting_is_an_error_not_a_crash(only_issue: OnlyIssue) -> None:
    issue = only_issue("organization: " + "[" * 5000 + "]" * 5000 + "\n")

    # libyaml stops at its 1,000th level, at the bracket that opens it.
    assert (issue.line, issue.column) == (1, 1014)
    assert issue.message == (
        "YAML syntax: while increasing flow level exceeded maximum nesting depth"
    )


def test_nesting_libyaml_accepts_but_python_could_not_walk_is_refused_where_it_starts(
    only_issue: OnlyIssue,
) -> None:
    issue = only_issue("organization: " + "[" * 990 + "]" * 990 + "\n")

    assert (issue.line, issue.column) == (1, 15 + 100)  # the 101st level's bracket
    assert issue.message == "the document nests deeper than 100 levels"


def test_file_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"

    with pytest.raises(SpecError) as caught:
        source.read_document(path)

    [issue] = caught.value.issues
    assert issue.file == str(path)
    assert (issue.line, issue.column) == (1, 1)
    assert issue.message == "cannot read the file: No such file or directory"


def test_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("organization: {name: Société}\n".encode("latin-1"))

    with pytest.raises(SpecError) as caught:
        source.read_document(path)

    [issue] = caught.value.issues
    assert issue.file == str(path)
    assert issue.message == "the file is not UTF-8 text"


def test_error_text_reads_file_line_column_field_message(tmp_path: Path, minimal: str) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(minimal.replace("aws+shared@example.com", "aws+shared"), encoding="utf-8")

    with pytest.raises(SpecError) as caught:
        source.read_document(path)

    assert str(caught.value) == (
        f"1 problem:\n{path}:22:12: accounts[1].email: 'aws+shared' is not an email address "
        "AWS accepts (name@domain.tld, 6 to 64 characters)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-02-29", "cannot read '2025-02-29' as timestamp (day is out of range for month)"),
        ("!!int many", "cannot read 'many' as int"),
        ("!!bool maybe", "cannot read 'maybe' as bool"),
    ],
)
def test_value_yaml_cannot_convert_is_reported_where_it_stands(
    variant: Variant, only_issue: OnlyIssue, value: str, expected: str
) -> None:
    text = variant(
        ("    unit: Clients/Acme\n", f"    unit: Clients/Acme\n    tags: {{until: {value}}}\n")
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (20, 19)
    assert expected in issue.message
    assert "quote it" in issue.message


def test_escape_naming_no_character_is_a_syntax_error(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    issue = only_issue(variant(("aws+shared@example.com", '"aws+shared\\UFFFFFFFF@example.com"')))

    assert issue.line == 22
    assert issue.message == (
        "YAML syntax: while parsing a quoted scalar at line 22, column 12: "
        "found invalid Unicode character escape code"
    )


@pytest.mark.parametrize("mark", ["", "\ufeff"], ids=["without", "after a byte order mark"])
@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            "organization: @x\n",
            15,
            "YAML syntax: while scanning for the next token found "
            "character '@' that cannot start any token",
        ),
        ("organization: *gone\n", 15, "YAML syntax: found undefined alias '*gone'"),
        ('organization: "\x01"\n', 16, "YAML: control characters are not allowed"),
    ],
)
def test_columns_count_what_an_editor_shows(
    only_issue: OnlyIssue, mark: str, text: str, column: int, message: str
) -> None:
    issue = only_issue(mark + text)

    assert (issue.line, issue.column, issue.message) == (1, column, message)
