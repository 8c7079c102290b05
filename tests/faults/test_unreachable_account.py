"""AccessDenied on one account's bootstrap role for many passes of the real daemon: every
other account is corrected on every pass, only that account is reported unreachable, and
the daemon keeps running."""

from __future__ import annotations

from pathlib import Path

from tests.aws.support import Aws, run_pass
from tests.daemon.support import Daemon
from tests.faults.support import CREATED_NAMES, Endpoint, document
from tests.simulation.faults import Fault

DENIED = "acme-dev"
ROUNDS = 4


def _passes(daemon: Daemon) -> float:
    """Passes ended, whatever their result."""
    return sum(
        daemon.metric("reconciler_reconcile_total", result=result) or 0
        for result in ("success", "error")
    )


def test_one_denied_account_never_stops_the_others(
    faulty: Endpoint, fresh: Aws, tmp_path: Path
) -> None:
    assert run_pass(faulty.url, apply=True).converged
    ids = {name: fresh.account_id(f"aws+{name}@example.com") for name in CREATED_NAMES}
    faulty.inject(
        Fault(
            "sts:AssumeRole",
            code="AccessDenied",
            status=403,
            body_contains=f"arn:aws:iam::{ids[DENIED]}:role/",
            message=f"not authorized to perform sts:AssumeRole on {ids[DENIED]}",
        )
    )
    daemon = Daemon(
        ["run", "--desired", str(document(tmp_path))],
        faulty.url,
        tmp_path,
        RECONCILER_INTERVAL="1",
    )
    try:
        daemon.wait_for(lambda: _passes(daemon) >= 1, 60, "a first pass")
        for round_ in range(ROUNDS):
            # Drift everywhere: a declared tag changed on every account, a policy gone from
            # one role.
            for account_id in ids.values():
                fresh.org.tag_resource(
                    ResourceId=account_id, Tags=[{"Key": "environment", "Value": f"drift{round_}"}]
                )
            victim = CREATED_NAMES[round_ % len(CREATED_NAMES)]
            if victim == DENIED:
                victim = "acme-prod"
            fresh.client("iam", ids[victim]).detach_role_policy(
                RoleName="ReadOnlyAccessRole",
                PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess",
            )
            seen = _passes(daemon)

            # A pass that started after the drift, finished.
            def two_more(seen: float = seen) -> bool:
                return _passes(daemon) >= seen + 2

            daemon.wait_for(two_more, 60, "two more passes")

            for name, account_id in ids.items():
                drifted = fresh.tags(account_id).get("environment") == f"drift{round_}"
                assert drifted == (name == DENIED), (round_, name)
            attached = fresh.client("iam", ids[victim]).list_attached_role_policies(
                RoleName="ReadOnlyAccessRole"
            )["AttachedPolicies"]
            assert [p["PolicyArn"] for p in attached] == [
                "arn:aws:iam::aws:policy/ReadOnlyAccess"
            ], (round_, victim)
            reachable = {
                name: daemon.metric("reconciler_account_reachable", account=name)
                for name in (*CREATED_NAMES, "management")
            }
            assert reachable == {
                **{name: 1.0 for name in CREATED_NAMES},
                "management": 1.0,
                DENIED: 0.0,
            }
        assert daemon.process.poll() is None
        passes = _passes(daemon)
        denied_calls = faulty.injector.injected["sts:AssumeRole"]
    finally:
        code, _ = daemon.stop()
    assert code == 0
    assert passes >= 1 + 2 * ROUNDS
    assert denied_calls >= passes  # refused on every pass, never given up on
    assert f"account {DENIED} unreachable" in daemon.output()
    print(f"{passes:.0f} passes, {denied_calls} AssumeRole calls refused")
