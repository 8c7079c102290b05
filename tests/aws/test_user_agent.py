"""Every request names reconciler and its version in its User-Agent, which CloudTrail records
as the call's userAgent: an auditor can tell the product's calls from people's and other
tools', whichever account, service or client made them."""

from __future__ import annotations

from importlib import metadata

import botocore

from reconciler.aws.queue import EventQueue
from tests.aws.support import Aws, failures, run_pass
from tests.simulation.faults import FaultyServer

# What CloudTrail would show: the product, its installed version, and the SDK under it.
EXPECTED_PREFIX = (
    f"reconciler/{metadata.version('aws-org-reconciler')} botocore/{botocore.__version__} "
)


def test_every_call_of_a_pass_names_reconciler_and_its_version(
    aws: Aws, simulator: FaultyServer
) -> None:
    simulator.injector.agents.clear()
    simulator.injector.counts.clear()

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    agents = simulator.injector.agents
    assert [a for a in agents if not a.startswith(EXPECTED_PREFIX)] == []
    # Management and member-account clients alike: AssumeRole, Organizations, member IAM.
    calls = simulator.injector.counts
    assert calls["sts:AssumeRole"] > 0 and calls["organizations:CreateAccount"] > 0
    assert sum(agents.values()) == sum(calls.values())


def test_the_events_queue_names_reconciler_too(aws: Aws, simulator: FaultyServer) -> None:
    sqs = aws.client("sqs")
    url = str(sqs.create_queue(QueueName="reconciler-agent")["QueueUrl"])
    simulator.injector.agents.clear()

    assert EventQueue(url, "us-east-1", aws.url).receive(wait=0) == []

    assert list(simulator.injector.agents) != []
    assert [a for a in simulator.injector.agents if not a.startswith(EXPECTED_PREFIX)] == []
