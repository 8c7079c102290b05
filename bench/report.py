"""The report: one table of every pass measured, the calls by operation of each steady pass,
and the targets checked against them, PASS, FAIL or n/a (a size not measured).

It reads the harness's `SizeResult`s and prints; it starts nothing and measures nothing. The
targets: the daemon's own call counter equals the endpoint's count; a steady pass costs at most
3.2 calls per account at 1,000 accounts, within 5% of the cost at 250; the default concurrency
is at least 6 times faster than concurrency 1; peak memory stays under 200 MB at 1,000
accounts; drift made by hand in 5% of the accounts is repaired in one pass, the next pass plans
nothing, and so does the warm-up pass; a push notification and an AWS change event each have
their change made within 10 s at 1,000 accounts, by a pass whose calls do not grow with the
organization; `plan` on the document `reconciler import` wrote of the built organization exits
0, with every account declared.
"""

from __future__ import annotations

from collections import Counter

import harness

Check = tuple[str, bool | None, str]  # the target, passed (None: not measured), the figures


def print_report(results: list[harness.SizeResult], options: harness.Options) -> bool:
    """Print the table, the calls by operation and the targets; True when none fails."""
    _print_table(results, options)
    _print_import_table(results, options)
    _print_calls_by_operation(results, options)
    _print_feedback(results)
    checks = _checks(results, options) + _feedback_checks(results)
    return _print_checks(checks + _import_checks(results))


def _print_table(results: list[harness.SizeResult], options: harness.Options) -> None:
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
    latency_ms = options.latency * 1000
    print(f"latency {latency_ms:.0f} ms per call; default concurrency {options.concurrency}")
    for k, line in enumerate(lines):
        print(
            "  ".join(
                cell.rjust(w) if k and i != 1 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _print_calls_by_operation(results: list[harness.SizeResult], options: harness.Options) -> None:
    print()
    for result in results:
        steady = result.row("steady", options.concurrency)
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


def _checks(results: list[harness.SizeResult], options: harness.Options) -> list[Check]:
    checks: list[Check] = []
    by_size = {r.accounts: r for r in results}

    def per_account(n: int) -> float | None:
        row = by_size[n].row("steady", options.concurrency) if n in by_size else None
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
        fast, slow = result.row("steady", options.concurrency), result.row("steady", 1)
        if fast and slow:
            ratio = slow.wall / fast.wall
            checks.append(
                (
                    f"concurrency {options.concurrency} >= 6x faster than 1 "
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
            result.row("drift repair", options.concurrency),
            result.row("after repair", options.concurrency),
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

    return checks


def _print_feedback(results: list[harness.SizeResult]) -> None:
    print()
    print("fast feedback (seconds until the change is read back in AWS; calls of its pass):")
    for result in results:
        fed = result.feedback
        if fed is None:
            continue
        print(
            f"  {result.accounts} accounts: push -> applied {fed.push_seconds:.2f} s "
            f"({fed.push_total} calls: {_operations(fed.push_calls)}); event -> corrected "
            f"{fed.event_seconds:.2f} s ({fed.event_total} calls: {_operations(fed.event_calls)})"
        )


def _operations(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "none"


def _feedback_checks(results: list[harness.SizeResult]) -> list[Check]:
    """Under 10 s each at 1,000 accounts; an event's pass and a push's make as many calls at
    every size measured (they read what they touch, not the organization)."""
    measured = [(r.accounts, r.feedback) for r in results if r.feedback is not None]
    checks: list[Check] = []
    at_1000 = next((fed for n, fed in measured if n == 1000), None)
    for name, seconds in (
        ("push notification -> change applied", at_1000.push_seconds if at_1000 else None),
        ("AWS change event -> drift corrected", at_1000.event_seconds if at_1000 else None),
    ):
        checks.append(
            (
                f"{name} < 10 s at 1000 accounts",
                None if seconds is None else seconds < 10,
                "" if seconds is None else f"{seconds:.2f} s",
            )
        )
    for name, totals in (
        ("an event's pass", [(n, fed.event_total) for n, fed in measured]),
        ("a push's pass", [(n, fed.push_total) for n, fed in measured]),
    ):
        checks.append(
            (
                f"AWS calls of {name} independent of the organization's size",
                None if len(totals) < 2 else len({total for _, total in totals}) == 1,
                ", ".join(f"{total} at {n}" for n, total in totals),
            )
        )
    return checks


def _print_import_table(results: list[harness.SizeResult], options: harness.Options) -> None:
    """The import round trip: `reconciler import` at the latency above (a cold process), then
    `reconciler plan` on its document (latency 0)."""
    runs = [r.imported for r in results if r.imported is not None]
    if not runs:
        return
    header: tuple[str, ...] = (
        *("accounts", "import s", "calls", "calls/acct", "declared", "left out", "exit"),
        *("plan s", "plan exit"),
    )
    lines = [header]
    for run in runs:
        lines.append(
            (
                str(run.accounts),
                f"{run.wall:.1f}",
                str(run.total_calls),
                f"{run.total_calls / run.accounts:.3f}",
                str(run.declared),
                str(run.left_out),
                str(run.status),
                f"{run.plan_wall:.1f}",
                str(run.plan_status),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    print(
        f"import round trip (import at {options.latency * 1000:.0f} ms per call, concurrency "
        f"{options.concurrency}; plan on its document at latency 0)"
    )
    for k, line in enumerate(lines):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _import_checks(results: list[harness.SizeResult]) -> list[Check]:
    checks: list[Check] = []
    for result in results:
        run = result.imported
        ok = None
        if run is not None:
            # Every account of the organization is declared: those built, and the management
            # account itself.
            ok = run.status == 0 and run.plan_status == 0 and run.declared == run.accounts + 1
        detail = (
            ""
            if run is None
            else f"import exit {run.status}, {run.declared} accounts declared, "
            f"{run.left_out} left out, plan exit {run.plan_status}"
        )
        checks.append(
            (f"plan on the imported document exits 0 ({result.accounts} accounts)", ok, detail)
        )
    return checks


def _print_checks(checks: list[Check]) -> bool:
    print()
    all_ok = True
    for name, passed, detail in checks:
        verdict = "n/a " if passed is None else "PASS" if passed else "FAIL"
        all_ok = all_ok and passed is not False
        print(f"{verdict}  {name}" + (f": {detail}" if detail else ""))
    return all_ok
