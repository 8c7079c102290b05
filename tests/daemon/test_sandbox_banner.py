"""The command the sandbox's banner prints for "another terminal" works in one: from another
directory, with a PATH that does not hold the virtualenv, and no AWS variables."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.daemon.support import Daemon

pytestmark = pytest.mark.timeout(180)


def printed_command(output: str) -> str:
    lines = output.splitlines()
    (start,) = (i for i, line in enumerate(lines) if line.startswith("In another terminal"))
    command = []
    for line in lines[start + 1 :]:
        command.append(line.strip())
        if not line.endswith("\\"):
            break
    return "\n".join(command)


def test_the_banners_plan_command_runs_from_a_new_terminal(tmp_path: Path) -> None:
    daemon = Daemon(["sandbox", "--interval", "3600"], None, tmp_path)
    try:
        command = daemon.wait_for(
            lambda: "Stop with Ctrl-C" in daemon.output() and printed_command(daemon.output()),
            timeout=90,
            what="the banner",
        )
        assert "AWS_ENDPOINT_URL=http://127.0.0.1:" in command
        elsewhere = tmp_path / "home"
        elsewhere.mkdir()
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=elsewhere,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(elsewhere)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        daemon.stop()
    assert done.returncode in (0, 2), f"{command}\n{done.stdout}\n{done.stderr}"
    assert re.search(r"^Plan: \d+ to create, \d+ to update, \d+ to delete\.$", done.stdout, re.M), (
        done.stdout
    )
