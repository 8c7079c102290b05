"""A read waits on no more than it needs: an account is read while the rest of the tree is still
listed, and the source account is read alongside the member accounts, not after them.

Checked against the simulator by the order and timing of the requests it received."""

from __future__ import annotations

import threading
import time

from reconciler import reconcile
from tests.aws.support import Aws, failures, run_pass
from tests.simulation.faults import Fault, FaultyServer

DOCUMENT = """
organization:
  management_account_id: "123456789012"
  units:
    - name: early
    - name: late
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - {name: one, email: one@example.com, unit: early, roles: [AccountAccessRole]}
  - {name: two, email: two@example.com, unit: late, roles: [AccountAccessRole]}
groups:
  - name: Devs
    users: [alice]
    grants: [{account: one, role: AccountAccessRole}]
"""
LISTING = "organizations:ListAccountsForParent"
DETAILS = "iam:GetAccountAuthorizationDetails"
SLOW = 15.0  # seconds the late unit's account listing takes: ample, even on a busy machine


def _built(aws: Aws) -> None:
    built = run_pass(aws.url, DOCUMENT, apply=True)
    assert built.converged, failures(built)


def _in_background(aws: Aws) -> tuple[threading.Thread, list[reconcile.Result]]:
    results: list[reconcile.Result] = []
    reading = threading.Thread(
        target=lambda: results.append(run_pass(aws.url, DOCUMENT, apply=False)), daemon=True
    )
    reading.start()
    return reading, results


def _requests(simulator: FaultyServer, name: str, containing: bytes = b"") -> list[bytes]:
    return [
        body for op, body in list(simulator.injector.requests) if op == name and containing in body
    ]


def test_an_account_is_read_while_another_units_listing_is_still_on_its_way(
    aws: Aws, simulator: FaultyServer
) -> None:
    _built(aws)
    late = aws.unit_id("late")
    injector = simulator.injector
    injector.record = frozenset({LISTING, DETAILS})
    injector.faults = [Fault(LISTING, latency=SLOW, body_contains=late)]
    reading, results = _in_background(aws)

    deadline = time.monotonic() + 30
    while not _requests(simulator, LISTING, late.encode()):
        assert time.monotonic() < deadline, "the late unit's accounts were never listed"
        time.sleep(0.01)
    listed_at = time.monotonic()
    # While that listing is on its way, account `one` (the early unit's) has its roles read.
    while not _requests(simulator, DETAILS, b"Filter.member.1=Role"):
        assert reading.is_alive(), "the pass ended without reading a role"
        waited = time.monotonic() - listed_at
        assert waited < SLOW - 3, f"no role was read in the {waited:.1f} s the tree took"
        time.sleep(0.01)

    reading.join(timeout=60)
    assert not reading.is_alive()
    assert results[0].converged, failures(results[0])
    assert results[0].plan.changes == ()


def test_the_source_account_is_read_before_the_member_accounts_are_done(
    aws: Aws, simulator: FaultyServer
) -> None:
    _built(aws)
    injector = simulator.injector
    injector.record = frozenset({DETAILS})
    reading, results = _in_background(aws)
    reading.join(timeout=60)
    assert not reading.is_alive()
    assert results[0].converged, failures(results[0])

    filters = [
        "source" if b"Filter.member.1=User" in body else "member"
        for body in _requests(simulator, DETAILS)
    ]
    assert sorted(filters) == ["member", "member", "source"]
    # The source account's call needs no tree and no credentials: it goes out first.
    assert filters[0] == "source", filters
