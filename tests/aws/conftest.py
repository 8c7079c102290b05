"""Fixtures for tests against the simulator."""

from __future__ import annotations

import pytest

from tests.aws.support import PEOPLE, Aws


@pytest.fixture
def aws(endpoint: str) -> Aws:
    """The simulator with an organization and the example's people as IAM users."""
    helper = Aws(endpoint)
    for user in PEOPLE:
        helper.iam.create_user(UserName=user)
    return helper
