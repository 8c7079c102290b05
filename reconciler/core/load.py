"""Parse the text of `accounts.yaml` into a `spec.Spec`, or raise `SpecError` naming every
problem's position.

No I/O here: the caller reads the file, at most `MAX_BYTES` + 1 bytes of it. PyYAML composes
the text into nodes with libyaml, whose marks give each value's line and column; pydantic's
error locations (`accounts.1.email`) are mapped back through those marks. Whatever the input,
the result is a `Spec` or a `SpecError`.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from reconciler.core import spec
from reconciler.core.errors import SpecError, SpecIssue

# A document this large is a mistake or an alias bomb ("billion laughs", or merge keys `<<`
# over aliases), not an organization. Counted on the composed nodes, before anything is built.
_MAX_NODES = 500_000
_TOO_MANY = f"the document has over {_MAX_NODES} values"
# Five levels of units or a policy's conditions nest some 12 levels; copying and validating
# values recurse once a level or more, so far deeper documents would exhaust Python's stack.
_MAX_DEPTH = 100
_TOO_DEEP = f"the document nests deeper than {_MAX_DEPTH} levels"
# 10,000 accounts fit in 1 MiB written compactly (see the README); a MB of text costs seconds
# and some 60 MB in nodes, marks and models, so larger documents are refused unread.
MAX_BYTES = 1_048_576
# How YAML counts lines: libyaml's marks and the error positions below agree on them.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
# libyaml's problems that leave out what was found at the mark (PyYAML's own parser named it):
# the problem as libyaml words it, what to read at the mark (the name is its first group), and
# the problem with the name put in.
_UNNAMED = {
    "found character that cannot start any token": (
        re.compile("(.)"),
        "found character {!r} that cannot start any token",
    ),
    "found undefined alias": (re.compile(r"(\*[^\s,\[\]{}]+)"), "found undefined alias {!r}"),
    "found unknown escape character": (
        re.compile(r"\\(.)"),
        "found unknown escape character {!r}",
    ),
}
_DUPLICATE_ANCHOR = "found duplicate anchor; first occurrence"
_ANCHOR = re.compile(r"(&[^\s,\[\]{}]+)")

if not yaml.__with_libyaml__:
    raise ImportError("reconciler needs PyYAML built with libyaml (PyPI's wheels are)")


def parse_spec(text: str, filename: str) -> spec.Spec:
    """Validate a document given as text; `filename` is used in error messages."""
    # Every character is at least one byte: the length check spares encoding a huge text.
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError([_too_large(filename)])
    positions, data = _parse_yaml(text, filename)
    try:
        document = spec.Spec.model_validate(data)
    except ValidationError as exc:
        issues = [_issue(positions, error) for error in exc.errors()]
        issues += _references_of_the_rest(data, exc, positions)
        raise SpecError(sorted(issues, key=lambda i: (i.line, i.column))) from None
    except RecursionError:
        raise SpecError([SpecIssue(filename, 1, 1, "", "the document refers to itself")]) from None
    problems = [*spec.check_inline_policies(document), *spec.check_references(document)]
    if problems:
        raise SpecError([positions.issue(loc, message) for loc, message in problems])
    return document


# Lists whose entries can be left out one by one, so that the rest of the document is checked
# in the same run: a wrong email should not hide a grant to an undeclared account.
_SEPARABLE = (("accounts",), ("groups",), ("access", "roles"))


def _references_of_the_rest(
    data: Any, error: ValidationError, positions: _Positions
) -> list[SpecIssue]:
    """The reference problems of the document without the list entries that have errors of
    their own, at their places in the document; none when other parts have errors too (then
    what the references point at is not known)."""
    broken: dict[tuple[str, ...], set[int]] = {}
    for problem in error.errors():
        place = _separable_entry(problem["loc"])
        if place is None:
            return []
        broken.setdefault(place[0], set()).add(place[1])
    rest, kept, assumed = _without(data, broken)
    try:
        document = spec.Spec.model_validate(rest)
    except (ValidationError, RecursionError):
        return []
    return [
        positions.issue(_original(loc, kept), message)
        for loc, message in spec.check_references(document, assumed)
    ]


def _separable_entry(loc: tuple[int | str, ...]) -> tuple[tuple[str, ...], int] | None:
    for path in _SEPARABLE:
        if loc[: len(path)] == path and len(loc) > len(path) and isinstance(loc[len(path)], int):
            return path, int(loc[len(path)])
    return None


def _without(
    data: Any, broken: dict[tuple[str, ...], set[int]]
) -> tuple[Any, dict[tuple[str, ...], list[int]], spec.Assumed]:
    """`data` without the broken entries; for each list, the original index of each entry
    kept; and the names of the entries left out."""
    rest = copy.deepcopy(data)
    kept: dict[tuple[str, ...], list[int]] = {}
    names: dict[tuple[str, ...], set[str]] = {}
    for path, indexes in broken.items():
        parent = rest
        for key in path[:-1]:
            parent = parent[key]
        entries = parent[path[-1]]
        kept[path] = [i for i in range(len(entries)) if i not in indexes]
        names[path] = {_name(entries[i]) for i in indexes} - {""}
        parent[path[-1]] = [entries[i] for i in kept[path]]
    assumed = spec.Assumed(
        roles=frozenset(names.get(("access", "roles"), ())),
        accounts=frozenset(names.get(("accounts",), ())),
    )
    return rest, kept, assumed


def _name(entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else ""


def _original(loc: spec.Loc, kept: dict[tuple[str, ...], list[int]]) -> spec.Loc:
    """A location in the document without the broken entries, in the document as written."""
    for path, indexes in kept.items():
        at = len(path)
        if loc[:at] == path and len(loc) > at and isinstance(loc[at], int):
            return (*loc[:at], indexes[int(loc[at])], *loc[at + 1 :])
    return loc


def _too_large(filename: str) -> SpecIssue:
    return SpecIssue(
        filename, 1, 1, "", f"the document is larger than {MAX_BYTES} bytes (1 MiB); not read"
    )


def _parse_yaml(text: str, filename: str) -> tuple[_Positions, Any]:
    # A byte order mark is not content: libyaml's columns leave it out, and so do editors'.
    text = text.removeprefix("\ufeff")
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as exc:  # a lone surrogate, which has no UTF-8 form for libyaml
        line, column = _line_column(text, exc.start)
        problem = "YAML: a lone surrogate is not a character"
        raise SpecError([SpecIssue(filename, line, column, "", problem)]) from None
    positions = _Positions(filename, text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([SpecIssue(filename, 1, 1, "", "the document is empty")])
        # Count before building values: aliases and merge keys share nodes, and each use
        # counts, so a bomb is refused before PyYAML (or the walk below) expands it.
        if _expanded_size(node, {}) > _MAX_NODES:
            line, column = positions.place(node.start_mark)
            raise SpecError([SpecIssue(filename, line, column, "", _TOO_MANY)])
        positions.walk(node, ())
        if positions.issues:
            raise SpecError(positions.issues)
        return positions, loader.construct_document(node)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line, column = _line_column(text, _character_index(text, exc.position))
        raise SpecError([SpecIssue(filename, line, column, "", f"YAML: {exc.reason}")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = positions.place(mark) if mark else (1, 1)
        problem = positions.described(exc, line, column)
        raise SpecError(
            [SpecIssue(filename, line, column, "", f"YAML syntax: {problem}")]
        ) from None
    except yaml.YAMLError as exc:  # none is known to reach here; still one line, not a traceback
        raise SpecError([SpecIssue(filename, 1, 1, "", f"YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError([SpecIssue(filename, 1, 1, "", "the document nests too deeply")]) from None
    finally:
        loader.dispose()


class _Loader(yaml.CSafeLoader):
    """PyYAML's safe loader on libyaml, raising a positioned error for values it cannot convert.

    libyaml composes some ten times faster than PyYAML's pure-Python parser (0.15 s of a cold
    plan's start-up at 200 accounts, over 5 s at 10,000), and it refuses nesting deeper than
    1,000 levels itself. The safe constructors let Python's own errors escape for some scalars:
    `2001-02-29` (a date that does not exist), `!!int abc`, `!!int ''`, `!!timestamp abc`.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, LookupError, TypeError, AttributeError) as exc:
            kind = str(node.tag).rsplit(":", 1)[-1]
            what = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            problem = f"cannot read {what} as {kind} ({exc}); quote it to keep it as text"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None


def _expanded_size(node: yaml.Node, sizes: dict[int, int], depth: int = 0) -> int:
    """How many values `node` stands for with every alias expanded; each node is sized once.
    Nothing is counted past `_MAX_DEPTH` levels: the walk refuses that before any is built."""
    if depth > _MAX_DEPTH:
        return 1
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = 0  # an alias inside its own anchor: the walk reports it
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [value for _, value in node.value]
    sizes[id(node)] = 1 + sum(_expanded_size(child, sizes, depth + 1) for child in children)
    return sizes[id(node)]


def _line_column(text: str, index: int) -> tuple[int, int]:
    """Line and column of the character at `index`, counting lines as YAML does."""
    before = _LINE_BREAK.split(text[:index])
    return len(before), len(before[-1]) + 1


def _character_index(text: str, byte_offset: int) -> int:
    """The index in `text` of the character libyaml's reader reports by its UTF-8 offset."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))


@dataclass
class _Positions:
    """Line and column of every key and value in the document, by location."""

    filename: str
    text: str
    values: dict[spec.Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[spec.Loc, tuple[int, int]] = field(default_factory=dict)
    issues: list[SpecIssue] = field(default_factory=list)
    _count: int = 0
    _open: set[int] = field(default_factory=set)  # ids of the nodes enclosing the current one
    _too_deep: bool = False

    def place(self, mark: yaml.Mark) -> tuple[int, int]:
        """Line and column of `mark`, from 1. At the end of a text without a final line break,
        libyaml's marks stand at the start of a line after the last; they are moved back to
        the end of the last line."""
        line, column = mark.line + 1, mark.column + 1
        if column == 1 and line > len(self._lines):  # the cheap test first: lines are split once
            return len(self._lines), len(self._lines[-1]) + 1
        return line, column

    def described(self, error: yaml.MarkedYAMLError, line: int, column: int) -> str:
        """libyaml's account of a syntax error at `line` and `column`, naming what it found
        there where libyaml does not: a tab or another invisible character, an alias, an
        anchor, an escape is what a reader most needs to be told about."""
        if error.context == _DUPLICATE_ANCHOR and error.context_mark is not None:
            first_line, first_column = self.place(error.context_mark)
            anchor = self._found(_ANCHOR, line, column)
            named = f" {anchor}" if anchor else ""
            first = f"line {first_line}, column {first_column}"
            return f"the anchor{named} is defined twice (first at {first})"
        problem = (error.problem or "").replace("hexdecimal", "hexadecimal")  # libyaml's typo
        if problem in _UNNAMED:
            pattern, named = _UNNAMED[problem]
            found = self._found(pattern, line, column)
            problem = named.format(found) if found else problem
        return " ".join(filter(None, [self._context(error, line, column), problem]))

    def _context(self, error: yaml.MarkedYAMLError, line: int, column: int) -> str | None:
        """What libyaml was reading, and where that began when it is not where the error is:
        the quote or bracket left open, the mapping whose key is missing."""
        if not error.context or error.context_mark is None:
            return error.context
        began = self.place(error.context_mark)
        if began == (line, column):
            return error.context
        return f"{error.context} at line {began[0]}, column {began[1]}:"

    def _found(self, pattern: re.Pattern[str], line: int, column: int) -> str | None:
        """What `pattern` finds at `line` and `column` (its first group), if it does."""
        # `place` keeps `line` in the text; a column past the line's end matches nothing.
        found = pattern.match(self._lines[line - 1], column - 1)
        return found.group(1) if found else None

    @functools.cached_property
    def _lines(self) -> list[str]:
        """The text's lines, split once per document and only if asked: a value on every line
        at column 1 would otherwise split the text once per value."""
        return _LINE_BREAK.split(self.text)

    def walk(self, node: yaml.Node, loc: spec.Loc) -> None:
        self._count += 1
        if self._count > _MAX_NODES:
            if self._count == _MAX_NODES + 1:
                self.issues.append(self.issue((), _TOO_MANY))
            return
        self.values[loc] = self.place(node.start_mark)
        if len(loc) > _MAX_DEPTH:  # no document nests so deep; deeper, Python's stack would not do
            if not self._too_deep:  # once, and at its place: its path would fill the screen
                line, column = self.values[loc]
                self.issues.append(SpecIssue(self.filename, line, column, "", _TOO_DEEP))
            self._too_deep = True
            return
        if id(node) in self._open:  # an alias inside its own anchor: `&a [*a]`
            self.issues.append(self.issue(loc, "this value contains an alias to itself"))
            return
        self._open.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*loc, index))
        elif isinstance(node, yaml.MappingNode):
            self._walk_mapping(node, loc)
        self._open.discard(id(node))

    def _walk_mapping(self, node: yaml.MappingNode, loc: spec.Loc) -> None:
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.tag)
            here = (*loc, key)
            self.keys[here] = self.place(key_node.start_mark)
            if key in seen and key != "<<":
                self.issues.append(self.issue(here, f"key {key!r} appears twice", at_key=True))
            seen.add(key)
            self.walk(value_node, here)

    def issue(self, loc: spec.Loc, message: str, *, at_key: bool = False) -> SpecIssue:
        line, column = self.position(loc, at_key=at_key)
        return SpecIssue(self.filename, line, column, _dotted(loc), message)

    def position(self, loc: spec.Loc, *, at_key: bool) -> tuple[int, int]:
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return (1, 1)


def _issue(positions: _Positions, error: Any) -> SpecIssue:
    loc: spec.Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1])) or "none"
        return positions.issue(
            loc, f"unknown key {loc[-1]!r}; allowed here: {allowed}", at_key=True
        )
    if kind == "missing":
        return positions.issue(loc, f"required key {loc[-1]!r} is missing")
    return positions.issue(loc, _message(error))


def _message(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    if error["type"] in {"model_type", "dict_type"}:
        message = "expected a mapping of keys to values"
    elif error["type"] in {"tuple_type", "list_type"}:
        message = "expected a list"
    return message


def _allowed_keys(loc: spec.Loc) -> list[str]:
    """The keys the model at `loc` accepts, for 'unknown key' messages."""
    model: type[BaseModel] = spec.Spec
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        nested = _nested_model(info.annotation) if info else None
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None


def _dotted(loc: spec.Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
