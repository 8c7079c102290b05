"""The fault-injecting simulator over the strict one, one per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws.support import Aws
from tests.faults.support import Endpoint
from tests.simulation.faults import FaultyServer
from tests.simulation.strict import StrictSettings


@pytest.fixture(scope="session")
def faulty_server(dummy_credentials: None) -> Iterator[FaultyServer]:
    server = FaultyServer(strict=StrictSettings())
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
