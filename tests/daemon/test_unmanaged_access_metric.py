"""`reconciler_unmanaged_access{account, role}`: per role the document places in an account, the
distinct users who can assume it through a group or user policy the document does not declare.

The tests record plain `PassReport` values (a `Plan` carrying `Finding`s) and read the
exposition Prometheus scrapes. The last two use the simulator: the daemon tells the metrics
which roles its document places, and a real pass's findings reach the metric."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import generate_latest

from reconciler.core import load, spec, state
from reconciler.core.plan import Finding, Plan
from reconciler.metrics import Metrics, PassReport, SourceStatus, placed_roles
from reconciler.reconcile import Mode, Result
from tests.aws.support import Aws, run_pass
from tests.daemon.support import EXAMPLE_TEXT, Daemon

DOCUMENT = """
organization:
  management_account_id: "111111111111"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
    - name: ReadOnlyAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: acme-dev
    email: aws+acme-dev@example.com
    roles: [AccountAccessRole, ReadOnlyAccessRole]
  - name: shared
    id: "222222222222"
    email: aws+shared@example.com
    roles: [ReadOnlyAccessRole]
"""

# The same organization once the account acme-dev is no longer declared.
WITHOUT_ACME_DEV = DOCUMENT.replace(
    """  - name: acme-dev
    email: aws+acme-dev@example.com
    roles: [AccountAccessRole, ReadOnlyAccessRole]
""",
    "",
)


def _document(text: str = DOCUMENT) -> spec.Spec:
    return load.parse_spec(text, "accounts.yaml")


def _access(account: str, role: str, detail: str, *users: str) -> Finding:
    return Finding("access", account, role, detail, users)


def _report(document: spec.Spec, *findings: Finding) -> PassReport:
    live = state.OrgState(units={}, accounts=(), groups={})
    return PassReport(
        Mode.PLAN,
        source=SourceStatus.VALID,
        revision="r1",
        in_force="r1",
        accounts=tuple(account.name for account in document.accounts),
        roles=placed_roles(document),
        result=Result(plan=Plan(findings=findings), live=live),
    )


def _scraped(metrics: Metrics) -> list[str]:
    """The exposition lines of the metric, as Prometheus scrapes them, sorted."""
    text = generate_latest(metrics.registry).decode()
    return sorted(
        line for line in text.splitlines() if line.startswith("reconciler_unmanaged_access{")
    )


def test_the_document_places_each_account_s_own_roles() -> None:
    assert placed_roles(_document()) == (
        ("acme-dev", "AccountAccessRole"),
        ("acme-dev", "ReadOnlyAccessRole"),
        ("shared", "ReadOnlyAccessRole"),
    )


def test_a_user_reaching_a_role_through_two_policies_counts_once() -> None:
    metrics = Metrics()
    metrics.record(
        _report(
            _document(),
            _access(
                "acme-dev",
                "AccountAccessRole",
                "group Contractors, policy AssumeDev",
                "bob",
                "carol",
            ),
            _access("acme-dev", "AccountAccessRole", "user policy of bob, AssumeDev", "bob"),
        )
    )

    assert _scraped(metrics) == [
        'reconciler_unmanaged_access{account="acme-dev",role="AccountAccessRole"} 2.0',
        'reconciler_unmanaged_access{account="acme-dev",role="ReadOnlyAccessRole"} 0.0',
        'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 0.0',
    ]


def test_every_placed_role_is_zero_without_findings() -> None:
    metrics = Metrics()
    metrics.record(_report(_document()))

    assert _scraped(metrics) == [
        'reconciler_unmanaged_access{account="acme-dev",role="AccountAccessRole"} 0.0',
        'reconciler_unmanaged_access{account="acme-dev",role="ReadOnlyAccessRole"} 0.0',
        'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 0.0',
    ]
    assert (
        metrics.registry.get_sample_value(
            "reconciler_unmanaged_access", {"account": "shared", "role": "ReadOnlyAccessRole"}
        )
        == 0
    )


def test_findings_of_other_kinds_are_not_counted() -> None:
    metrics = Metrics()
    metrics.record(
        _report(
            _document(), Finding("other", "shared", "ReadOnlyAccessRole", "not access", ("bob",))
        )
    )

    assert 'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 0.0' in (
        _scraped(metrics)
    )


def test_the_series_of_an_account_the_document_drops_are_removed() -> None:
    metrics = Metrics()
    metrics.record(
        _report(_document(), _access("acme-dev", "AccountAccessRole", "group Contractors", "bob"))
    )
    metrics.record(
        _report(
            _document(WITHOUT_ACME_DEV),
            _access("shared", "ReadOnlyAccessRole", "group Auditors", "dan", "erin", "frank"),
        )
    )

    assert _scraped(metrics) == [
        'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 3.0',
    ]


def test_a_finding_that_goes_away_returns_its_role_to_zero() -> None:
    metrics = Metrics()
    metrics.record(
        _report(_document(), _access("shared", "ReadOnlyAccessRole", "group Auditors", "dan"))
    )
    metrics.record(_report(_document()))

    assert 'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 0.0' in (
        _scraped(metrics)
    )


def test_a_failed_pass_keeps_the_values_of_the_last_one() -> None:
    metrics = Metrics()
    document = _document()
    metrics.record(
        _report(document, _access("acme-dev", "ReadOnlyAccessRole", "group Contractors", "bob"))
    )
    before = _scraped(metrics)

    # No result: the read failed. The document's placement alone changes nothing.
    metrics.record(
        PassReport(
            Mode.PLAN,
            source=SourceStatus.VALID,
            accounts=("shared",),
            roles=(("shared", "ReadOnlyAccessRole"),),
            error=RuntimeError("the organization could not be read"),
        )
    )

    assert _scraped(metrics) == before
    assert before == [
        'reconciler_unmanaged_access{account="acme-dev",role="AccountAccessRole"} 0.0',
        'reconciler_unmanaged_access{account="acme-dev",role="ReadOnlyAccessRole"} 1.0',
        'reconciler_unmanaged_access{account="shared",role="ReadOnlyAccessRole"} 0.0',
    ]
    assert metrics.registry.get_sample_value("reconciler_reconcile_total", {"result": "error"}) == 1


def test_a_pass_that_could_not_read_the_source_account_keeps_the_values() -> None:
    metrics = Metrics()
    document = _document()
    metrics.record(
        _report(document, _access("acme-dev", "ReadOnlyAccessRole", "group Contractors", "bob"))
    )
    before = _scraped(metrics)
    blind = _report(document)
    assert blind.result is not None
    unread = Plan(unreachable={"source account": "AccessDenied"})
    blind.result = Result(plan=unread, live=blind.result.live)

    metrics.record(blind)

    assert _scraped(metrics) == before
    assert 'reconciler_unmanaged_access{account="acme-dev",role="ReadOnlyAccessRole"} 1.0' in before


def test_the_daemon_exposes_a_zero_for_every_role_its_document_places(
    aws: Aws, tmp_path: Path
) -> None:
    """The daemon fills in the roles its document places, so Prometheus sees every series."""
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    placed = placed_roles(_document(EXAMPLE_TEXT))
    assert placed
    daemon = Daemon(
        ["run", "--desired", str(desired), "--mode", "plan"],
        aws.url,
        tmp_path,
        RECONCILER_INTERVAL="60",
    )
    try:
        daemon.wait_for_passes(1)
        _, text = daemon.get("/metrics")
    finally:
        daemon.stop()
    series = sorted(
        line for line in text.splitlines() if line.startswith("reconciler_unmanaged_access{")
    )
    assert series == sorted(
        f'reconciler_unmanaged_access{{account="{account}",role="{role}"}} 0.0'
        for account, role in placed
    )


def test_a_group_policy_the_document_does_not_declare_is_counted(aws: Aws) -> None:
    """Against the simulator: a group the document does not declare, whose inline policy lets
    two people assume a managed role, shows as 2 for that account and role only."""
    document = _document(EXAMPLE_TEXT)
    run_pass(aws.url, EXAMPLE_TEXT, apply=True)
    account, role = next(pair for pair in placed_roles(document) if pair[0] == "acme-dev")
    arn = f"arn:aws:iam::{aws.account_id('aws+acme-dev@example.com')}:role/{role}"
    aws.iam.create_group(GroupName="Contractors")
    for user in ("mallory", "carol"):
        aws.iam.add_user_to_group(GroupName="Contractors", UserName=user)
    aws.iam.put_group_policy(
        GroupName="Contractors",
        PolicyName="AssumeDev",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}],
            }
        ),
    )

    result = run_pass(aws.url, EXAMPLE_TEXT, apply=False)
    metrics = Metrics()
    metrics.record(
        PassReport(
            Mode.PLAN,
            accounts=tuple(a.name for a in document.accounts),
            roles=placed_roles(document),
            result=result,
        )
    )

    scraped = _scraped(metrics)
    assert f'reconciler_unmanaged_access{{account="{account}",role="{role}"}} 2.0' in scraped
    others = [line for line in scraped if f'account="{account}",role="{role}"' not in line]
    assert len(others) == len(placed_roles(document)) - 1
    assert all(line.endswith(" 0.0") for line in others)
