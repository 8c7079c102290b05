"""Shared fixtures: moto's server on loopback, reset before each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from reconciler.simulator import MANAGEMENT_ACCOUNT_ID, Simulator
from tests.aws.support import PEOPLE, Aws

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "desired" / "accounts.yaml"


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
def simulator(dummy_credentials: None) -> Iterator[Simulator]:
    server = Simulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(simulator: Simulator) -> str:
    """A freshly reset simulator with an organization, its URL."""
    simulator.reset()
    client = boto3.client("organizations", endpoint_url=simulator.url, region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    return simulator.url


@pytest.fixture
def management_id() -> str:
    return MANAGEMENT_ACCOUNT_ID


@pytest.fixture
def aws(endpoint: str) -> Aws:
    """The simulator with an organization and the example's people as IAM users."""
    helper = Aws(endpoint)
    for user in PEOPLE:
        helper.iam.create_user(UserName=user)
    return helper
