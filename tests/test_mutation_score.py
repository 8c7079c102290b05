"""The score `make mutate` prints: killed and timed-out mutants count, unreached ones count
against, unchecked ones are left out."""

from collections import Counter

from tests.mutation_score import score, tally

RESULTS = """\
    reconciler.core.diff.x_diff__mutmut_1: killed
    reconciler.core.diff.x_diff__mutmut_2: survived
    reconciler.core.diff.x__groups__mutmut_3: timeout
    reconciler.core.diff.x__groups__mutmut_4: no tests
    reconciler.aws.write.xǁContextǁcreate__mutmut_1: killed
    reconciler.aws.write.x_execute__mutmut_9: not checked
a line mutmut prints that names no mutant
"""


def test_statuses_are_counted_per_module_and_the_living_mutants_named() -> None:
    counts, alive = tally(RESULTS.splitlines())

    assert counts == {
        "reconciler.core.diff": Counter(killed=1, survived=1, timeout=1, **{"no tests": 1}),
        "reconciler.aws.write": Counter(killed=1, **{"not checked": 1}),
    }
    assert alive == [
        "reconciler.core.diff.x_diff__mutmut_2: survived",
        "reconciler.core.diff.x__groups__mutmut_4: no tests",
    ]


def test_the_score_counts_timeouts_as_killed_and_leaves_unchecked_mutants_out() -> None:
    assert score(Counter(killed=6, timeout=1, survived=2, **{"no tests": 1})) == (7, 10, 0)
    assert score(Counter(killed=1, **{"not checked": 3, "skipped": 1})) == (1, 1, 4)
