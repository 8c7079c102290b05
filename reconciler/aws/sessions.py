"""The one way into accounts: boto3 clients for the management account and, through the
bootstrap role, for every member account; and the translation of botocore's errors.

Credentials come from boto3's standard chain; `endpoint_url` (or `AWS_ENDPOINT_URL`) points
every client at any AWS-compatible endpoint. Assumed-role credentials are cached per account
and refreshed before they expire. Nothing else in the project builds a boto3 client.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from reconciler.errors import AccessError, AwsError, AwsRequestError, TransientAwsError

# Refresh assumed credentials this long before they expire, so no call starts with credentials
# that could lapse mid-pass (AssumeRole issues them for one hour by default).
REFRESH_MARGIN = datetime.timedelta(minutes=15)
SESSION_NAME = "reconciler"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"

# Retries: adaptive mode adds client-side rate limiting on top of exponential backoff, which
# is what Organizations' and IAM's unpublished throttling limits call for; 10 attempts ride out
# bursts of throttling. Timeouts: connect fails fast (5 s) so an unreachable endpoint surfaces
# quickly; reads wait 30 s, well above the slowest AWS answers seen (a few seconds).
RETRIES = {"mode": "adaptive", "max_attempts": 10}
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30

_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "ExpiredToken",
        "AWSOrganizationsNotInUseException",
        "UnrecognizedClientException",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "InternalFailure",
        "ConcurrentModificationException",
    }
)


@dataclass(frozen=True)
class _Credentials:
    access_key: str
    secret_key: str
    token: str
    expires: datetime.datetime

    def __repr__(self) -> str:  # never let a secret reach a log line or a traceback
        return f"_Credentials(expires={self.expires.isoformat()})"


class Sessions:
    """Hands out clients: `client(service)` for the management account, or `client(service,
    account_id)` for a member account through the bootstrap role."""

    def __init__(
        self,
        *,
        management_account_id: str,
        bootstrap_role: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_pool: int = 20,
        session: boto3.Session | None = None,
        read_only: bool = False,
    ) -> None:
        self._session = session or boto3.Session()
        self._region = region or self._session.region_name or "us-east-1"
        self._endpoint_url = endpoint_url
        self.management_account_id = management_account_id
        self.bootstrap_role = bootstrap_role
        # In plan mode, member-account sessions are limited to reading: the bootstrap role is
        # an administrator, and a session policy caps what its credentials may do.
        self._session_policies = [{"arn": READ_ONLY_POLICY}] if read_only else []
        self._config = botocore.config.Config(
            retries=RETRIES,  # type: ignore[arg-type]
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max_pool,
        )
        self._lock = threading.RLock()
        self._credentials: dict[str, _Credentials] = {}
        self._management: dict[str, Any] = {}
        # Building a client costs milliseconds of CPU (most of a steady pass's CPU at scale);
        # each member account's clients are kept as long as the credentials they carry.
        self._clients: dict[tuple[str, str], tuple[_Credentials, Any]] = {}

    def on_event(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client made from now on."""
        self._session.events.register(event, handler)

    def client(self, service: str, account_id: str | None = None) -> Any:
        """A client acting in `account_id` (default: the management account's credentials)."""
        if account_id is None or account_id == self.management_account_id:
            with self._lock:
                if service not in self._management:
                    self._management[service] = self._make(service, None)
                return self._management[service]
        credentials = self._assumed(account_id)
        with self._lock:
            kept = self._clients.get((service, account_id))
        if kept is not None and kept[0] is credentials:
            return kept[1]
        client = self._make(service, credentials)
        with self._lock:
            self._clients[(service, account_id)] = (credentials, client)
        return client

    def _make(self, service: str, credentials: _Credentials | None) -> Any:
        keys: dict[str, str] = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials.access_key,
                "aws_secret_access_key": credentials.secret_key,
                "aws_session_token": credentials.token,
            }
        with self._lock:  # creating clients from one session is not thread-safe in boto3
            return self._session.client(
                service,  # type: ignore[call-overload]
                region_name=self._region,
                endpoint_url=self._endpoint_url,
                config=self._config,
                **keys,
            )

    def _assumed(self, account_id: str) -> _Credentials:
        with self._lock:
            cached = self._credentials.get(account_id)
        if cached and cached.expires - _now() > REFRESH_MARGIN:
            return cached
        role_arn = f"arn:aws:iam::{account_id}:role/{self.bootstrap_role}"
        with translated("sts:AssumeRole"):
            answer = self.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=SESSION_NAME, PolicyArns=self._session_policies
            )
        raw = answer["Credentials"]
        fresh = _Credentials(
            raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"], raw["Expiration"]
        )
        with self._lock:
            self._credentials[account_id] = fresh
        return fresh

    def forget(self, account_id: str) -> None:
        """Drop cached credentials, e.g. after AWS rejected them."""
        with self._lock:
            self._credentials.pop(account_id, None)
            for key in [key for key in self._clients if key[1] == account_id]:
                del self._clients[key]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@contextlib.contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn botocore's exceptions into the project's own (errors.py), keeping the cause."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = f"{operation}: {code}: {error.get('Message', '')}".rstrip(": ")
        kind: type[AwsError] = (
            AccessError
            if code in _ACCESS_CODES
            else TransientAwsError
            if code in _TRANSIENT_CODES
            else AwsRequestError
        )
        raise kind(message, operation=operation, code=code) from exc
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
    ) as exc:
        raise AccessError(f"{operation}: no AWS credentials found", operation=operation) from exc
    except (
        botocore.exceptions.ConnectionError,
        botocore.exceptions.HTTPClientError,
    ) as exc:
        raise TransientAwsError(f"{operation}: {type(exc).__name__}", operation=operation) from exc


def call(client: Any, method: str, **kwargs: Any) -> Any:
    """One AWS call, with its errors translated and named `service:Operation`."""
    with translated(_operation(client, method)):
        return getattr(client, method)(**kwargs)


def each_page(client: Any, method: str, **kwargs: Any) -> Iterator[Any]:
    """Every page of a paginated call."""
    with translated(_operation(client, method)):
        yield from client.get_paginator(method).paginate(**kwargs)


def pages(client: Any, method: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under `key` across all pages of a paginated call."""
    for page in each_page(client, method, **kwargs):
        yield from page.get(key, [])


def _operation(client: Any, method: str) -> str:
    service = client.meta.service_model.service_name
    return f"{service}:{client.meta.method_to_api_mapping.get(method, method)}"
