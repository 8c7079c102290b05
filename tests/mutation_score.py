"""The mutation score per module, from `mutmut results --all true` on stdin, for `make mutate`.

A mutant counts as killed when a test failed on it or it ran past mutmut's time limit (a loop
that no longer ends is caught); one that no test reached counts against the score, as one that
survived does. Mutants mutmut did not check (an interrupted run) are left out and counted."""

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable

# "    reconciler.core.diff.x__groups__mutmut_12: survived"; methods read "xǁClassǁname".
_LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x\S*__mutmut_\d+: (?P<status>[\w ]+?)\s*$")
KILLED = frozenset({"killed", "timeout"})
UNCHECKED = frozenset({"not checked", "skipped"})


def tally(lines: Iterable[str]) -> tuple[dict[str, Counter[str]], list[str]]:
    """Statuses counted per module, and the names of the mutants that were not killed."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    alive = []
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        status = match["status"]
        counts[match["module"]][status] += 1
        if status not in KILLED | UNCHECKED:
            alive.append(line.strip())
    return counts, alive


def score(counts: Counter[str]) -> tuple[int, int, int]:
    """(killed, checked, unchecked)."""
    unchecked = sum(counts[s] for s in UNCHECKED)
    checked = sum(counts.values()) - unchecked
    return sum(counts[s] for s in KILLED), checked, unchecked


def main() -> int:
    counts, alive = tally(sys.stdin)
    if not counts:
        print("no mutation results: run `mutmut run` first", file=sys.stderr)
        return 1
    print("Not killed:")
    print("\n".join(f"  {name}" for name in alive) or "  none")
    print(f"\n{'module':<32} {'killed':>7} {'checked':>8} {'score':>7} {'unchecked':>10}")
    total = Counter[str]()
    for module in sorted(counts):
        total.update(counts[module])
        _row(module, counts[module])
    _row("all", total)
    return 0


def _row(name: str, counts: Counter[str]) -> None:
    killed, checked, unchecked = score(counts)
    percent = f"{100 * killed / checked:.1f}%" if checked else "-"
    print(f"{name:<32} {killed:>7} {checked:>8} {percent:>7} {unchecked:>10}")


if __name__ == "__main__":
    sys.exit(main())
