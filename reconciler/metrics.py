"""Every Prometheus metric the README lists, in one registry, updated once per pass from its
`PassReport`.

Metrics are derived from values (a pass's `PassReport`, each AWS call's botocore event), never
from log lines. Labels are bounded: kind, change, result, phase, service, operation, outcome,
the document's account names and the role names it places in them.

No `*_created` series are exposed: a counter's creation time says nothing an operator needs, and
each labelled counter would otherwise double the series Prometheus stores.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client import Counter as PromCounter

from reconciler import __version__
from reconciler.core.plan import SOURCE_ACCOUNT, Action, Change, Kind, Plan, Status
from reconciler.core.spec import Spec
from reconciler.reconcile import Mode, Phase, Result

# Process-wide in prometheus_client: it holds for every registry, this one's first.
disable_created_metrics()  # type: ignore[no-untyped-call]

RESULTS = ("success", "error")
# What started a pass: the schedule, a git push (the webhook), or an event; and whether the
# request to start one was accepted.
TRIGGER_SOURCES = ("schedule", "webhook", "event")
TRIGGER_RESULTS = ("accepted", "rejected")

# The `Finding.kind` of live access the document does not declare.
ACCESS_FINDING = "access"


class SourceStatus(enum.StrEnum):
    """What became of the newest revision in a pass."""

    VALID = "valid"  # now in force
    INVALID = "invalid"  # failed validation; the last valid revision stays in force
    REFUSED = "refused"  # not trusted (its signature), so not even parsed
    UNAVAILABLE = "unavailable"  # the fetch failed; the revision in force stays


@dataclass
class PassReport:
    """One daemon pass, filled in as it goes and recorded once at its end, whatever happened:
    by `Metrics.record` and by the daemon's log. `source` stays None when the pass ended before
    the source answered; `result` stays None when no reconcile completed, and `error` then says
    why, unless no valid revision was in force."""

    mode: Mode
    source: SourceStatus | None = None
    revision: str = ""  # the newest revision fetched
    problems: list[str] = field(default_factory=list)  # why it is not applied, or not fetched
    in_force: str | None = None  # the revision reconciled
    accounts: tuple[str, ...] = ()  # the names the document in force declares
    roles: tuple[tuple[str, str], ...] = ()  # the (account, role) pairs it places
    result: Result | None = None
    error: Exception | None = None
    source_seconds: float = 0.0

    @property
    def durations(self) -> dict[Phase, float]:
        """Seconds per phase of a pass that reached a result, with the total; else none."""
        if self.result is None:
            return {}
        durations = {Phase.SOURCE: self.source_seconds, **self.result.durations}
        durations[Phase.TOTAL] = sum(durations.values())
        return durations


def placed_roles(document: Spec) -> tuple[tuple[str, str], ...]:
    """Every (account, role) pair the document places: each account with each of its roles."""
    return tuple(
        (account.name, role)
        for account in document.accounts
        for role in document.role_names(account)
    )


class Metrics:
    """The daemon's metrics. One instance per process; tests make their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.drift = Gauge(
            "reconciler_drift_resources",
            "Drift left by the last pass, by resource kind and change: in apply mode the changes "
            "it found and did not make (failed, skipped or not attempted, withheld, or all of "
            "them when the plan was refused); in plan mode every change it found, withheld ones "
            "included.",
            ["kind", "change"],
            registry=r,
        )
        self.account_drift = Gauge(
            "reconciler_account_drift_resources",
            "Drift left by the last pass, per account, counted as reconciler_drift_resources; "
            "no series for an account that could not be read, whose drift is unknown.",
            ["account"],
            registry=r,
        )
        self.unmanaged = Gauge(
            "reconciler_unmanaged_resources",
            "Live resources under reconciler's marker, or accounts, that the document does not "
            "declare and prune did not remove.",
            ["kind"],
            registry=r,
        )
        self.unmanaged_access = Gauge(
            "reconciler_unmanaged_access",
            "Users who can assume a managed role through a group or user policy the document "
            "does not declare, by account and role.",
            ["account", "role"],
            registry=r,
        )
        self.passes = PromCounter(
            "reconciler_reconcile",
            "Reconcile passes, by result: error when the pass itself failed (no valid revision, "
            "source or read failure, plan refused, unexpected error); a pass that completed "
            "with failed changes is a success, its changes are counted by "
            "reconciler_changes_applied_total.",
            ["result"],
            registry=r,
        )
        self.duration = Histogram(
            "reconciler_reconcile_duration_seconds",
            "Time per phase of a reconcile pass.",
            ["phase"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "Unix time at the end of the last successful full pass: the last that read "
            "everything and completed, failed changes or not.",
            registry=r,
        )
        self.changes = PromCounter(
            "reconciler_changes_applied",
            "Changes made (result applied) and failed or skipped, by kind and change.",
            ["kind", "change", "result"],
            registry=r,
        )
        self.change_failures = PromCounter(
            "reconciler_change_failures",
            "Changes failed or not attempted, by kind and the class of error (AccessError, "
            "ConflictError, LimitExceededError, NotAttemptedError, ...).",
            ["kind", "error_class"],
            registry=r,
        )
        self.reachable = Gauge(
            "reconciler_account_reachable",
            "1 when the bootstrap role of the account could be assumed in the last pass.",
            ["account"],
            registry=r,
        )
        self.source_valid = Gauge(
            "reconciler_source_valid", "1 when the newest revision validated.", registry=r
        )
        self.source = Info("reconciler_source", "The revision in force.", registry=r)
        self.source_errors = PromCounter(
            "reconciler_source_fetch_errors",
            "Fetches of the source (git or directory) that failed; the revision in force stays.",
            registry=r,
        )
        self.api_calls = PromCounter(
            "reconciler_aws_api_calls",
            "Every AWS API call made, retries included, by service, operation and outcome.",
            ["service", "operation", "outcome"],
            registry=r,
        )
        self.triggers = PromCounter(
            "reconciler_triggers",
            "Requests to start a pass, by source (schedule, webhook, event) and result: a "
            "scheduled pass, a signed push to the followed branch and an AWS change event about "
            "what the document manages are accepted; a webhook request refused (bad signature "
            "or token, bad length, body or JSON) and a queue message that is no AWS change "
            "event are rejected.",
            ["source", "result"],
            registry=r,
        )
        Info("reconciler_build", "Build information.", registry=r).info({"version": __version__})
        self._left: list[Change] = []  # the drift the last passes left, for focused passes
        self._initialise()

    def _initialise(self) -> None:
        """Create every bounded labelled series at zero, so dashboards and alerts see them."""
        for kind in Kind:
            self.unmanaged.labels(kind.value)
            for action in Action:
                self.drift.labels(kind.value, action.value)
                for status in Status:
                    self.changes.labels(kind.value, action.value, status.value)
        for result in RESULTS:
            self.passes.labels(result)
        for phase in Phase:
            self.duration.labels(phase.value)
        for source in TRIGGER_SOURCES:
            for outcome in TRIGGER_RESULTS:
                self.triggers.labels(source, outcome)

    def record(self, report: PassReport) -> None:
        """Everything one pass tells, once, at its end: the source, then what the pass found
        and did, or only that it failed."""
        self._record_source(report)
        if report.result is None or report.error is not None:
            self.passes.labels("error").inc()
            return
        self._forget_accounts(report.accounts)
        self._record_drift(report.result, report.accounts)
        self._record_result(report.result, report.accounts)
        self._record_access(report.result.plan, report.roles)
        for phase, seconds in report.durations.items():
            self.duration.labels(phase.value).observe(seconds)
        # A pass completed even when some changes failed: those are counted per change above,
        # and left as drift. Only a refused plan, which changes nothing, fails the pass.
        ok = report.result.refused is None
        self.passes.labels("success" if ok else "error").inc()
        if ok and report.result.scope.everything:  # a pass over a part is no resync
            self.last_success.set(time.time())

    def _record_result(self, result: Result, account_names: tuple[str, ...]) -> None:
        """What the live state showed beyond drift, and what each change came to."""
        for kind in Kind:
            self.unmanaged.labels(kind.value).set(len(result.plan.unmanaged.get(kind, ())))
        for name in account_names:
            self.reachable.labels(name).set(0 if name in result.plan.unreachable else 1)
        for outcome in result.outcomes:
            change = outcome.change
            self.changes.labels(change.kind.value, change.action.value, outcome.status.value).inc()
            if outcome.status is not Status.APPLIED and outcome.error is not None:
                self.change_failures.labels(change.kind.value, outcome.error_class).inc()

    def _record_access(self, plan: Plan, placed: tuple[tuple[str, str], ...]) -> None:
        """Per (account, role), the distinct users of the access findings: a user who reaches
        the role through two undeclared policies counts once. Every pair the document places
        has a series, at zero without findings; the series of pairs it no longer places go.

        Findings come from the live state read at the start of the pass: in apply mode they
        describe the organization as the pass found it, before its changes, and the next pass
        shows what remains. When the source account could not be read, nothing is known about
        who can reach what, and the values stay as they were."""
        if SOURCE_ACCOUNT in plan.unreachable:
            return
        users: dict[tuple[str, str], set[str]] = {pair: set() for pair in placed}
        for finding in plan.findings:
            if finding.kind == ACCESS_FINDING:
                users.setdefault((finding.account, finding.resource), set()).update(finding.users)
        for labels in list(self.unmanaged_access._metrics):
            if labels not in users:
                self.unmanaged_access.remove(*labels)
        for (account, role), names in users.items():
            self.unmanaged_access.labels(account, role).set(len(names))

    def _record_source(self, report: PassReport) -> None:
        """A failed fetch is counted and changes nothing else: the revision in force stays."""
        if report.source is SourceStatus.UNAVAILABLE:
            self.source_errors.inc()
        elif report.source is SourceStatus.VALID:
            self.source_valid.set(1)
            self.source.info({"revision": report.revision})
        elif report.source is not None:  # invalid or refused
            self.source_valid.set(0)

    def _record_drift(self, result: Result, account_names: tuple[str, ...]) -> None:
        """The drift the pass leaves: the changes it found and did not make. In plan mode
        nothing is made, so that is every change found; in apply mode, the changes failed,
        skipped or never attempted (a refused plan attempts none). Withheld changes are left
        in both modes; a focused pass keeps what the passes before it left outside its scope.
        An unreachable account was not read: its drift is unknown, so it has
        no per-account series until a pass reads it again (reconciler_account_reachable says
        why), and the per-kind totals count only what was read."""
        applied = {id(o.change) for o in result.outcomes if o.status is Status.APPLIED}
        left = [c for c in result.plan.changes if id(c) not in applied]
        left += [w.change for w in result.plan.withheld]
        # A focused pass planned only its scope: what earlier passes left outside it is
        # still left, as far as anyone knows, until a pass reads it again.
        scope = result.scope
        left += [
            c
            for c in self._left
            if not scope.covers(c) and (c.account is None or c.account in account_names)
        ]
        self._left = left
        by_kind = Counter((c.kind, c.action) for c in left)
        for kind in Kind:
            for action in Action:
                self.drift.labels(kind.value, action.value).set(by_kind[(kind, action)])
        by_account = Counter(c.account for c in left if c.account)
        for name in account_names:
            if name in result.plan.unreachable:
                with contextlib.suppress(KeyError):
                    self.account_drift.remove(name)
            else:
                self.account_drift.labels(name).set(by_account[name])

    def _forget_accounts(self, keep: tuple[str, ...]) -> None:
        """Drop series of accounts no longer in the document, so they do not linger."""
        for gauge in (self.account_drift, self.reachable):
            for labels in list(gauge._metrics):
                if labels[0] not in keep:
                    gauge.remove(*labels)

    def count_trigger(self, source: str, result: str) -> None:
        self.triggers.labels(source, result).inc()

    def count_api_call(self, service: str, operation: str, outcome: str) -> None:
        self.api_calls.labels(service, operation, outcome).inc()


def api_call_counter(metrics: Metrics) -> Any:
    """A botocore `needs-retry` handler: it runs once per HTTP attempt, retries included."""

    def handler(
        response: Any, operation: Any, attempts: int, caught_exception: Any, **_: Any
    ) -> None:
        service = operation.service_model.service_name
        if caught_exception is not None:
            outcome = "network_error"
        else:
            status = response[0].status_code if response else 0
            code = (response[1] or {}).get("Error", {}).get("Code", "") if response else ""
            outcome = "success" if status < 400 else (code or f"http_{status}")
        metrics.count_api_call(service, operation.name, _bounded(outcome))

    return handler


def _bounded(outcome: str) -> str:
    # Error codes are AWS's own finite vocabulary; cap the length against surprises.
    return outcome[:64]
