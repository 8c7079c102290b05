"""An AWS simulation on loopback (moto's server), for `reconciler sandbox`, tests and benchmarks.

Needs the optional `sandbox` extra (moto); production installs do not have it, and nothing
outside this module imports moto.
"""

from __future__ import annotations

import html
import http
import io
import json
import logging
import os
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

# The AWS managed policies the example document attaches. Loading all ~1,500 costs about
# 28 MB and a second per account; these are all the sandbox and the tests need.
MANAGED_POLICIES = ("AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "SecurityAudit")
MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's fixed management account


class Simulator:
    """moto's server on 127.0.0.1 with a few AWS managed policies loaded."""

    def __init__(self, port: int = 0) -> None:
        _load_only(MANAGED_POLICIES)
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: Any = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Wipe every account's state, as if the simulator had just started."""
        # The URL is our own loopback server's, always http.
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            answer.read()


def _load_only(names: tuple[str, ...]) -> None:
    # moto reads this module global each time it creates an account's IAM backend; the
    # environment switch makes it load them at all.
    import moto.iam.models as iam_models

    module = vars(iam_models)
    data = json.loads(module["aws_managed_policies_data"])
    module["aws_managed_policies_data"] = json.dumps({k: v for k, v in data.items() if k in names})
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


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
    carry `counts` (every call) and `injected` (calls a fault answered), by operation."""

    def __init__(self, app: Any, seed: int = 0) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._seed = seed
        self._draws: dict[int, random.Random] = {}
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.counts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()  # calls a fault answered, by operation

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/fault-api/"):
            return self._control(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        service, operation = _identify(environ, body)
        fault, delay = self._decide(service, operation, body)
        if delay:
            time.sleep(delay)
        if fault is not None and fault.body is not None:
            return _canned(start_response, fault)
        if fault is not None:
            return _error(start_response, service, fault)
        return self._app(environ, start_response)

    def _decide(self, service: str, operation: str, body: bytes) -> tuple[Fault | None, float]:
        with self._lock:
            name = f"{service}:{operation}"
            self.counts[name] += 1
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
            draws = self._draws.setdefault(index, random.Random(f"{self._seed}:{index}"))  # noqa: S311
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
            answer = {
                "counts": dict(self.counts),
                "injected": dict(self.injected),
                "latency": self.latency,
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def _identify(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """The service and operation of a request: JSON protocols name it in X-Amz-Target, query
    protocols (IAM, STS) in the Action form field; the service is in the signature scope."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    service = scope.group(1) if scope else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    return service, action or environ.get("PATH_INFO", "")


def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


def _canned(start_response: Any, fault: Fault) -> list[bytes]:
    start_response(_status(fault.status), [("Content-Type", "application/x-amz-json-1.1")])
    return [json.dumps(fault.body).encode()]


def _error(start_response: Any, service: str, fault: Fault) -> list[bytes]:
    status = _status(fault.status)
    message = fault.message or f"injected {fault.code}"
    if service in ("iam", "sts"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{fault.code}</Code><Message>{html.escape(message)}</Message></Error>"
            "<RequestId>fault</RequestId></ErrorResponse>"
        )
        start_response(status, [("Content-Type", "text/xml")])
    else:
        body = json.dumps({"__type": fault.code, "message": message})
        start_response(status, [("Content-Type", "application/x-amz-json-1.1")])
    return [body.encode()]


class FaultyServer:
    """The simulator behind a `FaultInjector`, on 127.0.0.1, in a background thread."""

    def __init__(self, port: int = 0, latency: float = 0.0) -> None:
        _load_only(MANAGED_POLICIES)
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.injector = FaultInjector(DomainDispatcherApplication(create_backend_app))
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
    """`python -m reconciler.simulator --port N --latency S`: serve until interrupted."""
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
