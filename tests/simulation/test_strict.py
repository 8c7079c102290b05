"""The strict simulator answers as AWS documents AWS to answer, where moto alone does not."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.simulator import MANAGED_POLICIES, MANAGEMENT_ACCOUNT_ID
from tests.simulation.faults import FaultyServer
from tests.simulation.strict import StrictAws
from tests.simulation.support import Clients, reset_moto

BOOTSTRAP_ROLE = "OrganizationAccountAccessRole"
READ_ONLY = f"arn:aws:iam::aws:policy/{MANAGED_POLICIES[1]}"


def trust(partition: str = "aws") -> str:
    principal = f"arn:{partition}:iam::{MANAGEMENT_ACCOUNT_ID}:root"
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def document(size: int, indent: int | None = None) -> str:
    """A policy document of exactly `size` characters once whitespace is removed."""
    base = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/"}
    compact = len(json.dumps({"Version": "2012-10-17", "Statement": [base]}, separators=(",", ":")))
    statement = {**base, "Resource": base["Resource"] + "k" * (size - compact)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=indent)


def refused(call: Any, **arguments: Any) -> dict[str, Any]:
    """The error of a call that must fail, with its HTTP status."""
    with pytest.raises(ClientError) as raised:
        call(**arguments)
    error = dict(raised.value.response["Error"])
    return {**error, "Status": raised.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def names(aws: Clients) -> set[str]:
    pages = aws.org.get_paginator("list_accounts").paginate()
    return {account["Name"] for page in pages for account in page["Accounts"]}


def root(aws: Clients) -> str:
    return str(aws.org.list_roots()["Roots"][0]["Id"])


def bootstrap_role(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{BOOTSTRAP_ROLE}"


# --- conflicts --------------------------------------------------------------------------------


def test_a_conflicted_move_account_leaves_the_account_where_it_was(
    aws: Clients, strict: StrictAws
) -> None:
    account_id = aws.create_account("member")["AccountId"]
    unit = aws.org.create_organizational_unit(ParentId=root(aws), Name="workloads")
    strict.settings.conflict_rate = 1.0

    error = refused(
        aws.org.move_account,
        AccountId=account_id,
        SourceParentId=root(aws),
        DestinationParentId=unit["OrganizationalUnit"]["Id"],
    )

    assert error["Code"] == "ConcurrentModificationException"
    assert "conflicts with another attempt to modify the same entity" in error["Message"]
    assert aws.org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == root(aws)
    assert strict.injected["conflict"] == 1


def test_a_move_from_a_parent_the_account_is_not_in_is_refused(
    aws: Clients, strict: StrictAws
) -> None:
    strict.settings.conflict_rate = 0.0
    account_id = aws.create_account("member")["AccountId"]
    units = [
        aws.org.create_organizational_unit(ParentId=root(aws), Name=name)["OrganizationalUnit"]
        for name in ("workloads", "sandbox")
    ]
    aws.org.move_account(
        AccountId=account_id, SourceParentId=root(aws), DestinationParentId=units[0]["Id"]
    )

    error = refused(
        aws.org.move_account,
        AccountId=account_id,
        SourceParentId=root(aws),  # where it was, not where it is
        DestinationParentId=units[1]["Id"],
    )

    assert error["Code"] == "SourceParentNotFoundException"
    assert aws.org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == units[0]["Id"]
    aws.org.move_account(
        AccountId=account_id, SourceParentId=units[0]["Id"], DestinationParentId=units[1]["Id"]
    )
    assert aws.org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == units[1]["Id"]
    assert strict.injected["source"] == 1


def test_a_conflicted_iam_write_answers_409_and_changes_nothing(
    aws: Clients, strict: StrictAws
) -> None:
    strict.settings.conflict_rate = 1.0

    error = refused(aws.iam.create_role, RoleName="deployer", AssumeRolePolicyDocument=trust())

    assert (error["Code"], error["Status"]) == ("ConcurrentModification", 409)
    assert aws.iam.list_roles()["Roles"] == []  # reads never conflict


def test_conflicts_are_drawn_from_the_seed(aws: Clients, strict: StrictAws) -> None:
    strict.settings.conflict_rate = 0.5

    def outcomes() -> list[bool]:
        tag = {"ResourceId": MANAGEMENT_ACCOUNT_ID, "Tags": [{"Key": "k", "Value": "v"}]}
        results = []
        for _ in range(20):
            try:
                aws.org.tag_resource(**tag)
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    first = outcomes()
    strict.reset()
    second = outcomes()

    assert first == second
    assert True in first and False in first


def test_two_writes_in_flight_on_one_account_conflict(aws: Clients, strict: StrictAws) -> None:
    strict.settings.write_latency = 0.5

    def tag(key: str) -> None:
        aws.org.tag_resource(ResourceId=MANAGEMENT_ACCOUNT_ID, Tags=[{"Key": key, "Value": "v"}])

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(tag, "first")
        time.sleep(0.2)
        second = pool.submit(tag, "second")
        first.result()
        with pytest.raises(ClientError, match="ConcurrentModificationException"):
            second.result()

    tags = aws.org.list_tags_for_resource(ResourceId=MANAGEMENT_ACCOUNT_ID)["Tags"]
    assert [t["Key"] for t in tags] == ["first"]
    assert strict.injected == Counter({"overlap": 1})


# --- eventual consistency ---------------------------------------------------------------------


def test_a_new_role_is_not_found_by_the_next_call_naming_it(
    aws: Clients, strict: StrictAws
) -> None:
    strict.settings.consistency_calls = 1
    aws.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust())

    details = aws.iam.get_account_authorization_details(Filter=["Role"])
    error = refused(aws.iam.get_role, RoleName="deployer")

    assert [r["RoleName"] for r in details["RoleDetailList"]] == ["deployer"]
    assert (error["Code"], error["Status"]) == ("NoSuchEntity", 404)
    assert error["Message"] == "The role with name deployer cannot be found."
    assert aws.iam.get_role(RoleName="deployer")["Role"]["RoleName"] == "deployer"


def test_adding_a_new_user_to_a_new_group_finds_neither_at_first(
    aws: Clients, strict: StrictAws
) -> None:
    strict.settings.consistency_calls = 1
    aws.iam.create_group(GroupName="operators")
    aws.iam.create_user(UserName="alice")

    error = refused(aws.iam.add_user_to_group, GroupName="operators", UserName="alice")
    aws.iam.add_user_to_group(GroupName="operators", UserName="alice")

    assert error["Message"] == "The group with name operators cannot be found."
    users = aws.iam.get_group(GroupName="operators")["Users"]
    assert [u["UserName"] for u in users] == ["alice"]


def test_a_new_account_refuses_assume_role_at_first(aws: Clients, strict: StrictAws) -> None:
    strict.settings.access_delay_calls = 1
    account_id = aws.create_account("member")["AccountId"]

    error = refused(aws.sts.assume_role, RoleArn=bootstrap_role(account_id), RoleSessionName="test")
    member_iam = aws.client("iam", aws.keys(bootstrap_role(account_id)))
    member_iam.get_role(RoleName=BOOTSTRAP_ROLE)

    assert (error["Code"], error["Status"]) == ("AccessDenied", 403)
    assert error["Message"].endswith(
        f"is not authorized to perform: sts:AssumeRole on resource: {bootstrap_role(account_id)}"
    )
    assert strict.assumed == Counter({account_id: 2})
    assert strict.calls_in(account_id) == Counter({"iam:GetRole": 1})
    assert strict.calls_in(MANAGEMENT_ACCOUNT_ID)["sts:AssumeRole"] == 2


# --- CreateAccount ----------------------------------------------------------------------------


def test_create_account_is_in_progress_then_succeeds(aws: Clients, strict: StrictAws) -> None:
    strict.settings.creation_polls = 1
    started = aws.org.create_account(
        AccountName="member", Email="member@example.com", Tags=[{"Key": "team", "Value": "a"}]
    )["CreateAccountStatus"]
    request = {"CreateAccountRequestId": started["Id"]}

    polled = aws.org.describe_create_account_status(**request)["CreateAccountStatus"]
    listed_while_in_progress = names(aws)
    done = aws.org.describe_create_account_status(**request)["CreateAccountStatus"]

    assert re.fullmatch(r"car-[0-9a-f]{32}", started["Id"])
    assert (started["State"], polled["State"], done["State"]) == (
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCEEDED",
    )
    assert "member" not in listed_while_in_progress
    assert "member" in names(aws)
    tags = aws.org.list_tags_for_resource(ResourceId=done["AccountId"])["Tags"]
    assert tags == [{"Key": "team", "Value": "a"}]


def test_a_duplicate_email_fails_with_email_already_exists(aws: Clients, strict: StrictAws) -> None:
    aws.create_account("first", "Shared@Example.com")

    second = aws.create_account("second", "shared@example.com")

    assert (second["State"], second["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    assert "AccountId" not in second and "CompletedTimestamp" in second
    assert names(aws) == {"master", "first"}


def test_a_creation_fails_for_the_reason_chosen(aws: Clients, strict: StrictAws) -> None:
    strict.settings.fail_creations = {"limited@example.com": "ACCOUNT_LIMIT_EXCEEDED"}

    status = aws.create_account("limited", "Limited@example.com")

    assert (status["State"], status["FailureReason"]) == ("FAILED", "ACCOUNT_LIMIT_EXCEEDED")
    assert names(aws) == {"master"}
    assert strict.injected == Counter({"creation_failed": 1})


def test_a_sixth_creation_in_progress_is_refused_whoever_started_the_others(
    aws: Clients, strict: StrictAws
) -> None:
    for index in range(2):
        strict.foreign_creation(f"elsewhere-{index}")
    ours = [
        aws.org.create_account(AccountName=f"ours-{i}", Email=f"ours-{i}@example.com")
        for i in range(3)
    ]

    error = refused(aws.org.create_account, AccountName="sixth", Email="sixth@example.com")
    request = {"CreateAccountRequestId": ours[0]["CreateAccountStatus"]["Id"]}
    aws.org.describe_create_account_status(**request)
    aws.org.describe_create_account_status(**request)  # SUCCEEDED: one slot free
    accepted = aws.org.create_account(AccountName="sixth", Email="sixth@example.com")

    assert error["Code"] == "TooManyRequestsException"
    assert "at most 5 account creations in progress" in error["Message"]
    assert accepted["CreateAccountStatus"]["State"] == "IN_PROGRESS"


def test_list_create_account_status_filters_and_pages(aws: Clients, strict: StrictAws) -> None:
    strict.settings.fail_creations = {"failed@example.com": "INVALID_EMAIL"}
    done = aws.create_account("done")["Id"]
    failed = aws.create_account("failed")["Id"]
    waiting = strict.foreign_creation("elsewhere")
    paginator = aws.org.get_paginator("list_create_account_status")

    in_progress = paginator.paginate(States=["IN_PROGRESS"]).build_full_result()
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))

    assert [s["Id"] for s in in_progress["CreateAccountStatuses"]] == [waiting]
    assert [len(p["CreateAccountStatuses"]) for p in pages] == [2, 1]
    every = [s["Id"] for p in pages for s in p["CreateAccountStatuses"]]
    assert every == [waiting, failed, done]


def test_a_foreign_creation_completes_after_its_polls(aws: Clients, strict: StrictAws) -> None:
    request = {"CreateAccountRequestId": strict.foreign_creation("elsewhere", polls=1)}

    polled = aws.org.describe_create_account_status(**request)["CreateAccountStatus"]
    done = aws.org.describe_create_account_status(**request)["CreateAccountStatus"]

    assert (polled["State"], done["State"]) == ("IN_PROGRESS", "SUCCEEDED")
    assert "elsewhere" in names(aws)


def test_an_unknown_creation_request_is_not_found(aws: Clients, strict: StrictAws) -> None:
    error = refused(
        aws.org.describe_create_account_status, CreateAccountRequestId="car-" + "0" * 32
    )

    assert error["Code"] == "CreateAccountStatusNotFoundException"


# --- quotas -----------------------------------------------------------------------------------


def subject(aws: Clients, kind: str) -> dict[str, str]:
    """A role or a group named `subject`, the parameter that names it."""
    if kind == "Role":
        aws.iam.create_role(RoleName="subject", AssumeRolePolicyDocument=trust())
    else:
        aws.iam.create_group(GroupName="subject")
    return {f"{kind}Name": "subject"}


@pytest.mark.parametrize("kind", ["Role", "Group"])
def test_an_eleventh_managed_policy_exceeds_the_quota(
    aws: Clients, strict: StrictAws, kind: str
) -> None:
    named = subject(aws, kind)
    arns = [
        aws.iam.create_policy(PolicyName=f"p{i}", PolicyDocument=document(100))["Policy"]["Arn"]
        for i in range(11)
    ]
    attach = getattr(aws.iam, f"attach_{kind.lower()}_policy")
    for arn in arns[:10]:
        attach(PolicyArn=arn, **named)
    attach(PolicyArn=arns[0], **named)  # already attached: within the quota

    error = refused(attach, PolicyArn=arns[10], **named)

    assert (error["Code"], error["Status"]) == ("LimitExceeded", 409)
    assert error["Message"] == f"Cannot exceed quota for PoliciesPer{kind}: 10"
    listed = getattr(aws.iam, f"list_attached_{kind.lower()}_policies")(**named)
    assert len(listed["AttachedPolicies"]) == 10


@pytest.mark.parametrize(("kind", "limit"), [("Role", 10_240), ("Group", 5_120)])
def test_inline_policies_are_limited_in_all_without_whitespace(
    aws: Clients, strict: StrictAws, kind: str, limit: int
) -> None:
    named = subject(aws, kind)
    put = getattr(aws.iam, f"put_{kind.lower()}_policy")
    put(PolicyName="first", PolicyDocument=document(limit - 1000, indent=4), **named)
    put(PolicyName="second", PolicyDocument=document(1000), **named)  # exactly the limit
    put(PolicyName="second", PolicyDocument=document(900), **named)  # replaced, not added

    error = refused(put, PolicyName="third", PolicyDocument=document(101), **named)

    assert (error["Code"], error["Status"]) == ("LimitExceeded", 409)
    expected = f"Maximum policy size of {limit} bytes exceeded for {kind.lower()} subject"
    assert error["Message"] == expected
    listed = getattr(aws.iam, f"list_{kind.lower()}_policies")(**named)
    assert listed["PolicyNames"] == ["first", "second"]


def test_a_group_with_members_or_policies_cannot_be_deleted(
    aws: Clients, strict: StrictAws
) -> None:
    aws.iam.create_group(GroupName="operators")
    aws.iam.create_user(UserName="alice")
    aws.iam.add_user_to_group(GroupName="operators", UserName="alice")
    aws.iam.put_group_policy(GroupName="operators", PolicyName="p", PolicyDocument=document(100))

    with_member = refused(aws.iam.delete_group, GroupName="operators")
    aws.iam.remove_user_from_group(GroupName="operators", UserName="alice")
    with_policy = refused(aws.iam.delete_group, GroupName="operators")
    aws.iam.delete_group_policy(GroupName="operators", PolicyName="p")
    aws.iam.delete_group(GroupName="operators")

    assert (with_member["Code"], with_member["Status"]) == ("DeleteConflict", 409)
    assert with_member["Message"] == "Cannot delete entity, must remove users from group first."
    assert with_policy["Message"] == "Cannot delete entity, must delete policies first."
    assert aws.iam.list_groups()["Groups"] == []


def test_a_role_with_a_policy_attached_cannot_be_deleted(aws: Clients, strict: StrictAws) -> None:
    aws.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust())
    aws.iam.attach_role_policy(RoleName="deployer", PolicyArn=READ_ONLY)

    error = refused(aws.iam.delete_role, RoleName="deployer")

    assert (error["Code"], error["Status"]) == ("DeleteConflict", 409)


# --- account state ----------------------------------------------------------------------------


def test_accounts_carry_state_not_status_and_a_suspended_one_cannot_be_entered(
    aws: Clients, strict: StrictAws
) -> None:
    account_id = aws.create_account("member")["AccountId"]
    strict.settings.account_states = {account_id: "SUSPENDED"}

    listed = aws.org.list_accounts()["Accounts"]
    in_root = aws.org.list_accounts_for_parent(ParentId=root(aws))["Accounts"]
    described = aws.org.describe_account(AccountId=account_id)["Account"]
    error = refused(aws.sts.assume_role, RoleArn=bootstrap_role(account_id), RoleSessionName="test")

    for accounts in (listed, in_root, [described]):
        assert all("Status" not in account for account in accounts)
        states = {account["Id"]: account["State"] for account in accounts}
        assert states[account_id] == "SUSPENDED"
    assert {a["Id"]: a["State"] for a in listed}[MANAGEMENT_ACCOUNT_ID] == "ACTIVE"
    assert error["Code"] == "AccessDenied"
    assert strict.injected == Counter({"account_state": 1})


# --- partitions -------------------------------------------------------------------------------


def test_in_aws_us_gov_arns_name_that_partition_and_commercial_ones_are_refused(
    aws: Clients, strict: StrictAws
) -> None:
    strict.settings.partition = "aws-us-gov"
    gov_read_only = READ_ONLY.replace("arn:aws:", "arn:aws-us-gov:")

    caller = aws.sts.get_caller_identity()["Arn"]
    wrong = refused(aws.iam.create_role, RoleName="deployer", AssumeRolePolicyDocument=trust())
    aws.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust("aws-us-gov"))
    aws.iam.attach_role_policy(RoleName="deployer", PolicyArn=gov_read_only)
    role = aws.iam.get_role(RoleName="deployer")["Role"]
    attached = aws.iam.list_attached_role_policies(RoleName="deployer")["AttachedPolicies"]
    commercial_role = role["Arn"].replace("arn:aws-us-gov:", "arn:aws:")
    wrong_sts = refused(aws.sts.assume_role, RoleArn=commercial_role, RoleSessionName="test")
    assumed = aws.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="test")["AssumedRoleUser"]

    assert caller.startswith("arn:aws-us-gov:sts::123456789012:")
    assert (wrong["Code"], wrong["Status"]) == ("InvalidInput", 400)
    assert 'Partition "aws" is not valid' in wrong["Message"]
    assert role["Arn"] == "arn:aws-us-gov:iam::123456789012:role/deployer"
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert principal == "arn:aws-us-gov:iam::123456789012:root"
    assert [p["PolicyArn"] for p in attached] == [gov_read_only]
    assert wrong_sts["Code"] == "InvalidParameterValue"
    assert assumed["Arn"].startswith("arn:aws-us-gov:sts::123456789012:assumed-role/deployer/")


# --- records ----------------------------------------------------------------------------------


def test_a_moto_reset_through_the_middleware_clears_the_strict_state(
    strict_server: FaultyServer, aws: Clients, strict: StrictAws
) -> None:
    strict.foreign_creation("elsewhere")
    before = strict.calls_in(MANAGEMENT_ACCOUNT_ID)

    reset_moto(strict_server.url)
    aws.org.create_organization(FeatureSet="ALL")

    assert before == Counter({"organizations:CreateOrganization": 1})
    assert aws.org.list_create_account_status()["CreateAccountStatuses"] == []
    assert strict.calls == Counter(
        {"organizations:CreateOrganization": 1, "organizations:ListCreateAccountStatus": 1}
    )


# --- IAM paging -------------------------------------------------------------------------------


def test_iam_listings_come_a_page_at_a_time_and_the_marker_leads_through_all(
    aws: Clients, strict: StrictAws
) -> None:
    aws.iam.create_group(GroupName="Ops")
    for user in ("alice", "james", "carol"):
        aws.iam.create_user(UserName=user)
        aws.iam.add_user_to_group(GroupName="Ops", UserName=user)
    strict.settings.iam_page_size = 2

    first = aws.iam.get_group(GroupName="Ops")
    second = aws.iam.get_group(GroupName="Ops", Marker=first["Marker"])
    asked_one = aws.iam.get_group(GroupName="Ops", MaxItems=1)

    assert [u["UserName"] for u in first["Users"]] == ["alice", "james"]
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in second["Users"]] == ["carol"]
    assert second["IsTruncated"] is False and "Marker" not in second
    assert [u["UserName"] for u in asked_one["Users"]] == ["alice"]
    assert first["Group"]["GroupName"] == "Ops"  # the rest of the answer is untouched
    paginated = aws.iam.get_paginator("get_group").paginate(GroupName="Ops")
    assert [u["UserName"] for page in paginated for u in page["Users"]] == [
        "alice",
        "james",
        "carol",
    ]
