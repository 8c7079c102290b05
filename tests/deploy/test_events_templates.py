"""The CloudFormation templates of deploy/events/cloudformation: the EventBridge rules select
exactly the calls the daemon handles (`reconciler.core.events.WATCHED`), the queue takes
messages from those rules only and the bus from the organization only, and both templates
are valid CloudFormation (cfn-lint, against the resource specification).

Against moto's server, the central stack is created with CloudFormation and the member stack
in a member account: a CloudTrail-shaped event put on a bus arrives on the queue as a body the
daemon's `events.parse` reads, and events the pattern does not select do not.

The kustomize Component deploy/events gives the daemon the queue's URL, and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.aws import queue
from reconciler.core import events
from reconciler.core.errors import ReconcilerError
from tests.aws.support import Aws
from tests.deploy.kustomize import render
from tests.simulation.strict import StrictAws
from tests.simulation.support import calm

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPONENT = DEPLOY / "events"
TEMPLATES = COMPONENT / "cloudformation"
CENTRAL = TEMPLATES / "central.yaml"
MEMBER = TEMPLATES / "member.yaml"
# Every rule of each template, by logical id: a rule added or dropped fails here.
RULES = {
    CENTRAL: ("ForwardedChangesRule", "OwnChangesRule"),
    MEMBER: ("ForwardChangesRule",),
}
MALLORY = "arn:aws:iam::222222222222:user/mallory"

pytestmark = [
    pytest.mark.timeout(240),
    # moto's CloudFormation skips these two types (below); any other it skipped would show
    # (":" separates a filter's fields, so "." stands for it in the messages).
    pytest.mark.filterwarnings(
        "ignore:Tried to parse AWS..SQS..QueuePolicy :UserWarning",
        "ignore:Tried to parse AWS..Events..EventBusPolicy :UserWarning",
    ),
]


def load(path: Path) -> dict[str, Any]:
    template = yaml.safe_load(path.read_text())
    assert isinstance(template, dict)
    return template


def resource(template: dict[str, Any], logical_id: str, kind: str) -> dict[str, Any]:
    found = template["Resources"][logical_id]
    assert found["Type"] == kind, logical_id
    properties = found["Properties"]
    assert isinstance(properties, dict)
    return properties


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# --- the pattern: the rules and the daemon agree --------------------------------------------


def expected_pattern() -> dict[str, Any]:
    """What the daemon handles, as an EventBridge pattern: built from WATCHED, never from the
    templates."""
    return {
        # CloudTrail's eventSource iam.amazonaws.com is EventBridge's source aws.iam.
        "source": sorted(
            "aws." + source.removesuffix(".amazonaws.com") for source in events.WATCHED
        ),
        "detail-type": [events.DETAIL_TYPE],
        "detail": {
            "eventSource": sorted(events.WATCHED),
            "eventName": sorted(set().union(*events.WATCHED.values())),
            "errorCode": [{"exists": False}],
        },
    }


def test_the_expected_pattern_is_the_one_the_daemon_reads() -> None:
    pattern = expected_pattern()
    assert pattern["source"] == ["aws.iam", "aws.organizations"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert {"UpdateAssumeRolePolicy", "AddUserToGroup", "MoveAccount"} <= set(
        pattern["detail"]["eventName"]
    )
    assert "ListRoles" not in pattern["detail"]["eventName"]


@pytest.mark.parametrize(
    ("path", "rule"),
    [(path, rule) for path, rules in RULES.items() for rule in rules],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_each_rule_selects_exactly_the_watched_calls(path: Path, rule: str) -> None:
    properties = resource(load(path), rule, "AWS::Events::Rule")
    assert properties["EventPattern"] == expected_pattern()
    assert properties["State"] == "ENABLED"


@pytest.mark.parametrize("path", sorted(RULES), ids=lambda p: p.name)
def test_no_other_rule(path: Path) -> None:
    resources = load(path)["Resources"]
    found = sorted(k for k, v in resources.items() if v["Type"] == "AWS::Events::Rule")
    assert found == sorted(RULES[path])


@pytest.mark.parametrize("path", sorted(RULES), ids=lambda p: p.name)
def test_only_us_east_1(path: Path) -> None:
    """IAM's and Organizations' events reach EventBridge in us-east-1 alone: a stack
    elsewhere would receive nothing, so the template refuses to be one."""
    (rule,) = load(path)["Rules"].values()
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


# --- where the rules send, and who may send -----------------------------------------------------


def test_central_rules_fill_the_queue_from_the_bus_and_the_default_bus() -> None:
    template = load(CENTRAL)
    forwarded = resource(template, "ForwardedChangesRule", "AWS::Events::Rule")
    own = resource(template, "OwnChangesRule", "AWS::Events::Rule")
    assert forwarded["EventBusName"] == get_att("EventBus", "Name")
    assert own["EventBusName"] == "default"
    for rule in (forwarded, own):
        (target,) = rule["Targets"]
        assert target["Arn"] == get_att("Queue", "Arn")


def test_the_queue_takes_messages_from_the_two_rules_only() -> None:
    template = load(CENTRAL)
    policy = resource(template, "QueuePolicy", "AWS::SQS::QueuePolicy")
    assert policy["Queues"] == [{"Ref": "Queue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == get_att("Queue", "Arn")
    assert statement["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": [
                get_att("ForwardedChangesRule", "Arn"),
                get_att("OwnChangesRule", "Arn"),
            ]
        }
    }


def test_the_bus_takes_events_from_the_organization_only() -> None:
    template = load(CENTRAL)
    policy = resource(template, "EventBusPolicy", "AWS::Events::EventBusPolicy")
    assert policy["EventBusName"] == get_att("EventBus", "Name")
    statement = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == get_att("EventBus", "Arn")
    # Principal "*" is bounded by the one condition: the caller's organization.
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    }
    parameter = template["Parameters"]["OrganizationId"]
    assert parameter["Type"] == "String"
    assert "Default" not in parameter, "a default organization would admit someone else's"


def test_the_queue_is_encrypted_and_gives_up_on_a_message_after_five_receives() -> None:
    template = load(CENTRAL)
    queue = resource(template, "Queue", "AWS::SQS::Queue")
    dead = resource(template, "DeadLetterQueue", "AWS::SQS::Queue")
    assert queue["QueueName"] == "reconciler-events"  # the name the IAM policies grant
    for properties in (queue, dead):
        assert properties["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in properties
    assert queue["VisibilityTimeout"] >= 300
    assert queue["MessageRetentionPeriod"] == 86400
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": get_att("DeadLetterQueue", "Arn"),
        "maxReceiveCount": 5,
    }
    # A message keeps its first enqueue time in the dead-letter queue: it must outlive it.
    assert dead["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_central_outputs() -> None:
    outputs = load(CENTRAL)["Outputs"]
    assert outputs["QueueUrl"]["Value"] == {"Ref": "Queue"}
    assert outputs["QueueArn"]["Value"] == get_att("Queue", "Arn")
    assert outputs["EventBusArn"]["Value"] == get_att("EventBus", "Arn")
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": "DeadLetterQueue"}
    assert outputs["DeadLetterQueueArn"]["Value"] == get_att("DeadLetterQueue", "Arn")


def test_members_forward_to_the_central_bus_with_a_role_that_can_do_only_that() -> None:
    template = load(MEMBER)
    rule = resource(template, "ForwardChangesRule", "AWS::Events::Rule")
    assert rule["EventBusName"] == "default"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == get_att("ForwardingRole", "Arn")
    role = resource(template, "ForwardingRole", "AWS::IAM::Role")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert (grant["Effect"], grant["Action"]) == ("Allow", "events:PutEvents")
    assert grant["Resource"] == {"Ref": "CentralEventBusArn"}
    assert "ManagedPolicyArns" not in role


# --- cfn-lint: the CloudFormation resource specification ------------------------------------


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint (the dev extra) on one template: errors and warnings, not informational."""
    beside = Path(sys.executable).parent / "cfn-lint"
    command = str(beside) if beside.exists() else shutil.which("cfn-lint")
    assert command, "cfn-lint is not installed (pip install -e '.[dev]')"
    return subprocess.run(
        [command, "--regions", "us-east-1", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("path", sorted(RULES), ids=lambda p: p.name)
def test_cfn_lint_finds_nothing(path: Path) -> None:
    done = cfn_lint(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_catches_a_misspelt_property(tmp_path: Path) -> None:
    broken = tmp_path / "central.yaml"
    text = CENTRAL.read_text()
    assert "VisibilityTimeout:" in text
    broken.write_text(text.replace("VisibilityTimeout:", "VisibilityTimout:"))
    done = cfn_lint(broken)
    assert done.returncode & 2, "cfn-lint exits with bit 2 set on an error"
    assert "E3002" in done.stdout


# --- against moto's server --------------------------------------------------------------------
#
# moto's CloudFormation creates the queues, the bus and the rules (with their targets) of
# central.yaml, and the role and rule of member.yaml; it skips AWS::SQS::QueuePolicy and
# AWS::Events::EventBusPolicy with a warning (it has no CloudFormation support for them), and
# enforces neither a queue policy nor a bus policy nor a target's role. Those are checked as
# documents above; here, what the rules select and what arrives.
#
# AWS refuses PutEvents with a source beginning "aws." (only AWS services emit those); moto
# accepts it, a simulator convenience used here only to put a CloudTrail-shaped event through
# the rules' pattern as CloudTrail would.

STACK = "reconciler-events"


def cloudtrail_event(name: str = "UpdateAssumeRolePolicy", **detail: Any) -> dict[str, Any]:
    """An event as CloudTrail hands it to EventBridge: a role's trust changed by mallory."""
    fields: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "eventTime": "2026-12-03T20:15:42Z",
        "awsRegion": "us-east-1",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEMALLORY0001",
            "arn": MALLORY,
            "accountId": "222222222222",
            "userName": "mallory",
        },
        "recipientAccountId": "222222222222",
        "requestParameters": {
            "roleName": "AccountAccessRole",
            "policyDocument": '{"Version":"2012-10-17","Statement":[]}',
        },
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "eventCategory": "Management",
    }
    return {**fields, **detail}


def entry(detail: dict[str, Any], bus: str, **envelope: str) -> dict[str, str]:
    source = "aws." + str(detail["eventSource"]).removesuffix(".amazonaws.com")
    return {
        "Source": envelope.get("Source", source),
        "DetailType": envelope.get("DetailType", events.DETAIL_TYPE),
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def create_stack(cloudformation: Any, path: Path, parameters: dict[str, str]) -> dict[str, str]:
    """The stack's outputs, once created."""
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=path.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    for _ in range(50):
        (stack,) = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def drain(sqs: Any, queue_url: str) -> list[str]:
    """The bodies of every message on the queue, each received once and deleted."""
    bodies: list[str] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def central(aws: Aws, strict: StrictAws) -> dict[str, str]:
    """The central stack in the management account (moto's fixed 123456789012), created by
    moto's CloudFormation from central.yaml as shipped; its outputs."""
    strict.settings = calm()
    organization = aws.org.describe_organization()["Organization"]["Id"]
    return create_stack(aws.client("cloudformation"), CENTRAL, {"OrganizationId": organization})


def test_the_central_stack_creates_what_the_daemon_reads(aws: Aws, central: dict[str, str]) -> None:
    assert central["QueueUrl"].endswith("/123456789012/reconciler-events")
    assert central["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:reconciler-events"
    assert central["EventBusArn"] == (
        "arn:aws:events:us-east-1:123456789012:event-bus/reconciler-events"
    )
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=central["QueueUrl"], AttributeNames=["All"])
    queue = attributes["Attributes"]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert int(queue["VisibilityTimeout"]) >= 300
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == (
        "arn:aws:sqs:us-east-1:123456789012:reconciler-events-dead-letter"
    )
    assert int(redrive["maxReceiveCount"]) == 5


@pytest.mark.parametrize("bus", ["reconciler-events", "default"])
def test_a_watched_call_arrives_as_an_event_the_daemon_reads(
    aws: Aws, central: dict[str, str], bus: str
) -> None:
    """Through the central bus (a member's forwarded event) and the default bus (the central
    account's own)."""
    aws.client("events").put_events(Entries=[entry(cloudtrail_event(), bus)])
    (body,) = drain(aws.client("sqs"), central["QueueUrl"])
    event = events.parse(body)
    assert (event.name, event.actor) == ("UpdateAssumeRolePolicy", MALLORY)
    assert event.account_id == "222222222222"
    assert event.parameters["roleName"] == "AccountAccessRole"
    assert event.time == "2026-12-03T20:15:42Z"
    assert event.failed == ""


@pytest.mark.parametrize("bus", ["reconciler-events", "default"])
def test_calls_the_daemon_does_not_handle_do_not_arrive(
    aws: Aws, central: dict[str, str], bus: str
) -> None:
    unselected = [
        entry(cloudtrail_event("ListRoles"), bus),  # a read
        entry(cloudtrail_event("CreateUser"), bus),  # a write the daemon does not handle
        # a watched name, from another service
        entry(cloudtrail_event(eventSource="s3.amazonaws.com"), bus),
        entry(cloudtrail_event(), bus, Source="aws.s3"),
        # the same call, refused by AWS: nothing changed
        entry(cloudtrail_event(errorCode="AccessDenied", errorMessage="not authorized"), bus),
        # another kind of CloudTrail event
        entry(cloudtrail_event(), bus, DetailType="AWS Console Signin via CloudTrail"),
    ]
    sent = aws.client("events").put_events(Entries=unselected)
    assert sent["FailedEntryCount"] == 0
    # One that is selected, last: it alone arrives, so the others were not merely late.
    aws.client("events").put_events(Entries=[entry(cloudtrail_event("AttachRolePolicy"), bus)])
    bodies = drain(aws.client("sqs"), central["QueueUrl"])
    assert [events.parse(body).name for body in bodies] == ["AttachRolePolicy"]


def test_a_member_accounts_stack_forwards_its_calls_to_the_central_queue(
    aws: Aws, central: dict[str, str]
) -> None:
    """member.yaml in a member account, as the StackSet deploys it: a change there reaches
    the central queue, naming the member account."""
    member = aws.create_account("workload@example.com", "workload")
    outputs = create_stack(
        aws.client("cloudformation", member),
        MEMBER,
        {"CentralEventBusArn": central["EventBusArn"]},
    )
    assert outputs["ForwardChangesRuleArn"] == (
        f"arn:aws:events:us-east-1:{member}:rule/reconciler-forward-changes"
    )
    roles = aws.client("iam", member).list_roles()["Roles"]
    (forwarding,) = (r for r in roles if "ForwardingRole" in r["RoleName"])
    (trust,) = forwarding["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}

    detail = cloudtrail_event(
        "DeleteRolePolicy",
        recipientAccountId=member,
        userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::{member}:user/mallory"},
    )
    member_events = aws.client("events", member)
    member_events.put_events(
        Entries=[entry(detail, "default"), entry(cloudtrail_event("ListRoles"), "default")]
    )
    (body,) = drain(aws.client("sqs"), central["QueueUrl"])
    event = events.parse(body)
    assert (event.name, event.account_id) == ("DeleteRolePolicy", member)
    assert event.actor == f"arn:aws:iam::{member}:user/mallory"


# --- the kustomize Component ------------------------------------------------------------------


def container_env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = (o for o in objects if o["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


@pytest.fixture
def with_component(tmp_path: Path) -> list[dict[str, Any]]:
    """The worked example with the Component, as an overlay of one's own would add it."""
    example = os.path.relpath(DEPLOY / "overlays" / "example", tmp_path)
    component = os.path.relpath(COMPONENT, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [example], "components": [component]})
    )
    return render(tmp_path)


def test_the_component_sets_the_queue_url_and_changes_nothing_else(
    with_component: list[dict[str, Any]],
) -> None:
    without = render(DEPLOY / "overlays" / "example")
    env = container_env(with_component)
    url = env.pop("RECONCILER_EVENTS_QUEUE_URL")["value"]
    assert env == container_env(without)
    assert url == "https://sqs.us-east-1.amazonaws.com/<MANAGEMENT_ACCOUNT_ID>/reconciler-events"
    for obj in without:
        if obj["kind"] != "Deployment":
            assert obj in with_component, f"{obj['kind']} changed"


def test_the_queue_url_fails_closed_until_the_account_is_filled_in() -> None:
    """The daemon reads the URL as production does: with the placeholder it refuses to start;
    with an account id it is the central stack's queue, in us-east-1."""
    patch = yaml.safe_load((COMPONENT / "queue-url.yaml").read_text())
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    (variable,) = container["env"]
    assert variable["name"] == "RECONCILER_EVENTS_QUEUE_URL"
    url = variable["value"]
    with pytest.raises(ReconcilerError, match="not an SQS queue URL"):
        queue.region_of(url, endpoint_url=None, default_region="eu-west-1")
    filled = url.replace("<MANAGEMENT_ACCOUNT_ID>", "111111111111")
    assert queue.region_of(filled, endpoint_url=None, default_region="eu-west-1") == "us-east-1"
    assert filled.rsplit("/", 1)[1] == "reconciler-events"  # central.yaml's QueueName


def test_the_component_passes_strict_validation(with_component: list[dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.utils.latest_version()
    (deployment,) = (o for o in with_component if o["kind"] == "Deployment")
    try:
        kubernetes_validate.validate(deployment, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"Deployment: {exc.message} at {exc.path}")
