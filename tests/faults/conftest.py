"""The fault-injecting simulator, one per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.simulator import FaultyServer
from tests.aws.support import Aws
from tests.faults.support import Endpoint


@pytest.fixture(scope="session")
def faulty_server(dummy_credentials: None) -> Iterator[FaultyServer]:
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
