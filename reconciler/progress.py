"""A progress line on a terminal during long interactive plans and applies.

Written to stderr, only when stderr is a terminal, redrawn in place (carriage return and
erase-line) at most ten times a second, and erased when the pass ends: it never reaches a
log, a pipe, or the plan on stdout.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

# What each phase of a pass counts (see `reconcile.reconcile`'s `progress`).
LABELS = {"read": "accounts read", "apply": "changes applied"}
_ERASE_LINE = "\r\x1b[K"


class TerminalProgress:
    """Shows `accounts read 120/1000`, then `changes applied 12/40`, on one line."""

    def __init__(self, stream: TextIO, every: float = 0.1) -> None:
        self._stream = stream
        self._every = every
        self._last: float | None = None  # the first report is always drawn
        self._shown = False
        self._lock = threading.Lock()  # readers and appliers report from many threads

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            if done < total and self._last is not None and now - self._last < self._every:
                return
            self._last = now
            self._stream.write(f"{_ERASE_LINE}{LABELS.get(phase, phase)} {done}/{total}")
            self._stream.flush()
            self._shown = True

    def close(self) -> None:
        """Erase the line, so that what follows starts on a clean one."""
        with self._lock:
            if self._shown:
                self._stream.write(_ERASE_LINE)
                self._stream.flush()
                self._shown = False


def for_terminal(stream: TextIO) -> TerminalProgress | None:
    """A progress line on `stream` if it is a terminal; none otherwise."""
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream) if isatty is not None and isatty() else None
