"""Documents built to exhaust the loader are refused quickly: oversized text, alias and merge
bombs. And however many problems a document has, the error text stays readable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import source
from reconciler.core import load
from reconciler.core.errors import SpecError, SpecIssue

OnlyIssue = Callable[[str], SpecIssue]
TOO_LARGE = "the document is larger than 1048576 bytes (1 MiB); not read"
MIB = 1_048_576


def padded(minimal: str, size: int, filler: str = "x") -> str:
    """The minimal document with a trailing comment making it `size` bytes of UTF-8."""
    room = size - len(minimal.encode("utf-8")) - 3  # "# " and the final newline
    width = len(filler.encode("utf-8"))
    assert room % width == 0
    return minimal + "# " + filler * (room // width) + "\n"


def test_document_of_exactly_one_mib_is_read(minimal: str, tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(padded(minimal, MIB), encoding="utf-8")

    document = source.read_document(path)

    assert len(document.accounts) == 2


def test_file_one_byte_over_a_mib_is_refused(minimal: str, tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(padded(minimal, MIB + 1), encoding="utf-8")

    with pytest.raises(SpecError) as caught:
        source.read_document(path)

    assert [str(i) for i in caught.value.issues] == [f"{path}:1:1: {TOO_LARGE}"]


def test_ten_thousand_accounts_written_compactly_fit_in_a_mib(minimal: str) -> None:
    # As the README advises: one line per small map, a repeated map anchored once.
    entries = []
    for i in range(10_000):
        team, env = i % 37, ("dev", "prod")[i % 2]
        first = i < 74  # 37 teams x 2 environments: the first 74 accounts name each pair once
        tags = (
            f"&t{team}{env} {{team: team-{team:02d}, environment: {env}}}"
            if first
            else f"*t{team}{env}"
        )
        entries.append(
            f"  - name: client-{i:05d}\n    email: aws+client-{i:05d}@example.com\n"
            f"    unit: Clients/Acme\n    tags: {tags}\n"
        )
    text = minimal.replace("accounts:\n", "accounts:\n" + "".join(entries), 1)

    document = load.parse_spec(text, "accounts.yaml")

    assert len(text.encode("utf-8")) <= MIB
    assert len(document.accounts) == 10_002
    assert document.account("client-09999").tags == {"team": "team-09", "environment": "prod"}


@pytest.fixture
def timed() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def test_huge_file_is_refused_without_reading_it(
    tmp_path: Path, timed: Callable[[], float]
) -> None:
    path = tmp_path / "accounts.yaml"
    with path.open("wb") as file:
        file.truncate(600 * MIB)  # sparse: takes no disk

    with pytest.raises(SpecError) as caught:
        source.read_document(path)

    assert caught.value.issues[0].message == TOO_LARGE
    assert timed() < 1


def test_endless_file_is_refused(timed: Callable[[], float]) -> None:
    # A character device reports size 0 and never ends: the size is what is read, not stat.
    with pytest.raises(SpecError) as caught:
        source.read_document("/dev/zero")

    assert caught.value.issues[0].message == TOO_LARGE
    assert timed() < 1


def test_values_each_at_the_start_of_a_line_are_placed_at_once(
    timed: Callable[[], float],
) -> None:
    # 100,000 of them: placing each by splitting the text anew took minutes.
    text = "organization: [\n" + "a,\n" * 100_000 + "]\n"

    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")

    assert [str(issue) for issue in caught.value.issues] == [
        "accounts.yaml:1:1: access: required key 'access' is missing",
        "accounts.yaml:1:15: organization: expected a mapping of keys to values",
    ]
    assert timed() < 10


def test_text_over_a_mib_of_utf8_is_refused(minimal: str, only_issue: OnlyIssue) -> None:
    # Under a million characters, but two bytes each: the limit is on bytes, as on disk.
    text = padded(minimal, MIB + 1 + 1, filler="\u00e9")
    assert len(text) < MIB < len(text.encode("utf-8"))

    issue = only_issue(text)

    assert ((issue.line, issue.column), issue.message) == ((1, 1), TOO_LARGE)


def test_text_of_hundreds_of_mib_is_refused_at_once(only_issue: OnlyIssue) -> None:
    text = "organization: " + "x" * (300 * MIB)
    start = time.perf_counter()

    issue = only_issue(text)

    assert issue.message == TOO_LARGE
    assert time.perf_counter() - start < 1


def alias_bomb() -> list[str]:
    """Seven levels of ten aliases: 10**7 values in a few hundred characters."""
    levels = ["bomb0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    return levels + [f"bomb{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 8)]


def merge_bomb() -> list[str]:
    """Seven levels of mappings each merging ten aliases of the level below."""
    levels = ["merge0: &m0 {x: 1, y: 2}"]
    return levels + [
        f"merge{n}: &m{n} {{<<: [{', '.join([f'*m{n - 1}'] * 10)}]}}" for n in range(1, 8)
    ]


def _flatten_without_deduplication(self: Any, node: yaml.MappingNode) -> None:
    """Merge keys as PyYAML resolved them before it dropped repeated keys while merging:
    each level copies every pair of each mapping it merges, 10**n pairs at level n."""
    merge: list[Any] = []
    index = 0
    while index < len(node.value):
        key_node, value_node = node.value[index]
        if key_node.tag != "tag:yaml.org,2002:merge":
            index += 1
            continue
        del node.value[index]
        subnodes = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for subnode in subnodes:
            self.flatten_mapping(subnode)
            merge.extend(subnode.value)
    node.value = merge + node.value


@pytest.fixture(params=["installed", "expanding"])
def merge_resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed PyYAML's merge, and one that expands merges exponentially: the loader
    must stay bounded whichever PyYAML it runs on."""
    if request.param == "expanding":
        monkeypatch.setattr(
            yaml.constructor.SafeConstructor, "flatten_mapping", _flatten_without_deduplication
        )


@pytest.mark.usefixtures("merge_resolution")
@pytest.mark.parametrize("bomb", [alias_bomb, merge_bomb])
def test_bombs_are_refused_before_they_expand(
    minimal: str,
    only_issue: OnlyIssue,
    timed: Callable[[], float],
    bomb: Callable[[], list[str]],
) -> None:
    text = minimal + "\n".join(bomb()) + "\n"

    issue = only_issue(text)

    assert issue.message == "the document has over 500000 values"
    assert timed() < 1


@pytest.mark.usefixtures("merge_resolution")
def test_merge_keys_within_bounds_still_work(minimal: str) -> None:
    text = minimal.replace(
        "    roles: [ReadOnlyAccessRole]\n",
        "    roles: [ReadOnlyAccessRole]\n    <<: [{tags: {team: platform}}, {unit: Clients}]\n",
    )

    document = load.parse_spec(text, "accounts.yaml")

    assert document.accounts[1].tags == {"team": "platform"}
    assert document.accounts[1].unit == "Clients"


def issues(count: int) -> list[SpecIssue]:
    return [SpecIssue("a.yaml", line, 1, "accounts", "wrong") for line in range(1, count + 1)]


def test_error_text_shows_the_first_hundred_problems_and_counts_the_rest() -> None:
    error = SpecError(issues(250))

    lines = str(error).splitlines()

    assert lines[0] == "250 problems:"
    assert lines[1:101] == [f"a.yaml:{n}:1: accounts: wrong" for n in range(1, 101)]
    assert lines[101:] == ["... and 150 more problems"]
    assert len(error.issues) == 250


@pytest.mark.parametrize(
    ("count", "last"), [(100, "a.yaml:100:1: accounts: wrong"), (101, "... and 1 more problem")]
)
def test_error_text_at_the_cap(count: int, last: str) -> None:
    lines = str(SpecError(issues(count))).splitlines()

    assert lines[-1] == last
    assert len(lines) == min(count, 100) + 1 + (count > 100)


def test_error_text_escapes_what_the_document_holds() -> None:
    issue = SpecIssue("a.yaml", 3, 5, "accounts[0].\x1b[2Jname\nfake", "\u202eoops")

    assert str(issue) == "a.yaml:3:5: accounts[0].\\x1b[2Jname\\nfake: \\u202eoops"
    assert str(SpecError([issue])).count("\n") == 1
