"""A pass tells how far it has come: accounts read of those declared, then changes applied of
those planned. Checked against the simulator, with a callback that records what it is told."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from reconciler import progress
from tests.aws.support import Aws, failures, run_pass

DOCUMENT = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - {name: one, email: one@example.com, roles: [AccountAccessRole]}
  - {name: two, email: two@example.com, roles: [AccountAccessRole]}
  - {name: three, email: three@example.com, roles: [AccountAccessRole]}
groups:
  - name: Devs
    users: [alice]
    grants: [{account: one, role: AccountAccessRole}]
"""


class _Told:
    """Records (phase, done, total) as a pass reports it, from any thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def __call__(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            self.events.append((phase, done, total))

    def of(self, phase: str) -> list[tuple[int, int]]:
        return [(done, total) for p, done, total in self.events if p == phase]


def test_an_apply_counts_every_change_once_and_a_later_read_every_account(aws: Aws) -> None:
    applying = _Told()
    created = run_pass(aws.url, DOCUMENT, apply=True, progress=applying)
    reading = _Told()
    again = run_pass(aws.url, DOCUMENT, apply=False, progress=reading)

    assert created.converged, failures(created)
    planned = len(created.plan.changes)
    assert planned == 8  # 3 accounts, their 3 roles, the group and its member
    assert sorted(done for done, _ in applying.of("apply")) == list(range(1, planned + 1))
    assert {total for _, total in applying.of("apply")} == {planned}
    assert reading.of("read")[-1] == (3, 3)
    assert sorted(done for done, _ in reading.of("read")) == [1, 2, 3]
    assert again.plan.empty


def test_the_terminal_line_is_redrawn_in_place_and_erased_at_the_end() -> None:
    stream = io.StringIO()
    line = progress.TerminalProgress(stream, every=3600)

    line("read", 1, 3)
    line("read", 2, 3)  # within the interval: not redrawn
    line("read", 3, 3)  # the last one always is
    line.close()

    assert stream.getvalue() == ("\r\x1b[Kaccounts read 1/3\r\x1b[Kaccounts read 3/3\r\x1b[K")


def test_no_line_unless_the_stream_is_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert progress.for_terminal(io.StringIO()) is None
    assert isinstance(progress.for_terminal(Terminal()), progress.TerminalProgress)


def _plan_process(url: str, desired: Path, stderr: int) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "reconciler"), "plan", "--desired", str(desired)]
    environment = {**os.environ, "AWS_ENDPOINT_URL": url}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=environment)


def test_plan_draws_the_line_on_a_terminal_and_never_on_stdout(aws: Aws, tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text(DOCUMENT)
    assert run_pass(aws.url, DOCUMENT, apply=True).converged
    controller, terminal = pty.openpty()
    try:
        process = _plan_process(aws.url, desired, terminal)
        os.close(terminal)
        stdout, _ = process.communicate(timeout=120)
        shown = _read_all(controller)
    finally:
        os.close(controller)

    assert process.returncode == 0, stdout
    assert "accounts read 3/3" in shown
    assert shown.endswith("\r\x1b[K")  # erased before the command ends
    assert b"accounts read" not in stdout


def test_no_line_when_stderr_is_not_a_terminal(aws: Aws, tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text(DOCUMENT)
    assert run_pass(aws.url, DOCUMENT, apply=True).converged

    process = _plan_process(aws.url, desired, subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr
    assert b"accounts read" not in stdout + stderr


def _read_all(controller: int) -> str:
    """Everything the process wrote to its terminal (the terminal is closed when it exits)."""
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
