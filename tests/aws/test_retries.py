"""Retries are kept per account: AWS throttling one account pauses and spends the retry quota
of that account only. The botocore handlers are driven with plain answers, as botocore would
call them; then a pass against the simulator shows a throttled account slowing only itself."""

from __future__ import annotations

import datetime
import time
from types import SimpleNamespace
from typing import Any

import botocore.credentials

from reconciler.aws import sessions
from tests.aws.support import Aws, run_pass
from tests.simulation.strict import StrictAws

LIST_ROLES = SimpleNamespace(name="ListRoles")
CREATE_ACCOUNT = SimpleNamespace(name="CreateAccount")
OK: tuple[Any, dict[str, Any]] = (SimpleNamespace(status_code=200), {})


def _error(status: int, code: str) -> tuple[Any, dict[str, Any]]:
    return SimpleNamespace(status_code=status), {"Error": {"Code": code}}


def _in(account: str) -> sessions.AccountClient[Any]:
    keys = botocore.credentials.ReadOnlyCredentials("AKID", "secret", "token")
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    return sessions.AccountClient(None, sessions._Credentials(account, keys, expires))


def _needs_retry(retries: Any, account: str, answer: Any, operation: Any = LIST_ROLES) -> Any:
    with _in(account).bound():
        return retries.needs_retry(
            response=answer,
            operation=operation,
            attempts=1,
            caught_exception=None,
            event_name=f"needs-retry.iam.{operation.name}",
        )


def test_throttling_pauses_only_the_throttled_account() -> None:
    retries = sessions._Retries()
    delay = _needs_retry(retries, "111111111111", _error(400, "Throttling"))
    assert 0 <= delay <= sessions.BACKOFF[1]

    started = time.monotonic()
    with _in("222222222222").bound():
        retries.pace(event_name="before-send.iam.ListRoles")  # another account: no pause
    assert time.monotonic() - started < 0.05


def test_the_retry_quota_is_per_account() -> None:
    retries = sessions._Retries()
    capacity, cost = sessions.RETRY_QUOTA
    throttled = [
        _needs_retry(retries, "111111111111", _error(400, "Throttling"))
        for _ in range(capacity // cost + 1)
    ]
    assert throttled[-1] is None  # that account's quota is spent: no more retries for it
    assert all(d is not None for d in throttled[:-1])
    # Another account still gets its retries.
    assert _needs_retry(retries, "222222222222", _error(400, "Throttling")) is not None


def test_what_is_retried() -> None:
    retries = sessions._Retries()
    assert _needs_retry(retries, "1", OK) is None
    assert _needs_retry(retries, "1", _error(400, "ConcurrentModificationException")) is not None
    assert _needs_retry(retries, "1", _error(400, "TooManyRequestsException")) is not None
    assert _needs_retry(retries, "1", _error(503, "ServiceUnavailable")) is not None
    assert _needs_retry(retries, "1", _error(404, "NoSuchEntity")) is None
    assert _needs_retry(retries, "1", _error(403, "AccessDenied")) is None
    # CreateAccount is not idempotent: retried when AWS refused it, never after a fault.
    assert _needs_retry(retries, "1", _error(500, "InternalFailure"), CREATE_ACCOUNT) is None
    assert _needs_retry(retries, "1", _error(400, "TooManyRequestsException"), CREATE_ACCOUNT)


def test_a_throttled_account_is_reported_and_the_others_are_read(
    aws: Aws, strict: StrictAws
) -> None:
    assert run_pass(aws.url, apply=True).converged
    throttled = aws.account_id("aws+acme-dev@example.com")
    strict.settings.throttled_accounts = {throttled: 1.0}

    result = run_pass(aws.url, apply=False)

    assert list(result.plan.unreachable) == ["acme-dev"]
    assert "Throttling" in result.plan.unreachable["acme-dev"]
    assert result.plan.changes == ()
