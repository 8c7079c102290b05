"""Run the real daemon as a subprocess against the simulator and a git repository."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (REPO / "desired" / "accounts.yaml").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(repository: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repository), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    )
    return done.stdout.strip()


def commit(repository: Path, text: str, message: str = "change") -> str:
    path = repository / "desired" / "accounts.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", message)
    return git(repository, "rev-parse", "HEAD")


def new_repository(path: Path, text: str = EXAMPLE_TEXT) -> str:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return commit(path, text, "initial")


class Daemon:
    """`reconciler run` (or `sandbox`) in a subprocess; stopped with SIGTERM."""

    def __init__(self, args: list[str], endpoint: str | None, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.log = tmp / f"daemon-{self.port}.log"
        environment = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "RECONCILER_LISTEN": f"127.0.0.1:{self.port}",
            "RECONCILER_JITTER": "0",
            **env,
        }
        if endpoint:
            environment["RECONCILER_ENDPOINT_URL"] = endpoint
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", *args],
            cwd=REPO,
            env=environment,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one series, or None when it is not exposed."""
        _, text = self.get("/metrics")
        for line in text.splitlines():
            match = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})? (\S+)$", line)
            if not match or match.group(1) != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(3))
        return None

    def wait_for(self, check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what or check}:\n{self.output()[-4000:]}")

    def passes(self) -> float:
        return self.metric("reconciler_reconcile_total", result="success") or 0.0

    def wait_for_passes(self, count: float, timeout: float = 60.0) -> None:
        self.wait_for(lambda: self.passes() >= count, timeout, f"{count} successful passes")

    def total_drift(self) -> float:
        _, text = self.get("/metrics")
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("reconciler_drift_resources{")
        )

    def stop(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the daemon took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            self._log_file.close()
        return code, time.monotonic() - started

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text()


def serving_remote(path: Path, text: str = EXAMPLE_TEXT) -> str:
    """A repository that a partial fetch over file:// may ask for blobs one by one."""
    new_repository(path, text)
    git(path, "config", "uploadpack.allowFilter", "true")
    return f"file://{path}"


def processes_mentioning(text: str) -> list[int]:
    """Ids of the processes whose command line or environment contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if text.encode() in blob:
            found.append(int(entry.name))
    return found
