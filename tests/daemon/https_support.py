"""TLS servers on loopback for git's https transport: one that records the requests it gets
(and may redirect them elsewhere), one that accepts connections and never answers."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Seen:
    port: int
    path: str
    authorization: str | None


@dataclass
class Recorder:
    """What every server of one test received, in order."""

    requests: list[Seen] = field(default_factory=list)

    def authorizations(self, port: int) -> list[str]:
        return [s.authorization for s in self.requests if s.port == port and s.authorization]


def tls_context(tmp: Path) -> ssl.SSLContext:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextmanager
def recording_server(
    context: ssl.SSLContext, recorder: Recorder, redirect_to: str | None = None
) -> Iterator[int]:
    """Answers 302 to `redirect_to` when given, else 401 until credentials come, then 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            port = int(self.connection.getsockname()[1])
            seen = Seen(port, self.path, self.headers["Authorization"])
            recorder.requests.append(seen)
            if redirect_to:
                self._answer(302, Location=f"{redirect_to}{self.path}")
            elif not seen.authorization:
                self._answer(401, **{"WWW-Authenticate": 'Basic realm="git"'})
            else:
                self._answer(404)

        def _answer(self, status: int, **headers: str) -> None:
            self.send_response(status)
            for name, value in {"Content-Length": "0", **headers}.items():
                self.send_header(name, value)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.socket.getsockname()[1])
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word: a remote that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
