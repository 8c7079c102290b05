"""Live readers: the organization, the roles in each declared account, the source account's
groups and users, returned as one `state.OrgState`.

Reads only; never changes anything. The OU tree's listings and the accounts are read in
parallel with bounded concurrency, each account as soon as the tree names it, and one
account's failure is recorded in `OrgState.unreachable` while the rest go on. Calls per
account are kept to what the data needs: the account's tags (ListTagsForResource), its
roles' session settings (ListRoles) and its roles' trust, policies and tags
(GetAccountAuthorizationDetails).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from reconciler.aws.sessions import AccountClient, Sessions, iam_pages, organizations_pages
from reconciler.core import plan, policies, spec, state
from reconciler.core.errors import AccessError, AwsError

if TYPE_CHECKING:  # the stubs are a development dependency only
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_iam.type_defs import (
        GroupDetailTypeDef,
        ManagedPolicyDetailTypeDef,
        RoleDetailTypeDef,
        UserDetailTypeDef,
    )
    from mypy_boto3_organizations.client import OrganizationsClient
    from mypy_boto3_organizations.type_defs import (
        AccountTypeDef,
        CreateAccountStatusTypeDef,
        OrganizationalUnitTypeDef,
        TagTypeDef,
    )

    _Organizations = AccountClient[OrganizationsClient]

log = logging.getLogger(__name__)
RECENT = 3600  # seconds since an account joined during which its bootstrap role may lag
NEW_ACCOUNT_ACCESS_WAITS = (1.0, 2.0, 4.0)  # seconds between AssumeRole tries, for those
DEFAULT_SESSION = 3600  # seconds: a role's maximum session duration unless set
TREE_WORKERS = 4  # listings of the OU tree in flight at once
_Value = TypeVar("_Value")
_Params = ParamSpec("_Params")


@dataclass(frozen=True)
class _Org:
    management_account_id: str
    caller_account_id: str
    root_id: str
    units: dict[state.UnitPath, state.Unit]
    accounts: list[state.Account]
    failed: dict[str, state.FailedCreation]


def read_live(
    document: spec.Spec,
    sessions: Sessions,
    concurrency: int = 16,
    instance: str = state.DEFAULT_INSTANCE,
    progress: plan.Progress | None = None,
) -> state.OrgState:
    """The live state of everything the document could manage; `progress` is told how many
    of the declared accounts have been read.

    No stage waits on more than it needs: an account's reads start as soon as its unit's
    listing names it, while the rest of the tree is walked; its tags and its credentials are
    asked for together, then its two role listings; the source account is read alongside.
    """
    with _Readers(document, sessions, concurrency, instance) as readers:
        source = readers.in_management(
            lambda: read_source_or_why(sessions, document.source_account_id)
        )
        org = read_organization(
            sessions,
            set(spec.unit_paths(document.organization.units)),
            concurrency,
            instance,
            listed=readers.start,
        )
        matched = {
            live.id: document.account(name)
            for name, live in state.match_accounts(document, org.accounts).items()
            if live.id is not None
        }
        accounts, unreachable = readers.finish(org.accounts, matched, progress)
        source_read, source_unreachable = source.result()
    return state.OrgState(
        units=org.units,
        accounts=tuple(accounts),
        groups=source_read.groups,
        root_id=org.root_id,
        management_account_id=org.management_account_id,
        caller_account_id=org.caller_account_id,
        caller_role=state.role_of(sessions.identity().arn),
        unreachable=unreachable,
        users=source_read.users,
        user_policies=source_read.user_policies,
        managed_policies=source_read.managed_policies,
        unreadable_policies=source_read.unreadable_policies,
        source_unreachable=source_unreachable,
        partition=sessions.identity().partition,
        failed_creations=org.failed,
        foreign_creations=foreign_creations(document, org.accounts),
    )


def foreign_creations(document: spec.Spec, accounts: list[state.Account]) -> int:
    """CreateAccount requests in flight that no declared account waits on: another tool's.
    They count toward AWS's limit of 5 creations in flight all the same."""
    declared = {a.name for a in document.accounts}
    return sum(1 for a in accounts if a.create_request and a.name not in declared)


def read_organization(
    sessions: Sessions,
    declared_units: set[state.UnitPath],
    concurrency: int = 16,
    instance: str = state.DEFAULT_INSTANCE,
    listed: Callable[[list[state.Account]], None] | None = None,
) -> _Org:
    """Root, OU tree, accounts with their unit, and CreateAccount requests in flight or failed;
    `listed` is told each page of accounts as it arrives, from the walk's threads.

    The tree is walked one level at a time with every listing of a level in parallel: walked
    one parent after the other, its paginated listings (20 accounts a page) made the read of a
    1,000-account organization wait on some 60 calls in a row before any account was read.
    """
    client = sessions.organizations()
    # At most TREE_WORKERS listings at once: with the readers' `concurrency` tag reads, the
    # Organizations client's connection pool (`concurrency` + TREE_WORKERS) is never short.
    workers = max(1, min(concurrency, TREE_WORKERS))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        master = _submit(pool, _management_account_id, client)
        caller = _submit(pool, lambda: sessions.identity().account_id)
        requests = _submit(pool, _creation_requests, client)
        root_id = _root_id(client)
        units: dict[state.UnitPath, state.Unit] = {}
        listings: list[concurrent.futures.Future[list[state.Account]]] = []
        markers: dict[state.UnitPath, concurrent.futures.Future[bool]] = {}
        level: list[tuple[state.UnitPath, str]] = [((), root_id)]
        while level:
            listings += [_submit(pool, _accounts_in, client, *parent, listed) for parent in level]
            subunits = [(path, _submit(pool, _units_in, client, id_)) for path, id_ in level]
            level = []
            for path, future in subunits:
                for ou in future.result():
                    child = (*path, ou["Name"])
                    units[child] = state.Unit(child, ou["Id"], managed=False)
                    # Tags only matter for units the document no longer declares: the marker
                    # decides whether prune may delete them.
                    if child not in declared_units:
                        markers[child] = _submit(pool, _unit_marker, client, ou["Id"], instance)
                    level.append((child, ou["Id"]))
        accounts = [account for future in listings for account in future.result()]
        for path, marker in markers.items():
            units[path] = replace(units[path], managed=marker.result())
        in_flight, failed = requests.result()
        accounts += in_flight
    records = _failure_records(client, root_id, instance) if failed else {}
    failed = {
        name: replace(f, fingerprint=records.get(f.request_id, "")) for name, f in failed.items()
    }
    return _Org(master.result(), caller.result(), root_id, units, accounts, failed)


def _submit(
    pool: concurrent.futures.ThreadPoolExecutor,
    task: Callable[_Params, _Value],
    *args: _Params.args,
    **kwargs: _Params.kwargs,
) -> concurrent.futures.Future[_Value]:
    """`pool.submit` in a copy of the caller's context: log lines keep the pass id and
    revision."""
    return pool.submit(_run_in, contextvars.copy_context(), lambda: task(*args, **kwargs))


def _management_account_id(client: _Organizations) -> str:
    answer = client(lambda c: c.describe_organization())
    return str(answer["Organization"]["MasterAccountId"])


def _root_id(client: _Organizations) -> str:
    roots = organizations_pages(client, lambda c, more: c.list_roots(**more))
    return next(root for page in roots for root in page.get("Roots", []))["Id"]


def _accounts_in(
    client: _Organizations,
    unit: state.UnitPath,
    parent_id: str,
    listed: Callable[[list[state.Account]], None] | None,
) -> list[state.Account]:
    accounts = []
    pages = organizations_pages(
        client, lambda c, more: c.list_accounts_for_parent(ParentId=parent_id, **more)
    )
    for page in pages:
        found = [_account(raw, unit) for raw in page.get("Accounts", [])]
        if listed is not None:
            listed(found)
        accounts += found
    return accounts


def _units_in(client: _Organizations, parent_id: str) -> list[OrganizationalUnitTypeDef]:
    units = organizations_pages(
        client,
        lambda c, more: c.list_organizational_units_for_parent(ParentId=parent_id, **more),
    )
    return [unit for page in units for unit in page.get("OrganizationalUnits", [])]


def tags_of(client: _Organizations, resource_id: str) -> list[TagTypeDef]:
    tags = organizations_pages(
        client, lambda c, more: c.list_tags_for_resource(ResourceId=resource_id, **more)
    )
    return [tag for page in tags for tag in page.get("Tags", [])]


def _unit_marker(client: _Organizations, unit_id: str, instance: str) -> bool:
    return _has_marker(tags_of(client, unit_id), instance)


def list_accounts(sessions: Sessions) -> list[state.Account]:
    """Every account of the organization, without units or roles: enough to look up ids."""
    accounts = organizations_pages(
        sessions.organizations(), lambda c, more: c.list_accounts(**more)
    )
    return [_account(raw, ()) for page in accounts for raw in page.get("Accounts", [])]


def _account(raw: AccountTypeDef, unit: state.UnitPath) -> state.Account:
    # `State` replaces `Status`, which AWS is retiring; older answers carry only `Status`.
    lifecycle = str(raw.get("State") or raw.get("Status") or state.ACTIVE)
    joined = raw.get("JoinedTimestamp")
    return state.Account(
        name=raw.get("Name", ""),
        email=raw.get("Email", ""),
        id=raw["Id"],
        unit=unit,
        tags={},
        roles={} if lifecycle == state.ACTIVE else None,
        state=lifecycle,
        joined=joined.timestamp() if isinstance(joined, datetime.datetime) else 0.0,
    )


def _creation_requests(
    client: _Organizations,
) -> tuple[list[state.Account], dict[str, state.FailedCreation]]:
    """CreateAccount requests in progress (each counts as its account: never requested twice)
    and, by account name, the latest one that FAILED (reported rather than sent again)."""
    in_flight, failed = [], {}
    listing = organizations_pages(
        client,
        lambda c, more: c.list_create_account_status(States=["IN_PROGRESS", "FAILED"], **more),
    )
    requests: list[CreateAccountStatusTypeDef] = [
        r for page in listing for r in page.get("CreateAccountStatuses", [])
    ]
    for r in sorted(requests, key=lambda r: str(r.get("RequestedTimestamp", ""))):
        name = r.get("AccountName", "")
        if r["State"] == "IN_PROGRESS":
            in_flight.append(state.Account(name=name, email="", id=None, create_request=r["Id"]))
        else:
            failed[name] = state.FailedCreation(r["Id"], r.get("FailureReason", "UNKNOWN"))
    return in_flight, failed


def _failure_records(client: _Organizations, root_id: str, instance: str) -> dict[str, str]:
    """Request id -> fingerprint of the declaration it was sent for (the root's tags)."""
    prefix = state.creation_record_key(instance, "")
    tags = tags_of(client, root_id)
    return {t["Key"][len(prefix) :]: t["Value"] for t in tags if t["Key"].startswith(prefix)}


class _Readers:
    """The reads of the declared accounts, in two pools: one for the management account's
    calls (tags, AssumeRole, the source account) and one for the member accounts' IAM, so
    that neither queues behind the other. A read runs in a copy of the caller's context: its
    log lines keep the pass id and revision."""

    def __init__(
        self, document: spec.Spec, sessions: Sessions, concurrency: int, instance: str
    ) -> None:
        self._document = document
        self._sessions = sessions
        self._instance = instance
        self._context = contextvars.copy_context()
        workers = max(1, concurrency)
        self._management = concurrent.futures.ThreadPoolExecutor(workers, "read-management")
        self._members = concurrent.futures.ThreadPoolExecutor(workers, "read-members")
        # One management client for every account's tags: asking Sessions for it per account
        # made each read queue behind the lock under which others build their member clients.
        self._organizations = sessions.organizations()
        # What `state.match_accounts` will decide, known before the tree is whole.
        self._by_id = {a.id: a for a in document.accounts if a.id}
        self._by_email = {a.email.lower(): a for a in document.accounts if not a.id}
        self._lock = threading.Lock()
        self._started: dict[str, _AccountRead] = {}

    def __enter__(self) -> _Readers:
        return self

    def __exit__(self, *_: object) -> None:
        # After a failure, reads not begun are dropped rather than made.
        for pool in (self._management, self._members):
            pool.shutdown(wait=True, cancel_futures=True)

    def in_management(self, read: Callable[[], _Value]) -> concurrent.futures.Future[_Value]:
        return self._management.submit(_run_in, self._context.copy(), read)

    def in_members(self, read: Callable[[], _Value]) -> concurrent.futures.Future[_Value]:
        return self._members.submit(_run_in, self._context.copy(), read)

    def start(self, listed: list[state.Account]) -> None:
        """Begin reading the active accounts among `listed` that the document declares."""
        for account in listed:
            declared = self._by_id.get(account.id or "") or (
                self._by_email.get(account.email.lower()) if account.email else None
            )
            if declared is not None and account.state == state.ACTIVE:
                self._begin(account, declared)

    def _begin(self, account: state.Account, declared: spec.Account) -> _AccountRead:
        assert account.id is not None
        with self._lock:
            begun = self._started.get(account.id)
            if begun is None or begun.declared is not declared:
                begun = self._started[account.id] = self._read(account, declared)
            return begun

    def _read(self, account: state.Account, declared: spec.Account) -> _AccountRead:
        account_id = account.id
        assert account_id is not None
        wanted = _wanted_roles(self._document, declared)
        bootstrap_role = self._document.organization.bootstrap_role
        iam = self.in_management(lambda: _member_iam(self._sessions, account))
        return _AccountRead(
            account,
            declared,
            tags=self.in_management(lambda: _tags(self._organizations, account_id)),
            durations=self.in_members(lambda: _session_durations(iam.result())),
            # Built from the answer at once, so that the raw answers of a thousand accounts
            # are not held until the last account is in.
            roles=self.in_members(
                lambda: _roles(_role_details(iam.result()), wanted, bootstrap_role, self._instance)
            ),
        )

    def finish(
        self,
        live: list[state.Account],
        matched: Mapping[str, spec.Account],
        progress: plan.Progress | None,
    ) -> tuple[list[state.Account], dict[str, str]]:
        """Every live account: the declared, active ones (`matched`, by id) read, the others
        as listed; and, by name, why each declared account that could not be read was not."""
        # Suspended and closing accounts are never assumed into: the diff reports them as
        # they are.
        active = {a.id: a for a in live if a.id is not None and a.state == state.ACTIVE}
        reads = [self._begin(active[id_], d) for id_, d in matched.items() if id_ in active]
        result = [a for a in live if a.id not in matched or a.id not in active]
        unreachable: dict[str, str] = {}
        for done, read in enumerate(_each_completed(reads), start=1):
            if progress is not None:
                progress(done, len(reads))
            result.append(self._outcome(read, unreachable))
        return result, unreachable

    def _outcome(self, read: _AccountRead, unreachable: dict[str, str]) -> state.Account:
        """The account read, or, recorded in `unreachable`, why it could not be."""
        name = read.declared.name
        try:
            return read.account_read()
        except AwsError as exc:
            if isinstance(exc, AccessError):
                self._sessions.forget(read.account.id or "")  # revoked: not reused
            unreachable[name] = str(exc)
        except Exception as exc:  # an answer we did not expect: isolate it
            log.exception("reading account %s failed unexpectedly", name)
            unreachable[name] = f"unexpected {type(exc).__name__}: {exc}"
        return replace(read.account, name=name, roles=None)


@dataclass(frozen=True, eq=False)
class _AccountRead:
    """One declared account's reads in flight: its tags, and its two role listings (each of
    which waits on the account's credentials)."""

    account: state.Account
    declared: spec.Account
    tags: concurrent.futures.Future[dict[str, str]]
    durations: concurrent.futures.Future[dict[str, int]]
    roles: concurrent.futures.Future[dict[str, state.Role]]

    def futures(self) -> tuple[concurrent.futures.Future[object], ...]:
        return (self.tags, self.durations, self.roles)  # type: ignore[return-value]

    def account_read(self) -> state.Account:
        """The account with its tags and roles; raises what the first failed read raised."""
        tags = self.tags.result()  # first: the order the reads were once made in
        durations, roles = self.durations.result(), self.roles.result()
        return replace(
            self.account, name=self.declared.name, tags=tags, roles=_with(durations, roles)
        )


def _run_in(context: contextvars.Context, read: Callable[[], _Value]) -> _Value:
    return context.run(read)


def _each_completed(reads: list[_AccountRead]) -> Iterator[_AccountRead]:
    """Each read once all its futures are done, in the order they finish."""
    owner = {future: read for read in reads for future in read.futures()}
    left = {id(read): len(read.futures()) for read in reads}
    for future in concurrent.futures.as_completed(owner):
        read = owner[future]
        left[id(read)] -= 1
        if not left[id(read)]:
            yield read


def roles_of(
    document: spec.Spec,
    sessions: Sessions,
    account: state.Account,
    declared: spec.Account,
    instance: str,
) -> dict[str, state.Role]:
    wanted = _wanted_roles(document, declared)
    bootstrap_role = document.organization.bootstrap_role
    return read_roles(_member_iam(sessions, account), wanted, bootstrap_role, instance)


def _wanted_roles(document: spec.Spec, declared: spec.Account) -> set[str]:
    """The lowercased names of the roles the account declares, but the bootstrap role."""
    wanted = {name.lower() for name in document.role_names(declared)}
    wanted.discard(document.organization.bootstrap_role.lower())
    return wanted


def _member_iam(sessions: Sessions, account: state.Account) -> AccountClient[IAMClient]:
    """The account's IAM client. A bootstrap role may refuse AssumeRole for minutes after its
    account was created; for an account that joined lately that is waited on a little, so a
    pass right after a creation still reads it. Longer waits are the next pass's."""
    waits = iter(NEW_ACCOUNT_ACCESS_WAITS if time.time() - account.joined < RECENT else ())
    while True:
        try:
            return sessions.iam(account.id)
        except AccessError:
            delay = next(waits, None)
            if delay is None:
                raise
            time.sleep(delay)


def read_roles(
    iam: AccountClient[IAMClient],
    wanted: set[str] | None,
    bootstrap_role: str,
    instance: str = state.DEFAULT_INSTANCE,
) -> dict[str, state.Role]:
    """The declared roles (names lowercased in `wanted`; None: every role) and every role
    carrying our marker. The bootstrap role is never read."""
    durations = _session_durations(iam)
    return _with(durations, _roles(_role_details(iam), wanted, bootstrap_role, instance))


def _session_durations(iam: AccountClient[IAMClient]) -> dict[str, int]:
    """Role name -> its maximum session duration, which only ListRoles tells."""
    return {
        r["RoleName"]: int(r.get("MaxSessionDuration", DEFAULT_SESSION))
        for page in iam_pages(iam, lambda c, more: c.list_roles(**more))
        for r in page.get("Roles", [])
    }


def _role_details(iam: AccountClient[IAMClient]) -> list[RoleDetailTypeDef]:
    """Every role's trust, policies and tags."""
    pages = iam_pages(
        iam, lambda c, more: c.get_account_authorization_details(Filter=["Role"], **more)
    )
    return [detail for page in pages for detail in page.get("RoleDetailList", [])]


def _roles(
    details: list[RoleDetailTypeDef],
    wanted: set[str] | None,
    bootstrap_role: str,
    instance: str,
) -> dict[str, state.Role]:
    roles = {}
    for detail in details:
        name = detail["RoleName"]
        managed = _has_marker(detail.get("Tags", []), instance)
        path = detail.get("Path", "/")
        if name.lower() == bootstrap_role.lower():
            continue
        if wanted is not None and name.lower() not in wanted and not managed:
            continue
        roles[name] = state.Role(
            name=name,
            trust_policy=_document(detail.get("AssumeRolePolicyDocument", {})),
            policies=frozenset(p["PolicyArn"] for p in detail.get("AttachedManagedPolicies", [])),
            inline_policies={
                p["PolicyName"]: _document(p["PolicyDocument"])
                for p in detail.get("RolePolicyList", [])
            },
            managed=managed,
            path=path,
            created=_seconds(detail.get("CreateDate")),
        )
    return roles


def _with(durations: Mapping[str, int], roles: dict[str, state.Role]) -> dict[str, state.Role]:
    """`roles` with the session durations ListRoles told (AWS's default for any it did not)."""
    return {
        name: replace(role, max_session_duration=durations.get(name, DEFAULT_SESSION))
        for name, role in roles.items()
    }


def _tags(organizations: _Organizations, resource_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags_of(organizations, resource_id)}


def _seconds(moment: object) -> float:
    return moment.timestamp() if isinstance(moment, datetime.datetime) else 0.0


@dataclass(frozen=True)
class SourceAccount:
    """What the source account holds that decides who may assume which role."""

    groups: dict[str, state.Group]
    users: frozenset[str]
    user_policies: dict[str, state.UserPolicies]
    managed_policies: dict[str, str]
    unreadable_policies: dict[str, str]  # ARN -> why its document could not be read


def read_source(sessions: Sessions, source_account_id: str) -> SourceAccount:
    """Groups (whole, with members), users with their own policies, and the documents of the
    managed policies attached to either: one paginated GetAccountAuthorizationDetails, plus a
    GetPolicy per AWS managed policy in use (and GetPolicyVersion for a version not seen)."""
    iam = sessions.iam(source_account_id)
    members: dict[str, set[str]] = {}
    user_policies: dict[str, state.UserPolicies] = {}
    raw_groups: list[GroupDetailTypeDef] = []
    documents: dict[str, str] = {}
    pages = iam_pages(
        iam,
        lambda c, more: c.get_account_authorization_details(
            Filter=["User", "Group", "LocalManagedPolicy"], **more
        ),
    )
    for page in pages:
        for user in page.get("UserDetailList", []):
            user_policies[user["UserName"]] = _user_policies(user)
            for group in user.get("GroupList", []):
                members.setdefault(group, set()).add(user["UserName"])
        raw_groups += page.get("GroupDetailList", [])
        documents.update(_local_policy_documents(page.get("Policies", [])))
    groups = {raw["GroupName"]: _group(raw, members) for raw in raw_groups}
    attached = {arn for g in groups.values() for arn in g.attached}
    attached |= {arn for u in user_policies.values() for arn in u.attached}
    unreadable = {}
    for arn in sorted(attached - set(documents)):
        try:
            documents[arn] = _aws_managed_policy(iam, arn)
        except AwsError as exc:  # reported as a finding: what it allows is not known
            unreadable[arn] = str(exc)
    return SourceAccount(groups, frozenset(user_policies), user_policies, documents, unreadable)


def read_source_or_why(sessions: Sessions, source_account_id: str) -> tuple[SourceAccount, str]:
    """The source account, or nothing and why it could not be read ("" when it was): one
    account like any other, reported while the rest goes on."""
    try:
        return read_source(sessions, source_account_id), ""
    except AwsError as exc:
        return SourceAccount({}, frozenset(), {}, {}, {}), f"{source_account_id}: {exc}"


def _user_policies(raw: UserDetailTypeDef) -> state.UserPolicies:
    return state.UserPolicies(
        inline={
            p["PolicyName"]: _document(p["PolicyDocument"]) for p in raw.get("UserPolicyList", [])
        },
        attached=frozenset(p["PolicyArn"] for p in raw.get("AttachedManagedPolicies", [])),
    )


def _local_policy_documents(raw: Iterable[ManagedPolicyDetailTypeDef]) -> dict[str, str]:
    """ARN -> the default version's document of each customer managed policy."""
    documents = {}
    for policy in raw:
        for version in policy.get("PolicyVersionList", []):
            if version.get("IsDefaultVersion") and "Document" in version:
                documents[policy["Arn"]] = _document(version["Document"])
    return documents


# AWS managed policies change only by new versions: (ARN, version id) -> document.
_AWS_MANAGED_VERSIONS: dict[tuple[str, str], str] = {}


def _aws_managed_policy(iam: AccountClient[IAMClient], arn: str) -> str:
    """The default version's document of a managed policy the authorization details did not
    include (an AWS managed one)."""
    version = iam(lambda c: c.get_policy(PolicyArn=arn))["Policy"]["DefaultVersionId"]
    key = (arn, version)
    if key not in _AWS_MANAGED_VERSIONS:
        answer = iam(lambda c: c.get_policy_version(PolicyArn=arn, VersionId=version))
        _AWS_MANAGED_VERSIONS[key] = _document(answer["PolicyVersion"]["Document"])
    return _AWS_MANAGED_VERSIONS[key]


def _group(raw: GroupDetailTypeDef, members: Mapping[str, set[str]]) -> state.Group:
    """A group whole: our grant policy, and every other inline or attached policy."""
    inline = {
        p["PolicyName"]: _document(p["PolicyDocument"]) for p in raw.get("GroupPolicyList", [])
    }
    grants = inline.pop(state.GRANT_POLICY_NAME, None)
    return state.Group(
        name=raw["GroupName"],
        path=raw.get("Path", "/"),
        grant_policy=grants,
        users=frozenset(members.get(raw["GroupName"], ())),
        other_policies=inline,
        attached=frozenset(p["PolicyArn"] for p in raw.get("AttachedManagedPolicies", [])),
    )


def _document(raw: str | Mapping[str, object]) -> str:
    return policies.compact_json(policies.parse(raw))


def _has_marker(tags: Iterable[Mapping[str, object]], instance: str) -> bool:
    return any(t.get("Key") == state.MARKER_KEY and t.get("Value") == instance for t in tags)


def management_account_id(sessions: Sessions) -> str:
    """The organization's management account, from Organizations."""
    return _management_account_id(sessions.organizations())


def read_for_import(
    sessions: Sessions,
    source_account_id: str,
    concurrency: int = 16,
    progress: plan.Progress | None = None,
) -> state.OrgState:
    """The whole organization as it is: units, every account with its tags and every role
    (not only declared ones), and the source account's groups. An account that cannot be read
    is in `unreachable` under its id, with `roles` None; the others are read all the same."""
    org = read_organization(sessions, set(), concurrency)
    active = [a for a in org.accounts if a.id is not None and a.state == state.ACTIVE]
    accounts, unreachable = _read_every_role(sessions, active, concurrency, progress)
    others = [a for a in org.accounts if a.id is None or a.state != state.ACTIVE]
    source, source_unreachable = read_source_or_why(sessions, source_account_id)
    return state.OrgState(
        units=org.units,
        accounts=tuple(accounts + others),
        groups=source.groups,
        root_id=org.root_id,
        management_account_id=org.management_account_id,
        caller_account_id=org.caller_account_id,
        caller_role=state.role_of(sessions.identity().arn),
        unreachable=unreachable,
        users=source.users,
        managed_policies=source.managed_policies,
        unreadable_policies=source.unreadable_policies,
        source_unreachable=source_unreachable,
        partition=sessions.identity().partition,
    )


def _read_every_role(
    sessions: Sessions,
    accounts: list[state.Account],
    concurrency: int,
    progress: plan.Progress | None,
) -> tuple[list[state.Account], dict[str, str]]:
    organizations = sessions.organizations()
    unreachable: dict[str, str] = {}
    result = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {
            pool.submit(
                contextvars.copy_context().run, _every_role, sessions, organizations, account
            ): account
            for account in accounts
        }
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(futures))
            account = futures[future]
            try:
                result.append(future.result())
            except AwsError as exc:  # one account's trouble: reported, the rest imported
                unreachable[account.id or ""] = str(exc)
                result.append(replace(account, roles=None))
    return result, unreachable


def _every_role(
    sessions: Sessions, organizations: _Organizations, account: state.Account
) -> state.Account:
    assert account.id is not None
    tags = _tags(organizations, account.id)
    roles = read_roles(_member_iam(sessions, account), None, sessions.bootstrap_role)
    return replace(account, tags=tags, roles=roles)
