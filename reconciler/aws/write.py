"""Apply a Plan: execute its changes in dependency order and record an Outcome for each.

Order: units; then, in parallel, one lane per account (create, move and tag, roles) and one
lane for the source account's groups and memberships, so that revoking access never waits
behind an account creation that can take half an hour; grants on accounts created in this pass
are completed once those lanes end; then deletions. At most 5 account creations are in flight,
counting requests other tools started (AWS's limit per organization). A change that fails is
recorded and the rest go on; only the later changes of the same account that need what failed
are skipped.

AWS's habits handled here: a role or group just created may answer NoSuchEntity for a few
seconds (calls on it are retried for `Timings.settle`); a new account's bootstrap role may not
be assumable for minutes (waited on for `Timings.access`, then left to the next pass without
calling the creation failed); each CreateAccount request is recorded on the organization's
root with the fingerprint of the declaration it was sent for (removed once it succeeds), so a
FAILED one is not sent again pass after pass.
Conflicts and throttling are retried in the session layer.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.aws.sessions import AccountClient, Sessions, iam_pages, organizations_pages
from reconciler.core import plan, policies, state
from reconciler.core.errors import (
    AccessError,
    AlreadyExistsError,
    AwsError,
    AwsRequestError,
    NotAttemptedError,
    NotFoundError,
    ReconcilerError,
    UnexpectedError,
)

if TYPE_CHECKING:  # the stubs are a development dependency only
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_iam.type_defs import TagTypeDef
    from mypy_boto3_organizations.client import OrganizationsClient
    from mypy_boto3_organizations.type_defs import CreateAccountStatusTypeDef
    from mypy_boto3_organizations.type_defs import TagTypeDef as OrganizationsTag

    _Iam = AccountClient[IAMClient]
    _Organizations = AccountClient[OrganizationsClient]

log = logging.getLogger(__name__)

MAX_CREATIONS_IN_FLIGHT = 5  # Organizations: concurrent CreateAccount requests per organization
_PLACEHOLDER = re.compile(r"arn:([a-z][a-z-]*):iam::<([^>]+)>:")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Timings:
    """How long to wait on AWS, in seconds. The defaults suit AWS; tests shorten them."""

    creation: float = 30 * 60  # a CreateAccount request; AWS usually needs a few minutes
    poll: tuple[float, float] = (1.0, 15.0)  # first and longest wait between status polls
    access: float = 300  # a new account's bootstrap role becoming assumable
    access_waits: tuple[float, float] = (1.0, 15.0)  # first and longest wait between tries
    settle: float = 30  # a just-created role or group becoming visible to IAM's other calls


@dataclass
class Context:
    """What appliers share: clients, and ids learnt while applying (new units and accounts)."""

    sessions: Sessions
    root_id: str
    source_account_id: str
    unit_ids: dict[state.UnitPath, str]
    account_ids: dict[str, str]
    instance: str = state.DEFAULT_INSTANCE
    foreign_creations: int = 0  # requests in flight that other tools started
    timings: Timings = field(default_factory=Timings)
    # New CreateAccount requests AWS's limit leaves room for, and their slots: see `execute`.
    creation_slots: int = field(default=0, init=False)
    resumed_slots: int = field(default=0, init=False)
    creations: threading.Semaphore = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set on shutdown: changes not yet started are skipped, so a pass ends at a safe point.
    stop: threading.Event = field(default_factory=threading.Event)
    # Accounts whose creation this pass is still working on; grants on them come last.
    creating: set[str] = field(default_factory=set)
    # Roles and groups this pass created, or that were created moments before it read them,
    # as (account id, lowercased name): IAM may not show them to every call yet.
    created: set[tuple[str, str]] = field(default_factory=set)
    # Told (changes done, changes in the plan) as each change comes to its final outcome.
    progress: plan.Progress | None = None
    planned: int = field(default=0, init=False)
    finished: int = field(default=0, init=False)

    def count(self, outcome: plan.Outcome) -> plan.Outcome:
        """Counts a change whose outcome is final (a deferred one comes back later)."""
        if self.progress is not None and not outcome.deferred:
            with self.lock:
                self.finished += 1
                finished = self.finished
            self.progress(finished, self.planned)
        return outcome

    def limit_creations(self, resumed: int) -> None:
        """Our requests may use what AWS's limit leaves after other tools' in flight. The
        `resumed` ones an earlier pass left in flight hold their slots from the start, each
        until its wait ends, so that new requests wait for them instead of being refused."""
        self.creation_slots = max(0, MAX_CREATIONS_IN_FLIGHT - self.foreign_creations)
        self.creations = threading.Semaphore(self.creation_slots)
        self.resumed_slots = min(resumed, self.creation_slots)
        for _ in range(self.resumed_slots):
            self.creations.acquire()

    def release_resumed_slot(self) -> None:
        with self.lock:
            if self.resumed_slots == 0:  # more resumed than slots: it never held one
                return
            self.resumed_slots -= 1
        self.creations.release()

    @property
    def marker_tags(self) -> list[TagTypeDef]:
        return [{"Key": state.MARKER_KEY, "Value": self.instance}]

    def pause(self, seconds: float, resumes: str) -> None:
        """Wait on AWS, unless shutting down: then end this change now, saying what resumes."""
        if self.stop.wait(seconds):
            raise _NotNowError(f"not finished: shutting down; {resumes}")

    def unit_id(self, path: state.UnitPath) -> str:
        if not path:
            return self.root_id
        with self.lock:
            if path not in self.unit_ids:
                raise AwsRequestError(f"unit {'/'.join(path)} does not exist")
            return self.unit_ids[path]

    def account_id(self, name: str, known: str | None) -> str:
        if known:
            return known
        with self.lock:
            if name not in self.account_ids:
                raise AwsRequestError(f"account {name} has no id: it was not created")
            return self.account_ids[name]

    def created_in(self, client: _Iam, name: str) -> None:
        with self.lock:
            self.created.add((_account_of(client, self), name.lower()))

    def is_new(self, client: _Iam, name: str) -> bool:
        with self.lock:
            return (_account_of(client, self), name.lower()) in self.created

    def settled(self, attempt: Callable[[], _T]) -> _T:
        """`attempt()`, retried while AWS answers NoSuchEntity, for at most `timings.settle`
        seconds: IAM is eventually consistent, and an entity created moments ago may not be
        visible to the next call yet. The last answer's message is kept."""
        return self.retrying(
            attempt, NotFoundError, self.timings.settle, (0.1, 2.0), "the next pass finishes it"
        )

    def retrying(
        self,
        attempt: Callable[[], _T],
        error: type[Exception],
        seconds: float,
        delays: tuple[float, float],
        resumes: str,
    ) -> _T:
        """`attempt()`, tried again while it raises `error`, waiting from `delays[0]` seconds,
        doubled up to `delays[1]`, for at most `seconds` in all; then the last error is raised.
        A shutdown ends the wait (see `pause`)."""
        deadline = time.monotonic() + seconds
        delay = delays[0]
        while True:
            try:
                return attempt()
            except error:
                if time.monotonic() + delay > deadline:
                    raise
                self.pause(delay, resumes)
                delay = min(delay * 2, delays[1])


def _account_of(client: _Iam, context: Context) -> str:
    credentials = client.credentials
    return credentials.account_id if credentials else context.sessions.management_account_id


def _settled(
    context: Context,
    iam: _Iam,
    request: Callable[[IAMClient], object],
    *,
    policy_on: str | None = None,
    wait: bool = True,
) -> None:
    """An IAM request naming a role or group that exists (the read saw it, or this pass created
    it, or another process did a moment ago): IAM may not show it to this request yet
    (eventual consistency), so NoSuchEntity is retried a while. Not when the request attaches
    or detaches a managed policy on the role or group `policy_on`, unless that one is new (this
    pass made it, or it was made moments before the pass read it): otherwise NoSuchEntity most
    likely means the policy is missing, which waiting does not mend; nor when `wait` is false."""
    attempt = functools.partial(iam, request)
    lagging = policy_on is None or context.is_new(iam, policy_on)
    if wait and lagging:
        context.settled(attempt)
    else:
        attempt()


def execute(p: plan.Plan, context: Context, concurrency: int = 16) -> list[plan.Outcome]:
    """Apply every change of the plan; return one Outcome per change, in plan order."""
    by_stage: dict[str, list[plan.Change]] = {"units": [], "lanes": [], "source": [], "prune": []}
    for change in p.changes:
        by_stage[_phase(change)].append(change)
    creations = [c for c in by_stage["lanes"] if isinstance(c, plan.CreateAccount)]
    context.creating.update(c.name for c in creations)
    # Requests an earlier pass left in flight are polled, not sent again, but AWS counts them.
    context.limit_creations(resumed=sum(1 for c in creations if c.request_id))
    context.planned = len(p.changes)
    outcomes = _sequential(by_stage["units"], context)
    outcomes += _lanes(by_stage["lanes"], by_stage["source"], context, concurrency)
    outcomes += _sequential(by_stage["prune"], context)
    order = {id(c): i for i, c in enumerate(p.changes)}
    return sorted(outcomes, key=lambda o: order[id(o.change)])


def _phase(change: plan.Change) -> str:
    if change.stage == plan.Stage.UNITS:
        return "units"
    if change.stage in (plan.Stage.GROUPS, plan.Stage.MEMBERSHIPS):
        return "source"
    if change.stage == plan.Stage.PRUNE:
        return "prune"
    return "lanes"


def _sequential(changes: Iterable[plan.Change], context: Context) -> list[plan.Outcome]:
    return [_apply_one(change, context) for change in changes]


def _lanes(
    changes: list[plan.Change], source: list[plan.Change], context: Context, concurrency: int
) -> list[plan.Outcome]:
    """Account lanes and the source account's lane, all at once; then the grants that waited
    on accounts created meanwhile."""
    lanes: dict[str, list[plan.Change]] = {}
    for change in changes:
        lanes.setdefault(change.account or "", []).append(change)
    # Lanes that create an account wait on AWS (and on the 5-creations limit): start the
    # others first, so waiting creations never hold back changes to existing accounts.
    ordered = sorted(lanes.values(), key=lambda lane: isinstance(lane[0], plan.CreateAccount))
    outcomes: list[plan.Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, concurrency + 1)) as pool:
        # Each lane runs in a copy of this context: log lines keep the pass id and revision.
        waiting = pool.submit(contextvars.copy_context().run, _source_lane, source, context)
        futures = [
            pool.submit(contextvars.copy_context().run, _lane, lane, context) for lane in ordered
        ]
        for future in futures:
            outcomes += future.result()
        source_outcomes, deferred = waiting.result()
    with context.lock:
        context.creating.clear()
    return outcomes + source_outcomes + _sequential(deferred, context)


def _lane(changes: list[plan.Change], context: Context) -> list[plan.Outcome]:
    """One account's changes in order; after a creation or access failure the rest is skipped."""
    outcomes: list[plan.Outcome] = []
    blocked: NotAttemptedError | None = None
    for change in changes:
        if blocked:
            outcomes.append(context.count(plan.Outcome(change, plan.Status.SKIPPED, blocked)))
            continue
        outcome = _apply_one(change, context)
        outcomes.append(outcome)
        if outcome.blocks_account:
            blocked = NotAttemptedError(f"not attempted: {outcome.reason}")
    if isinstance(changes[0], plan.CreateAccount):
        with context.lock:  # its grants no longer wait on it, whatever became of it
            context.creating.discard(changes[0].name)
    return outcomes


def _source_lane(
    changes: list[plan.Change], context: Context
) -> tuple[list[plan.Outcome], list[plan.Change]]:
    """The groups and memberships, in order; grant changes that name accounts still being
    created are written without those grants now and returned, to be completed later."""
    outcomes, deferred = [], []
    for change in changes:
        outcome = _apply_one(change, context)
        if outcome.deferred:
            deferred.append(change)
        else:
            outcomes.append(outcome)
    return outcomes, deferred


class _NotNowError(ReconcilerError):
    """A change left at a safe point: the process is stopping, or AWS's limit on creations in
    flight is reached. The next pass resumes it."""


class _NotReadyError(ReconcilerError):
    """The account was created but cannot be worked in yet: its later changes wait."""


class _WaitingForAccountsError(ReconcilerError):
    """Grants written without the accounts still being created in this pass."""


def _apply_one(change: plan.Change, context: Context) -> plan.Outcome:
    return context.count(_attempt(change, context))


def _attempt(change: plan.Change, context: Context) -> plan.Outcome:
    if context.stop.is_set():
        stopping = NotAttemptedError("not attempted: shutting down")
        return plan.Outcome(change, plan.Status.SKIPPED, stopping)
    try:
        _apply(change, context)
    except _NotNowError as exc:
        return plan.Outcome(change, plan.Status.SKIPPED, exc, blocks_account=True)
    except _NotReadyError as exc:
        return plan.Outcome(change, plan.Status.APPLIED, exc, blocks_account=True)
    except _WaitingForAccountsError as exc:
        return plan.Outcome(change, plan.Status.SKIPPED, exc, deferred=True)
    except AccessError as exc:
        return plan.Outcome(change, plan.Status.FAILED, exc, blocks_account=True)
    except ReconcilerError as exc:
        creation = isinstance(change, plan.CreateAccount)
        return plan.Outcome(change, plan.Status.FAILED, exc, blocks_account=creation)
    except Exception as exc:  # an answer we did not expect: fail this one
        log.exception("applying %s failed unexpectedly", change.line())
        unexpected = UnexpectedError(f"unexpected {type(exc).__name__}: {exc}")
        # Whatever became of a creation, its account has no id this pass.
        creation = isinstance(change, plan.CreateAccount)
        return plan.Outcome(change, plan.Status.FAILED, unexpected, blocks_account=creation)
    return plan.Outcome(change, plan.Status.APPLIED)


def _apply(change: plan.Change, context: Context) -> None:
    applier = _APPLIERS.get(type(change))
    if applier is None:
        raise NotImplementedError(f"no applier for {type(change).__name__}")
    applier(change, context)


# --- units -------------------------------------------------------------------------------


def _create_unit(change: plan.CreateUnit, context: Context) -> None:
    org = context.sessions.organizations()
    parent = context.unit_id(change.path[:-1])
    try:
        created = org(
            lambda c: c.create_organizational_unit(
                ParentId=parent, Name=change.path[-1], Tags=context.marker_tags
            )
        )
        unit_id = created["OrganizationalUnit"]["Id"]
    except AlreadyExistsError:
        unit_id = _find_unit(org, parent, change.path[-1])
    with context.lock:
        context.unit_ids[change.path] = unit_id


def _units_in(org: _Organizations, parent: str) -> Iterator[tuple[str, str]]:
    """The (id, name) of every unit under `parent`, each page fetched when it is reached."""
    listing = organizations_pages(
        org, lambda c, more: c.list_organizational_units_for_parent(ParentId=parent, **more)
    )
    return ((u["Id"], u["Name"]) for page in listing for u in page.get("OrganizationalUnits", []))


def _find_unit(org: _Organizations, parent: str, name: str) -> str:
    found = next((id_ for id_, named in _units_in(org, parent) if named == name), None)
    if found is None:  # AWS said it exists but does not list it yet
        raise AwsRequestError(f"unit {name} exists but is not listed yet; the next pass goes on")
    return found


def _delete_unit(change: plan.DeleteUnit, context: Context) -> None:
    org = context.sessions.organizations()
    # AWS refuses to delete a unit that is not empty; check first rather than rely on it.
    accounts = organizations_pages(
        org, lambda c, more: c.list_accounts_for_parent(ParentId=change.unit_id, **more)
    )
    children = [
        *(a["Id"] for page in accounts for a in page.get("Accounts", [])),
        *(id_ for id_, _ in _units_in(org, change.unit_id)),
    ]
    if children:
        raise AwsRequestError(f"unit {change.target} is not empty; left in place")
    org(lambda c: c.delete_organizational_unit(OrganizationalUnitId=change.unit_id))


# --- accounts ------------------------------------------------------------------------------


def _create_account(change: plan.CreateAccount, context: Context) -> None:
    org = context.sessions.organizations()
    if change.request_id:  # in flight already: it holds a slot since the pass began
        request_id = change.request_id
        try:
            status = _wait_for_creation(org, request_id, context)
        finally:
            context.release_resumed_slot()
    else:
        with _creation_slot(context):
            request_id = _request_account(org, change, context)
            status = _wait_for_creation(org, request_id, context)
    if status["State"] != "SUCCEEDED":
        reason = str(status.get("FailureReason", "UNKNOWN"))
        raise AwsRequestError(
            f"account {change.name} ({change.email}) {state.creation_failure(reason, request_id)}",
            operation="organizations:CreateAccount",
            code=reason,
        )
    account_id = status["AccountId"]
    with context.lock:
        context.account_ids[change.name] = account_id
    for done in (request_id, change.earlier_failure):
        _forget_request(org, context, done)
    if change.unit:
        _move(context, account_id, context.root_id, change.unit)
    _wait_for_access(context, change.name, account_id)


@contextlib.contextmanager
def _creation_slot(context: Context) -> Iterator[None]:
    """One of the creations AWS allows in flight, waited for while others finish."""
    if context.creation_slots == 0:
        raise _NotNowError(
            f"not requested: {MAX_CREATIONS_IN_FLIGHT} account creations are already in "
            "progress in the organization (AWS's limit); the next pass requests it"
        )
    while not context.creations.acquire(timeout=1):  # others' creations still in flight
        if context.stop.is_set():
            raise _NotNowError("not requested: shutting down")
    try:
        if context.stop.is_set():  # the slot came with the shutdown: request nothing new
            raise _NotNowError("not requested: shutting down")
        yield
    finally:
        context.creations.release()


def _request_account(org: _Organizations, change: plan.CreateAccount, context: Context) -> str:
    # Never retried after a lost answer (sessions.NOT_IDEMPOTENT): a request that may have
    # gone through is found in flight, by name, on the next pass.
    answer = org(
        lambda c: c.create_account(
            Email=change.email,
            AccountName=change.name,
            RoleName=change.bootstrap_role,
            Tags=[{"Key": k, "Value": v} for k, v in sorted(change.tags.items())],
        )
    )
    request_id = str(answer["CreateAccountStatus"]["Id"])
    _record_request(org, context, request_id, change)
    return request_id


def _wait_for_creation(
    org: _Organizations, request_id: str, context: Context
) -> CreateAccountStatusTypeDef:
    """Poll a CreateAccount request until it ends, backing off; the lane waits, others go on."""
    deadline = time.monotonic() + context.timings.creation
    delay = context.timings.poll[0]
    while True:
        status = org(lambda c: c.describe_create_account_status(CreateAccountRequestId=request_id))[
            "CreateAccountStatus"
        ]
        if status["State"] != "IN_PROGRESS":
            return status
        if time.monotonic() > deadline:
            raise _NotNowError(f"CreateAccount request {request_id} still in progress")
        context.pause(delay, f"CreateAccount request {request_id} resumes next pass")
        delay = min(delay * 2, context.timings.poll[1])


def _record_request(
    org: _Organizations, context: Context, request: str, change: plan.CreateAccount
) -> None:
    """Tag the root with the declaration this request was sent for: should it fail, later
    passes report the failure instead of sending it again, until the document changes the
    account. The record of a request that succeeds is removed."""
    key = state.creation_record_key(context.instance, request)
    try:
        record: OrganizationsTag = {"Key": key, "Value": change.fingerprint}
        org(lambda c: c.tag_resource(ResourceId=context.root_id, Tags=[record]))
    except AwsError as exc:  # the account matters more than its record; say what it costs
        log.warning(
            "could not record the creation request of %s (a failure would be "
            "requested again next pass): %s",
            change.name,
            exc,
        )


def _forget_request(org: _Organizations, context: Context, request: str | None) -> None:
    if not request:
        return
    key = state.creation_record_key(context.instance, request)
    try:
        org(lambda c: c.untag_resource(ResourceId=context.root_id, TagKeys=[key]))
    except AwsError as exc:  # a stale record of a finished request misleads nobody
        log.warning("could not remove the record of creation request %s: %s", request, exc)


def _wait_for_access(context: Context, name: str, account_id: str) -> None:
    """A new account's bootstrap role can take minutes to become assumable. Past the wait,
    the account is created all the same: its roles are made by a later pass."""
    assume = functools.partial(context.sessions.iam, account_id)
    resumes = "its roles are made next pass"
    try:
        context.retrying(
            assume, AccessError, context.timings.access, context.timings.access_waits, resumes
        )
    except AccessError as exc:
        raise _NotReadyError(
            f"account {name} created as {account_id}; its bootstrap role is not "
            f"assumable yet ({exc}): its roles are made by a later pass"
        ) from exc


def _move_account(change: plan.MoveAccount, context: Context) -> None:
    _move(context, change.account_id, context.unit_id(change.source), change.destination)


def _move(context: Context, account_id: str, source: str, destination: state.UnitPath) -> None:
    destination_id = context.unit_id(destination)
    # DuplicateAccountException: it is there already (a retried move whose answer was lost).
    with contextlib.suppress(AlreadyExistsError):
        context.sessions.organizations()(
            lambda c: c.move_account(
                AccountId=account_id,
                SourceParentId=source,
                DestinationParentId=destination_id,
            )
        )


def _update_account_tags(change: plan.UpdateAccountTags, context: Context) -> None:
    org = context.sessions.organizations()
    changed = {k: v for k, v in change.after.items() if change.before.get(k) != v}
    removed = sorted(set(change.before) - set(change.after))
    if changed:
        tags: list[OrganizationsTag] = [{"Key": k, "Value": v} for k, v in sorted(changed.items())]
        org(lambda c: c.tag_resource(ResourceId=change.account_id, Tags=tags))
    if removed:
        org(lambda c: c.untag_resource(ResourceId=change.account_id, TagKeys=removed))


# --- roles ---------------------------------------------------------------------------------


def _iam(change: plan.RoleChange, context: Context) -> _Iam:
    return context.sessions.iam(context.account_id(change.account_name, change.account_id))


def _create_role(change: plan.CreateRole, context: Context) -> None:
    iam = _iam(change, context)
    role = change.definition
    try:
        iam(
            lambda c: c.create_role(
                RoleName=role.name,
                AssumeRolePolicyDocument=role.trust_policy,
                MaxSessionDuration=role.max_session_duration,
                Description="Access for people; managed by reconciler",
                Tags=context.marker_tags,
            )
        )
    except AlreadyExistsError:
        # Created by an earlier pass that was interrupted, or by this request whose answer was
        # lost and retried: finish the job instead.
        _set_role(iam, role, context)
    context.created_in(iam, role.name)
    for arn in sorted(role.policies):
        _attach(context, iam, role.name, arn)
    for name, document in sorted(role.inline_policies.items()):
        _put_inline(context, iam, role.name, name, document)


def _set_role(iam: _Iam, role: state.Role, context: Context) -> None:
    context.created_in(iam, role.name)  # it may have been created a moment ago
    _update_trust(context, iam, role.name, role.trust_policy)
    _update_session(context, iam, role.name, role.max_session_duration)
    _mark(context, iam, role.name)


def _update_trust(context: Context, iam: _Iam, role: str, document: str) -> None:
    _settled(
        context,
        iam,
        lambda c: c.update_assume_role_policy(RoleName=role, PolicyDocument=document),
    )


def _update_session(context: Context, iam: _Iam, role: str, seconds: int) -> None:
    _settled(
        context,
        iam,
        lambda c: c.update_role(RoleName=role, MaxSessionDuration=seconds),
    )


def _mark(context: Context, iam: _Iam, role: str) -> None:
    tags = context.marker_tags
    _settled(context, iam, lambda c: c.tag_role(RoleName=role, Tags=tags))


def _attach(context: Context, iam: _Iam, role: str, arn: str) -> None:
    _settled(
        context,
        iam,
        lambda c: c.attach_role_policy(RoleName=role, PolicyArn=arn),
        policy_on=role,
    )


def _put_inline(context: Context, iam: _Iam, role: str, name: str, document: str) -> None:
    _settled(
        context,
        iam,
        lambda c: c.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document),
    )


def _update_role_trust(change: plan.UpdateRoleTrust, context: Context) -> None:
    _update_trust(context, _iam(change, context), change.role, change.after)


def _attach_role_policy(change: plan.AttachRolePolicy, context: Context) -> None:
    _attach(context, _iam(change, context), change.role, change.policy_arn)


def _detach_role_policy(change: plan.DetachRolePolicy, context: Context) -> None:
    role, arn = change.role, change.policy_arn
    # NoSuchEntity once settled: detached already (or the role is gone), so what was to revoke
    # is revoked, as for a group.
    with contextlib.suppress(NotFoundError):
        _settled(
            context,
            _iam(change, context),
            lambda c: c.detach_role_policy(RoleName=role, PolicyArn=arn),
            policy_on=role,
        )


def _put_role_inline_policy(change: plan.PutRoleInlinePolicy, context: Context) -> None:
    _put_inline(context, _iam(change, context), change.role, change.policy_name, change.after)


def _delete_role_inline_policy(change: plan.DeleteRoleInlinePolicy, context: Context) -> None:
    role, name = change.role, change.policy_name
    with contextlib.suppress(NotFoundError):  # deleted already: as for a detached policy
        _settled(
            context,
            _iam(change, context),
            lambda c: c.delete_role_policy(RoleName=role, PolicyName=name),
        )


def _update_role_session(change: plan.UpdateRoleSession, context: Context) -> None:
    _update_session(context, _iam(change, context), change.role, change.after)


def _mark_role(change: plan.MarkRole, context: Context) -> None:
    _mark(context, _iam(change, context), change.role)


def _delete_role(change: plan.DeleteRole, context: Context) -> None:
    """IAM deletes only a bare role: out of its instance profiles, without policies."""
    iam = _iam(change, context)
    role = change.role
    profiles = iam_pages(
        iam, lambda c, more: c.list_instance_profiles_for_role(RoleName=role, **more)
    )
    _for_each(
        iam,
        [p["InstanceProfileName"] for page in profiles for p in page.get("InstanceProfiles", [])],
        lambda name, c: c.remove_role_from_instance_profile(
            InstanceProfileName=name, RoleName=role
        ),
    )
    attached = iam_pages(iam, lambda c, more: c.list_attached_role_policies(RoleName=role, **more))
    _for_each(
        iam,
        [p["PolicyArn"] for page in attached for p in page.get("AttachedPolicies", [])],
        lambda arn, c: c.detach_role_policy(RoleName=role, PolicyArn=arn),
    )
    inline = iam_pages(iam, lambda c, more: c.list_role_policies(RoleName=role, **more))
    _for_each(
        iam,
        [name for page in inline for name in page.get("PolicyNames", [])],
        lambda name, c: c.delete_role_policy(RoleName=role, PolicyName=name),
    )
    iam(lambda c: c.delete_role(RoleName=role))


def _for_each(iam: _Iam, items: list[str], request: Callable[[str, IAMClient], object]) -> None:
    """`request(item, client)` for each item in turn, each a request of its own."""
    for item in items:
        iam(functools.partial(request, item))


# --- groups in the source account -------------------------------------------------------------


def _source_iam(context: Context) -> _Iam:
    return context.sessions.iam(context.source_account_id)


def _create_group(change: plan.CreateGroup, context: Context) -> None:
    iam = _source_iam(context)
    group = change.definition
    with contextlib.suppress(AlreadyExistsError):  # made by an earlier, interrupted pass
        iam(lambda c: c.create_group(GroupName=group.name, Path=group.path))
    context.created_in(iam, group.name)
    _put_grants(iam, group.name, group.grant_policy, context)


def _put_group_grants(change: plan.PutGroupGrants, context: Context) -> None:
    _put_grants(_source_iam(context), change.group, change.after, context)


def _delete_group_inline_policy(change: plan.DeleteGroupInlinePolicy, context: Context) -> None:
    group, name = change.group, change.policy_name
    # NoSuchEntity: gone already, so what was to revoke is revoked (not waited on: the policy,
    # not the group, is what is most likely missing).
    with contextlib.suppress(NotFoundError):
        _source_iam(context)(lambda c: c.delete_group_policy(GroupName=group, PolicyName=name))


def _detach_group_policy(change: plan.DetachGroupPolicy, context: Context) -> None:
    group, arn = change.group, change.policy_arn
    with contextlib.suppress(NotFoundError):
        _settled(
            context,
            _source_iam(context),
            lambda c: c.detach_group_policy(GroupName=group, PolicyArn=arn),
            policy_on=group,
        )


def _put_grants(iam: _Iam, group: str, document: str | None, context: Context) -> None:
    """Write the grant policy with every account id resolved. Grants on accounts that do not
    exist (their creation failed) are left out and reported, and the others still land; grants
    on accounts still being created in this pass are added when their creation ends. Whatever
    the document no longer grants is revoked now, even if nothing is left to grant yet."""
    with context.lock:  # ids and creations in progress seen at one moment
        ids, creating = dict(context.account_ids), set(context.creating)
    resolved, missing = _resolve(document, ids) if document is not None else (None, set())
    name = state.GRANT_POLICY_NAME
    if resolved is None:
        # NoSuchEntity: no grant policy (or no group): nothing to revoke, nothing to wait for.
        with contextlib.suppress(NotFoundError):
            iam(lambda c: c.delete_group_policy(GroupName=group, PolicyName=name))
    else:
        granted = resolved
        _settled(
            context,
            iam,
            lambda c: c.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=granted),
        )
    if missing & creating:
        raise _WaitingForAccountsError(f"grants on {', '.join(sorted(missing & creating))} wait")
    if missing:
        raise AwsRequestError(
            f"grants on {', '.join(sorted(missing))} not written: account not created"
        )


def _resolve(document: str, ids: dict[str, str]) -> tuple[str | None, set[str]]:
    parsed = json.loads(document)
    missing: set[str] = set()
    arns: list[str] = []
    for statement in parsed["Statement"]:
        resources = statement["Resource"]
        for arn in [resources] if isinstance(resources, str) else resources:
            match = _PLACEHOLDER.match(arn)
            if match is None:
                arns.append(arn)
                continue
            partition, name = match.groups()
            if name in ids:
                arns.append(_PLACEHOLDER.sub(f"arn:{partition}:iam::{ids[name]}:", arn))
            else:
                missing.add(name)
    if not arns:
        return None, missing
    return policies.compact_json(policies.grant_policy(arns)), missing


def _add_member(change: plan.AddMember, context: Context) -> None:
    iam = _source_iam(context)
    group, user = change.group, change.user
    try:
        # A user the read did not find is not waited for: the plan already said it is missing.
        _settled(
            context,
            iam,
            lambda c: c.add_user_to_group(GroupName=group, UserName=user),
            wait=change.user_exists,
        )
    except NotFoundError as exc:
        raise NotFoundError(
            f"{exc} ({_missing_member_part(iam, change, context)})",
            operation=exc.operation,
            code=exc.code,
        ) from exc


def _missing_member_part(iam: _Iam, change: plan.AddMember, context: Context) -> str:
    """Which of the two AddUserToGroup names is missing, asked of IAM itself."""
    try:
        iam(lambda c: c.get_user(UserName=change.user))
    except NotFoundError:
        return (
            f"user {change.user} does not exist in the source account "
            f"{context.source_account_id}; create the IAM user first"
        )
    return f"the user exists; group {change.group} does not"


def _remove_member(change: plan.RemoveMember, context: Context) -> None:
    group, user = change.group, change.user
    _settled(
        context,
        _source_iam(context),
        lambda c: c.remove_user_from_group(GroupName=group, UserName=user),
    )


def _delete_group(change: plan.DeleteGroup, context: Context) -> None:
    """IAM deletes only an empty group: no members, no policies."""
    iam = _source_iam(context)
    group = change.group
    members = iam_pages(iam, lambda c, more: c.get_group(GroupName=group, **more))
    _for_each(
        iam,
        [user["UserName"] for page in members for user in page.get("Users", [])],
        lambda user, c: c.remove_user_from_group(GroupName=group, UserName=user),
    )
    inline = iam_pages(iam, lambda c, more: c.list_group_policies(GroupName=group, **more))
    _for_each(
        iam,
        [name for page in inline for name in page.get("PolicyNames", [])],
        lambda name, c: c.delete_group_policy(GroupName=group, PolicyName=name),
    )
    attached = iam_pages(
        iam, lambda c, more: c.list_attached_group_policies(GroupName=group, **more)
    )
    _for_each(
        iam,
        [p["PolicyArn"] for page in attached for p in page.get("AttachedPolicies", [])],
        lambda arn, c: c.detach_group_policy(GroupName=group, PolicyArn=arn),
    )
    iam(lambda c: c.delete_group(GroupName=group))


# Each change type's applier. A table rather than registering decorators: the mutation
# tests (make mutate) leave decorated functions alone, and the appliers are what they are for.
_APPLIERS: dict[type[plan.Change], Callable[[Any, Context], None]] = {
    plan.CreateUnit: _create_unit,
    plan.DeleteUnit: _delete_unit,
    plan.CreateAccount: _create_account,
    plan.MoveAccount: _move_account,
    plan.UpdateAccountTags: _update_account_tags,
    plan.CreateRole: _create_role,
    plan.UpdateRoleTrust: _update_role_trust,
    plan.AttachRolePolicy: _attach_role_policy,
    plan.DetachRolePolicy: _detach_role_policy,
    plan.PutRoleInlinePolicy: _put_role_inline_policy,
    plan.DeleteRoleInlinePolicy: _delete_role_inline_policy,
    plan.UpdateRoleSession: _update_role_session,
    plan.MarkRole: _mark_role,
    plan.DeleteRole: _delete_role,
    plan.CreateGroup: _create_group,
    plan.PutGroupGrants: _put_group_grants,
    plan.DeleteGroupInlinePolicy: _delete_group_inline_policy,
    plan.DetachGroupPolicy: _detach_group_policy,
    plan.AddMember: _add_member,
    plan.RemoveMember: _remove_member,
    plan.DeleteGroup: _delete_group,
}
