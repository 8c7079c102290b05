"""AWS's model files (endpoints, partitions, each service's API) are parsed once per process:
a loader keeps every file it has read, so each client holding its own loader kept its own
copy, and the events queue's client alone cost the daemon some 7 MB."""

from __future__ import annotations

from typing import Any

from reconciler import reconcile
from reconciler.aws.queue import EventQueue
from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.aws.support import EXAMPLE_TEXT, Aws, parse, run_pass


def _loader_of(client: Any) -> object:
    return client._loader  # botocore's client keeps the loader that built it


def test_every_client_of_the_process_reads_the_models_through_one_loader(aws: Aws) -> None:
    assert run_pass(aws.url, apply=True).converged
    accounts = aws.client("organizations").list_accounts()["Accounts"]
    member = next(a["Id"] for a in accounts if a["Id"] != MANAGEMENT_ACCOUNT_ID)
    queue = str(aws.client("sqs").create_queue(QueueName="reconciler-models")["QueueUrl"])
    document = parse(EXAMPLE_TEXT)
    first = reconcile.sessions_for(document, aws.url, 4)
    second = reconcile.sessions_for(document, aws.url, 4, read_only=True)
    clients = [
        first.organizations().raw,
        first.iam().raw,
        first.iam(member).raw,  # a member account's: a botocore session of its own
        second.sts().raw,
        EventQueue(queue, "us-east-1", aws.url)._client,
    ]

    assert len({id(_loader_of(client)) for client in clients}) == 1
