"""A daemon in plan mode reads member accounts with credentials capped to reading: every role it
assumes, it assumes with the read-only session policy; in apply mode, without one. Shown by the
AssumeRole requests the simulator received during one pass of the daemon."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest

from reconciler.aws.sessions import READ_ONLY_SESSION_POLICY
from reconciler.daemon import Daemon, Settings
from reconciler.reconcile import Mode
from reconciler.source import DirectorySource
from tests.aws.support import EXAMPLE_TEXT, Aws, run_pass
from tests.simulation.faults import FaultyServer

MEMBER_ACCOUNTS = 4  # the member accounts the example declares (the management one is not)


def _assume_role_requests(simulator: FaultyServer) -> list[dict[str, list[str]]]:
    return [parse_qs(body.decode()) for _, body in simulator.injector.requests]


@pytest.mark.parametrize(
    ("mode", "session_policy"),
    [(Mode.PLAN, [READ_ONLY_SESSION_POLICY]), (Mode.APPLY, None)],
    ids=["plan", "apply"],
)
def test_the_daemon_assumes_roles_read_only_exactly_in_plan_mode(
    aws: Aws,
    simulator: FaultyServer,
    tmp_path: Path,
    mode: Mode,
    session_policy: list[str] | None,
) -> None:
    assert run_pass(aws.url, apply=True).converged
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    daemon = Daemon(
        Settings(mode=mode, endpoint_url=aws.url, concurrency=4), DirectorySource(desired)
    )
    simulator.injector.record = frozenset({"sts:AssumeRole"})

    assert daemon.run_pass() is True

    requests = _assume_role_requests(simulator)
    members = {a["Id"] for a in aws.accounts().values()} - {"123456789012"}
    assert len(members) == MEMBER_ACCOUNTS
    assert sorted(r["RoleArn"][0].split(":")[4] for r in requests) == sorted(members)
    assert [r.get("Policy") for r in requests] == [session_policy] * MEMBER_ACCOUNTS
    assert not any(key.startswith("PolicyArns") for r in requests for key in r)
    assert (
        daemon.metrics.registry.get_sample_value(
            "reconciler_reconcile_total", {"result": "success"}
        )
        == 1
    )
