"""The import round trip at organization scale: `reconciler import` on the organization the
harness built, timed at the benchmark's latency per call, then `reconciler plan` on the
document it wrote, whose exit status must be 0 (nothing to change, no finding).

Each runs as the one-shot command a person runs, in its own process (cold: every member
account's bootstrap role is assumed afresh). The simulator counts the import's calls by
operation. This module measures and returns figures; the report prints and judges them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # the harness imports this module: a type-only import the other way
    import harness


@dataclass(frozen=True)
class ImportRun:
    accounts: int  # in the organization
    wall: float  # seconds of `reconciler import`
    calls: dict[str, int]  # the endpoint's count of the import's calls, by operation
    status: int  # its exit status
    declared: int  # accounts in the document it wrote
    left_out: int  # items it listed as left out
    plan_wall: float  # seconds of `reconciler plan` on that document (latency 0)
    plan_status: int  # its exit status: 0 is the round trip closed

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def measure(
    simulator: harness.Simulator, url: str, workdir: Path, n: int, options: harness.Options
) -> ImportRun:
    """Import the organization at the benchmark's latency, then plan on what it wrote."""
    imported = workdir / "imported.yaml"
    simulator.start_counting(options.latency)
    started = time.monotonic()
    status = one_shot(
        ["import", "--output", str(imported)], url, options.concurrency, workdir / "import.log"
    )
    wall = time.monotonic() - started
    calls = simulator.counts()
    simulator.start_counting(0.0)
    started = time.monotonic()
    plan_status = one_shot(
        ["plan", "--desired", str(imported)], url, options.concurrency, workdir / "import-plan.log"
    )
    plan_wall = time.monotonic() - started
    log = (workdir / "import.log").read_text(encoding="utf-8")
    return ImportRun(
        accounts=n,
        wall=wall,
        calls=calls,
        status=status,
        declared=_declared_accounts(imported),
        left_out=log.count("left out: "),
        plan_wall=plan_wall,
        plan_status=plan_status,
    )


def one_shot(arguments: list[str], url: str, concurrency: int, log_path: Path) -> int:
    """A one-shot reconciler command; its exit status, its output in `log_path`."""
    command = [sys.executable, "-m", "reconciler.cli", *arguments]
    command += ["--endpoint-url", url, "--concurrency", str(concurrency)]
    return run_logged(command, log_path)


def run_logged(command: list[str], log_path: Path) -> int:
    """`command` run from the repository root; its exit status, its output in `log_path`."""
    import harness

    with log_path.open("w") as log:
        done = subprocess.run(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=harness.REPO,
            timeout=harness.PASS_TIMEOUT,
            check=False,
        )
    return done.returncode


def _declared_accounts(path: Path) -> int:
    if not path.exists():
        return 0
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return len(document.get("accounts") or [])
