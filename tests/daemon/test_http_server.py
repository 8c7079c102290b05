"""The HTTP server: a silent or trickling client is dropped after its timeouts, connections
beyond the bound are refused at once, and probes keep being answered."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.errors import ReconcilerError
from reconciler.daemon import Daemon, Settings, parse_listen
from reconciler.source import DirectorySource
from tests.daemon.support import Daemon as DaemonProcess
from tests.daemon.support import free_port

IDLE, DEADLINE, CONNECTIONS = 1.0, 3.0, 4


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    settings = Settings(
        listen=f"127.0.0.1:{port}",
        http_idle_timeout=IDLE,
        http_request_deadline=DEADLINE,
        http_connections=CONNECTIONS,
    )
    server = Daemon(settings, DirectorySource(tmp_path / "accounts.yaml")).serve()
    yield port
    server.shutdown()
    server.server_close()


def _get(port: int, path: str = "/healthz") -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _idle(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(20)  # longer than the server's default idle timeout
    return connection


def _closed_after(connection: socket.socket) -> tuple[bytes, float]:
    """What the server sent before closing, and how long that took."""
    started, received = time.monotonic(), b""
    try:
        while chunk := connection.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def test_a_silent_client_is_dropped_while_probes_are_answered(port: int) -> None:
    silent = _idle(port)
    assert _get(port) == 200
    received, seconds = _closed_after(silent)
    assert received == b""
    assert seconds < IDLE + 2


def test_a_trickling_client_is_cut_off_at_the_deadline(port: int) -> None:
    trickler = _idle(port)
    started = time.monotonic()
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 100
    with pytest.raises(OSError):
        for byte in request:
            trickler.sendall(bytes([byte]))
            time.sleep(IDLE / 2)
            assert time.monotonic() - started < DEADLINE + 2, "still connected"
    assert time.monotonic() - started >= DEADLINE - 0.5


def test_idle_connections_beyond_the_bound_are_refused_and_threads_stay_bounded(
    port: int,
) -> None:
    threads_before = threading.active_count()
    held = [_idle(port) for _ in range(CONNECTIONS)]
    # Every held connection taken by a handler thread before any more arrive.
    deadline = time.monotonic() + 10
    while threading.active_count() - threads_before < CONNECTIONS:
        assert time.monotonic() < deadline, "the held connections were never taken"
        time.sleep(0.01)
    extra = [_idle(port) for _ in range(5 * CONNECTIONS)]
    answers = [_closed_after(connection)[0] for connection in extra]
    assert all(a.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for a in answers), [
        a[:12] for a in answers if not a.startswith(b"HTTP/1.1 503")
    ]
    # A handler thread and its deadline timer per held connection, nothing per refused one.
    assert threading.active_count() - threads_before <= 2 * CONNECTIONS
    assert all(_closed_after(connection)[0] == b"" for connection in held)
    assert _get(port) == 200


def test_the_daemon_drops_a_silent_client_after_its_default_timeout(tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text("not: [a document\n")
    daemon = DaemonProcess(["run", "--desired", str(desired)], "http://127.0.0.1:9", tmp_path)
    try:
        daemon.wait_for(lambda: daemon.get("/healthz")[0] == 200, timeout=20, what="/healthz")
        silent = [_idle(daemon.port) for _ in range(40)]
        received, seconds = _closed_after(silent[0])
        assert received == b"" and 5 < seconds < 15
        # The others, opened a moment later, are dropped a moment later: then slots are free.
        daemon.wait_for(lambda: daemon.get("/healthz") == (200, "ok\n"), 5, "a free slot")
    finally:
        daemon.stop()


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),  # noqa: S104
        (":9090", ("0.0.0.0", 9090)),  # noqa: S104
        ("localhost:1", ("localhost", 1)),
        ("[::1]:65535", ("::1", 65535)),
    ],
)
def test_listen_addresses(listen: str, address: tuple[str, int]) -> None:
    assert parse_listen(listen) == address


@pytest.mark.parametrize(
    "listen",
    [
        "foo",
        "8080",
        "foo:",
        ":",
        "host:http",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:999999",
        "127.0.0.1:-1",
        "127.0.0.1:\uff18\uff10\uff18\uff10",  # fullwidth digits: int() would take them
        "127.0.0.1:\u0668\u0660",  # Arabic-Indic digits
        "::1:8080",
        "[::1:8080",
        "host name:80",
        "127.0.0.1:80\n",
        "127.0.0.1:80 --x",
        "a" * 300 + ":80",
    ],
)
def test_bad_listen_addresses_are_one_line(listen: str) -> None:
    with pytest.raises(ReconcilerError) as refused:
        parse_listen(listen)
    assert str(refused.value) == (
        f"--listen {listen[:100]!r} is not host:port (port 1 to 65535, IPv6 in brackets)"
    )
