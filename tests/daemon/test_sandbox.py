"""`reconciler sandbox` (what `make run` starts) comes up, converges its seeded drift, serves
metrics, and stops cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.daemon.support import Daemon


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
