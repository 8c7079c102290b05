"""Plan-only sessions cap the bootstrap role's credentials to reading with a session policy."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from reconciler import reconcile
from tests.aws.support import EXAMPLE_TEXT, Aws, parse, run_pass


@pytest.mark.parametrize("read_only", [True, False])
def test_assume_role_carries_the_read_only_policy_only_when_planning(
    aws: Aws, read_only: bool
) -> None:
    assert run_pass(aws.url, apply=True).converged
    document = parse(EXAMPLE_TEXT)
    sessions = reconcile.sessions_for(document, aws.url, 4, read_only=read_only)
    bodies: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body or b""
        bodies.append(unquote(body.decode() if isinstance(body, bytes) else body))

    sessions.on_event("before-send.sts.AssumeRole", capture)
    reconcile.reconcile(document, sessions, apply=False, concurrency=4)
    assert len(bodies) == 4  # one per member account the document declares
    carrying = ["arn:aws:iam::aws:policy/ReadOnlyAccess" in body for body in bodies]
    assert carrying == [read_only] * 4
