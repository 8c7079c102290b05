"""The SQS queue of AWS change events: long-polled for messages, each deleted once handled.

The queue is read with the daemon's own credentials (not a member account's role), in the
queue's region, which its URL names. ReceiveMessage waits up to `WAIT_SECONDS` for a message,
so an idle daemon makes about three calls a minute. A message received stays invisible to
other readers for `VISIBILITY_SECONDS`; one not deleted by then (the pass that handles it
failed, or the daemon stopped) is delivered again, and after the queue's redrive limit it goes
to the dead-letter queue (`deploy/events/`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import botocore.config

from reconciler.aws.sessions import CONNECT_TIMEOUT, USER_AGENT, model_sharing_session, translated
from reconciler.core.errors import ReconcilerError

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

WAIT_SECONDS = 20  # SQS's longest long poll
VISIBILITY_SECONDS = 300  # longer than a focused pass takes, with room for a full one before it
BATCH = 10  # SQS's most messages per ReceiveMessage and per DeleteMessageBatch
# https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, and the legacy REGION.queue.amazonaws.com
# form; .cn for China. A name is at most 80 characters of letters, digits, - and _ (.fifo).
_AWS_URL = re.compile(
    r"https://(?:sqs\.(?P<region>[a-z0-9-]{1,32})|(?P<legacy>[a-z0-9-]{1,32})\.queue)"
    r"\.amazonaws\.com(?:\.cn)?/[0-9]{12}/[A-Za-z0-9_-]{1,75}(?:\.fifo)?"
)
_ANY_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]{1,260}/[0-9]{12}/[A-Za-z0-9_-]{1,80}")


@dataclass(frozen=True)
class Message:
    id: str
    receipt: str  # ReceiptHandle: what deleting it takes
    body: str


def region_of(url: str, *, endpoint_url: str | None, default_region: str) -> str:
    """The queue's region, from its URL; or one line saying the URL is not a queue's.
    With `endpoint_url` (a simulator), any http(s) URL of the form .../ACCOUNT/NAME is taken,
    in `default_region`."""
    match = _AWS_URL.fullmatch(url)
    if match:
        return match.group("region") or match.group("legacy")
    if endpoint_url and _ANY_URL.fullmatch(url):
        return default_region
    raise ReconcilerError(
        f"--events-queue-url {url[:120]!r} is not an SQS queue URL "
        "(https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
    )


class EventQueue:
    def __init__(self, url: str, region: str, endpoint_url: str | None = None) -> None:
        self.url = url
        config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=WAIT_SECONDS + 10,  # the long poll itself takes up to WAIT_SECONDS
            user_agent=USER_AGENT,
        )
        with translated("sqs:client"):
            client = model_sharing_session().create_client(
                "sqs", region_name=region, endpoint_url=endpoint_url, config=config
            )
        self._client = cast("SQSClient", client)

    def on_event(self, event: str, handler: Callable[..., None]) -> None:
        """Register a botocore event handler on the queue's client (the API call counter)."""
        self._client.meta.events.register(event, handler)

    def receive(self, wait: int = WAIT_SECONDS) -> list[Message]:
        """Up to `BATCH` messages, waiting up to `wait` seconds for the first."""
        with translated("sqs:ReceiveMessage"):
            answer = self._client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=wait,
                VisibilityTimeout=VISIBILITY_SECONDS,
            )
        return [
            Message(m.get("MessageId", ""), m.get("ReceiptHandle", ""), m.get("Body", ""))
            for m in answer.get("Messages", [])
        ]

    def delete(self, messages: Sequence[Message]) -> list[str]:
        """Delete the messages; the ids of those SQS did not delete (a receipt that expired
        while the pass ran: the message comes again, and its pass finds nothing to do)."""
        failed = []
        for start in range(0, len(messages), BATCH):
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": m.receipt}
                for i, m in enumerate(messages[start : start + BATCH])
            ]
            with translated("sqs:DeleteMessageBatch"):
                answer = self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            failed += [messages[start + int(f["Id"])].id for f in answer.get("Failed", [])]
        return failed
