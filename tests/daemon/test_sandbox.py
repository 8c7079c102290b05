"""`reconciler sandbox` (what `make run` starts) comes up, converges its seeded drift, serves
metrics, and stops cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon.support import REPO, Daemon, free_port


def test_sandbox_converges_its_seeded_drift(tmp_path: Path) -> None:
    daemon = Daemon(["sandbox", "--interval", "1"], None, tmp_path)
    try:
        daemon.wait_for_passes(2, timeout=90)
        first_pass = [line for line in daemon.output().splitlines() if "applied" in line]
        # The seed's drift was found and repaired: a role without MFA, an account outside its
        # unit, a stray member.
        assert any("add the MFA condition" in line for line in first_pass)
        assert any("move (root) -> Clients/Acme" in line for line in first_pass)
        assert any("remove user mallory" in line for line in first_pass)
        assert daemon.total_drift() == 0
        assert daemon.metric("reconciler_source_valid") == 1
        assert daemon.metric("reconciler_build_info") == 1
    finally:
        code, _ = daemon.stop()
    assert code == 0


def test_a_change_made_by_hand_is_corrected_from_its_event_naming_who(tmp_path: Path) -> None:
    port = free_port()
    daemon = Daemon(["sandbox", "--interval", "300", "--simulator-port", str(port)], None, tmp_path)
    try:
        # The first pass, and the one the seed's event asks for.
        daemon.wait_for_passes(2, timeout=90)
        passes = daemon.passes()
        made = _drift(f"http://127.0.0.1:{port}")
        assert made.returncode == 0, made.stderr
        assert made.stdout.splitlines()[:2] == [
            "made by hand: removed the MFA condition from shared-services/AccountAccessRole, as "
            f"arn:aws:sts::{_account_id(made.stdout)}:assumed-role/OrganizationAccountAccessRole"
            "/mallory",
            "made by hand: added mallory to group Administrators, as "
            "arn:aws:iam::123456789012:user/mallory",
        ]
        started = time.monotonic()
        daemon.wait_for(lambda: len(_corrections(daemon)) == 2, timeout=20, what="corrections")
        assert time.monotonic() - started < 20
        trust, member = _corrections(daemon)
        assert "trust policy add the MFA condition (made by arn:aws:sts::" in trust
        assert "/mallory at " in trust
        assert "remove user mallory from group Administrators" in member
        assert "(made by arn:aws:iam::123456789012:user/mallory at " in member
        assert daemon.passes() >= passes + 1
        assert daemon.total_drift() == 0
    finally:
        code, _ = daemon.stop()
    assert code == 0
    assert "Traceback" not in daemon.output()


@pytest.mark.parametrize(
    "url",
    ["https://iam.amazonaws.com", "http://10.0.0.1:4566", "http://127.0.0.1.example.com:80", ""],
)
def test_hand_made_changes_go_only_to_a_simulation_on_loopback(url: str) -> None:
    made = _drift(url)
    assert made.returncode == 1
    assert made.stdout == ""
    assert len(made.stderr.splitlines()) == 1 and made.stderr.startswith("error: --endpoint-url")


def _drift(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "sandbox-drift", "--endpoint-url", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AWS_ENDPOINT_URL": ""},
    )


def _account_id(output: str) -> str:
    return output.split("arn:aws:sts::", 1)[1][:12]


def _corrections(daemon: Daemon) -> list[str]:
    return [
        line for line in daemon.output().splitlines() if "applied" in line and "made by" in line
    ]
