"""A pass tells how far it has come: accounts read of those declared, then changes applied of
those planned. Checked against the simulator, with a callback that records what it is told."""

from __future__ import annotations

import io
import threading

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
