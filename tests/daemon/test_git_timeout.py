"""A fetch that hangs is killed after the timeout with every process git started: none is
left behind holding the token."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.core.errors import SourceError
from reconciler.source import GitSource
from tests.daemon.https_support import silent_server
from tests.daemon.support import Daemon, processes_mentioning

TOKEN = "ghp_hanging0remote0token"


def _left_behind(port: int) -> list[int]:
    """The processes still naming the remote or holding the token, after a moment for the
    killed ones to be reaped."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        found = processes_mentioning(f"127.0.0.1:{port}") + processes_mentioning(TOKEN)
        if not found:
            return []
        time.sleep(0.1)
    return found


def test_a_hung_fetch_is_killed_with_its_children(tmp_path: Path) -> None:
    with silent_server() as port:
        url = f"https://127.0.0.1:{port}/acme.git"
        source = GitSource(
            url, "main", "desired/accounts.yaml", tmp_path / "work", token=TOKEN, timeout=1.0
        )
        started = time.monotonic()
        with pytest.raises(SourceError) as refused:
            source.fetch()
        seconds = time.monotonic() - started
        assert str(refused.value) == "git fetch timed out after 1 s"
        assert seconds < 5
        assert _left_behind(port) == []


def test_sigterm_during_a_hung_fetch_exits_at_once_and_leaves_no_git(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with silent_server() as port:
        daemon = Daemon(
            ["run", "--source-url", f"https://127.0.0.1:{port}/a.git", "--workdir", str(work)],
            "http://127.0.0.1:9",
            tmp_path,
            RECONCILER_GIT_TOKEN=TOKEN,
        )
        daemon.wait_for(
            lambda: set(processes_mentioning(f"127.0.0.1:{port}")) - {daemon.process.pid},
            timeout=20,
            what="git fetching",
        )
        code, seconds = daemon.stop()
        assert code == 0
        assert seconds < 10
        assert _left_behind(port) == []
