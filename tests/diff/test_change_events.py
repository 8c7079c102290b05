"""AWS change events: `parse` turns an EventBridge "AWS API Call via CloudTrail" body into an
`Event` or refuses it in one line, and `touched` says what the event touches that the document
manages, or why it touches nothing.

Bodies are written out as EventBridge delivers them; expectations are literal.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from reconciler.core import events, plan
from reconciler.core.errors import EventError
from reconciler.core.scope import Scope

SOURCE = "123456789012"
PROD_ID = "111111111111"
OTHER_ID = "999999999999"
PERSON = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/eve"
SESSION = "reconciler-0123456789ab"
DAEMON = f"arn:aws:sts::{PROD_ID}:assumed-role/OrganizationAccountAccessRole/{SESSION}"
DAEMON_BASE = "arn:aws:sts::123456789012:assumed-role/ReconcilerDeploy/botocore-session-1"

KNOWN = events.Known(
    source_account_id=SOURCE,
    accounts={PROD_ID: "acme-prod"},
    roles={"acme-prod": frozenset({"accountaccessrole"})},
    groups=frozenset({"auditors"}),
    units={"ou-ab12-cdef3456": "Clients/Acme"},
)
OWN = events.Own(
    bootstrap_role="OrganizationAccountAccessRole",
    session_name=SESSION,
    arns=frozenset({DAEMON_BASE}),
)

ROLE_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6f3c2b8e-5d1a-4c47-9e0b-3a2f1d4c5b6a",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.iam",
    "account": PROD_ID,
    "time": "2026-12-03T21:04:05Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID0123456:eve",
            "arn": PERSON,
            "accountId": SOURCE,
            "accessKeyId": "ASIAEXAMPLEKEY012345",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID0123456",
                    "arn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/"
                    "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
                    "accountId": SOURCE,
                    "userName": "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
                },
                "attributes": {
                    "creationDate": "2026-12-03T20:58:11Z",
                    "mfaAuthenticated": "false",
                },
            },
        },
        "eventTime": "2026-12-03T21:04:05Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "UpdateAssumeRolePolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.22.0 Python/3.12.6 Linux/6.8 exe/x86_64.ubuntu.24",
        "requestParameters": {
            "roleName": "AccountAccessRole",
            "policyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}',
        },
        "responseElements": None,
        "requestID": "0e7a4f42-3b1c-4d2e-8f9a-1b2c3d4e5f60",
        "eventID": "8d9e0f1a-2b3c-4d5e-6f7a-8b9c0d1e2f3a",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": PROD_ID,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com",
        },
    },
}

ORGANIZATIONS_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.organizations",
    "account": SOURCE,
    "time": "2026-12-03T21:10:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEUSER01234",
            "arn": "arn:aws:iam::123456789012:user/bob",
            "accountId": SOURCE,
            "accessKeyId": "AKIAEXAMPLEKEY012345",
            "userName": "bob",
        },
        "eventTime": "2026-12-03T23:10:00.123456+02:00",
        "eventSource": "organizations.amazonaws.com",
        "eventName": "MoveAccount",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux",
        "requestParameters": {
            "accountId": PROD_ID,
            "sourceParentId": "ou-ab12-cdef3456",
            "destinationParentId": "r-ab12",
        },
        "responseElements": None,
        "requestID": "5b6c7d8e-9f0a-4b1c-2d3e-4f5a6b7c8d9e",
        "eventID": "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": SOURCE,
        "eventCategory": "Management",
    },
}


def _body(base: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """A copy of `base` with `detail`'s entries set (None: removed) in its detail."""
    body = copy.deepcopy(base)
    for key, value in detail.items():
        if value is None:
            body["detail"].pop(key, None)
        else:
            body["detail"][key] = value
    return body


def _event(base: dict[str, Any], **detail: Any) -> events.Event:
    return events.parse(json.dumps(_body(base, **detail)))


# --- parse ---------------------------------------------------------------------------------


def test_parse_a_role_event() -> None:
    event = events.parse(json.dumps(ROLE_EVENT))
    assert event == events.Event(
        source="iam.amazonaws.com",
        name="UpdateAssumeRolePolicy",
        actor=PERSON,
        time="2026-12-03T21:04:05Z",
        account_id=PROD_ID,
        parameters=ROLE_EVENT["detail"]["requestParameters"],
        response={},
        failed="",
    )
    assert event.cause == plan.Cause(PERSON, "2026-12-03T21:04:05Z", "UpdateAssumeRolePolicy")
    assert event.describe() == f"UpdateAssumeRolePolicy by {PERSON} at 2026-12-03T21:04:05Z"


def test_parse_an_organizations_event_given_as_bytes() -> None:
    event = events.parse(json.dumps(ORGANIZATIONS_EVENT).encode("utf-8"))
    assert event.source == "organizations.amazonaws.com"
    assert event.name == "MoveAccount"
    assert event.actor == "arn:aws:iam::123456789012:user/bob"
    assert event.time == "2026-12-03T21:10:00Z"  # offset and fraction of a second gone
    assert event.account_id == SOURCE
    assert event.parameters == {
        "accountId": PROD_ID,
        "sourceParentId": "ou-ab12-cdef3456",
        "destinationParentId": "r-ab12",
    }
    assert event.failed == ""


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2026-12-03T21:04:05Z", "2026-12-03T21:04:05Z"),
        ("2026-12-03T21:04:05.999Z", "2026-12-03T21:04:05Z"),
        ("2026-12-03T21:04:05+02:00", "2026-12-03T19:04:05Z"),
        ("2026-12-03T21:04:05-05:30", "2026-12-04T02:34:05Z"),
        ("2027-01-01T01:30:00.5+02:00", "2026-12-31T23:30:00Z"),
        ("2026-12-03T21:04:05+00:00", "2026-12-03T21:04:05Z"),
    ],
)
def test_time_is_utc_to_the_second(given: str, utc: str) -> None:
    assert _event(ROLE_EVENT, eventTime=given).time == utc


def test_a_refused_call_is_parsed_with_its_error_code() -> None:
    event = _event(
        ROLE_EVENT,
        errorCode="AccessDenied",
        errorMessage="User: eve is not authorized to perform: iam:UpdateAssumeRolePolicy",
    )
    assert event.failed == "AccessDenied"


def test_the_response_elements_are_kept() -> None:
    response = {"role": {"roleName": "AccountAccessRole", "roleId": "AROAEXAMPLEROLE012345"}}
    assert _event(ROLE_EVENT, responseElements=response).response == response


def test_a_service_without_an_arn_is_named_by_invoked_by() -> None:
    identity = {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
    assert _event(ROLE_EVENT, userIdentity=identity).actor == "cloudformation.amazonaws.com"


def test_a_caller_with_neither_arn_nor_service_is_named_by_its_type() -> None:
    assert _event(ROLE_EVENT, userIdentity={"type": "Root"}).actor == "Root"
    assert _event(ROLE_EVENT, userIdentity={}).actor == "unknown"


def _hostile() -> list[Any]:
    deep = _body(ROLE_EVENT)
    del deep["detail"]
    assumed = {"type": "AssumedRole", "arn": PERSON}
    return [
        pytest.param("this is not json", id="not JSON"),
        pytest.param("", id="empty"),
        pytest.param(json.dumps([ROLE_EVENT]), id="a JSON array"),
        pytest.param("42", id="a JSON number"),
        pytest.param("null", id="JSON null"),
        pytest.param('"AWS API Call via CloudTrail"', id="a JSON string"),
        pytest.param(
            json.dumps({**ROLE_EVENT, "detail-type": "AWS Console Sign In via CloudTrail"}),
            id="wrong detail-type",
        ),
        pytest.param(json.dumps({**ROLE_EVENT, "detail-type": None}), id="null detail-type"),
        pytest.param(json.dumps(deep), id="missing detail"),
        pytest.param(json.dumps({**ROLE_EVENT, "detail": "x"}), id="detail a string"),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventSource="s3.amazonaws.com")), id="s3 event"),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventSource=None)), id="no event source"),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, eventName="Update Assume Role Policy")),
            id="event name with spaces",
        ),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventName="A" * 200)), id="200-char name"),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventName="CreateRole\n")), id="name newline"),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventName=["CreateRole"])), id="name a list"),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, recipientAccountId="11111111111")), id="11 digits"
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, recipientAccountId="1111111111111")), id="13 digits"
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, recipientAccountId="11111111111a")), id="account letter"
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, recipientAccountId=111111111111)), id="account a number"
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, recipientAccountId="111111111111\n")),
            id="account newline",
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, eventTime="2026-12-03T21:04:05")), id="time no zone"
        ),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventTime="yesterday")), id="time not a date"),
        pytest.param(json.dumps(_body(ROLE_EVENT, eventTime=None)), id="no time"),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, userIdentity={**assumed, "arn": PERSON + "\n"})),
            id="arn trailing newline",
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, userIdentity={"arn": PERSON + "\nINFO forged log line"})),
            id="arn newline",
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, userIdentity={"arn": PERSON + "\x1b[2J\x1b[31m"})),
            id="arn ANSI escape",
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, userIdentity={"arn": PERSON + "x" * 10_000})),
            id="arn 10000 chars",
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, userIdentity={"arn": "not an arn"})), id="arn not arn"
        ),
        pytest.param(json.dumps(_body(ROLE_EVENT, userIdentity=None)), id="no user identity"),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, requestParameters=["roleName"])), id="parameters a list"
        ),
        pytest.param(
            json.dumps(_body(ROLE_EVENT, requestParameters={"p": "x" * (256 * 1024)})),
            id="over 256 KiB",
        ),
        pytest.param(b" " * (256 * 1024 + 1), id="over 256 KiB of bytes"),
        pytest.param("[" * 100_000, id="deeply nested arrays"),
        pytest.param('{"a":' * 50_000, id="deeply nested objects"),
        pytest.param(b'{"detail-type": "\xff\xfe"}', id="invalid UTF-8"),
        pytest.param(b"\xc3\x28", id="invalid UTF-8 only"),
    ]


@pytest.mark.parametrize("body", _hostile())
def test_a_hostile_body_is_refused_in_one_line(body: str | bytes) -> None:
    with pytest.raises(EventError) as caught:
        events.parse(body)
    message = str(caught.value)
    assert message
    assert "\n" not in message
    assert "\r" not in message
    assert "\x1b" not in message
    assert len(message) <= 300


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("this is not json", "not an AWS API call event: Expecting value"),
        (json.dumps(_body(ROLE_EVENT, eventTime="2026-12-03T21:04:05")), "has no time zone"),
        (json.dumps(_body(ROLE_EVENT, eventSource="s3.amazonaws.com")), "detail.eventSource"),
        (json.dumps(_body(ROLE_EVENT, recipientAccountId="1")), "detail.recipientAccountId"),
        ("[" * 100_000, "nested too deeply"),
        ("x" * (256 * 1024 + 1), f"message of {256 * 1024 + 1} bytes, over 262144"),
    ],
)
def test_the_refusal_says_why(body: str, said: str) -> None:
    with pytest.raises(EventError, match=said):
        events.parse(body)


def test_a_body_of_exactly_256_kib_is_read() -> None:
    text = json.dumps(ROLE_EVENT)
    padded = text[:-1] + " " * (256 * 1024 - len(text)) + "}"
    assert len(padded) == 256 * 1024
    assert events.parse(padded).name == "UpdateAssumeRolePolicy"


# --- touched --------------------------------------------------------------------------------


def _role(name: object = "AccountAccessRole", **detail: Any) -> events.Event:
    return _event(ROLE_EVENT, requestParameters={"roleName": name}, **detail)


def _iam(name: str, parameters: dict[str, Any], account: str = SOURCE) -> events.Event:
    return _event(
        ROLE_EVENT, eventName=name, requestParameters=parameters, recipientAccountId=account
    )


def _org(name: str, parameters: dict[str, Any]) -> events.Event:
    return _event(ORGANIZATIONS_EVENT, eventName=name, requestParameters=parameters)


def _touch(event: events.Event) -> tuple[Scope, str]:
    touch = events.touched(event, KNOWN, OWN)
    assert isinstance(touch, events.Touch), touch
    assert touch.event == event
    return touch.scope, touch.resource


def _ignored(event: events.Event) -> str:
    ignored = events.touched(event, KNOWN, OWN)
    assert isinstance(ignored, events.Ignored), ignored
    assert ignored.reason
    assert "\n" not in ignored.reason
    return ignored.reason


ROLES_OF_PROD = Scope(roles=frozenset({"acme-prod"}))
GROUPS = Scope(groups=True)
PLACEMENT_OF_PROD = Scope(placement=frozenset({"acme-prod"}))
TREE = Scope(tree=True)


@pytest.mark.parametrize("call", sorted(events.ROLE_CALLS))
def test_a_role_call_in_a_declared_account_touches_its_roles(call: str) -> None:
    event = _event(ROLE_EVENT, eventName=call, requestParameters={"roleName": "AccountAccessRole"})
    assert _touch(event) == (ROLES_OF_PROD, "role acme-prod/accountaccessrole")


def test_role_names_are_folded() -> None:
    assert _touch(_role("ACCOUNTACCESSROLE")) == (
        ROLES_OF_PROD,
        "role acme-prod/accountaccessrole",
    )


def test_a_role_the_document_does_not_place_is_ignored() -> None:
    assert "Deployer" in _ignored(_role("Deployer"))


def test_a_role_in_an_undeclared_account_is_ignored() -> None:
    assert OTHER_ID in _ignored(_role(recipientAccountId=OTHER_ID))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(["AccountAccessRole"], id="a list"),
        pytest.param({"name": "AccountAccessRole"}, id="a dict"),
        pytest.param("AccountAccessRole\n", id="trailing newline"),
        pytest.param("Account\nAccessRole", id="newline"),
        pytest.param("AccountAccessRole\x1b[31m", id="ANSI escape"),
        pytest.param(12, id="a number"),
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param("A" * 129, id="129 chars"),
    ],
)
def test_a_role_name_that_is_not_one_is_ignored(name: object) -> None:
    _ignored(_role(name))


def test_a_role_event_without_parameters_is_ignored() -> None:
    _ignored(_event(ROLE_EVENT, requestParameters=None))


@pytest.mark.parametrize("call", sorted(events.GROUP_CALLS))
def test_a_group_call_in_the_source_account_touches_the_groups(call: str) -> None:
    event = _iam(call, {"groupName": "Auditors", "userName": "carol"})
    assert _touch(event) == (GROUPS, "group auditors")


def test_a_declared_group_in_another_account_is_ignored() -> None:
    assert PROD_ID in _ignored(_iam("AddUserToGroup", {"groupName": "Auditors"}, PROD_ID))


def test_renaming_a_group_to_a_declared_name_touches_it() -> None:
    event = _iam("UpdateGroup", {"groupName": "Ops", "newGroupName": "Auditors"})
    assert _touch(event) == (GROUPS, "group auditors")


def test_an_undeclared_group_is_ignored() -> None:
    assert "Ops" in _ignored(_iam("PutGroupPolicy", {"groupName": "Ops"}))


@pytest.mark.parametrize(
    "name", [["Auditors"], {"groupName": "Auditors"}, "Auditors\n", "Audi tors"]
)
def test_a_group_name_that_is_not_one_is_ignored(name: object) -> None:
    _ignored(_iam("AddUserToGroup", {"groupName": name, "userName": "carol"}))


@pytest.mark.parametrize("call", sorted(events.USER_CALLS))
def test_a_user_policy_call_in_the_source_account_touches_the_groups(call: str) -> None:
    event = _iam(call, {"userName": "mallory", "policyName": "anything"})
    assert _touch(event) == (GROUPS, "")


def test_a_user_policy_call_in_another_account_is_ignored() -> None:
    _ignored(_iam("PutUserPolicy", {"userName": "mallory"}, PROD_ID))


@pytest.mark.parametrize(
    ("call", "parameters"),
    [
        ("MoveAccount", {"accountId": PROD_ID, "destinationParentId": "r-ab12"}),
        ("TagResource", {"resourceId": PROD_ID, "tags": [{"key": "k", "value": "v"}]}),
        ("UntagResource", {"resourceId": PROD_ID, "tagKeys": ["k"]}),
    ],
)
def test_an_account_call_on_a_declared_account_touches_its_placement(
    call: str, parameters: dict[str, Any]
) -> None:
    assert _touch(_org(call, parameters)) == (PLACEMENT_OF_PROD, "account acme-prod")


def test_an_account_call_on_an_undeclared_account_is_ignored() -> None:
    assert OTHER_ID in _ignored(_org("MoveAccount", {"accountId": OTHER_ID}))


def test_tagging_a_known_unit_touches_the_tree() -> None:
    event = _org("TagResource", {"resourceId": "ou-ab12-cdef3456", "tags": []})
    assert _touch(event) == (TREE, "unit Clients/Acme")


def test_tagging_an_unknown_unit_touches_the_tree_without_naming_it() -> None:
    assert _touch(_org("UntagResource", {"resourceId": "ou-ab12-99999999"})) == (TREE, "")


@pytest.mark.parametrize(
    "resource",
    [
        "r-ab12",
        "p-0123abcd",
        "ou-ab12-cdef3456\n",
        ["ou-ab12-cdef3456"],
        {"id": PROD_ID},
        "11111111111",
        None,
    ],
)
def test_tagging_what_is_neither_an_account_nor_a_unit_is_ignored(resource: object) -> None:
    _ignored(_org("TagResource", {"resourceId": resource}))


@pytest.mark.parametrize(
    ("call", "parameters", "resource"),
    [
        ("CreateOrganizationalUnit", {"parentId": "r-ab12", "name": "Initech"}, ""),
        (
            "DeleteOrganizationalUnit",
            {"organizationalUnitId": "ou-ab12-cdef3456"},
            "unit Clients/Acme",
        ),
        (
            "UpdateOrganizationalUnit",
            {"organizationalUnitId": "ou-ab12-cdef3456", "name": "Acme2"},
            "unit Clients/Acme",
        ),
        ("CreateAccount", {"accountName": "initech", "email": "aws+initech@example.com"}, ""),
        ("CloseAccount", {"accountId": PROD_ID}, "account acme-prod"),
        ("CloseAccount", {"accountId": OTHER_ID}, ""),
        ("RemoveAccountFromOrganization", {"accountId": PROD_ID}, "account acme-prod"),
    ],
)
def test_a_tree_call_touches_the_tree(call: str, parameters: dict[str, Any], resource: str) -> None:
    assert _touch(_org(call, parameters)) == (TREE, resource)


def test_a_refused_call_is_ignored() -> None:
    reason = _ignored(_role(errorCode="AccessDenied"))
    assert "AccessDenied" in reason


@pytest.mark.parametrize(
    ("base", "call"),
    [
        (ROLE_EVENT, "ListRoles"),
        (ROLE_EVENT, "GetRole"),
        (ROLE_EVENT, "CreateUser"),
        (ROLE_EVENT, "MoveAccount"),  # an Organizations call, but from IAM
        (ORGANIZATIONS_EVENT, "ListAccounts"),
        (ORGANIZATIONS_EVENT, "UpdateAssumeRolePolicy"),  # an IAM call, but from Organizations
    ],
)
def test_a_call_not_watched_is_ignored(base: dict[str, Any], call: str) -> None:
    assert call in _ignored(_event(base, eventName=call))


# --- the daemon's own calls -----------------------------------------------------------------


def _by(arn: str) -> events.Event:
    return _role(userIdentity={"type": "AssumedRole", "arn": arn})


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(DAEMON, id="the daemon's session"),
        pytest.param(DAEMON.replace(PROD_ID, OTHER_ID), id="its session in another account"),
        pytest.param(DAEMON_BASE, id="its own credentials"),
    ],
)
def test_the_daemons_own_calls_are_ignored(arn: str) -> None:
    assert OWN.made(_by(arn))
    assert _ignored(_by(arn)) == "made by reconciler itself"


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(DAEMON.replace(SESSION, "reconciler"), id="session reconciler"),
        pytest.param(DAEMON + "X", id="session with a suffix"),
        pytest.param(DAEMON.replace(SESSION, "Reconciler-0123456789ab"), id="session in caps"),
        pytest.param(DAEMON.replace(SESSION, "xreconciler-0123456789ab"), id="session prefixed"),
        pytest.param(
            DAEMON.replace("OrganizationAccountAccessRole", "AdminRole"), id="another role"
        ),
        pytest.param(f"arn:aws:iam::{PROD_ID}:user/{SESSION}", id="a user named like it"),
        pytest.param(
            f"arn:aws:iam::{PROD_ID}:user/OrganizationAccountAccessRole/{SESSION}",
            id="a user with a path like it",
        ),
        pytest.param(
            DAEMON.replace(":sts:", ":iam:").replace("assumed-role", "role"), id="an iam role ARN"
        ),
        pytest.param(DAEMON.replace(":sts:", ":iam:"), id="an iam assumed-role ARN"),
        pytest.param(DAEMON_BASE.replace("session-1", "session-2"), id="another base session"),
        pytest.param(
            DAEMON_BASE.replace("ReconcilerDeploy", "ReconcilerDeploy2"), id="another base role"
        ),
    ],
)
def test_lookalikes_of_the_daemon_are_someone_else(arn: str) -> None:
    event = _by(arn)
    assert not OWN.made(event)
    touch = events.touched(event, KNOWN, OWN)
    assert isinstance(touch, events.Touch)
    assert touch.scope == ROLES_OF_PROD
    assert touch.event.cause == plan.Cause(arn, "2026-12-03T21:04:05Z", "UpdateAssumeRolePolicy")


def test_a_service_named_like_the_daemons_session_is_someone_else() -> None:
    event = _role(userIdentity={"type": "AWSService", "invokedBy": SESSION})
    assert not OWN.made(event)
    assert _touch(event) == (ROLES_OF_PROD, "role acme-prod/accountaccessrole")


def test_a_refused_call_of_someone_else_is_ignored_before_all_else() -> None:
    event = _org("CloseAccount", {"accountId": PROD_ID})
    refused = _event(
        ORGANIZATIONS_EVENT,
        eventName="CloseAccount",
        requestParameters={"accountId": PROD_ID},
        errorCode="ConstraintViolationException",
    )
    assert _touch(event) == (TREE, "account acme-prod")
    assert "ConstraintViolationException" in _ignored(refused)


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-02:00", "0001-01-01T00:00:00+02:00"])
def test_a_time_outside_what_utc_can_hold_is_refused(moment: str) -> None:
    with pytest.raises(EventError):
        events.parse(json.dumps(_body(ROLE_EVENT, eventTime=moment)))


@pytest.mark.parametrize(
    "identity",
    [
        {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com\nINFO forged"},
        {"type": "AWSService", "invokedBy": "svc\x1b[2J"},
        {"type": "Root\nINFO forged"},
    ],
)
def test_an_actor_without_an_arn_is_as_strict_as_one_with(identity: dict[str, str]) -> None:
    with pytest.raises(EventError):
        events.parse(json.dumps(_body(ROLE_EVENT, userIdentity=identity)))


def test_the_size_limit_counts_bytes_of_a_text_body() -> None:
    params = {"roleName": "AccountAccessRole", "p": "\u00e9" * 200_000}
    text = json.dumps(_body(ROLE_EVENT, requestParameters=params), ensure_ascii=False)
    assert len(text.encode("utf-8")) > 256 * 1024 > len(text)
    with pytest.raises(EventError, match="bytes, over 262144"):
        events.parse(text)


@pytest.mark.parametrize(
    ("call", "parameters"),
    [
        ("CreateGroup", {"groupName": "Backdoor", "path": "/reconciler/"}),
        ("UpdateGroup", {"groupName": "Elsewhere", "newPath": "/reconciler/"}),
    ],
)
def test_a_group_made_or_moved_at_the_daemons_path_is_touched_though_unknown(
    call: str, parameters: dict[str, Any]
) -> None:
    name = parameters["groupName"].lower()
    assert _touch(_iam(call, parameters)) == (Scope(groups=True), f"group {name}")


@pytest.mark.parametrize("path", ["/", "/reconciler/x/", "/Reconciler/", None])
def test_a_group_made_elsewhere_is_not_the_daemons(path: str | None) -> None:
    parameters = {"groupName": "Backdoor", **({"path": path} if path else {})}
    assert _ignored(_iam("CreateGroup", parameters)).startswith("group Backdoor")
