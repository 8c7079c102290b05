"""The fault-injecting simulator over the strict one, one per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws.support import Aws
from tests.faults.support import Endpoint
from tests.simulation.faults import FaultyServer


@pytest.fixture
def faulty_server(simulator: FaultyServer) -> FaultyServer:
    """The session's strict simulator (tests/conftest.py), its fault injector steered here."""
    return simulator


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
