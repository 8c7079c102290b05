"""The strict simulator, one per session; each test gets it reset and calm (see `calm`), with an
organization in the management account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.simulation.faults import FaultyServer
from tests.simulation.strict import StrictAws
from tests.simulation.support import Clients, calm, reset_moto


@pytest.fixture(scope="session")
def strict_server(dummy_credentials: None) -> Iterator[FaultyServer]:
    server = FaultyServer(strict=calm())
    server.start()
    yield server
    server.stop()


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
