"""A cold `reconciler plan`: the one-shot command a person runs, on the document the harness
just built, in a fresh process at the benchmark's latency per call.

Cold means what a person gets: process start-up and imports included, and no credentials
cached (the product caches assumed-role credentials in memory only, so every run assumes each
member account's role afresh). It runs `RUNS` times; each run records its wall time, the CPU
seconds of the product's process (user and system, from the rusage of the reaped child), the
simulator's CPU seconds meanwhile, the endpoint's count of calls and the exit status, which
must be 0: the document equals the organization just built. From the simulator's record of
when calls came and answers left, each run also tells its fixed time (before the first
AssumeRole reached the simulator, and after its last answer, while the simulator has little
to do) and the simulator's CPU seconds in between. This module measures and returns figures;
the report prints medians and judges them.

Beside it, up to `BASELINE_UP_TO` accounts, the same reads made by a plain boto3 script
(`plainread.py`), timed the same way `RUNS` times: what any client of these APIs pays, which
tells the reconciler's own share of the cold plan from botocore's.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import importing
import workload

if TYPE_CHECKING:  # the harness imports this module: a type-only import the other way
    import harness

RUNS = 3
BASELINE_UP_TO = 1000  # above, three runs of the script would outlast the plan's own
BASELINE = Path(__file__).with_name("plainread.py")


@dataclass(frozen=True)
class ColdRun:
    wall: float  # seconds, process start-up included
    cpu: float  # CPU seconds of the command's process, user and system
    simulator_cpu: float  # CPU seconds of the simulator meanwhile
    calls: int  # the endpoint's count
    status: int  # the exit status: for the plan, 0 is nothing to change
    # Where the wall time goes: before the first AssumeRole reached the
    # simulator, after its last answer, and the simulator's CPU seconds in between.
    before_first_assume: float = 0.0
    after_last_answer: float = 0.0
    simulator_cpu_between: float = 0.0

    @property
    def floor(self) -> float:
        """The least wall / simulator CPU this run could show, its fixed time unchanged: had
        the simulator been busy all the time between the first AssumeRole and the last
        answer."""
        fixed = self.before_first_assume + self.after_last_answer
        least = fixed + self.simulator_cpu_between
        return least / self.simulator_cpu if self.simulator_cpu else float("inf")

    @property
    def busy_between(self) -> float:
        """The simulator's share of a CPU between the first AssumeRole and the last answer."""
        between = self.wall - self.before_first_assume - self.after_last_answer
        return self.simulator_cpu_between / between if between > 0 else 0.0


@dataclass
class ColdRuns:
    """The runs of one command at one size, and their medians."""

    accounts: int
    runs: list[ColdRun] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def simulator_cpu(self) -> float:
        return statistics.median(r.simulator_cpu for r in self.runs)

    @property
    def calls_per_account(self) -> float:
        return statistics.median(r.calls for r in self.runs) / self.accounts

    @property
    def wall_over_simulator(self) -> float:
        """Above 1, the command leaves the simulator idle: time that is not AWS's."""
        return self.wall / self.simulator_cpu if self.simulator_cpu else float("inf")

    @property
    def before_first_assume(self) -> float:
        return statistics.median(r.before_first_assume for r in self.runs)

    @property
    def after_last_answer(self) -> float:
        return statistics.median(r.after_last_answer for r in self.runs)

    @property
    def busy_between(self) -> float:
        return statistics.median(r.busy_between for r in self.runs)

    @property
    def floor(self) -> float:
        return statistics.median(r.floor for r in self.runs)


@dataclass
class ColdPlan(ColdRuns):
    baseline: ColdRuns | None = None  # the plain script's runs, up to BASELINE_UP_TO


def measure(
    simulator: harness.Simulator, desired: Path, workdir: Path, n: int, options: harness.Options
) -> ColdPlan:
    cold = ColdPlan(n)
    if n <= BASELINE_UP_TO:
        cold.baseline = ColdRuns(n)
    for run in range(1, RUNS + 1):  # interleaved: a slow spell of the machine falls on both
        log = workdir / f"cold-plan-{run}.log"
        cold.runs.append(_one_run(simulator, options, partial(_plan, simulator, desired, log)))
        if cold.baseline is not None:
            log = workdir / f"plain-read-{run}.log"
            script = partial(_plain_read, simulator, log)
            cold.baseline.runs.append(_one_run(simulator, options, script))
    return cold


def _plan(simulator: harness.Simulator, desired: Path, log_path: Path, concurrency: int) -> int:
    arguments = ["plan", "--desired", str(desired)]
    return importing.one_shot(arguments, simulator.url, concurrency, log_path)


def _plain_read(simulator: harness.Simulator, log_path: Path, concurrency: int) -> int:
    command = [sys.executable, str(BASELINE), simulator.url, str(concurrency), workload.BOOTSTRAP]
    return importing.run_logged(command, log_path)


def _one_run(
    simulator: harness.Simulator, options: harness.Options, command: Callable[[int], int]
) -> ColdRun:
    """`command(concurrency)` timed at the benchmark's latency, the endpoint counting from 0."""
    simulator.start_counting(options.latency)
    # The children's rusage grows only when a child is reaped: the other children (the
    # simulator) run on, so the difference is this command's process alone.
    before, simulator_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), simulator.cpu_seconds()
    started = time.monotonic()
    status = command(options.concurrency)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = simulator.record()
    # The first member-account call waits for an account's credentials: until then only the
    # tree and the management account's own reads are asked for, and the simulator idles.
    first_assume = record.first_calls.get("sts:AssumeRole", (started, 0.0))
    last_answer = record.last_answer
    run = ColdRun(
        wall=wall,
        cpu=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        simulator_cpu=simulator.cpu_seconds() - simulator_cpu,
        calls=sum(record.counts.values()),
        status=status,
        before_first_assume=first_assume[0] - started,
        after_last_answer=started + wall - last_answer[0],
        simulator_cpu_between=last_answer[1] - first_assume[1],
    )
    simulator.start_counting(0.0)
    return run
