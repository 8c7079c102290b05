"""The one way into accounts: boto3 clients for the management account and, through the
bootstrap role, for every member account; and the translation of botocore's errors.

Credentials come from boto3's standard chain; `endpoint_url` (or `AWS_ENDPOINT_URL`) points
every client at any AWS-compatible endpoint. Assumed-role credentials are cached per account
and refreshed before they expire. Nothing else in the project builds a boto3 client.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.session

from reconciler.core import policies
from reconciler.core.errors import (
    AccessError,
    AwsError,
    AwsRequestError,
    ConflictError,
    TransientAwsError,
    error_class,
)

# Refresh assumed credentials this long before they expire, so no call starts with credentials
# that could lapse mid-pass (AssumeRole issues them for one hour by default).
REFRESH_MARGIN = datetime.timedelta(minutes=15)
SESSION_NAME = "reconciler"
# Plan mode's session policy for member accounts: exactly the reads plan makes there (roles, and
# the source account's users and groups; see read.py), none of which has resource-level
# permissions. AWS grants a session the intersection of the role's policies and this one, so the
# bootstrap role's credentials cannot write. Not the AWS managed ReadOnlyAccess: that one also
# reads S3 objects, DynamoDB items, logs and more that plan never needs. Packed, a session policy
# must stay under 2,048 characters (AssumeRole's `Policy` limit).
READ_ONLY_SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PlanReadsRolesUsersAndGroups",
                "Effect": "Allow",
                "Action": ["iam:GetAccountAuthorizationDetails", "iam:ListRoles"],
                "Resource": "*",
            }
        ],
    },
    separators=(",", ":"),
)

# Retries are ours, not botocore's (see `_Retries`): botocore's retry quota and adaptive rate
# limiter belong to a client, and one client serves every member account, so one throttled
# account would slow all of them. Timeouts: connect fails fast (5 s) so an unreachable endpoint
# surfaces quickly; reads wait 30 s, well above the slowest AWS answers seen (a few seconds).
BOTOCORE_RETRIES = {"mode": "standard", "total_max_attempts": 1}
MAX_ATTEMPTS = 10
# Seconds: the first retry's ceiling, and the longest wait between tries (nine waits stay well
# inside the 25 s a pass has to stop after SIGTERM).
BACKOFF = (0.1, 2.0)
# Per account and service: the retries that may be owed at once, and what one costs (a
# conflict costs less: it is expected under load, not a sign of trouble). Each success refunds 1.
RETRY_QUOTA = (500, 5)
CONFLICT_COST = 1
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
# Not idempotent: sent twice after a lost answer, they would do their work twice (two accounts).
# Retried only when AWS says it refused them (throttling, a conflict), never after a fault.
NOT_IDEMPOTENT = frozenset({"CreateAccount"})

# Credentials that could not be found or loaded (profiles, SSO, processes): terminal.
_CREDENTIAL_ERRORS = (
    botocore.exceptions.CredentialRetrievalError,
    botocore.exceptions.TokenRetrievalError,
    botocore.exceptions.SSOError,
    botocore.exceptions.SSOTokenLoadError,
    botocore.exceptions.UnauthorizedSSOTokenError,
    botocore.exceptions.ProfileNotFound,
)


@dataclass(frozen=True)
class _Credentials:
    account_id: str
    keys: botocore.credentials.ReadOnlyCredentials
    expires: datetime.datetime

    def __repr__(self) -> str:  # never let a secret reach a log line or a traceback
        return f"_Credentials({self.account_id}, expires={self.expires.isoformat()})"


# The member account a call in this thread acts in, bound by `call` and `each_page` for the
# duration of one request (contextvars are per thread under ThreadPoolExecutor).
_ACTING_AS: contextvars.ContextVar[_Credentials | None] = contextvars.ContextVar(
    "acting_as", default=None
)


class _ActingAs(botocore.credentials.Credentials):
    """Credentials that are those of the account the calling thread is bound to.

    botocore asks its credentials for a frozen copy each time it signs a request (retries
    included), so one client can serve every member account: building a client per account
    cost about 6 ms of CPU and 0.4 MB each, which dominated a pass over 1,000 accounts.
    """

    def __init__(self) -> None:  # no keys of its own
        self.method = "reconciler-assume-role"

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
        current = _ACTING_AS.get()
        if current is None:
            raise AccessError("a member-account client was used outside call() or pages()")
        return current.keys

    # botocore reads these in a few places besides signing; they follow the bound account too.
    @property
    def access_key(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().access_key)

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        return str(self.get_frozen_credentials().secret_key)

    @property
    def token(self) -> str | None:  # type: ignore[override]
        return self.get_frozen_credentials().token


class _ActingAsProvider(botocore.credentials.CredentialProvider):
    METHOD = "reconciler-assume-role"
    CANONICAL_NAME = "reconciler"

    def load(self) -> botocore.credentials.Credentials:
        return _ActingAs()


@dataclass(frozen=True)
class AccountClient:
    """A service client and the account it acts in (`credentials` None: the management
    account's own credentials). Use it through `call`, `pages` and `each_page`."""

    raw: Any
    credentials: _Credentials | None = None

    @property
    def meta(self) -> Any:
        return self.raw.meta

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        if self.credentials is None:
            yield
            return
        token = _ACTING_AS.set(self.credentials)
        try:
            yield
        finally:
            _ACTING_AS.reset(token)


@dataclass(frozen=True)
class Identity:
    """The account and ARN of the daemon's own credentials, and so the partition it works in."""

    account_id: str
    arn: str

    @property
    def partition(self) -> str:
        return policies.partition_of(self.arn)


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
        with translated("boto3:Session"):  # an AWS_PROFILE that does not exist fails here
            self._session = session or boto3.Session()
        self._region = region or self._session.region_name or "us-east-1"
        # Member accounts share one client per service, signing with the bound account's keys.
        # Adaptive retry's client-side rate limit is therefore shared by them too.
        members = botocore.session.Session()
        members.register_component(
            "credential_provider", botocore.credentials.CredentialResolver([_ActingAsProvider()])
        )
        self._members = boto3.Session(botocore_session=members)
        self._endpoint_url = endpoint_url
        self.management_account_id = management_account_id
        self.bootstrap_role = bootstrap_role
        # In plan mode, member-account sessions are limited to reading: the bootstrap role is
        # an administrator, and a session policy caps what its credentials may do.
        self._read_only = read_only
        self._config = botocore.config.Config(
            retries=BOTOCORE_RETRIES,  # type: ignore[arg-type]
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max_pool,
        )
        self._lock = threading.RLock()
        self._credentials: dict[str, _Credentials] = {}
        self._clients: dict[tuple[str, bool], Any] = {}
        self._identity: Identity | None = None
        retries = _Retries()
        # botocore's stubs declare handlers as returning None; needs-retry's return the delay.
        needs_retry = cast(Callable[..., None], retries.needs_retry)
        for session in (self._session, self._members):
            session.events.register("needs-retry", needs_retry)
            session.events.register("before-send", retries.pace)

    def identity(self) -> Identity:
        """Whose credentials these are (GetCallerIdentity), asked once."""
        with self._lock:
            known = self._identity
        if known is None:
            answer = call(self.client("sts"), "get_caller_identity")
            known = Identity(str(answer["Account"]), str(answer["Arn"]))
            with self._lock:
                self._identity = known
        return known

    def on_event(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on every client made from now on."""
        self._session.events.register(event, handler)
        self._members.events.register(event, handler)

    def client(self, service: str, account_id: str | None = None) -> AccountClient:
        """A client acting in `account_id` (default: the management account's credentials)."""
        if account_id is None or account_id == self.management_account_id:
            return AccountClient(self._shared(service, member=False))
        return AccountClient(self._shared(service, member=True), self._assumed(account_id))

    def _shared(self, service: str, *, member: bool) -> Any:
        with self._lock:  # creating clients from one session is not thread-safe in boto3
            key = (service, member)
            if key not in self._clients:
                session = self._members if member else self._session
                self._clients[key] = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
            return self._clients[key]

    def _assumed(self, account_id: str) -> _Credentials:
        with self._lock:
            cached = self._credentials.get(account_id)
        if cached and cached.expires - _now() > REFRESH_MARGIN:
            return cached
        answer = call(
            self.client("sts"),
            "assume_role",
            RoleArn=policies.role_arn(account_id, self.bootstrap_role, self.identity().partition),
            RoleSessionName=SESSION_NAME,
            **self._session_policy(),
        )
        raw = answer["Credentials"]
        keys = botocore.credentials.ReadOnlyCredentials(
            raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"]
        )
        fresh = _Credentials(account_id, keys, raw["Expiration"])
        with self._lock:
            self._credentials[account_id] = fresh
        return fresh

    def _session_policy(self) -> dict[str, str]:
        """AssumeRole's session-policy argument: the read-only policy in plan mode, else none."""
        return {"Policy": READ_ONLY_SESSION_POLICY} if self._read_only else {}

    def forget(self, account_id: str) -> None:
        """Drop cached credentials, e.g. after AWS rejected them."""
        with self._lock:
            self._credentials.pop(account_id, None)


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
        raise error_class(code)(message, operation=operation, code=code) from exc
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
    ) as exc:
        raise AccessError(f"{operation}: no AWS credentials found", operation=operation) from exc
    except _CREDENTIAL_ERRORS as exc:
        raise AccessError(f"{operation}: {exc}", operation=operation) from exc
    except (
        botocore.exceptions.ConnectionError,
        botocore.exceptions.HTTPClientError,
    ) as exc:
        raise TransientAwsError(f"{operation}: {type(exc).__name__}", operation=operation) from exc
    except botocore.exceptions.ParamValidationError as exc:
        raise AwsRequestError(f"{operation}: {exc}", operation=operation) from exc
    except botocore.exceptions.BotoCoreError as exc:  # anything else botocore raises is ours too
        raise AwsError(f"{operation}: {type(exc).__name__}: {exc}", operation=operation) from exc


def call(client: AccountClient, method: str, **kwargs: Any) -> Any:
    """One AWS call in the client's account, its errors translated and named `service:Op`."""
    with translated(_operation(client, method)), client.bound():
        return getattr(client.raw, method)(**kwargs)


def each_page(client: AccountClient, method: str, **kwargs: Any) -> Iterator[Any]:
    """Every page of a paginated call, each fetched in the client's account."""
    operation = _operation(client, method)
    with translated(operation), client.bound():
        fetched = iter(client.raw.get_paginator(method).paginate(**kwargs))
    while True:
        # Bound per fetch, not across the yield: the consumer may act in other accounts.
        with translated(operation), client.bound():
            page = next(fetched, None)
        if page is None:
            return
        yield page


def pages(client: AccountClient, method: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under `key` across all pages of a paginated call."""
    for page in each_page(client, method, **kwargs):
        yield from page.get(key, [])


def _operation(client: AccountClient, method: str) -> str:
    service = client.meta.service_model.service_name
    return f"{service}:{client.meta.method_to_api_mapping.get(method, method)}"


class _AccountPace:
    """One account's retry state: a quota of retries, and a pause after AWS throttled it."""

    def __init__(self) -> None:
        self.quota = RETRY_QUOTA[0]
        self.resume_at = 0.0


class _Retries:
    """botocore `needs-retry` and `before-send` handlers that keep their state per account.

    Retried: throttling and conflicts (AWS refused the request and did nothing) and service
    faults and lost connections (except for `NOT_IDEMPOTENT` operations), with full-jitter
    exponential backoff, at most `MAX_ATTEMPTS` tries. Each account and service has its own
    retry quota, and when AWS throttles one, its next requests wait out the same pause: a
    throttled account slows only itself, never the others sharing the client.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], _AccountPace] = {}
        self._jitter = random.Random()  # noqa: S311  (spreads retries; nothing secret)

    def needs_retry(
        self,
        response: Any,
        operation: Any,
        attempts: int,
        caught_exception: Any,
        event_name: str = "",
        **_: Any,
    ) -> float | None:
        kind = _failure_kind(response, caught_exception)
        with self._lock:
            pace = self._pace_of(event_name)
            if kind is None:
                pace.quota = min(RETRY_QUOTA[0], pace.quota + 1)
                return None
            if kind == "fault" and operation.name in NOT_IDEMPOTENT:
                return None
            cost = CONFLICT_COST if kind == "conflict" else RETRY_QUOTA[1]
            if attempts >= MAX_ATTEMPTS or pace.quota < cost:
                return None
            pace.quota -= cost
            delay = self._jitter.uniform(0, min(BACKOFF[1], BACKOFF[0] * 2**attempts))
            if kind == "throttled":
                pace.resume_at = max(pace.resume_at, time.monotonic() + delay)
            return delay

    def pace(self, event_name: str = "", **_: Any) -> None:
        """Before a request is sent: wait while its account is paused after throttling."""
        with self._lock:
            wait = self._pace_of(event_name).resume_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _pace_of(self, event_name: str) -> _AccountPace:
        """The state of the bound account and the event's service (AWS's limits are per
        account and service: Organizations throttling never pauses IAM calls)."""
        parts = event_name.split(".")
        service = parts[1] if len(parts) > 1 else ""
        return self._accounts.setdefault((_bound_account(), service), _AccountPace())


def _bound_account() -> str:
    """The member account the calling thread acts in; "" for the management account."""
    current = _ACTING_AS.get()
    return current.account_id if current is not None else ""


def _failure_kind(response: Any, caught_exception: Any) -> str | None:
    """None for an answer that needs no retry; else throttled, conflict or fault."""
    if caught_exception is not None:
        return "fault"  # no answer: connection lost, timed out
    status = response[0].status_code
    code = str((response[1] or {}).get("Error", {}).get("Code", ""))
    kind = error_class(code)
    if issubclass(kind, ConflictError):
        return "conflict"
    if status == 429 or (status < 500 and issubclass(kind, TransientAwsError)):
        return "throttled"
    if status >= 500:
        return "fault"
    return None
