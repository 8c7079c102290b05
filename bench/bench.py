"""Benchmark at organization scale: calls per account, wall time, CPU time, concurrency
speed-up and peak memory of a cold plan and of reconcile passes, against the simulator with a
fixed latency per call.

    .venv/bin/python bench/bench.py                  # 200 and 1,000 accounts
    .venv/bin/python bench/bench.py --accounts 200   # one size (repeatable)
    .venv/bin/python bench/bench.py --large          # adds 5,000 accounts
    .venv/bin/python bench/bench.py --huge           # adds 10,000 accounts (slow to seed)
    .venv/bin/python bench/bench.py --moto-scan      # with moto's O(accounts) key lookup

For each size N it:

1. starts the simulator out of process (`python -m tests.simulation.faults --latency 0`: moto's
   server behind the fault-injecting middleware, which counts every call by operation);
2. seeds it: an organization and 40 IAM users with plain boto3, then writes a document of N
   accounts in five OUs (tags, two roles each: MFA trust, a managed policy, a session
   duration) and 20 groups granting roles to 10 accounts each, and builds all of it with the
   product's own one-shot `reconciler apply` from empty, at latency 0 (a build, not measured);
3. times a cold `reconciler plan` on that document at the fixed latency (`coldplan.py`): the
   one-shot command in a fresh process, start-up included, no credentials cached, 3 times;
   each run records its wall time, the plan process's CPU time (user and system), the
   simulator's CPU time meanwhile, the endpoint's count of calls and the exit status, which
   must be 0 (the document equals the organization built); up to 1,000 accounts each run is
   followed by a plain boto3 script making the same reads (`plainread.py`), timed the same way,
   the baseline that tells the reconciler's own share of the cold plan from botocore's;
4. runs the reconciler daemon as a child process and measures its passes at the fixed latency
   (default 50 ms per call): a steady-state pass (document equal to live state), 3 times for
   medians, after one warm-up pass at latency 0 in the same process, so that assumed-role
   credentials are cached as in a long-running daemon; each pass records the daemon's CPU time
   and the simulator's; a pass repairing drift made by hand in 5% of the accounts (an
   account tag changed, the MFA condition removed from a role's trust policy); and the pass
   after it, which must plan nothing. A second daemon process with `--concurrency 1` warms up
   the same way and measures the same steady-state pass, for the speed-up ratio (up to 5,000
   accounts: at 10,000 it alone would take about 25 minutes).
5. closes the import round trip (`importing.py`): `reconciler import` of the organization as it
   now is, timed at the same latency, then `reconciler plan` on the document it wrote, which
   must exit 0 with every account declared.

Why a child process driving `Daemon.run_pass()` rather than `reconciler run`: the benchmark
must start each pass at a known moment (after drift is made, after the endpoint's counters are
cleared and the latency set), while credentials stay cached across passes, which only holds
inside one process. `reconciler run` starts passes on its own timer and has no trigger, so the
child (`bench.py --daemon-child`) builds the very `reconciler.daemon.Daemon` that `reconciler
run` builds (same `Settings`, `DirectorySource`, `Metrics`, sessions with the daemon's own
`needs-retry` API-call counter) and calls `run_pass()` when told to over stdin; only the
scheduler and the HTTP server are left out, and they make no AWS call. After each pass it
answers with the daemon's own `reconciler_aws_api_calls_total` by operation, the drift the
plan found (the drift left, `reconciler_drift_resources`, plus the changes applied), the changes
applied (`reconciler_changes_applied_total`) and its peak resident memory during that pass:
VmHWM from /proc/self/status, reset before each pass by writing 5 to /proc/self/clear_refs.

The endpoint's own count (cleared before each pass) must equal the daemon's counter: both are
printed, with the difference. Then the tables, an extrapolation of the steady pass to 10,000
accounts from the largest size measured (its wall time per account x 10,000, or the latency
floor calls per account x 10,000 x latency / concurrency when larger), and the targets,
PASS, FAIL or n/a (a size not measured); report.py lists them all. The headline ones: a cold
plan at 200 accounts takes at most 1.2 times the simulator's CPU time and 4.09 calls per
account; a steady pass at 1,000 accounts takes at most 3.07 calls and 5 ms of the
reconciler's CPU per account, with peak memory at most 100 MB; a steady pass over 10,000
accounts takes at most 300 s (measured with --huge, extrapolated always). The exit status is 0
only when no target fails. Every subprocess is stopped on the way out.
Logs and the generated documents stay in the work directory printed at the start.

This file is the entry point (the command line, and the dispatch of the child processes, which
run this same file); the work is in the modules beside it: `workload` (the organization and
document of each size, the drift made by hand), `harness` (the simulator and daemon children,
the passes and their timing), `coldplan` (the cold plan, and its baseline `plainread`),
`feedback` (push and change event to change made), `importing` (the import round trip) and
`report` (the tables and the targets).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import harness
import report

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _optional_sizes(large: bool, huge: bool) -> set[int]:
    return ({5000} if large else set()) | ({10_000} if huge else set())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--accounts",
        type=int,
        action="append",
        help="organization size; repeat for several (default: 200 and 1000)",
    )
    parser.add_argument("--large", action="store_true", help="also measure 5,000 accounts")
    parser.add_argument(
        "--huge",
        action="store_true",
        help="also measure 10,000 accounts (seeding and building it takes long)",
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per call")
    parser.add_argument("--concurrency", type=int, default=16, help="the default concurrency")
    parser.add_argument("--drift-share", type=float, default=0.05, help="share of drifted accounts")
    parser.add_argument(
        "--moto-scan",
        action="store_true",
        help="keep moto's per-call scan of every account for the access key, "
        "whose cost grows with the organization (by default it is indexed, so "
        "the simulator costs the same per call at any size, as AWS does; see "
        "harness.simulator_child)",
    )
    parser.add_argument("--daemon-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--simulator-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--desired", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    parser.add_argument("--listen", default="", help=argparse.SUPPRESS)
    parser.add_argument("--events-queue-url", default="", help=argparse.SUPPRESS)
    if "--simulator-child" in sys.argv:  # the rest of the command line is the simulator's
        sys.argv.remove("--simulator-child")
        harness.simulator_child()
        return 0
    args = parser.parse_args()
    if args.daemon_child:
        return harness.daemon_child(
            args.desired, args.endpoint_url, args.concurrency, args.listen, args.events_queue_url
        )

    # Stopped by SIGTERM or SIGINT (even where a background shell ignores SIGINT), unwind so
    # that every `finally` stops the simulator and the daemon children.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupted)
    # Only the simulator is ever reached: dummy credentials, no profile, no other endpoint.
    os.environ.update(ENVIRONMENT)
    # Every child process imports reconciler from this checkout, whatever is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(harness.REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    options = harness.Options(args.latency, args.concurrency, args.drift_share, args.moto_scan)
    sizes = sorted(set(args.accounts or [200, 1000]) | _optional_sizes(args.large, args.huge))
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    harness.say(
        f"benchmark: {sizes} accounts, latency {args.latency * 1000:.0f} ms, work in {workdir}"
        + (", moto's access-key lookup indexed" if not args.moto_scan else "")
    )
    started = time.monotonic()
    results = [harness.run_size(n, options, workdir) for n in sizes]
    ok = report.print_report(results, options)
    harness.say(f"\nbenchmark took {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
