"""The fault-injecting simulator, one per session, reset before each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from reconciler.simulator import FaultyServer
from tests.aws.support import Aws
from tests.faults.support import Endpoint


@pytest.fixture(scope="session")
def faulty_server() -> Iterator[FaultyServer]:
    # Dummy credentials for the simulator only; never a real account's.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)
    server = FaultyServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def faulty(faulty_server: FaultyServer) -> Iterator[Endpoint]:
    """The simulator behind the fault injector, reset, with no faults and no latency."""
    endpoint = Endpoint(faulty_server)
    yield endpoint
    endpoint.clear()


@pytest.fixture
def fresh(faulty: Endpoint) -> Aws:
    """An empty organization with the example's people as IAM users, created without faults."""
    return faulty.reset()
