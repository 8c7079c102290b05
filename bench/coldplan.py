"""A cold `reconciler plan`: the one-shot command a person runs, on the document the harness
just built, in a fresh process at the benchmark's latency per call.

Cold means what a person gets: process start-up and imports included, and no credentials
cached (the product caches assumed-role credentials in memory only, so every run assumes each
member account's role afresh). It runs `RUNS` times; each run records its wall time, the CPU
seconds of the product's process (user and system, from the rusage of the reaped child), the
simulator's CPU seconds meanwhile, the endpoint's count of calls and the exit status, which
must be 0: the document equals the organization just built. This module measures and returns
figures; the report prints medians and judges them.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import importing

if TYPE_CHECKING:  # the harness imports this module: a type-only import the other way
    import harness

RUNS = 3


@dataclass(frozen=True)
class ColdRun:
    wall: float  # seconds, process start-up included
    cpu: float  # CPU seconds of the plan's process, user and system
    simulator_cpu: float  # CPU seconds of the simulator meanwhile
    calls: int  # the endpoint's count
    status: int  # the plan's exit status: 0 is nothing to change


@dataclass
class ColdPlan:
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
        """Above 1, the product leaves the simulator idle: time that is not AWS's."""
        return self.wall / self.simulator_cpu if self.simulator_cpu else float("inf")


def measure(
    simulator: harness.Simulator, desired: Path, workdir: Path, n: int, options: harness.Options
) -> ColdPlan:
    cold = ColdPlan(n)
    for run in range(1, RUNS + 1):
        simulator.start_counting(options.latency)
        cold.runs.append(_one_run(simulator, desired, options, workdir / f"cold-plan-{run}.log"))
        simulator.start_counting(0.0)
    return cold


def _one_run(
    simulator: harness.Simulator, desired: Path, options: harness.Options, log_path: Path
) -> ColdRun:
    # The children's rusage grows only when a child is reaped: the other children (the
    # simulator) run on, so the difference is this plan's process alone.
    before, simulator_cpu = resource.getrusage(resource.RUSAGE_CHILDREN), simulator.cpu_seconds()
    started = time.monotonic()
    status = importing.one_shot(
        ["plan", "--desired", str(desired)], simulator.url, options.concurrency, log_path
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ColdRun(
        wall=wall,
        cpu=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        simulator_cpu=simulator.cpu_seconds() - simulator_cpu,
        calls=sum(simulator.counts().values()),
        status=status,
    )
