"""The simulator behind a fault injector, for tests and benchmarks (out of process too).

`FaultInjector` is WSGI middleware over moto's server: it counts every call by operation, keeps
the requests of chosen operations, adds latency, and answers chosen calls with AWS errors or
canned bodies (`Fault`), steered in process or over HTTP under /fault-api/. `FaultyServer`
serves it on 127.0.0.1 in a thread, optionally with the strict layer
(tests/simulation/strict.py) under it. `python -m
tests.simulation.faults` serves one until interrupted (bench/bench.py runs it that way).
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.simulator import MANAGED_POLICIES, load_only_managed_policies
from tests.simulation.strict import StrictAws, StrictSettings
from tests.simulation.wire import JSON_CONTENT, error_body, identify, status_line


@dataclass
class Fault:
    """What to do to calls of one operation (`Service:Operation`, `Service:*`, `Operation`,
    or `*`).

    A fault with a `code` answers an AWS error (`message`, default "injected CODE"); one with
    a `body` answers that JSON body with `status` instead (a canned answer moto would not give,
    such as a CreateAccount request still IN_PROGRESS; JSON-protocol services only, like
    Organizations); one with neither only adds `latency`. `body_contains` narrows it to
    requests whose body contains that text, raw or URL-decoded (an account id in an
    AssumeRole RoleArn, a request id, an email). Faults are tried in order; the first one that
    answers wins, and the latency of every matching fault before it adds up."""

    operation: str
    code: str = ""
    status: int = 400
    times: int | None = None  # answer this many calls with the error, then let them through
    fraction: float | None = None  # or this share of calls, at random (seeded)
    latency: float = 0.0  # seconds added before answering
    body_contains: str = ""
    body: dict[str, Any] | None = None
    message: str = ""

    def matches(self, service: str, operation: str, body: str = "") -> bool:
        named = self.operation in ("*", operation, f"{service}:{operation}", f"{service}:*")
        return named and (not self.body_contains or self.body_contains in body)

    @property
    def answers(self) -> bool:
        return bool(self.code) or self.body is not None


class FaultInjector:
    """WSGI middleware over the simulator: counts every call by operation, adds latency, and
    answers chosen calls with AWS errors or canned bodies (see `Fault`). Controlled over HTTP
    under /fault-api/ so a test or benchmark in another process can steer it; its answers
    carry `counts` (every call) and `injected` (calls a fault answered), by operation, and
    `first_calls` and `last_answer` (when, and at how many of the simulator's CPU seconds)."""

    def __init__(self, app: Any, seed: int = 0) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._seed = seed
        self._draws: dict[int, random.Random] = {}
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.counts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()  # calls a fault answered, by operation
        # Operations (`Service:Operation`) whose requests are kept, in order, in `requests`:
        # what a test reads to see what was asked of AWS, whoever asked it.
        self.record: frozenset[str] = frozenset()
        self.requests: list[tuple[str, bytes]] = []
        self.agents: Counter[str] = Counter()  # calls by User-Agent: who CloudTrail would name
        # When things happened, as (time.monotonic(), this process's CPU seconds): the first
        # call of each operation, and the last answer given. Linux's monotonic clock is one for
        # every process, so a benchmark compares these with its own moments.
        self.first_calls: dict[str, tuple[float, float]] = {}
        self.last_answer = (0.0, 0.0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/fault-api/"):
            return self._control(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation = identify(environ, body)
        fault, delay = self._decide(service, operation, body, environ.get("HTTP_USER_AGENT", ""))
        if delay:
            time.sleep(delay)
        if fault is not None and fault.body is not None:
            answer = _canned(start_response, fault)
        elif fault is not None:
            answer = _error(start_response, service, fault)
        else:
            answer = self._app(environ, start_response)
        with self._lock:
            self.last_answer = max(self.last_answer, _moment())
        return answer

    def _decide(
        self, service: str, operation: str, body: bytes, agent: str
    ) -> tuple[Fault | None, float]:
        with self._lock:
            name = f"{service}:{operation}"
            self.counts[name] += 1
            self.first_calls.setdefault(name, _moment())
            self.agents[agent] += 1
            if name in self.record:
                self.requests.append((name, body))
            delay = self.latency
            searchable = ""  # decoded only when a fault looks into bodies: benchmarks pay nothing
            for index, fault in enumerate(self.faults):
                if fault.body_contains and not searchable:
                    text = body.decode("utf-8", "replace")
                    searchable = f"{text}\n{urllib.parse.unquote_plus(text)}"
                if not fault.matches(service, operation, searchable):
                    continue
                delay += fault.latency
                if not fault.answers or not self._fires(index, fault):
                    continue
                self.injected[name] += 1
                return fault, delay
            return None, delay

    def _fires(self, index: int, fault: Fault) -> bool:
        """Whether this call gets the fault: while `times` lasts, at random by `fraction`,
        or always when neither is set."""
        if fault.times is not None and fault.times > 0:
            fault.times -= 1
            return True
        if fault.fraction is not None:
            # One seeded stream per fault: which of its calls fail depends only on their
            # order, not on how concurrent calls to other operations interleave, so a run
            # is reproducible whatever ran before it.
            draws = self._draws.setdefault(index, random.Random(f"{self._seed}:{index}"))
            return draws.random() < fault.fraction
        return fault.times is None

    def _control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"null")
        with self._lock:
            if path == "/fault-api/faults":
                self.faults = [Fault(**f) for f in payload or []]
                self._draws.clear()
            elif path == "/fault-api/latency":
                self.latency = float(payload or 0)
            elif path == "/fault-api/clear":
                self.faults, self.latency = [], 0.0
                self._draws.clear()
                self.counts.clear()
                self.injected.clear()
                self.agents.clear()
                self.record, self.requests = frozenset(), []
                self.first_calls, self.last_answer = {}, (0.0, 0.0)
            answer = {
                "counts": dict(self.counts),
                "injected": dict(self.injected),
                "latency": self.latency,
                "first_calls": self.first_calls,
                "last_answer": self.last_answer,
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def _moment() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _canned(start_response: Any, fault: Fault) -> list[bytes]:
    start_response(status_line(fault.status), [("Content-Type", JSON_CONTENT)])
    return [json.dumps(fault.body).encode()]


def _error(start_response: Any, service: str, fault: Fault) -> list[bytes]:
    content_type, body = error_body(service, fault.code, fault.message or f"injected {fault.code}")
    start_response(status_line(fault.status), [("Content-Type", content_type)])
    return [body]


class FaultyServer:
    """The simulator behind a `FaultInjector`, on 127.0.0.1, in a background thread; with
    `strict` settings, a `StrictAws` (as `self.strict`) sits between the injector and moto, so
    injected faults and counts still come first."""

    def __init__(
        self, port: int = 0, latency: float = 0.0, strict: StrictSettings | None = None
    ) -> None:
        load_only_managed_policies(MANAGED_POLICIES)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto = DomainDispatcherApplication(create_backend_app)
        self.strict = StrictAws(moto, strict) if strict is not None else None
        self.injector = FaultInjector(self.strict or moto)
        self.injector.latency = latency
        self._server = make_server("127.0.0.1", port, self.injector, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()


def main() -> None:
    """`python -m tests.simulation.faults --port N --latency S` (from the repository root):
    serve until interrupted."""
    import argparse

    parser = argparse.ArgumentParser(description="AWS simulator with fault injection")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per call")
    args = parser.parse_args()
    server = FaultyServer(args.port, args.latency)
    print(server.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
