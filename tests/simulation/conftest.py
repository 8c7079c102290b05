"""The strict simulator of the whole session (tests/conftest.py), made calm for each test here
(see `calm`), with an organization in the management account."""

from __future__ import annotations

import pytest

from tests.simulation.faults import FaultyServer
from tests.simulation.strict import StrictAws
from tests.simulation.support import Clients, calm, reset_moto


@pytest.fixture
def strict_server(simulator: FaultyServer) -> FaultyServer:
    simulator.injector.faults, simulator.injector.latency = [], 0.0
    return simulator


@pytest.fixture
def strict(strict_server: FaultyServer) -> StrictAws:
    """The strict layer, calm, its state and moto's wiped (by the reset passing through it)."""
    assert strict_server.strict is not None
    strict_server.strict.settings = calm()
    reset_moto(strict_server.url)
    return strict_server.strict


@pytest.fixture
def aws(strict_server: FaultyServer, strict: StrictAws) -> Clients:
    """Clients of the strict simulator, whose management account has an organization."""
    clients = Clients(strict_server.url)
    clients.org.create_organization(FeatureSet="ALL")
    return clients
