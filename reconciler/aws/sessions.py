"""The one way into accounts: botocore clients for the management account and, through the
bootstrap role, for every member account; and the translation of botocore's errors.

Clients are typed by the boto3 stub packages (a development dependency, imported for type
checking only), so a misspelt operation or argument is a type error. Every request is made
through an `AccountClient`, which binds it to its account and turns what botocore raises into
the classes of errors.py.

Credentials come from the standard chain; `endpoint_url` (or `AWS_ENDPOINT_URL`) points
every client at any AWS-compatible endpoint. Assumed-role credentials are cached per account
and refreshed before they expire. Nothing else in the project builds a client for the
organization's accounts.

Clients are made from botocore sessions, as boto3 makes them: boto3's own `Session` adds only
resources and S3 transfers, and importing it imports those (s3transfer, multiprocessing), some
3 MB and 50 ms of every start that nothing here uses.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import platform
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypedDict, TypeVar, cast

import botocore.client
import botocore.config
import botocore.credentials
import botocore.exceptions
import botocore.handlers
import botocore.loaders
import botocore.session
import botocore.utils

from reconciler import __version__
from reconciler.core import policies
from reconciler.core.errors import (
    AccessError,
    AwsError,
    AwsRequestError,
    ConflictError,
    TransientAwsError,
    error_class,
)

if TYPE_CHECKING:  # the stubs are a development dependency only
    from botocore.awsrequest import AWSResponse
    from botocore.model import OperationModel
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_organizations.client import OrganizationsClient
    from mypy_boto3_sts.client import STSClient

# Refresh assumed credentials this long before they expire, so no call starts with credentials
# that could lapse mid-pass (AssumeRole issues them for one hour by default).
REFRESH_MARGIN = datetime.timedelta(minutes=15)
# Each Sessions opens its role sessions under "reconciler-" and a random suffix: the daemon
# knows the AWS change events of its own corrections by that name, and a person who names a
# session "reconciler" by hand does not pass for it.
SESSION_NAME = "reconciler"
# Plan mode's session policy for member accounts: exactly the reads plan makes there (roles, and
# the source account's users, groups and the managed policies they hold; see read.py). AWS
# grants a session the intersection of the role's policies and this one, so the
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
            },
            {
                "Sid": "PlanReadsManagedPolicies",
                "Effect": "Allow",
                "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"],
                "Resource": "arn:*:iam::*:policy/*",
            },
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
# Every request names reconciler and its version, so that CloudTrail's userAgent field tells
# its calls from people's and other tools'. A fixed string also spares botocore rebuilding
# its own for each request: some 4% of a steady pass's CPU.
USER_AGENT = (
    f"reconciler/{__version__} botocore/{botocore.__version__} Python/{platform.python_version()}"
)
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
_BOTOCORE_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)

_Client = TypeVar("_Client", bound=botocore.client.BaseClient)
_Answer = TypeVar("_Answer")
_Page = TypeVar("_Page", bound=Mapping[str, object])
_More = TypeVar("_More", bound=Mapping[str, object])
_Service = Literal["iam", "organizations", "sts"]


@dataclass(frozen=True)
class _Credentials:
    account_id: str
    keys: botocore.credentials.ReadOnlyCredentials
    expires: datetime.datetime

    def __repr__(self) -> str:  # never let a secret reach a log line or a traceback
        return f"_Credentials({self.account_id}, expires={self.expires.isoformat()})"


# The member account a call in this thread acts in, bound by `AccountClient` for the duration
# of one request (contextvars are per thread under ThreadPoolExecutor).
_ACTING_AS: contextvars.ContextVar[_Credentials | None] = contextvars.ContextVar(
    "acting_as", default=None
)
# The request an `AccountClient` is making in this thread, as `service:Operation`, named by
# botocore's `before-parameter-build` event (see `_note_request`) so that every error it
# raises, not only AWS's answers, says which request failed.
_REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="")


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
            raise AccessError("a member-account client was used outside AccountClient")
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
class AccountClient(Generic[_Client]):
    """A typed service client and the account it acts in (`credentials` None: the management
    account's own credentials). Requests go through it, so that each is made in that account
    and raises the project's errors: `iam(lambda c: c.attach_role_policy(...))` for one,
    `iam_pages` and `organizations_pages` for every page of a listing."""

    raw: _Client
    credentials: _Credentials | None = None

    def __call__(self, request: Callable[[_Client], _Answer]) -> _Answer:
        """`request(client)`, acting in this account; botocore's errors become ours, named
        after the request that failed (`service:Operation`, see `_note_request`)."""
        token = _REQUEST.set(self.raw.meta.service_model.service_name)
        try:
            with self.bound():
                return request(self.raw)
        except _BOTOCORE_ERRORS as exc:
            raise _ours(_REQUEST.get(), exc) from exc
        finally:
            _REQUEST.reset(token)

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


class IamMore(TypedDict, total=False):
    """Where the next page of an IAM listing starts."""

    Marker: str


class OrganizationsMore(TypedDict, total=False):
    """Where the next page of an Organizations listing starts."""

    NextToken: str


def iam_pages(
    iam: AccountClient[IAMClient], fetch: Callable[[IAMClient, IamMore], _Page]
) -> Iterator[_Page]:
    """Every page of an IAM listing: `fetch(client, more)` asks for the page `more` points
    at (`lambda c, more: c.list_roles(**more)`); IAM says `IsTruncated` while more follow."""

    def following(page: _Page) -> IamMore | None:
        marker = page.get("Marker")
        return {"Marker": marker} if page.get("IsTruncated") and isinstance(marker, str) else None

    return _each_page(iam, fetch, IamMore(), following)


def organizations_pages(
    organizations: AccountClient[OrganizationsClient],
    fetch: Callable[[OrganizationsClient, OrganizationsMore], _Page],
) -> Iterator[_Page]:
    """Every page of an Organizations listing, as `iam_pages`; a `NextToken` means more."""

    def following(page: _Page) -> OrganizationsMore | None:
        token = page.get("NextToken")
        return {"NextToken": token} if isinstance(token, str) and token else None

    return _each_page(organizations, fetch, OrganizationsMore(), following)


def _each_page(
    client: AccountClient[_Client],
    fetch: Callable[[_Client, _More], _Page],
    more: _More,
    following: Callable[[_Page], _More | None],
) -> Iterator[_Page]:
    while True:
        # Acting per fetch, not across the yield: the consumer may act in other accounts.
        page = client(lambda raw: fetch(raw, more))  # noqa: B023  (called before `more` changes)
        yield page
        after = following(page)
        if after is None:
            return
        more = after


@dataclass(frozen=True)
class Identity:
    """The account and ARN of the daemon's own credentials, and so the partition it works in."""

    account_id: str
    arn: str

    @property
    def partition(self) -> str:
        return policies.partition_of(self.arn)


class _SessionPolicy(TypedDict, total=False):
    Policy: str


def new_session_name() -> str:
    """A role session name of its own: "reconciler-" and 12 random hex digits."""
    return f"{SESSION_NAME}-{secrets.token_hex(6)}"


class Sessions:
    """Hands out typed clients: `organizations()` and `sts()` for the management account,
    `iam(account_id)` for a member account through the bootstrap role (or, without one, the
    management account)."""

    def __init__(
        self,
        *,
        management_account_id: str,
        bootstrap_role: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_pool: int = 20,
        read_only: bool = False,
        session_name: str | None = None,
    ) -> None:
        with translated("AWS configuration"):  # an AWS_PROFILE that does not exist fails here
            management = _parsing_lightly(model_sharing_session())
            # Asked for by name: the region and the loader may come from the environment or
            # from an earlier session without the profile being read.
            management.get_scoped_config()
            configured_region = management.get_config_variable("region")
        self._session = management
        self._region = region or configured_region or "us-east-1"
        # Member accounts share one client per service, signing with the bound account's keys.
        # Adaptive retry's client-side rate limit is therefore shared by them too.
        members = _parsing_lightly(model_sharing_session())
        members.register_component(
            "credential_provider", botocore.credentials.CredentialResolver([_ActingAsProvider()])
        )
        self._members = members
        self._endpoint_url = endpoint_url
        self.management_account_id = management_account_id
        self.bootstrap_role = bootstrap_role
        # In plan mode, member-account sessions are limited to reading: the bootstrap role is
        # an administrator, and a session policy caps what its credentials may do.
        self._read_only = read_only
        self.session_name = session_name or new_session_name()
        self._config = botocore.config.Config(
            retries=BOTOCORE_RETRIES,  # type: ignore[arg-type]
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max_pool,
            user_agent=USER_AGENT,
        )
        self._lock = threading.RLock()
        self._credentials: dict[str, _Credentials] = {}
        self._clients: dict[tuple[str, bool], botocore.client.BaseClient] = {}
        self._identity: Identity | None = None
        retries = _Retries()
        # botocore's stubs declare handlers as returning None; needs-retry's return the delay.
        needs_retry = cast(Callable[..., None], retries.needs_retry)
        for session in (self._session, self._members):
            session.register("needs-retry", needs_retry)
            session.register("before-send", retries.pace)
            session.register("before-parameter-build", cast(Callable[..., None], _note_request))

    def identity(self) -> Identity:
        """Whose credentials these are (GetCallerIdentity), asked once."""
        with self._lock:
            known = self._identity
        if known is None:
            answer = self.sts()(lambda sts: sts.get_caller_identity())
            known = Identity(str(answer["Account"]), str(answer["Arn"]))
            with self._lock:
                self._identity = known
        return known

    def on_event(self, event: str, handler: Callable[..., None]) -> None:
        """Register a botocore event handler on every client made from now on."""
        self._session.register(event, handler)
        self._members.register(event, handler)

    def iam(self, account_id: str | None = None) -> AccountClient[IAMClient]:
        """IAM acting in `account_id` (default: the management account's credentials)."""
        if account_id is None or account_id == self.management_account_id:
            return AccountClient(cast("IAMClient", self._shared("iam", member=False)))
        member = cast("IAMClient", self._shared("iam", member=True))
        return AccountClient(member, self._assumed(account_id))

    def organizations(self) -> AccountClient[OrganizationsClient]:
        """Organizations, in the management account."""
        return AccountClient(cast("OrganizationsClient", self._shared("organizations")))

    def sts(self) -> AccountClient[STSClient]:
        """STS, with the management account's credentials."""
        return AccountClient(cast("STSClient", self._shared("sts")))

    def _shared(self, service: _Service, *, member: bool = False) -> botocore.client.BaseClient:
        key = (service, member)
        # A client once made is only read: finding it takes no lock, so the first tree listing
        # does not wait while another thread builds IAM's client (some 30 ms at start-up).
        made = self._clients.get(key)
        if made is not None:
            return made
        with self._lock:  # creating clients from one session is not thread-safe in botocore
            if key not in self._clients:
                session = self._members if member else self._session
                self._clients[key] = session.create_client(
                    service,
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
        role = policies.role_arn(account_id, self.bootstrap_role, self.identity().partition)
        policy = self._session_policy()
        answer = self.sts()(
            lambda sts: sts.assume_role(RoleArn=role, RoleSessionName=self.session_name, **policy)
        )
        raw = answer["Credentials"]
        keys = botocore.credentials.ReadOnlyCredentials(
            raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"]
        )
        fresh = _Credentials(account_id, keys, raw["Expiration"])
        with self._lock:
            self._credentials[account_id] = fresh
        return fresh

    def _session_policy(self) -> _SessionPolicy:
        """AssumeRole's session-policy argument: the read-only policy in plan mode, else none."""
        return {"Policy": READ_ONLY_SESSION_POLICY} if self._read_only else {}

    def forget(self, account_id: str) -> None:
        """Drop cached credentials, e.g. after AWS rejected them."""
        with self._lock:
            self._credentials.pop(account_id, None)


class _ModelFiles:
    """The process's one botocore loader, taken from the first session that asks for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loader: botocore.loaders.Loader | None = None

    def shared_with(self, session: botocore.session.Session) -> botocore.session.Session:
        with self._lock:
            if self._loader is None:
                self._loader = session.get_component("data_loader")
            session.register_component("data_loader", self._loader)
        return session


_MODEL_FILES = _ModelFiles()


def model_sharing_session() -> botocore.session.Session:
    """A new botocore session configured from the environment, reading AWS's model files
    through the process's one loader. A loader keeps every file it has parsed
    (endpoints, partitions, each service's model: IAM's is some 12 MB once parsed), so every
    session with a loader of its own held another copy: the events queue's, and each further
    `Sessions` (`import` makes two; the daemon makes one more when the document's management
    account, bootstrap role or endpoint changes). The files are read-only once loaded."""
    return _MODEL_FILES.shared_with(botocore.session.get_session())


def _parsing_lightly(session: botocore.session.Session) -> botocore.session.Session:
    """`session`, its clients parsing timestamps with `_timestamp` and leaving IAM's policy
    documents as the URL-encoded text IAM sends: botocore would decode every one in every
    answer, and the readers read them once themselves (`policies.parse` takes that text)."""
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=_timestamp)
    decode = cast(Callable[..., None], botocore.handlers.json_decode_policies)
    session.unregister("after-call.iam", decode)
    return session


def _timestamp(value: str) -> datetime.datetime:
    """botocore's timestamp parser with AWS's usual form made cheap: an ISO 8601 time with
    its zone, which `datetime.fromisoformat` reads some hundred times faster than botocore's
    dateutil-based parser. A steady pass parses several per account (ListRoles answers a
    creation date per role), and they were the largest share of its CPU after the HTTP work.
    Any other form (epoch seconds, RFC 822, no zone) is left to botocore, as before."""
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    parsed_by_botocore: datetime.datetime = botocore.utils.parse_timestamp(value)
    return parsed_by_botocore


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@contextlib.contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn botocore's exceptions into the project's own (errors.py), keeping the cause."""
    try:
        yield
    except _BOTOCORE_ERRORS as exc:
        raise _ours(operation, exc) from exc


def _ours(operation: str, exc: Exception) -> AwsError:
    """The project's error for what botocore raised during `operation`."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = f"{operation}: {code}: {error.get('Message', '')}".rstrip(": ")
        return error_class(code)(message, operation=operation, code=code)
    if isinstance(
        exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return AccessError(f"{operation}: no AWS credentials found", operation=operation)
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AccessError(f"{operation}: {exc}", operation=operation)
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return TransientAwsError(f"{operation}: {type(exc).__name__}", operation=operation)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return AwsRequestError(f"{operation}: {exc}", operation=operation)
    # Whatever else botocore raises is ours too.
    return AwsError(f"{operation}: {type(exc).__name__}: {exc}", operation=operation)


def _note_request(model: OperationModel, **_: object) -> None:
    """botocore's `before-parameter-build` handler: name the request this thread is making
    (before botocore validates its parameters, the first thing that may fail)."""
    _REQUEST.set(f"{model.service_model.service_name}:{model.name}")


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
        response: tuple[AWSResponse, Mapping[str, object]] | None,
        operation: OperationModel,
        attempts: int,
        caught_exception: Exception | None,
        event_name: str = "",
        **_: object,
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

    def pace(self, event_name: str = "", **_: object) -> None:
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


def _failure_kind(
    response: tuple[AWSResponse, Mapping[str, object]] | None, caught_exception: Exception | None
) -> str | None:
    """None for an answer that needs no retry; else throttled, conflict or fault."""
    if caught_exception is not None or response is None:
        return "fault"  # no answer: connection lost, timed out
    status = response[0].status_code
    error = (response[1] or {}).get("Error")
    code = str(error.get("Code", "")) if isinstance(error, Mapping) else ""
    kind = error_class(code)
    if issubclass(kind, ConflictError):
        return "conflict"
    if status == 429 or (status < 500 and issubclass(kind, TransientAwsError)):
        return "throttled"
    if status >= 500:
        return "fault"
    return None
