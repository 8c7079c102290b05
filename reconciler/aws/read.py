"""Live readers: the organization, the roles in each declared account, the source account's
groups and users, returned as one `state.OrgState`.

Reads only; never changes anything. The OU tree's listings, then the accounts, are read in
parallel with bounded concurrency, and one account's failure is recorded in
`OrgState.unreachable` while the rest go on. Calls per account are kept to what the data
needs: the account's tags (ListTagsForResource), its roles' trust and session settings
(ListRoles) and its roles' policies and tags (GetAccountAuthorizationDetails).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import datetime
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from reconciler.aws.sessions import AccountClient, Sessions, iam_pages, organizations_pages
from reconciler.core import plan, policies, spec, state
from reconciler.core.errors import AccessError, AwsError

if TYPE_CHECKING:  # the stubs are a development dependency only
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_iam.type_defs import (
        GroupDetailTypeDef,
        ManagedPolicyDetailTypeDef,
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
    of the declared accounts have been read."""
    org = read_organization(
        sessions, set(spec.unit_paths(document.organization.units)), concurrency, instance
    )
    matched = {
        live.id: document.account(name)
        for name, live in state.match_accounts(document, org.accounts).items()
        if live.id is not None
    }
    accounts, unreachable = _read_accounts(
        document, sessions, org.accounts, matched, concurrency, instance, progress
    )
    source, source_unreachable = read_source_or_why(sessions, document.source_account_id)
    return state.OrgState(
        units=org.units,
        accounts=tuple(accounts),
        groups=source.groups,
        root_id=org.root_id,
        management_account_id=org.management_account_id,
        caller_account_id=org.caller_account_id,
        caller_role=state.role_of(sessions.identity().arn),
        unreachable=unreachable,
        users=source.users,
        user_policies=source.user_policies,
        managed_policies=source.managed_policies,
        unreadable_policies=source.unreadable_policies,
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
) -> _Org:
    """Root, OU tree, accounts with their unit, and CreateAccount requests in flight or failed.

    The tree is walked one level at a time with every listing of a level in parallel: walked
    one parent after the other, its paginated listings (20 accounts a page) made the read of a
    1,000-account organization wait on some 60 calls in a row before any account was read.
    """
    client = sessions.organizations()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        master = pool.submit(_management_account_id, client)
        caller = pool.submit(lambda: sessions.identity().account_id)
        requests = pool.submit(_creation_requests, client)
        root_id = _root_id(client)
        units: dict[state.UnitPath, state.Unit] = {}
        listings: list[tuple[state.UnitPath, concurrent.futures.Future[list[AccountTypeDef]]]] = []
        markers: dict[state.UnitPath, concurrent.futures.Future[bool]] = {}
        level: list[tuple[state.UnitPath, str]] = [((), root_id)]
        while level:
            listings += [(path, pool.submit(_accounts_in, client, id_)) for path, id_ in level]
            subunits = [(path, pool.submit(_units_in, client, id_)) for path, id_ in level]
            level = []
            for path, future in subunits:
                for ou in future.result():
                    child = (*path, ou["Name"])
                    units[child] = state.Unit(child, ou["Id"], managed=False)
                    # Tags only matter for units the document no longer declares: the marker
                    # decides whether prune may delete them.
                    if child not in declared_units:
                        markers[child] = pool.submit(_unit_marker, client, ou["Id"], instance)
                    level.append((child, ou["Id"]))
        accounts = [_account(raw, path) for path, future in listings for raw in future.result()]
        for path, marker in markers.items():
            units[path] = replace(units[path], managed=marker.result())
        in_flight, failed = requests.result()
        accounts += in_flight
    records = _failure_records(client, root_id, instance) if failed else {}
    failed = {
        name: replace(f, fingerprint=records.get(f.request_id, "")) for name, f in failed.items()
    }
    return _Org(master.result(), caller.result(), root_id, units, accounts, failed)


def _management_account_id(client: _Organizations) -> str:
    answer = client(lambda c: c.describe_organization())
    return str(answer["Organization"]["MasterAccountId"])


def _root_id(client: _Organizations) -> str:
    roots = organizations_pages(client, lambda c, more: c.list_roots(**more))
    return next(root for page in roots for root in page.get("Roots", []))["Id"]


def _accounts_in(client: _Organizations, parent_id: str) -> list[AccountTypeDef]:
    accounts = organizations_pages(
        client, lambda c, more: c.list_accounts_for_parent(ParentId=parent_id, **more)
    )
    return [account for page in accounts for account in page.get("Accounts", [])]


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


def _read_accounts(
    document: spec.Spec,
    sessions: Sessions,
    live: list[state.Account],
    matched: Mapping[str, spec.Account],
    concurrency: int,
    instance: str,
    progress: plan.Progress | None = None,
) -> tuple[list[state.Account], dict[str, str]]:
    unreachable: dict[str, str] = {}
    # Suspended and closing accounts are never assumed into: the diff reports them as they are.
    active = {a.id for a in live if a.state == state.ACTIVE}
    readable = {id_: a for id_, a in matched.items() if id_ in active}
    result = [a for a in live if a.id not in readable]
    # One management client for every account's tags: asking Sessions for it per account made
    # each reader queue behind the lock under which other readers build their member clients.
    organizations = sessions.organizations()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {
            # Each task runs in a copy of this context: log lines keep the pass id and revision.
            pool.submit(
                contextvars.copy_context().run,
                _read_account,
                document,
                sessions,
                organizations,
                a,
                readable[a.id],
                instance,
            ): a
            for a in live
            if a.id is not None and a.id in readable
        }
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(futures))
            account = futures[future]
            declared = matched[account.id or ""]
            try:
                result.append(future.result())
            except AwsError as exc:
                if isinstance(exc, AccessError):
                    sessions.forget(account.id or "")  # revoked credentials are not reused
                unreachable[declared.name] = str(exc)
                result.append(replace(account, name=declared.name, roles=None))
            except Exception as exc:  # an answer we did not expect: isolate it
                log.exception("reading account %s failed unexpectedly", declared.name)
                unreachable[declared.name] = f"unexpected {type(exc).__name__}: {exc}"
                result.append(replace(account, name=declared.name, roles=None))
    return result, unreachable


def _read_account(
    document: spec.Spec,
    sessions: Sessions,
    organizations: _Organizations,
    account: state.Account,
    declared: spec.Account,
    instance: str,
) -> state.Account:
    assert account.id is not None
    tags = tags_of(organizations, account.id)
    roles = roles_of(document, sessions, account, declared, instance)
    return replace(
        account, name=declared.name, tags={t["Key"]: t["Value"] for t in tags}, roles=roles
    )


def roles_of(
    document: spec.Spec,
    sessions: Sessions,
    account: state.Account,
    declared: spec.Account,
    instance: str,
) -> dict[str, state.Role]:
    wanted = {name.lower() for name in document.role_names(declared)}
    wanted.discard(document.organization.bootstrap_role.lower())
    bootstrap_role = document.organization.bootstrap_role
    return read_roles(_member_iam(sessions, account), wanted, bootstrap_role, instance)


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
    sessions_by_name = {
        r["RoleName"]: int(r.get("MaxSessionDuration", 3600))
        for page in iam_pages(iam, lambda c, more: c.list_roles(**more))
        for r in page.get("Roles", [])
    }
    roles = {}
    pages = iam_pages(
        iam, lambda c, more: c.get_account_authorization_details(Filter=["Role"], **more)
    )
    details = [detail for page in pages for detail in page.get("RoleDetailList", [])]
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
            max_session_duration=sessions_by_name.get(name, 3600),
            managed=managed,
            path=path,
            created=_seconds(detail.get("CreateDate")),
        )
    return roles


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
    tags = tags_of(organizations, account.id)
    roles = read_roles(_member_iam(sessions, account), None, sessions.bootstrap_role)
    return replace(account, tags={t["Key"]: t["Value"] for t in tags}, roles=roles)
