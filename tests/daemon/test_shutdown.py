"""SIGTERM stops the daemon with exit 0 within 30 s, idle or in the middle of a pass."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from reconciler import cli
from tests.aws.support import Aws, example_with_accounts
from tests.daemon.support import Daemon


def _many_accounts(count: int) -> str:
    names = (f"tenant-{i:03d}" for i in range(count))
    text = example_with_accounts(*names, unit="Clients")
    return text.replace("max_changes: 50", "max_changes: 1000")


def test_sigterm_when_idle_exits_0(aws: Aws, tmp_path: Path) -> None:
    daemon = Daemon(["run", "--desired", "desired/accounts.yaml"], aws.url, tmp_path)
    daemon.wait_for_passes(1)
    code, seconds = daemon.stop()
    assert code == 0
    assert seconds < 30
    lines = [json.loads(line) for line in daemon.output().splitlines()]
    assert lines[-1]["message"] == "stopped"


def test_sigterm_the_kernel_hands_to_another_thread_stops_the_daemon(
    aws: Aws, tmp_path: Path
) -> None:
    """A signal sent to the process goes to any of its threads that does not block it; kill(2)
    with a thread's id hands it to that thread first, as the kernel may do under load."""
    daemon = Daemon(["run", "--desired", "desired/accounts.yaml"], aws.url, tmp_path)
    daemon.wait_for_passes(1)
    pid = daemon.process.pid
    (other, *_) = (int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if int(t.name) != pid)
    os.kill(other, signal.SIGTERM)
    try:
        code = daemon.process.wait(timeout=30)
    finally:
        daemon.stop()
    assert code == 0
    assert json.loads(daemon.output().splitlines()[-1])["message"] == "stopped"


def test_sigterm_in_the_middle_of_a_pass_exits_0_and_loses_nothing(
    aws: Aws, tmp_path: Path
) -> None:
    endpoint = aws.url
    desired = tmp_path / "accounts.yaml"
    desired.write_text(_many_accounts(40))
    daemon = Daemon(["run", "--desired", str(desired)], endpoint, tmp_path)
    daemon.wait_for(lambda: len(aws.accounts()) > 3, timeout=60, what="the pass under way")
    code, seconds = daemon.stop()
    assert code == 0
    assert seconds < 30
    # The pass under way ends at a safe point and is reported: what it had not done is skipped
    # for shutting down, it does not converge, and the daemon says it finished it.
    lines = [json.loads(line) for line in daemon.output().splitlines()]
    messages = [line["message"] for line in lines]
    stopping = messages.index("stopping: no new passes; the current one ends at a safe point")
    (done,) = [i for i, message in enumerate(messages) if message.startswith("pass done: ")]
    assert stopping < done == len(lines) - 2
    assert lines[done]["converged"] is False
    assert (messages[-1], lines[-1]["pass_finished"]) == ("stopped", True)
    interrupted = [line for line in lines[:done] if "shutting down" in line.get("error", "")]
    assert interrupted, messages
    assert all(line["message"].startswith("skipped ") for line in interrupted)
    # A later pass picks up where this one stopped: one account per email, and converged.
    assert cli.main(["apply", "--desired", str(desired), "--endpoint-url", endpoint]) == 0
    emails = [a["Email"] for a in aws.accounts().values()]
    assert len(emails) == len(set(emails)) == 1 + 4 + 40
    assert cli.main(["plan", "--desired", str(desired), "--endpoint-url", endpoint]) == 0
