"""Benchmark at organization scale: calls per account, wall time, concurrency speed-up
and peak memory of a reconcile pass, against the simulator with a fixed latency per call.

    .venv/bin/python bench/bench.py                  # 250 and 1,000 accounts
    .venv/bin/python bench/bench.py --accounts 250   # one size (repeatable)
    .venv/bin/python bench/bench.py --large          # adds 5,000 accounts
    .venv/bin/python bench/bench.py --moto-scan      # with moto's O(accounts) key lookup

For each size N it:

1. starts the simulator out of process (`python -m tests.simulation.faults --latency 0`: moto's
   server behind the fault-injecting middleware, which counts every call by operation);
2. seeds it: an organization and 40 IAM users with plain boto3, then writes a document of N
   accounts in five OUs (tags, two roles each: MFA trust, a managed policy, a session
   duration) and 20 groups granting roles to 10 accounts each, and builds all of it with the
   product's own one-shot `reconciler apply` from empty, at latency 0 (a build, not measured);
3. runs the reconciler daemon as a child process and measures its passes at the fixed latency
   (default 50 ms per call): a steady-state pass (document equal to live state) after one
   warm-up pass at latency 0 in the same process, so that assumed-role credentials are cached
   as in a long-running daemon; a pass repairing drift made by hand in 5% of the accounts (an
   account tag changed, the MFA condition removed from a role's trust policy); and the pass
   after it, which must plan nothing. A second daemon process with `--concurrency 1` warms up
   the same way and measures the same steady-state pass, for the speed-up ratio.

Why a child process driving `Daemon.run_pass()` rather than `reconciler run`: the benchmark
must start each pass at a known moment (after drift is made, after the endpoint's counters are
cleared and the latency set), while credentials stay cached across passes, which only holds
inside one process. `reconciler run` starts passes on its own timer and has no trigger, so the
child (`bench.py --daemon-child`) builds the very `reconciler.daemon.Daemon` that `reconciler
run` builds (same `Settings`, `DirectorySource`, `Metrics`, sessions with the daemon's own
`needs-retry` API-call counter) and calls `run_pass()` when told to over stdin; only the
scheduler and the HTTP server are left out, and they make no AWS call. After each pass it
answers with the daemon's own `reconciler_aws_api_calls_total` by operation, the drift the
plan found (`reconciler_drift_resources`), the changes applied (`reconciler_changes_applied
_total`) and its peak resident memory during that pass: VmHWM from /proc/self/status, reset
before each pass by writing 5 to /proc/self/clear_refs.

The endpoint's own count (cleared before each pass) must equal the daemon's counter: both are
printed, with the difference. Then one table and the targets of the issue, PASS or FAIL; the
exit status is 0 only when every target passes. Every subprocess is stopped on the way out.
Logs and the generated documents stay in the work directory printed at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

REPO = Path(__file__).resolve().parents[1]
MANAGEMENT = "123456789012"  # moto's fixed management account
BOOTSTRAP = "OrganizationAccountAccessRole"
UNITS = (
    "Clients/Acme",
    "Clients/Globex",
    "Clients/Initech",
    "Environments/Development",
    "Environments/Production",
)
GROUPS, USERS, GRANTS_PER_GROUP = 20, 40, 10
PASS_TIMEOUT = 1800.0  # seconds; any single pass or build beyond this is a failure
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- the daemon child ---------------------------------------------------------------------------


def daemon_child(desired: str, endpoint_url: str, concurrency: int) -> int:
    """Run the daemon's passes on command: one JSON answer per `pass` line read from stdin."""
    from reconciler import daemon, logs, source

    # Answers go to the original stdout; the daemon's JSON logs (stdout by design) to stderr.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    logs.configure("json", "info")
    settings = daemon.Settings(
        interval=86400, jitter=0, mode="apply", concurrency=concurrency, endpoint_url=endpoint_url
    )
    the_daemon = daemon.Daemon(settings, source.DirectorySource(Path(desired)))
    for line in sys.stdin:
        if line.strip() != "pass":
            continue
        before = _daemon_counts(the_daemon)
        Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from the current RSS
        started, cpu = time.monotonic(), time.process_time()
        the_daemon.run_pass()
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        after = _daemon_counts(the_daemon)
        calls = {k: after["calls"][k] - before["calls"].get(k, 0) for k in after["calls"]}
        applied = {k: after["applied"][k] - before["applied"].get(k, 0) for k in after["applied"]}
        answer = {
            "wall": wall,
            "cpu": cpu,
            "calls": {k: v for k, v in calls.items() if v},
            "drift": after["drift"],
            "applied": {k: v for k, v in applied.items() if v},
            "unreachable": after["unreachable"],
            "phases": {
                k: round(v - before["phases"].get(k, 0.0), 2) for k, v in after["phases"].items()
            },
            "passes": after["passes"],
            "peak_kb": _status("VmHWM"),
            "rss_kb": _status("VmRSS"),
        }
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


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


class Simulator:
    """`python -m tests.simulation.faults` in its own process (from the repository root, where
    `tests` is importable), steered over /fault-api/."""

    def __init__(self, workdir: Path, index_access_keys: bool = False) -> None:
        self._out = (workdir / "simulator.out").open("w+")
        self._err = (workdir / "simulator.log").open("w")
        command = [sys.executable, "-m", "tests.simulation.faults"]
        if index_access_keys:
            command = [sys.executable, __file__, "--simulator-child"]
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
        return dict(self.control("counts")["counts"])

    def cpu_seconds(self) -> float:
        """User and system CPU time the simulator process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        _stop(self.process)
        self._out.close()
        self._err.close()


class DaemonChild:
    """The reconciler daemon in its own process (see the module docstring)."""

    def __init__(self, workdir: Path, desired: Path, url: str, concurrency: int) -> None:
        self._log = (workdir / f"daemon-c{concurrency}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--daemon-child",
                "--desired",
                str(desired),
                "--endpoint-url",
                url,
                "--concurrency",
                str(concurrency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=REPO,
        )
        self.concurrency = concurrency

    def run_pass(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], PASS_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"daemon pass gave no answer; see {self._log.name}")
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


# --- the organization -------------------------------------------------------------------------


def account_name(i: int) -> str:
    return f"acct-{i:05d}"


def document(n: int) -> dict[str, Any]:
    """N accounts in five OUs, two roles each, 20 groups granting AccountAccessRole in 10
    accounts each (well inside IAM's 5,120-character quota for a group's inline policies)."""
    accounts = [
        {
            "name": account_name(i),
            "email": f"bench+{account_name(i)}@example.com",
            "unit": UNITS[i % len(UNITS)],
            "tags": {"team": f"team-{i % 37:02d}", "environment": ("dev", "prod")[i % 2]},
        }
        for i in range(n)
    ]
    groups = [
        {
            "name": f"Team{g:02d}",
            "users": [f"user{(g + k) % USERS:02d}" for k in (0, 7, 19)],
            "grants": [
                {"account": account_name(i), "role": "AccountAccessRole"}
                for i in range(g, n, GROUPS)[:GRANTS_PER_GROUP]
            ],
        }
        for g in range(GROUPS)
    ]
    return {
        "organization": {
            "management_account_id": MANAGEMENT,
            "bootstrap_role": BOOTSTRAP,
            "units": [
                {"name": "Clients", "units": [{"name": n} for n in ("Acme", "Globex", "Initech")]},
                {
                    "name": "Environments",
                    "units": [{"name": "Development"}, {"name": "Production"}],
                },
            ],
        },
        "access": {
            "roles": [
                {
                    "name": "AccountAccessRole",
                    "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                    "require_mfa": True,
                    "max_session_duration": 3600,
                },
                {
                    "name": "ReadOnlyAccessRole",
                    "policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                    "require_mfa": True,
                    "max_session_duration": 43200,
                },
            ]
        },
        "accounts": accounts,
        "groups": groups,
        # The build creates everything in one apply; drift repair makes 2 changes per account.
        "policy": {"prune": False, "max_changes": 20 * n + 1000, "protected_accounts": []},
    }


def client(service: str, url: str, credentials: dict[str, Any] | None = None) -> Any:
    keys = {}
    if credentials:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **keys)


def member_iam(url: str, account_id: str) -> Any:
    arn = f"arn:aws:iam::{account_id}:role/{BOOTSTRAP}"
    credentials = client("sts", url).assume_role(RoleArn=arn, RoleSessionName="bench")
    return client("iam", url, credentials["Credentials"])


def account_ids(url: str) -> dict[str, str]:
    pages = client("organizations", url).get_paginator("list_accounts").paginate()
    return {a["Name"]: a["Id"] for page in pages for a in page["Accounts"]}


def make_drift(url: str, ids: list[str]) -> None:
    """What a person does by hand: retag the account, drop MFA from a role's trust policy."""
    org = client("organizations", url)
    no_mfa = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for account_id in ids:
        org.tag_resource(ResourceId=account_id, Tags=[{"Key": "environment", "Value": "drift"}])
        member_iam(url, account_id).update_assume_role_policy(
            RoleName="AccountAccessRole", PolicyDocument=json.dumps(no_mfa)
        )


def drift_repaired(url: str, ids: list[str], declared: dict[str, dict[str, Any]]) -> bool:
    """Read back with plain boto3: tags as declared, MFA condition back in the trust policy."""
    org = client("organizations", url)
    for account_id, account in ((i, declared[i]) for i in ids):
        tags = {
            t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account_id)["Tags"]
        }
        if tags != account["tags"]:
            return False
        role = member_iam(url, account_id).get_role(RoleName="AccountAccessRole")["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
        if "aws:MultiFactorAuthPresent" not in json.dumps(trust):
            return False
    return True


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


@dataclass
class SizeResult:
    accounts: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warmup_drift: int = -1
    drifted: int = 0
    repaired_read_back: bool = False
    warmup_peak_mb: float = 0.0

    def row(self, name: str, concurrency: int) -> Row | None:
        return next((r for r in self.rows if r.name == name and r.concurrency == concurrency), None)


def run_size(n: int, args: argparse.Namespace, workdir: Path) -> SizeResult:
    result = SizeResult(n)
    here = workdir / f"n{n}"
    here.mkdir()
    say(f"--- {n} accounts (work files in {here})")
    processes: list[Any] = []
    try:
        simulator = Simulator(here, not args.moto_scan)
        processes.append(simulator)
        url = simulator.url
        # Seed: the organization and the people; the document; the build from empty.
        started = time.monotonic()
        org = client("organizations", url)
        org.create_organization(FeatureSet="ALL")
        iam = client("iam", url)
        for u in range(USERS):
            iam.create_user(UserName=f"user{u:02d}")
        desired = here / "accounts.yaml"
        doc = document(n)
        desired.write_text(yaml.safe_dump(doc, sort_keys=False))
        with (here / "build.log").open("w") as log:
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
                    str(args.concurrency),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                timeout=PASS_TIMEOUT,
                check=False,
            )
        say(
            f"built from empty with `reconciler apply` at latency 0 in "
            f"{time.monotonic() - started:.1f} s (exit {build.returncode})"
        )
        if build.returncode != 0:
            raise RuntimeError(f"the build did not converge; see {here / 'build.log'}")

        # The default concurrency: warm-up, steady state, drift repair, the pass after.
        child = DaemonChild(here, desired, url, args.concurrency)
        processes.append(child)
        simulator.start_counting(0.0)
        warm = child.run_pass()
        result.warmup_drift = warm["drift"]
        result.warmup_peak_mb = warm["peak_kb"] / 1024
        say(f"warm-up pass (latency 0): {warm['wall']:.1f} s, planned {warm['drift']} changes")
        result.rows.append(measure(child, simulator, n, "steady", args.latency))
        ids = account_ids(url)
        step = round(1 / args.drift_share)
        drifted = [ids[account_name(i)] for i in range(0, n, step)]
        result.drifted = len(drifted)
        simulator.start_counting(0.0)
        make_drift(url, drifted)
        say(f"drift made by hand in {len(drifted)} accounts ({len(drifted) * 2} changes)")
        result.rows.append(measure(child, simulator, n, "drift repair", args.latency))
        result.rows.append(measure(child, simulator, n, "after repair", args.latency))
        simulator.start_counting(0.0)
        by_id = {ids[a["name"]]: a for a in doc["accounts"]}
        result.repaired_read_back = drift_repaired(url, drifted, by_id)
        child.stop()
        processes.remove(child)

        # --concurrency 1: its own daemon process, warmed up the same way.
        single = DaemonChild(here, desired, url, 1)
        processes.append(single)
        simulator.start_counting(0.0)
        warm1 = single.run_pass()
        say(
            f"warm-up pass, concurrency 1 (latency 0): {warm1['wall']:.1f} s, "
            f"planned {warm1['drift']} changes"
        )
        result.rows.append(measure(single, simulator, n, "steady", args.latency))
    finally:
        for process in reversed(processes):
            process.stop()
    return result


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


# --- report -----------------------------------------------------------------------------------


def report(results: list[SizeResult], args: argparse.Namespace) -> bool:
    header = (
        "accounts",
        "pass",
        "conc",
        "wall s",
        "calls (daemon)",
        "calls (endpoint)",
        "diff",
        "calls/acct (daemon)",
        "calls/acct (endpoint)",
        "planned",
        "peak MB",
        "CPU s (rec/sim)",
    )
    lines = [header]
    for result in results:
        for r in result.rows:
            lines.append(
                (
                    str(r.accounts),
                    r.name,
                    str(r.concurrency),
                    f"{r.wall:.1f}",
                    str(r.daemon_total),
                    str(r.endpoint_total),
                    str(r.daemon_total - r.endpoint_total),
                    f"{r.daemon_total / r.accounts:.3f}",
                    f"{r.endpoint_total / r.accounts:.3f}",
                    str(r.drift),
                    f"{r.peak_mb:.1f}",
                    f"{r.cpu:.1f}/{r.simulator_cpu:.1f}",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    print(f"latency {args.latency * 1000:.0f} ms per call; default concurrency {args.concurrency}")
    for k, line in enumerate(lines):
        print(
            "  ".join(
                cell.rjust(w) if k and i != 1 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))

    print()
    for result in results:
        steady = result.row("steady", args.concurrency)
        if steady is None:
            continue
        top = Counter(steady.endpoint_calls).most_common()
        print(
            f"steady pass at {result.accounts} accounts, endpoint calls by operation: "
            + ", ".join(f"{op} {c} ({c / result.accounts:.3f}/acct)" for op, c in top)
        )
        mismatched = {
            op
            for op in set(steady.endpoint_calls) | set(steady.daemon_calls)
            if steady.endpoint_calls.get(op, 0) != steady.daemon_calls.get(op, 0)
        }
        if mismatched:
            print(f"  daemon and endpoint differ on: {sorted(mismatched)}")

    checks: list[tuple[str, bool | None, str]] = []
    by_size = {r.accounts: r for r in results}

    def per_account(n: int) -> float | None:
        row = by_size[n].row("steady", args.concurrency) if n in by_size else None
        return row.daemon_total / n if row else None

    agree = all(
        r.daemon_total == r.endpoint_total and r.daemon_calls == r.endpoint_calls
        for s in results
        for r in s.rows
    )
    checks.append(
        ("daemon's counter equals the endpoint's count, by operation, every pass", agree, "")
    )
    at_1000 = per_account(1000)
    checks.append(
        (
            "steady-state calls/account <= 3.2 at 1000 accounts",
            None if at_1000 is None else at_1000 <= 3.2,
            "" if at_1000 is None else f"{at_1000:.3f}",
        )
    )
    at_250 = per_account(250)
    if at_1000 is not None and at_250 is not None:
        growth = at_1000 / at_250 - 1
        checks.append(
            (
                "calls/account at 1000 within 5% of 250",
                abs(growth) <= 0.05,
                f"{at_1000:.3f} vs {at_250:.3f} ({growth:+.1%})",
            )
        )
    else:
        checks.append(("calls/account at 1000 within 5% of 250", None, ""))
    for result in results:
        fast, slow = result.row("steady", args.concurrency), result.row("steady", 1)
        if fast and slow:
            ratio = slow.wall / fast.wall
            checks.append(
                (
                    f"concurrency {args.concurrency} >= 6x faster than 1 "
                    f"at {result.accounts} accounts",
                    ratio >= 6,
                    f"{slow.wall:.1f} s / {fast.wall:.1f} s = {ratio:.1f}x",
                )
            )
    if 1000 in by_size:
        result = by_size[1000]
        peak = max([r.peak_mb for r in result.rows] + [result.warmup_peak_mb])
        checks.append(
            (
                "peak memory <= 200 MB at 1000 accounts",
                peak <= 200,
                f"{peak:.1f} MB (highest of every pass, warm-up included)",
            )
        )
    else:
        checks.append(("peak memory <= 200 MB at 1000 accounts", None, ""))
    for result in results:
        repair, after = (
            result.row("drift repair", args.concurrency),
            result.row("after repair", args.concurrency),
        )
        expected = 2 * result.drifted
        ok = bool(
            repair
            and after
            and repair.drift == expected
            and repair.applied == {"applied": expected}
            and after.drift == 0
            and result.repaired_read_back
        )
        detail = (
            f"planned {repair.drift if repair else '?'} of {expected} expected, applied "
            f"{repair.applied if repair else '?'}, next pass planned "
            f"{after.drift if after else '?'}, read back "
            f"{'ok' if result.repaired_read_back else 'NOT repaired'}"
        )
        checks.append(
            (
                f"5% drift repaired in one pass, next pass plans nothing "
                f"({result.accounts} accounts)",
                ok,
                detail,
            )
        )
        checks.append(
            (
                f"warm-up pass plans no change ({result.accounts} accounts)",
                result.warmup_drift == 0,
                f"planned {result.warmup_drift}",
            )
        )

    print()
    all_ok = True
    for name, ok, detail in checks:
        verdict = "n/a " if ok is None else "PASS" if ok else "FAIL"
        all_ok = all_ok and ok is not False
        print(f"{verdict}  {name}" + (f": {detail}" if detail else ""))
    return all_ok


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def say(message: str) -> None:
    print(message, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--accounts",
        type=int,
        action="append",
        help="organization size; repeat for several (default: 250 and 1000)",
    )
    parser.add_argument("--large", action="store_true", help="also measure 5,000 accounts")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per call")
    parser.add_argument("--concurrency", type=int, default=16, help="the default concurrency")
    parser.add_argument("--drift-share", type=float, default=0.05, help="share of drifted accounts")
    parser.add_argument(
        "--moto-scan",
        action="store_true",
        help="keep moto's per-call scan of every account for the access key, "
        "whose cost grows with the organization (by default it is indexed, so "
        "the simulator costs the same per call at any size, as AWS does; see "
        "simulator_child)",
    )
    parser.add_argument("--daemon-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--simulator-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--desired", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    if "--simulator-child" in sys.argv:  # the rest of the command line is the simulator's
        sys.argv.remove("--simulator-child")
        simulator_child()
        return 0
    args = parser.parse_args()
    if args.daemon_child:
        return daemon_child(args.desired, args.endpoint_url, args.concurrency)

    # Stopped by SIGTERM or SIGINT (even where a background shell ignores SIGINT), unwind so
    # that every `finally` stops the simulator and the daemon children.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupted)
    # Only the simulator is ever reached: dummy credentials, no profile, no other endpoint.
    os.environ.update(ENVIRONMENT)
    # Every child process imports reconciler from this checkout, whatever is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    sizes = sorted(set(args.accounts or [250, 1000]) | ({5000} if args.large else set()))
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    say(
        f"benchmark: {sizes} accounts, latency {args.latency * 1000:.0f} ms, work in {workdir}"
        + (", moto's access-key lookup indexed" if not args.moto_scan else "")
    )
    started = time.monotonic()
    results = [run_size(n, args, workdir) for n in sizes]
    ok = report(results, args)
    say(f"\nbenchmark took {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
