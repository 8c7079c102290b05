"""The harness: the simulator and the reconciler daemon as child processes, and the passes
measured between them.

`run_size` builds one organization from empty (the product's own `reconciler apply`, at
latency 0, not measured), times a cold `reconciler plan` on it (`coldplan`), then drives a
daemon child through its passes at a fixed latency per call and returns the figures as `Row`s
in a `SizeResult`; the steady pass at the default concurrency runs `STEADY_RUNS` times, and
`SizeResult.median` gives the medians. The child processes are this benchmark's entry point
(bench.py) started with `--simulator-child` or `--daemon-child`; this module holds what they
run (`simulator_child`, `daemon_child`). What the organization holds is the workload's
business, what is printed and judged the report's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coldplan
import feedback
import importing
import profiling
import workload

REPO = Path(__file__).resolve().parents[1]
ENTRY = Path(__file__).with_name("bench.py")  # the children run the same entry point
PASS_TIMEOUT = 1800.0  # seconds; any single pass or build beyond this is a failure
STEADY_RUNS = 3  # steady passes at the default concurrency, for a median
# The pass at concurrency 1 only up to this size: at 10,000 accounts and 50 ms per call it
# would take about 10,000 x 3 calls x 50 ms = 25 minutes, for a ratio already known.
SINGLE_CONCURRENCY_LIMIT = 5000
PROFILE_AT = 1000  # the size whose steady pass is profiled, after the measured ones


@dataclass(frozen=True)
class Options:
    latency: float  # seconds added to every call of a measured pass
    concurrency: int  # the daemon's default concurrency
    drift_share: float  # share of accounts drifted by hand
    moto_scan: bool  # keep moto's O(accounts) access-key lookup


# --- the daemon child ---------------------------------------------------------------------------


def daemon_child(
    desired: str, endpoint_url: str, concurrency: int, listen: str = "", queue_url: str = ""
) -> int:
    """Run the daemon on command, one JSON answer per line read from stdin: `pass` runs a
    pass and answers its figures; `serve` starts what `reconciler run` starts besides the
    scheduler (HTTP with the webhook, the passes on demand, the events queue's poller);
    `counts` answers the daemon's counters as they stand."""
    from reconciler import daemon, logs, reconcile, source
    from reconciler.aws.queue import EventQueue

    # Answers go to the original stdout; the daemon's JSON logs (stdout by design) to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    logs.configure("json", "info")
    settings = daemon.Settings(
        interval=86400,
        jitter=0,
        mode=reconcile.Mode.APPLY,
        concurrency=concurrency,
        endpoint_url=endpoint_url,
        listen=listen or "127.0.0.1:0",
        webhook_secret=feedback.WEBHOOK_SECRET,
        events_queue=EventQueue(queue_url, workload.REGION, endpoint_url) if queue_url else None,
    )
    the_daemon = daemon.Daemon(settings, source.DirectorySource(Path(desired)))
    for line in sys.stdin:
        command = line.strip()
        if command == "pass":
            answer = _measured_pass(the_daemon)
        elif command == "serve":
            _serve(the_daemon)
            answer = {"serving": True}
        elif command == "counts":
            answer = _daemon_counts(the_daemon)
        elif command == "profile":
            answer = profiling.profiled_pass(the_daemon)
        else:
            continue
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


def _serve(the_daemon: Any) -> None:
    import threading

    the_daemon.serve()
    threading.Thread(target=the_daemon.passes_on_demand, daemon=True).start()
    queue = the_daemon.settings.events_queue
    threading.Thread(target=the_daemon.poll_events, args=(queue,), daemon=True).start()


def _measured_pass(the_daemon: Any) -> dict[str, Any]:
    before = _daemon_counts(the_daemon)
    Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from the current RSS
    started, cpu = time.monotonic(), time.process_time()
    the_daemon.run_pass()
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    after = _daemon_counts(the_daemon)
    calls = {k: after["calls"][k] - before["calls"].get(k, 0) for k in after["calls"]}
    applied = {k: after["applied"][k] - before["applied"].get(k, 0) for k in after["applied"]}
    return {
        "wall": wall,
        "cpu": cpu,
        "calls": {k: v for k, v in calls.items() if v},
        # What the plan found: the drift an apply pass leaves plus the changes it made.
        "drift": after["drift"] + applied.get("applied", 0),
        "applied": {k: v for k, v in applied.items() if v},
        "unreachable": after["unreachable"],
        "phases": {
            k: round(v - before["phases"].get(k, 0.0), 2) for k, v in after["phases"].items()
        },
        "passes": after["passes"],
        "peak_kb": _status("VmHWM"),
        "rss_kb": _status("VmRSS"),
    }


def simulator_child() -> None:
    """`python -m tests.simulation.faults` with moto's access-key lookup indexed.

    moto finds the account of every request by scanning every account's IAM backend for the
    access key (moto.iam.models.get_account_id_from), so its CPU time per call grows with the
    number of accounts: about 5 ms a call at 250 accounts, 11 ms at 1,000. AWS has no such
    cost. Keys are unique and never move between accounts, so remembering each answer is exact.
    """
    import moto.iam.models as iam_models

    from tests.simulation import faults

    scan = iam_models.get_account_id_from
    known: dict[str, str] = {}

    def indexed(access_key: str) -> str:
        if access_key not in known:
            known[access_key] = scan(access_key)
        return known[access_key]

    iam_models.get_account_id_from = indexed  # moto imports it at call time
    faults.main()


def _daemon_counts(the_daemon: Any) -> dict[str, Any]:
    calls: Counter[str] = Counter()
    applied: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    phases: dict[str, float] = {}
    drift = unreachable = 0
    for metric in the_daemon.metrics.registry.collect():
        for sample in metric.samples:
            labels, value = sample.labels, sample.value
            if sample.name == "reconciler_aws_api_calls_total":
                calls[f"{labels['service']}:{labels['operation']}"] += int(value)
            elif sample.name == "reconciler_changes_applied_total":
                applied[labels["result"]] += int(value)
            elif sample.name == "reconciler_reconcile_total":
                passes[labels["result"]] += int(value)
            elif sample.name == "reconciler_reconcile_duration_seconds_sum":
                phases[labels["phase"]] = value
            elif sample.name == "reconciler_drift_resources":
                drift += int(value)
            elif sample.name == "reconciler_account_reachable" and value == 0:
                unreachable += 1
    return {
        "calls": calls,
        "applied": applied,
        "passes": passes,
        "drift": drift,
        "unreachable": unreachable,
        "phases": phases,
    }


def _status(field_name: str) -> int:
    found = re.search(rf"^{field_name}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(found.group(1)) if found else 0


# --- processes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    counts: dict[str, int]  # operation -> calls
    first_calls: dict[str, tuple[float, float]]  # operation -> (monotonic, simulator CPU s)
    last_answer: tuple[float, float]


class Simulator:
    """`python -m tests.simulation.faults` in its own process (from the repository root, where
    `tests` is importable), steered over /fault-api/."""

    def __init__(self, workdir: Path, index_access_keys: bool = False) -> None:
        self._out = (workdir / "simulator.out").open("w+")
        self._err = (workdir / "simulator.log").open("w")
        command = [sys.executable, "-m", "tests.simulation.faults"]
        if index_access_keys:
            command = [sys.executable, str(ENTRY), "--simulator-child"]
        self.process = subprocess.Popen(
            [*command, "--port", "0", "--latency", "0"],
            stdout=self._out,
            stderr=self._err,
            cwd=REPO,
        )
        deadline = time.monotonic() + 60
        while True:
            self._out.seek(0)
            first = self._out.readline().strip()
            if first.startswith("http"):
                self.url = first
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not start; see {self._err.name}")
            time.sleep(0.1)

    def control(self, path: str, payload: Any = None) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (our own loopback server)
            f"{self.url}/fault-api/{path}", data=json.dumps(payload).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            result: dict[str, Any] = json.loads(answer.read())
        return result

    def start_counting(self, latency: float) -> None:
        """Counts from zero, and the latency every following call gets."""
        self.control("clear")  # also clears the latency
        self.control("latency", latency)

    def counts(self) -> dict[str, int]:
        return self.record().counts

    def record(self) -> Record:
        """What the simulator saw since the counts were cleared: the calls by operation, when
        the first call of each operation came and when the last answer left, as
        `time.monotonic()` here (one clock for every process on Linux) and the simulator's CPU
        seconds then."""
        answer = self.control("counts")
        firsts = {name: (wall, cpu) for name, (wall, cpu) in answer["first_calls"].items()}
        wall, cpu = answer["last_answer"]
        return Record(dict(answer["counts"]), firsts, (wall, cpu))

    def cpu_seconds(self) -> float:
        """User and system CPU time the simulator process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        _stop(self.process)
        self._out.close()
        self._err.close()


class DaemonChild:
    """The reconciler daemon in its own process (see bench.py's docstring); with `listen` and
    `queue_url`, ready to serve the webhook and read the events queue once told `serve`."""

    def __init__(
        self,
        workdir: Path,
        desired: Path,
        url: str,
        concurrency: int,
        listen: str = "",
        queue_url: str = "",
    ) -> None:
        self._log = (workdir / f"daemon-c{concurrency}.log").open("w")
        extra = ["--listen", listen, "--events-queue-url", queue_url] if listen else []
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ENTRY),
                "--daemon-child",
                "--desired",
                str(desired),
                "--endpoint-url",
                url,
                "--concurrency",
                str(concurrency),
                *extra,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=REPO,
        )
        self.concurrency = concurrency

    def run_pass(self) -> dict[str, Any]:
        return self.ask("pass")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], PASS_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"daemon gave no answer to {command}; see {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        _stop(self.process)
        self._log.close()


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# --- one size -----------------------------------------------------------------------------------


@dataclass
class Row:
    accounts: int
    name: str
    concurrency: int
    wall: float
    daemon_calls: dict[str, int]
    endpoint_calls: dict[str, int]
    drift: int
    applied: dict[str, int]
    peak_mb: float
    cpu: float = 0.0  # CPU seconds of the reconciler process during the pass
    simulator_cpu: float = 0.0  # and of the simulator

    @property
    def daemon_total(self) -> int:
        return sum(self.daemon_calls.values())

    @property
    def endpoint_total(self) -> int:
        return sum(self.endpoint_calls.values())


def median_row(rows: list[Row]) -> Row:
    """The medians of several runs of one pass: wall time and each CPU time their own median,
    the calls those of the run with the median count, the peak memory the highest."""
    middle = sorted(rows, key=lambda r: r.daemon_total)[len(rows) // 2]
    return dataclasses.replace(
        middle,
        name=f"{middle.name} (median of {len(rows)})",
        wall=statistics.median(r.wall for r in rows),
        cpu=statistics.median(r.cpu for r in rows),
        simulator_cpu=statistics.median(r.simulator_cpu for r in rows),
        peak_mb=max(r.peak_mb for r in rows),
    )


@dataclass
class SizeResult:
    accounts: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warmup_drift: int = -1
    drifted: int = 0
    repaired_read_back: bool = False
    warmup_peak_mb: float = 0.0
    feedback: feedback.Feedback | None = None
    imported: importing.ImportRun | None = None  # the import round trip, last
    cold: coldplan.ColdPlan | None = None  # the cold plan, right after the build
    profile: profiling.Profile | None = None  # a steady pass under the profiler

    def row(self, name: str, concurrency: int) -> Row | None:
        return next((r for r in self.rows if r.name == name and r.concurrency == concurrency), None)

    def median(self, name: str, concurrency: int) -> Row | None:
        """The medians of every run of that pass (one run: its own figures)."""
        runs = [r for r in self.rows if r.name == name and r.concurrency == concurrency]
        return median_row(runs) if runs else None


def run_size(n: int, options: Options, workdir: Path) -> SizeResult:
    result = SizeResult(n)
    here = workdir / f"n{n}"
    here.mkdir()
    say(f"--- {n} accounts (work files in {here})")
    processes: list[Simulator | DaemonChild] = []
    try:
        simulator = Simulator(here, not options.moto_scan)
        processes.append(simulator)
        url = simulator.url
        # Seed: the organization and the people; the document; the build from empty.
        started = time.monotonic()
        workload.seed(url)
        desired = here / "accounts.yaml"
        doc = workload.document(n)
        desired.write_text(workload.text(doc))
        build = _build(desired, url, options.concurrency, here / "build.log")
        say(
            f"built from empty with `reconciler apply` at latency 0 in "
            f"{time.monotonic() - started:.1f} s (exit {build})"
        )
        if build != 0:
            raise RuntimeError(f"the build did not converge; see {here / 'build.log'}")
        result.cold = coldplan.measure(simulator, desired, here, n, options)
        say(_cold_line(result.cold))

        # The default concurrency: warm-up, steady state, drift repair, the pass after; then
        # the webhook and the events queue.
        listen, queue = feedback.free_listen(), feedback.create_queue(url)
        child = DaemonChild(here, desired, url, options.concurrency, listen, queue)
        processes.append(child)
        simulator.start_counting(0.0)
        warm = child.run_pass()
        result.warmup_drift = warm["drift"]
        result.warmup_peak_mb = warm["peak_kb"] / 1024
        say(f"warm-up pass (latency 0): {warm['wall']:.1f} s, planned {warm['drift']} changes")
        for _ in range(STEADY_RUNS):
            result.rows.append(measure(child, simulator, n, "steady", options.latency))
        ids = workload.account_ids(url)
        drifted = workload.drifted_accounts(ids, n, options.drift_share)
        result.drifted = len(drifted)
        simulator.start_counting(0.0)
        workload.make_drift(url, drifted)
        say(f"drift made by hand in {len(drifted)} accounts ({len(drifted) * 2} changes)")
        result.rows.append(measure(child, simulator, n, "drift repair", options.latency))
        result.rows.append(measure(child, simulator, n, "after repair", options.latency))
        simulator.start_counting(0.0)
        by_id = {ids[a["name"]]: a for a in doc["accounts"]}
        result.repaired_read_back = workload.drift_repaired(url, drifted, by_id)
        # Profiled after the last pass whose peak memory counts (the feedback passes are timed
        # only): the profiler's records leave the process's heap larger.
        if n == PROFILE_AT:
            simulator.start_counting(options.latency)
            result.profile = profiling.from_answer(child.ask("profile"))
            simulator.start_counting(0.0)
            say(f"steady pass under the profiler: CPU s {result.profile.cpu:.1f}")
        result.feedback = feedback.measure(
            child, simulator, desired, doc, listen, queue, options.latency
        )
        child.stop()
        processes.remove(child)

        if n <= SINGLE_CONCURRENCY_LIMIT:
            result.rows.append(_single_concurrency_steady(here, desired, simulator, n, options))

        # The import round trip on the organization as it now is.
        result.imported = importing.measure(simulator, url, here, n, options)
        say(_import_line(result.imported))
    finally:
        for process in reversed(processes):
            process.stop()
    return result


def _single_concurrency_steady(
    here: Path, desired: Path, simulator: Simulator, n: int, options: Options
) -> Row:
    """The steady pass at --concurrency 1: its own daemon process, warmed up the same way."""
    single = DaemonChild(here, desired, simulator.url, 1)
    try:
        simulator.start_counting(0.0)
        warm = single.run_pass()
        say(
            f"warm-up pass, concurrency 1 (latency 0): {warm['wall']:.1f} s, "
            f"planned {warm['drift']} changes"
        )
        return measure(single, simulator, n, "steady", options.latency)
    finally:
        single.stop()


def _cold_line(cold: coldplan.ColdPlan) -> str:
    line = f"cold `reconciler plan`, {len(cold.runs)} runs: {_runs(cold)}"
    if cold.baseline is not None:
        line += f"\nplain boto3 script, {len(cold.baseline.runs)} runs: {_runs(cold.baseline)}"
    return line


def _runs(cold: coldplan.ColdRuns) -> str:
    return "; ".join(
        f"{r.wall:.1f} s, CPU s {r.cpu:.1f} (simulator {r.simulator_cpu:.1f}), {r.calls} calls, "
        f"exit {r.status}"
        for r in cold.runs
    )


def _import_line(run: importing.ImportRun) -> str:
    return (
        f"import: {run.wall:.1f} s, {run.total_calls} calls, exit {run.status}, "
        f"{run.declared} accounts declared, {run.left_out} left out; plan on it: "
        f"exit {run.plan_status} in {run.plan_wall:.1f} s"
    )


def _build(desired: Path, url: str, concurrency: int, log_path: Path) -> int:
    """The product's one-shot `reconciler apply` from empty; its exit status."""
    with log_path.open("w") as log:
        build = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler.cli",
                "apply",
                "--desired",
                str(desired),
                "--endpoint-url",
                url,
                "--concurrency",
                str(concurrency),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            timeout=PASS_TIMEOUT,
            check=False,
        )
    return build.returncode


def measure(child: DaemonChild, simulator: Simulator, n: int, name: str, latency: float) -> Row:
    simulator.start_counting(latency)
    simulator_cpu = simulator.cpu_seconds()
    answer = child.run_pass()
    simulator_cpu = simulator.cpu_seconds() - simulator_cpu
    endpoint = simulator.counts()
    simulator.start_counting(0.0)
    row = Row(
        n,
        name,
        child.concurrency,
        answer["wall"],
        answer["calls"],
        endpoint,
        answer["drift"],
        answer["applied"],
        answer["peak_kb"] / 1024,
        answer["cpu"],
        simulator_cpu,
    )
    say(
        f"{name} pass, concurrency {child.concurrency}: {row.wall:.1f} s, "
        f"{row.daemon_total} calls (endpoint {row.endpoint_total}), planned {row.drift}, "
        f"applied {row.applied or {}}, unreachable {answer['unreachable']}, "
        f"peak {row.peak_mb:.0f} MB, CPU s reconciler {row.cpu:.1f} simulator "
        f"{row.simulator_cpu:.1f}, phases s {answer['phases']}"
    )
    return row


def say(message: str) -> None:
    print(message, flush=True)
