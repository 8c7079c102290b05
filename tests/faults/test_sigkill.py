"""`apply` killed with SIGKILL at ten points of a pass from an empty organization, then run
again: the organization ends as declared, with one account per email, and `plan` finds
nothing left to change."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.aws.support import Aws
from tests.faults.support import Endpoint, assert_example_state, document, run_cli, start_cli
from tests.simulation.faults import FaultyServer

LATENCY = 0.1  # seconds per call, so that a pass from empty takes a few seconds
POINTS = 10
FIRST = 6  # the first kill point: a few calls into the pass


@pytest.fixture(scope="module")
def calls_of_a_pass(simulator: FaultyServer, tmp_path_factory: pytest.TempPathFactory) -> int:
    """The AWS calls of an undisturbed apply of the example from empty, counted once."""
    endpoint = Endpoint(simulator)
    endpoint.reset()
    endpoint.inject(latency=LATENCY)
    code, output = run_cli("apply", endpoint.url, document(tmp_path_factory.mktemp("counted")))
    assert code == 0, output
    counted = endpoint.total()
    endpoint.clear()
    assert counted > FIRST + POINTS, counted
    return counted


# Kill once the endpoint has seen the point's share of the pass's calls, then after a pause:
# none (the last requests are still waiting in the endpoint's latency, never executed), or past
# the latency (executed, their answers lost with the process).
@pytest.mark.parametrize("point", range(POINTS), ids=[f"point{k}" for k in range(POINTS)])
def test_killed_apply_is_finished_by_the_next_one(
    faulty: Endpoint, fresh: Aws, tmp_path: Path, calls_of_a_pass: int, point: int
) -> None:
    calls = FIRST + point * (calls_of_a_pass - FIRST) // POINTS
    pause = (point % 3) * 0.06
    desired = document(tmp_path)
    faulty.inject(latency=LATENCY)
    first = start_cli("apply", faulty.url, desired, tmp_path / "apply.log")
    deadline = time.monotonic() + 30
    while faulty.total() < calls and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(pause)
    first.kill()
    assert first.wait(timeout=10) == -9, "apply finished before the kill point"
    killed_at = faulty.total()

    faulty.inject(latency=0.0)
    code, output = run_cli("apply", faulty.url, desired)
    assert code == 0, output
    print(f"killed at call {killed_at}; the restart: {output.splitlines()[-2:]}")
    code, output = run_cli("plan", faulty.url, desired)
    assert code == 0, output
    assert "No changes." in output, output

    faulty.clear()
    assert_example_state(fresh)
    assert killed_at >= calls
