"""The daemon: fetch the source, keep the last valid revision, reconcile on a
schedule, publish metrics, answer probes, and stop cleanly on SIGTERM or SIGINT.

APScheduler runs one pass at a time (max_instances=1, missed runs coalesced); a lock makes
the no-overlap rule hold for any other caller too. A signed push to the followed branch
(`POST /hooks/git`, see `webhook.py`) asks for a pass at once: a thread of its own runs it as soon
as no pass is under way, and the pushes that arrive meanwhile ask for one more pass, not one each.
A pass fills in one `PassReport` as it goes (the source's answer, the `Result` or the error,
the timings), and `_locked_pass` records it once, at the end, whatever happened:
`Metrics.record` for the metrics, `_log_pass` for the log.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from reconciler import allocator, logs, reconcile, webhook
from reconciler.aws.queue import EventQueue, Message
from reconciler.aws.sessions import Sessions, new_session_name
from reconciler.core import events, load, scope, spec, state
from reconciler.core.errors import AwsError, EventError, ReconcilerError, SourceError, SpecError
from reconciler.core.plan import Cause, CreateAccount, CreateUnit, Status
from reconciler.metrics import Metrics, PassReport, SourceStatus, api_call_counter, placed_roles
from reconciler.reconcile import Mode
from reconciler.source import Revision, Source

log = logging.getLogger("reconciler")

SIGNAL_CHECK = 0.5  # seconds between the main thread's looks for a signal another thread got
SHUTDOWN_GRACE = 25.0  # seconds a pass may take to reach a safe point after SIGTERM (< 30 s)
_LISTEN = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]{0,253})):(?P<port>[0-9]{1,5})"
)


@dataclass
class Settings:
    interval: float = 300.0
    jitter: float = 30.0
    mode: Mode = Mode.APPLY
    concurrency: int = 16
    endpoint_url: str | None = None
    listen: str = "0.0.0.0:8080"
    instance: str = state.DEFAULT_INSTANCE
    allow_mass_removal: bool = False
    http_idle_timeout: float = 10.0  # seconds a connection may stay silent
    http_request_deadline: float = 30.0  # seconds one connection may last, however it trickles
    http_connections: int = 32  # served at once; probes and scrapes need a handful
    webhook_secret: bytes | None = field(default=None, repr=False)  # None: no /hooks/git
    webhook_ref: str = "main"  # the branch a push must be to, to start a pass
    events_queue: EventQueue | None = None  # AWS change events; None: none are read

    def __post_init__(self) -> None:
        self.mode = Mode(self.mode)  # "apply" or "plan" as text is accepted too


@dataclass
class DocumentState:
    """The last-valid-revision rule: a revision that fails validation is reported and the
    last valid one stays in force; before any valid revision, nothing is in force."""

    in_force: tuple[Revision, spec.Spec] | None = None
    newest_valid: bool = False
    newest_errors: list[str] = field(default_factory=list)

    def update(self, revision: Revision) -> None:
        if revision.refusal:  # an untrusted revision is not even parsed
            self._reject([revision.refusal])
            return
        if self.in_force is not None and self.in_force[0] == revision:
            # Nothing new (most passes): the same text parses to the same document, and
            # parsing a large document costs more CPU than the rest of a steady pass's own.
            self.newest_valid, self.newest_errors = True, []
            return
        try:
            document = load.parse_spec(revision.text, revision.path)
        except SpecError as exc:
            self._reject(exc.lines()[1:])  # at most the first 100, and a count of the rest
            return
        self.in_force = (revision, document)
        self.newest_valid = True
        self.newest_errors = []

    def _reject(self, errors: list[str]) -> None:
        self.newest_valid = False
        self.newest_errors = errors


@dataclass(frozen=True)
class LastRead:
    """The live state the last pass read (before it applied anything), the document it
    planned with, and what it changed or tried to, which a pass must read again before it
    trusts the rest."""

    live: state.OrgState
    document: spec.Spec
    changed: scope.Scope


def _remembered(result: reconcile.Result, document: spec.Spec) -> LastRead | None:
    """What a pass leaves for the next to build on. Accounts and units it created have ids
    the state it read lacks, so events about them could not be matched: nothing, then, and
    the next pass reads everything."""
    made = [o.change for o in result.outcomes if o.status is not Status.SKIPPED]
    if any(isinstance(c, CreateAccount | CreateUnit) for c in made):
        return None
    return LastRead(result.live, document, scope.of_changes(made))


@dataclass
class Demand:
    """What the passes asked for since the last began: a full pass (the schedule), the newest
    revision (a push: the pass covers what it changes), the scope AWS change events touched
    with who made which drift, and what to do once the pass has ended (told whether it
    completed)."""

    full: bool = False
    fetch: bool = False
    touched: scope.Scope = scope.NOTHING
    causes: dict[str, Cause] = field(default_factory=dict)
    then: list[Callable[[bool], None]] = field(default_factory=list)

    def add(self, other: Demand) -> None:
        self.full |= other.full
        self.fetch |= other.fetch
        self.touched |= other.touched
        for resource, cause in other.causes.items():
            if resource not in self.causes or self.causes[resource].time <= cause.time:
                self.causes[resource] = cause
        self.then += other.then


class Daemon:
    def __init__(self, settings: Settings, source: Source, metrics: Metrics | None = None) -> None:
        allocator.use_few_arenas()  # before the first reader thread starts
        self.settings = settings
        self.source = source
        self.metrics = metrics or Metrics()
        self.documents = DocumentState()
        self.ready = threading.Event()
        self.stop = threading.Event()
        self._pass_lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str | None], Sessions] = {}
        # One role session name for the process: the changes it makes carry it in CloudTrail,
        # so its own events are known, and an operator can find its changes there.
        self.session_name = new_session_name()
        self._invalid_reported: str | None = None  # the newest revision, once logged invalid
        self._metrics_app = make_wsgi_app(self.metrics.registry)
        secret = settings.webhook_secret
        self.hook = webhook.Hook(secret, settings.webhook_ref) if secret else None
        self._wanted = threading.Event()  # a pass was asked for that has not started yet
        if settings.events_queue is not None:  # its calls count as every AWS call does
            settings.events_queue.on_event("needs-retry", api_call_counter(self.metrics))
        self._demand = Demand()  # what it was asked for, under _demand_lock
        self._demand_lock = threading.Lock()
        # The live state the last pass read, and the document it planned with: a focused pass
        # reads again only its scope and takes the rest from here.
        self._known: LastRead | None = None

    # --- one pass -------------------------------------------------------------------------

    def run_pass(self) -> bool:
        """One scheduled reconcile pass; False when another pass was still running (no
        overlap: a full pass then follows it) or the daemon is stopping."""
        if not self._pass_lock.acquire(blocking=False):
            log.warning("previous pass still running; a full pass follows it")
            self.ask(Demand(full=True, fetch=True))
            return False
        try:
            if self.stop.is_set():  # a run the scheduler started as the signal arrived
                return False
            self.metrics.count_trigger("schedule", "accepted")
            self._locked_pass(Demand(full=True, fetch=True))
        finally:
            self._pass_lock.release()
        return True

    def trigger(self) -> None:
        """Ask for a pass at once on the newest revision (a push); `passes_on_demand` runs it."""
        self.ask(Demand(fetch=True))

    def ask(self, demand: Demand) -> None:
        """Ask for a pass; `passes_on_demand` runs one for all the asks made before it starts."""
        with self._demand_lock:
            self._demand.add(demand)
        self._wanted.set()

    def passes_on_demand(self) -> None:
        """Until the daemon stops: a pass each time one was asked for, once no pass is under
        way. The asks made before a pass starts are all answered by it; those made while it
        runs, by exactly one more after it."""
        while True:
            self._wanted.wait()
            if self.stop.is_set():
                return
            while not self._pass_lock.acquire(timeout=1.0):  # a pass is under way
                if self.stop.is_set():
                    return
            try:
                self._wanted.clear()  # from here on, an ask is for the next pass
                with self._demand_lock:
                    demand, self._demand = self._demand, Demand()
                if self.stop.is_set():
                    return
                completed = self._locked_pass(demand)
            finally:
                self._pass_lock.release()
            for then in demand.then:
                then(completed)

    def _locked_pass(self, demand: Demand) -> bool:
        """One pass, recorded; the caller holds the pass lock. True when it completed."""
        logs.PASS_ID.set(uuid.uuid4().hex[:12])
        report = PassReport(self.settings.mode)
        try:
            self._pass(report, demand)
        except Exception as exc:  # a bug must not stop the daemon: report it, try again
            report.error = exc
        # Whatever happened, the pass is recorded here and only here: the log first, so
        # that whoever sees a metric change finds its log lines already written.
        _log_pass(report, invalid_reported=self._invalid_reported)
        self._remember_invalid(report)
        self.metrics.record(report)
        # Ready once a pass has reached a result: the document in force was read, planned
        # and (in apply mode) applied, whatever became of each change.
        if report.result is not None:
            self.ready.set()
        result = report.result
        return result is not None and result.refused is None and report.error is None

    def _remember_invalid(self, report: PassReport) -> None:
        """An invalid newest revision is logged at error level once, and at warning level on
        the passes after while it stays the newest; a valid revision ends that."""
        if report.source in (SourceStatus.INVALID, SourceStatus.REFUSED):
            self._invalid_reported = report.revision
        elif report.source is SourceStatus.VALID:
            self._invalid_reported = None

    def _pass(self, report: PassReport, demand: Demand) -> None:
        started = time.monotonic()
        # Fetch the newest revision and validate it; an invalid one leaves the last in force.
        if demand.fetch:
            self._refresh_source(report)
        report.source_seconds = time.monotonic() - started
        if self.documents.in_force is None:
            return
        revision, document = self.documents.in_force
        logs.REVISION.set(revision.id)
        report.in_force = revision.id
        report.accounts = tuple(a.name for a in document.accounts)
        report.roles = placed_roles(document)
        # Read, plan and (in apply mode) apply: everything, or only what the demand touched.
        try:
            report.result = reconcile.reconcile(
                document,
                self._sessions_for(document),
                apply=self.settings.mode is Mode.APPLY,
                concurrency=self.settings.concurrency,
                stop=self.stop,
                instance=self.settings.instance,
                allow_mass_removal=self.settings.allow_mass_removal,
                focus=self._focus(document, demand),
            )
        except ReconcilerError as exc:
            report.error = exc
            return
        self._known = _remembered(report.result, document)

    def _focus(self, document: spec.Spec, demand: Demand) -> reconcile.Focus | None:
        """What a demand needs read again, on top of what the last pass read; None for a
        full pass. Besides what the demand touched: what the passes since that read changed,
        and what the document in force changes from the one they planned with. A push of
        the revision already planned asks to look at everything again."""
        if demand.full or self._known is None:
            return None
        known = self._known
        wanted = demand.touched | known.changed
        if known.document != document:
            wanted |= scope.of_revisions(known.document, document)
        elif demand.fetch:
            wanted = scope.EVERYTHING
        if wanted.everything:
            return None
        return reconcile.Focus(wanted, known.live, dict(demand.causes))

    def _refresh_source(self, report: PassReport) -> None:
        try:
            revision = self.source.fetch()
        except SourceError as exc:
            report.source = SourceStatus.UNAVAILABLE
            report.problems = [str(exc)]
            return
        self.documents.update(revision)
        report.revision = revision.id
        if self.documents.newest_valid:
            report.source = SourceStatus.VALID
            return
        report.source = SourceStatus.REFUSED if revision.refusal else SourceStatus.INVALID
        report.problems = self.documents.newest_errors

    def _sessions_for(self, document: spec.Spec) -> Sessions:
        """Sessions live across passes, so assumed credentials are reused until near expiry."""
        organization = document.organization
        key = (
            organization.management_account_id,
            organization.bootstrap_role,
            self.settings.endpoint_url,
        )
        if key not in self._sessions:
            sessions = reconcile.sessions_for(
                document,
                self.settings.endpoint_url,
                self.settings.concurrency,
                read_only=self.settings.mode is Mode.PLAN,
                session_name=self.session_name,
            )
            sessions.on_event("needs-retry", api_call_counter(self.metrics))
            self._sessions = {key: sessions}
        return self._sessions[key]

    # --- AWS change events ----------------------------------------------------------------

    def poll_events(self, queue: EventQueue) -> None:
        """Until the daemon stops: long-poll the queue and ask for a pass over what each batch
        of events touched. A message is deleted once its pass has completed; one that is not
        an event, or touches nothing the document manages, at once. The queue failing is
        logged and tried again; it never stops the daemon."""
        while not self.stop.is_set():
            try:
                messages = queue.receive()
            except AwsError as exc:
                log.error("events queue cannot be read, trying again in 30 s: %s", exc)
                self.stop.wait(30)
                continue
            try:
                self.take_events(queue, messages)
            except Exception:  # a bug must not stop the polling: report it, go on
                log.exception("events could not be handled; they come again")

    def take_events(self, queue: EventQueue, messages: list[Message]) -> None:
        demand, done, dropped = Demand(), [], []
        for message in messages:
            try:
                touch = self._touch(message)
            except Exception:  # AWS failing (or a bug) must not hold the other messages
                log.exception("event message %s not handled; it comes again", message.id[:80])
                continue
            if touch is None:
                dropped.append(message)
            else:
                demand.add(Demand(touched=touch.scope, causes=_cause(touch), then=[]))
                done.append(message)
        _delete(queue, dropped)
        if done:
            demand.then.append(lambda completed: _delete(queue, done) if completed else None)
            self.ask(demand)

    def _touch(self, message: Message) -> events.Touch | None:
        """What one message's event touches; None (logged, counted) for one to drop."""
        try:
            event = events.parse(message.body)
        except EventError as exc:
            log.warning("event message %s dropped: %s", message.id[:80], exc)
            self.metrics.count_trigger("event", "rejected")
            return None
        touch = self._touched(event)
        if isinstance(touch, events.Ignored):
            log.info("event %s ignored: %s", event.describe(), touch.reason)
            return None
        log.info(
            "event %s: a pass over %s",
            event.describe(),
            touch.scope.describe(),
            extra={"fields": {"changed_by": event.actor, "changed_at": event.time}},
        )
        self.metrics.count_trigger("event", "accepted")
        return touch

    def _touched(self, event: events.Event) -> events.Touch | events.Ignored:
        """Before a pass has read the organization, any event asks for a full pass."""
        known, in_force = self._known, self.documents.in_force
        if known is None or in_force is None:
            return events.Touch(scope.EVERYTHING, "", event)
        document = in_force[1]
        sessions = self._sessions_for(document)
        own = events.Own(
            document.organization.bootstrap_role,
            self.session_name,
            frozenset({sessions.identity().arn}),
        )
        return events.touched(
            event, events.Known.of(document, known.live, self.settings.instance), own
        )

    # --- the process --------------------------------------------------------------------------

    def run(self) -> int:
        """Serve HTTP, reconcile every interval, return 0 after SIGTERM or SIGINT."""
        server = self.serve()
        scheduler = BackgroundScheduler(timezone="UTC")
        self.schedule(scheduler)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        scheduler.start()
        on_demand = threading.Thread(target=self.passes_on_demand, name="on-demand", daemon=True)
        on_demand.start()
        queue = self.settings.events_queue
        if queue is not None:  # a long poll may hold it 20 s: it is not waited for on stop
            args = (queue,)
            threading.Thread(target=self.poll_events, args=args, name="events", daemon=True).start()
        log.info(
            "reconciler started",
            extra={
                "fields": {
                    "source": self.source.describe(),
                    "mode": self.settings.mode,
                    "interval": self.settings.interval,
                    "listen": self.settings.listen,
                    "webhook": webhook.PATH if self.hook else None,
                    "events_queue": queue.url if queue else None,
                    "role_session": self.session_name,
                }
            },
        )
        # The kernel may hand SIGTERM to any thread; its handler then runs only when the main
        # thread next runs Python code, which an event waited on for good never lets it do.
        while not self.stop.wait(SIGNAL_CHECK):
            pass
        log.info("stopping: no new passes; the current one ends at a safe point")
        scheduler.shutdown(wait=False)
        self._wanted.set()  # wakes the on-demand thread, which sees the stop and ends
        self.source.cancel()  # a fetch under way would hold the pass for minutes
        finished = self._pass_lock.acquire(timeout=SHUTDOWN_GRACE)
        server.shutdown()
        log.info("stopped", extra={"fields": {"pass_finished": finished}})
        if not finished:
            # An AWS call is still hanging; abandon it rather than overrun the pod's grace period.
            logging.shutdown()
            os._exit(0)
        return 0

    def schedule(self, scheduler: BackgroundScheduler) -> None:
        """Every interval with jitter, first at start-up; one pass at a time, missed runs
        coalesced into one."""
        scheduler.add_job(
            self.run_pass,
            "interval",
            seconds=self.settings.interval,
            jitter=self.settings.jitter,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.datetime.now(datetime.UTC),
            id="reconcile",
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def serve(self) -> _Server:
        """Answer HTTP on `listen` from a thread; the caller stops it with `shutdown()`."""
        host, port = parse_listen(self.settings.listen)
        try:
            server = _Server((host, port), self.settings)
        except OSError as exc:
            raise ReconcilerError(
                f"cannot listen on {self.settings.listen}: {exc.strerror or exc}"
            ) from exc
        server.set_app(self._app)
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        return server

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            if self.ready.is_set():
                return _text(start_response, "200 OK", "ready\n")
            return _text(start_response, "503 Service Unavailable", "no pass completed yet\n")
        if path == webhook.PATH and self.hook is not None:
            return self._hook(self.hook, environ, start_response)
        return _text(start_response, "404 Not Found", "not found\n")

    def _hook(self, hook: webhook.Hook, environ: dict[str, Any], start_response: Any) -> Any:
        answer = hook.handle(environ)
        if answer.counted is not None:
            self.metrics.count_trigger("webhook", answer.counted)
        if answer.start:
            self.trigger()
        return _text(start_response, answer.status, answer.body, answer.headers)


def _cause(touch: events.Touch) -> dict[str, Cause]:
    return {touch.resource: touch.event.cause} if touch.resource else {}


def _delete(queue: EventQueue, messages: list[Message]) -> None:
    if not messages:
        return
    try:
        kept = queue.delete(messages)
    except AwsError as exc:
        log.warning("events not deleted, they come again: %s", exc)
        return
    if kept:
        log.info("events not deleted, they come again: %s", ", ".join(kept)[:400])


def _log_pass(report: PassReport, *, invalid_reported: str | None = None) -> None:
    """The log lines of one pass, from its report: the source, then the pass's end.
    `invalid_reported`: the revision an earlier pass already logged as invalid, if any."""
    _log_source(report, invalid_reported)
    if report.error is not None:
        if isinstance(report.error, ReconcilerError):
            log.error("pass failed: %s", report.error)
        else:
            log.error("pass failed unexpectedly", exc_info=report.error)
    elif report.result is None:
        # Said at error level with the revision's first report, then as a reminder.
        repeated = invalid_reported is not None and report.revision == invalid_reported
        level = logging.WARNING if repeated else logging.ERROR
        log.log(level, "no valid revision yet: nothing is reconciled")
    else:
        _log_result(report.result, report.mode)


def _log_source(report: PassReport, invalid_reported: str | None) -> None:
    if report.source is SourceStatus.UNAVAILABLE:
        log.error(
            "source unavailable, keeping the revision in force: %s", "; ".join(report.problems)
        )
    elif report.source in (SourceStatus.INVALID, SourceStatus.REFUSED):
        # Error once per revision; a reminder at warning level while it stays the newest.
        repeated = report.revision == invalid_reported
        log.log(
            logging.WARNING if repeated else logging.ERROR,
            "revision %s is invalid and is not applied; still enforcing %s",
            report.revision,
            report.in_force or "none",
            extra={"fields": {"invalid_revision": report.revision, "errors": report.problems}},
        )


def _log_result(result: reconcile.Result, mode: Mode) -> None:
    plan = result.plan
    for outcome in result.outcomes:
        level = logging.INFO if outcome.status == Status.APPLIED else logging.ERROR
        told = _cause_fields(plan.cause_of(outcome.change))
        if outcome.error:
            told["error"] = outcome.reason
        log.log(
            level,
            "%s %s",
            outcome.status,
            plan.line(outcome.change),
            extra={"fields": told} if told else None,
        )
    for name, why in result.plan.unreachable.items():
        log.error("account %s unreachable: %s", name, why)
    if result.refused:
        log.error("plan refused, nothing changed: %s", result.refused)
    elif mode is Mode.PLAN:
        for change in plan.changes:
            told = _cause_fields(plan.cause_of(change))
            log.info("drift: %s", plan.line(change), extra={"fields": told} if told else None)
    for finding in result.plan.findings:  # apply leaves them: someone must decide
        log.warning("undeclared access: %s", finding.line())
    counts = result.plan.counts()
    fields: dict[str, object] = {"mode": mode}
    if not result.scope.everything:
        fields["scope"] = result.scope.describe()
    if mode is Mode.APPLY:  # a plan changes nothing, so it converges nothing either
        fields["converged"] = result.converged
    fields.update(
        changes=sum(counts.values()),
        failed=len(result.failed),
        findings=len(result.plan.findings),
        seconds=round(sum(result.durations.values()), 3),
    )
    log.info("pass done: %s", result.plan.summary(), extra={"fields": fields})


def _cause_fields(cause: Cause | None) -> dict[str, object]:
    """Who made the drift a change corrects, and when, as log fields."""
    if cause is None:
        return {}
    return {"changed_by": cause.actor, "changed_at": cause.time, "event": cause.event}


def _text(
    start_response: Any, status: str, body: str, headers: tuple[tuple[str, str], ...] = ()
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *headers])
    return [body.encode()]


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `:port` or `[ipv6]:port` as a bindable address, or one line saying why not."""
    match = _LISTEN.fullmatch(listen)
    port = int(match.group("port")) if match else 0
    if not match or not 0 < port < 65536:
        raise ReconcilerError(
            f"--listen {listen[:100]!r} is not host:port (port 1 to 65535, IPv6 in brackets)"
        )
    return match.group("v6") or match.group("host") or "0.0.0.0", port  # noqa: S104


class _Server(ThreadingWSGIServer):
    """A thread per connection, at most `http_connections` at once: beyond that a connection
    is answered 503 and closed at once, so many idle clients cannot make threads without bound
    (and each of those few is dropped after its timeouts, see `_Handler`)."""

    request_queue_size = 128  # a burst beyond the default 5 would wait on TCP retransmits

    def __init__(self, address: tuple[str, int], settings: Settings) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.http_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # the thread never started: its slot is free again
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away is no news; anything else is logged once."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            log.warning("HTTP request failed: %r", error)


def _refuse(request: socket.socket) -> None:
    # Non-blocking: a full send buffer means a client that reads nothing, and it gets nothing.
    with contextlib.suppress(OSError):
        request.setblocking(False)
        request.send(_BUSY)


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n"
    b"Retry-After: 1\r\n\r\nbusy\n"
)


class _Handler(WSGIRequestHandler):
    """One request per connection, within the idle timeout for each read or write and within
    the deadline overall (a client sending a byte every few seconds is cut off too)."""

    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.settings.http_idle_timeout)
        self._deadline = threading.Timer(self.server.settings.http_request_deadline, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def handle(self) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError):
            super().handle()

    def finish(self) -> None:
        self._deadline.cancel()
        with contextlib.suppress(OSError):
            super().finish()

    def _cut_off(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would drown the log."""
