"""AWS change events: what a CloudTrail management event, delivered by EventBridge to the
daemon's queue, says was changed by whom, and the `Scope` of the pass that checks it.

An EventBridge rule (see `deploy/events/`) sends the queue the "AWS API Call via CloudTrail"
events of the IAM and Organizations write calls in `WATCHED`. `parse` validates one message
body into an `Event` or raises `EventError` (one line, the message is dropped); `touched`
turns an event into what it touches (`Touch`: a scope, the resource, who and when), or says why
it touches nothing the document manages (`Ignored`). Events of calls AWS refused (`errorCode`)
changed nothing, and the daemon's own calls (`Own`) are not drift.

Pure: the message is text in, values out; reading the queue is the daemon's.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from reconciler.core import plan, spec, state
from reconciler.core.errors import EventError, printable
from reconciler.core.scope import Scope

IAM = "iam.amazonaws.com"
ORGANIZATIONS = "organizations.amazonaws.com"
DETAIL_TYPE = "AWS API Call via CloudTrail"
# EventBridge events are at most 256 KiB; anything longer is not one.
MAX_MESSAGE_BYTES = 256 * 1024

ROLE_CALLS = frozenset(
    {
        "CreateRole",
        "DeleteRole",
        "UpdateAssumeRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "UpdateRole",
        "TagRole",
        "UntagRole",
    }
)
GROUP_CALLS = frozenset(
    {
        "CreateGroup",
        "DeleteGroup",
        "UpdateGroup",
        "PutGroupPolicy",
        "DeleteGroupPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
        "AddUserToGroup",
        "RemoveUserFromGroup",
    }
)
# A user's own policies can open a way into a managed role: a finding the pass reports.
USER_CALLS = frozenset(
    {"PutUserPolicy", "DeleteUserPolicy", "AttachUserPolicy", "DetachUserPolicy"}
)
ACCOUNT_CALLS = frozenset({"MoveAccount", "TagResource", "UntagResource"})
TREE_CALLS = frozenset(
    {
        "CreateOrganizationalUnit",
        "DeleteOrganizationalUnit",
        "UpdateOrganizationalUnit",
        "CreateAccount",
        "CloseAccount",
        "RemoveAccountFromOrganization",
    }
)
# The calls the EventBridge rule selects, by CloudTrail event source.
WATCHED: Mapping[str, frozenset[str]] = {
    IAM: ROLE_CALLS | GROUP_CALLS | USER_CALLS,
    ORGANIZATIONS: ACCOUNT_CALLS | TREE_CALLS,
}

_NAME = r"[A-Za-z0-9_+=,.@-]+"  # IAM's name characters; AWS's \w is ASCII only
_Name = Annotated[str, StringConstraints(pattern=f"^{_NAME}$", max_length=128)]
_AccountId = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
_Arn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws[a-z-]*:[a-z0-9-]+::[0-9]{12}:[A-Za-z0-9_+=,.@/-]+$", max_length=700
    ),
]
_Short = Annotated[str, StringConstraints(max_length=128)]
_Word = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]*$", max_length=64)]
_Service = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:_-]+$", max_length=128)]
_ACCOUNT = re.compile(r"[0-9]{12}")
_UNIT = re.compile(r"ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Identity(_Model):
    # Each may become the actor a log line names: printable ASCII of the shapes AWS uses only.
    type: _Word = ""
    arn: _Arn | None = None
    invoked_by: _Service | None = Field(default=None, alias="invokedBy")


class _Detail(_Model):
    event_source: Literal["iam.amazonaws.com", "organizations.amazonaws.com"] = Field(
        alias="eventSource"
    )
    event_name: _Name = Field(alias="eventName")
    event_time: datetime.datetime = Field(alias="eventTime")
    user_identity: _Identity = Field(alias="userIdentity")
    recipient_account_id: _AccountId = Field(alias="recipientAccountId")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")
    error_code: _Short | None = Field(default=None, alias="errorCode")


class _Envelope(_Model):
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    detail: _Detail


@dataclass(frozen=True)
class Event:
    """One write call someone made, as CloudTrail recorded it."""

    source: str  # IAM or ORGANIZATIONS
    name: str  # the API call
    actor: str  # userIdentity.arn, or the service or type when the caller has no ARN
    time: str  # eventTime, ISO 8601 in UTC
    account_id: str  # recipientAccountId: the account whose resource was changed
    parameters: Mapping[str, Any]
    response: Mapping[str, Any]
    failed: str = ""  # errorCode: AWS refused the call, so nothing changed

    @property
    def cause(self) -> plan.Cause:
        return plan.Cause(self.actor, self.time, self.name)

    def describe(self) -> str:
        return f"{self.name} by {self.actor} at {self.time}"


def parse(body: str | bytes) -> Event:
    """The event a queue message carries, or `EventError` saying in one line why it is none."""
    size = len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    if size > MAX_MESSAGE_BYTES:
        raise EventError(f"message of {size} bytes, over {MAX_MESSAGE_BYTES}: not an event")
    try:
        envelope = _Envelope.model_validate(json.loads(body))
    except (ValueError, RecursionError) as exc:
        raise EventError(f"not an AWS API call event: {_first_problem(exc)}") from None
    detail = envelope.detail
    identity = detail.user_identity
    moment = detail.event_time
    if moment.tzinfo is None:
        raise EventError("not an AWS API call event: eventTime has no time zone")
    try:
        time = moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # a year 1 or 9999 that an offset moves out of range
        raise EventError("not an AWS API call event: eventTime out of range") from None
    return Event(
        source=detail.event_source,
        name=detail.event_name,
        actor=identity.arn or identity.invoked_by or identity.type or "unknown",
        time=time,
        account_id=detail.recipient_account_id,
        parameters=detail.request_parameters or {},
        response=detail.response_elements or {},
        failed=detail.error_code or "",
    )


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "message"
        return printable(f"{where}: {error['msg']}")[:200]
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return printable(str(exc))[:200]


@dataclass(frozen=True)
class Own:
    """The daemon's own identities: the role session it opens in every account (the bootstrap
    role under its session name) and its own credentials' ARN. Changes they made are the
    daemon's corrections, not drift. The session name is compared exactly (a person's session
    named like the daemon's, but not the same, is someone else); the role's name ignoring case,
    as IAM names do."""

    bootstrap_role: str
    session_name: str
    arns: frozenset[str] = frozenset()

    def made(self, event: Event) -> bool:
        if event.actor in self.arns:
            return True
        parts = event.actor.split(":", 5)
        if len(parts) != 6 or parts[2] != "sts":
            return False
        resource = parts[5].split("/")
        return (
            len(resource) == 3
            and resource[0] == "assumed-role"
            and resource[1].lower() == self.bootstrap_role.lower()
            and resource[2] == self.session_name
        )


@dataclass(frozen=True)
class Known:
    """What the document manages, by the ids and names events use: declared accounts by id,
    the roles each carries (and those under the daemon's marker), the groups (declared, and
    live ones at the daemon's path), units by id."""

    source_account_id: str
    accounts: Mapping[str, str]  # account id -> the document's name
    roles: Mapping[str, frozenset[str]]  # account name -> role names, lowercased
    groups: frozenset[str]  # lowercased
    units: Mapping[str, str]  # OU id -> path, "/"-joined
    group_path: str = state.GROUP_PATH  # the daemon's: a group made there is its to judge

    @classmethod
    def of(cls, document: spec.Spec, live: state.OrgState, instance: str) -> Known:
        matched = state.match_accounts(document, live.accounts)
        accounts = {a.id: name for name, a in matched.items() if a.id is not None}
        roles = {}
        for account in document.accounts:
            names = {r.lower() for r in document.role_names(account)}
            held = matched[account.name].roles if account.name in matched else None
            names |= {r.lower() for r, role in (held or {}).items() if role.managed}
            roles[account.name] = frozenset(names)
        path = state.group_path(instance)
        groups = {g.name.lower() for g in document.groups}
        groups |= {g.lower() for g, group in live.groups.items() if group.path == path}
        units = {unit.id: "/".join(p) for p, unit in live.units.items() if unit.id}
        return cls(document.source_account_id, accounts, roles, frozenset(groups), units, path)


@dataclass(frozen=True)
class Touch:
    """What an event touches: the scope of the pass that checks it, and the resource whose
    drift it explains ("" when it explains none in particular, as a user policy's)."""

    scope: Scope
    resource: str
    event: Event


@dataclass(frozen=True)
class Ignored:
    reason: str


def touched(event: Event, known: Known, own: Own) -> Touch | Ignored:
    """What the event touches that the document manages, or why it touches nothing."""
    if event.failed:
        return Ignored(f"AWS refused the call ({event.failed}): nothing changed")
    if own.made(event):
        return Ignored("made by reconciler itself")
    if event.name not in WATCHED.get(event.source, frozenset()):
        return Ignored(f"{event.name} is not a call that changes what reconciler manages")
    if event.source == IAM:
        return _iam(event, known)
    return _organizations(event, known)


def _iam(event: Event, known: Known) -> Touch | Ignored:
    if event.name in ROLE_CALLS:
        account = known.accounts.get(event.account_id)
        role = _name(event.parameters.get("roleName"))
        if account is None:
            return Ignored(f"account {event.account_id} is not one the document declares")
        if role is None or role.lower() not in known.roles.get(account, frozenset()):
            return Ignored(f"role {role} is not one the document places in {account}")
        return Touch(Scope(roles=frozenset({account})), f"role {account}/{role.lower()}", event)
    if event.account_id != known.source_account_id:
        return Ignored(f"account {event.account_id} is not the source account")
    if event.name in USER_CALLS:
        return Touch(Scope(groups=True), "", event)
    names = (event.parameters.get("groupName"), event.parameters.get("newGroupName"))
    # A group made or moved at the daemon's path is its own to judge, known or not.
    paths = (event.parameters.get("path"), event.parameters.get("newPath"))
    for name in filter(None, map(_name, names)):
        if name.lower() in known.groups or known.group_path in paths:
            return Touch(Scope(groups=True), f"group {name.lower()}", event)
    return Ignored(f"group {_name(names[0])} is not one the document manages")


def _organizations(event: Event, known: Known) -> Touch | Ignored:
    parameters = event.parameters
    target = parameters.get("accountId") or parameters.get("resourceId")
    if event.name in ACCOUNT_CALLS and isinstance(target, str) and _ACCOUNT.fullmatch(target):
        account = known.accounts.get(target)
        if account is None:
            return Ignored(f"account {target} is not one the document declares")
        scope = Scope(placement=frozenset({account}))
        return Touch(scope, f"account {account}", event)
    if event.name in ACCOUNT_CALLS and not _is_unit(target):
        return Ignored(f"{event.name} on {_shown(target)}: not an account or a unit")
    return Touch(Scope(tree=True), _tree_resource(event, known), event)


def _tree_resource(event: Event, known: Known) -> str:
    """The account or unit a change to the tree is about, when the event says which."""
    parameters = event.parameters
    account = parameters.get("accountId")
    if isinstance(account, str) and account in known.accounts:
        return f"account {known.accounts[account]}"
    unit = parameters.get("organizationalUnitId") or parameters.get("resourceId")
    if isinstance(unit, str) and unit in known.units:
        return f"unit {known.units[unit]}"
    return ""


def _is_unit(value: object) -> bool:
    return isinstance(value, str) and bool(_UNIT.fullmatch(value))


def _name(value: object) -> str | None:
    """An IAM name from the event, or None when it is missing or not a name at all."""
    if isinstance(value, str) and len(value) <= 128 and re.fullmatch(_NAME, value):
        return value
    return None


def _shown(value: object) -> str:
    return printable(str(value))[:80]
