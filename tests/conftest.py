"""Shared fixtures: the strict AWS simulator (moto's server behind a layer that behaves as AWS
documents AWS to behave: conflicts, eventual consistency, asynchronous account creation,
quotas), on loopback, reset before each test that uses it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.aws.support import PEOPLE, Aws
from tests.simulation.faults import FaultyServer
from tests.simulation.strict import StrictAws, StrictSettings
from tests.simulation.support import calm, reset_moto

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "desired" / "accounts.yaml"


# The test directories fastest first: plain values, then the command line, then the simulator.
_FAST_FIRST = ("tests/diff/", "tests/spec/", "tests/cli/")
# The pure core is pinned by tests of plain values: under mutation testing only those count.
_PURE_TESTS = ("tests/diff/", "tests/spec/")


def _directory_rank(item: pytest.Item) -> int:
    path = item.nodeid.removeprefix("mutants/")
    return next((i for i, d in enumerate(_FAST_FIRST) if path.startswith(d)), len(_FAST_FIRST))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under mutation testing a test past its time limit ends its whole process (pytest-timeout's
    thread method, exit status 1: the mutant counts as caught). The usual method fails the test
    and goes on, but a mutant that makes an applier wait forever leaves a worker thread the
    pass's pool waits for on the way out, and the process would hang until killed by hand."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        config.option.timeout_method = "thread"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under mutation testing each mutant's tests run in a process forked from one that ran
    the unmutated code: empty the product's memoised results (canonical policies), or a mutant
    of the code behind them would be answered from the original's memory and seem to pass."""
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    for module in [m for name, m in sys.modules.items() if name.startswith("reconciler.")]:
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under mutation testing (make mutate): a mutant of the pure core (reconciler.core) is
    judged by the plain-value tests alone, which the design says pin it down; any other runs
    the pure core's tests first, so a mutant one of them catches is caught in milliseconds, not
    after minutes of AWS round trips. An ordinary run is left alone."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if mutant.startswith("reconciler.core."):
        pure = [i for i in items if i.nodeid.removeprefix("mutants/").startswith(_PURE_TESTS)]
        config.hook.pytest_deselected(items=[i for i in items if i not in pure])
        items[:] = pure
    elif mutant:
        items.sort(key=_directory_rank)


@pytest.fixture(scope="session")
def dummy_credentials() -> None:
    """Credentials for the simulators only: never a real account's, never a real profile."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def simulator(dummy_credentials: None) -> Iterator[FaultyServer]:
    server = FaultyServer(strict=StrictSettings())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def strict(simulator: FaultyServer) -> StrictAws:
    """The strict layer of the shared simulator, with its default (AWS-like) settings."""
    assert simulator.strict is not None
    return simulator.strict


@pytest.fixture
def endpoint(simulator: FaultyServer, strict: StrictAws) -> Iterator[str]:
    """A freshly reset strict simulator with an organization, its URL. What a test sets up
    before this returns is made calmly; the test itself meets AWS's habits."""
    simulator.injector.faults, simulator.injector.latency = [], 0.0
    simulator.injector.counts.clear()
    simulator.injector.injected.clear()
    simulator.injector.agents.clear()
    simulator.injector.record, simulator.injector.requests = frozenset(), []
    strict.settings = calm()
    reset_moto(simulator.url)
    client = boto3.client("organizations", endpoint_url=simulator.url, region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    strict.settings = StrictSettings()
    yield simulator.url
    strict.settings = StrictSettings()


@pytest.fixture
def management_id() -> str:
    return MANAGEMENT_ACCOUNT_ID


@pytest.fixture
def aws(endpoint: str, strict: StrictAws) -> Aws:
    """The simulator with an organization and the example's people as IAM users."""
    helper = Aws(endpoint)
    strict.settings = calm()
    for user in PEOPLE:
        helper.iam.create_user(UserName=user)
    strict.settings = StrictSettings()
    return helper
