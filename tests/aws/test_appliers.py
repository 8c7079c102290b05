"""Each kind of change, applied in a pass against the simulator, does to AWS exactly what it
says: read back with plain boto3. Also what a pass does when AWS changes under it: a role or
unit made by hand before the pass creates it, a policy gone before the pass removes it, a
group or unit that gains members, policies or children before the pass deletes it."""

from __future__ import annotations

import datetime
import json
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import moto.iam.models as iam_models
import pytest
from botocore.exceptions import ClientError

from reconciler.aws import write
from reconciler.aws.sessions import Sessions
from reconciler.core import plan
from reconciler.core.errors import NotFoundError
from reconciler.reconcile import Progress
from tests.aws.support import Aws, Hook, failures, quick, run_pass
from tests.kinds import change_kinds
from tests.simulation.faults import Fault, FaultyServer
from tests.simulation.strict import StrictAws

MANAGEMENT = "123456789012"
ACME = "acme@example.com"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}],
}
LOGS_AND_METRICS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "cloudwatch:GetMetricData"],
            "Resource": "*",
        }
    ],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TRUST_WITHOUT_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
TRUST_WITH_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ],
}


def _role(**fields: Any) -> dict[str, Any]:
    return {"name": "Deploy", "policies": [READ_ONLY], **fields}


def _document(
    *,
    role: dict[str, Any] | None = None,
    units: list[dict[str, Any]] | None = None,
    unit: str | None = None,
    groups: list[dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
    prune: bool = False,
) -> str:
    """One account, acme, carrying at most one role; JSON is YAML."""
    account: dict[str, Any] = {
        "name": "acme",
        "email": ACME,
        "roles": [role["name"]] if role else [],
    }
    if unit is not None:
        account["unit"] = unit
    if tags is not None:
        account["tags"] = tags
    document = {
        "organization": {"management_account_id": MANAGEMENT, "units": units or []},
        "access": {"roles": [role] if role else []},
        "accounts": [account],
        "groups": groups or [],
        "policy": {"prune": prune},
    }
    return json.dumps(document)


def _group(name: str, users: list[str]) -> dict[str, Any]:
    return {"name": name, "users": users, "grants": [{"account": "acme", "role": "Deploy"}]}


def _apply(url: str, text: str, **options: Any) -> list[tuple[str, plan.Status]]:
    """Apply a pass that must converge; what each change was and what became of it."""
    result = run_pass(url, text, apply=True, **options)
    assert result.converged, failures(result)
    return [(type(o.change).__name__, o.status) for o in result.outcomes]


def _fields(request: Any) -> dict[str, str]:
    """A request's parameters: IAM's form fields, or Organizations' JSON body."""
    body = request.body or b""
    text = body.decode() if isinstance(body, bytes) else str(body)
    if text.startswith("{"):
        return {k: str(v) for k, v in json.loads(text).items()}
    return dict(urllib.parse.parse_qsl(text))


def _once(event: str, when: Callable[[dict[str, str]], bool], act: Callable[[], None]) -> Hook:
    """A hook doing `act` by hand, once, just before the pass sends the first matching request."""
    done = threading.Event()

    def before_send(request: Any, **_: Any) -> None:
        if not done.is_set() and when(_fields(request)):
            done.set()
            act()

    def hook(sessions: Sessions) -> None:
        sessions.on_event(f"before-send.{event}", before_send)

    return hook


def _after_first_change(act: Callable[[], None]) -> Progress:
    """A progress callback doing `act` by hand, once, as soon as the pass has applied a change
    (before its deletions, which come last)."""
    lock = threading.Lock()
    done: list[bool] = []

    def progress(phase: str, finished: int, total: int) -> None:
        with lock:
            if phase != "apply" or done:
                return
            done.append(True)
            act()

    return progress


@pytest.fixture
def acme(aws: Aws, strict: StrictAws) -> str:
    """An account made by hand long before: the document finds it by its email."""
    account_id = aws.create_account(ACME, "acme")
    strict.catch_up()
    return account_id


def _made_long_ago(account_id: str, role: str) -> None:
    """Date the role a day back, as if made long before this pass (not new to IAM)."""
    made = iam_models.iam_backends[account_id]["global"].get_role(role)
    made.create_date -= datetime.timedelta(days=1)


def _inline(iam: Any, role: str = "Deploy") -> dict[str, Any]:
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}


def _attached(iam: Any, role: str = "Deploy") -> list[str]:
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return sorted(p["PolicyArn"] for p in attached)


# --- roles ---------------------------------------------------------------------------------


def test_a_role_inline_policy_is_written_rewritten_and_deleted(aws: Aws, acme: str) -> None:
    iam = aws.client("iam", acme)
    assert _apply(aws.url, _document(role=_role(inline_policies={"logs": LOGS}))) == [
        ("CreateRole", plan.Status.APPLIED)
    ]
    assert _inline(iam) == {"logs": LOGS}
    role = iam.get_role(RoleName="Deploy")["Role"]
    assert role["Description"] == "Access for people; managed by reconciler"
    assert role["Tags"] == [{"Key": "managed-by", "Value": "reconciler"}]

    changed = _document(role=_role(inline_policies={"logs": LOGS_AND_METRICS}))
    assert _apply(aws.url, changed) == [("PutRoleInlinePolicy", plan.Status.APPLIED)]
    assert _inline(iam) == {"logs": LOGS_AND_METRICS}

    assert _apply(aws.url, _document(role=_role())) == [
        ("DeleteRoleInlinePolicy", plan.Status.APPLIED)
    ]
    assert _inline(iam) == {}
    assert _attached(iam) == [READ_ONLY]


def test_trust_and_session_duration_are_changed_in_place(aws: Aws, acme: str) -> None:
    iam = aws.client("iam", acme)
    _apply(aws.url, _document(role=_role()))
    before = iam.get_role(RoleName="Deploy")["Role"]
    assert (before["AssumeRolePolicyDocument"], before["MaxSessionDuration"]) == (
        TRUST_WITH_MFA,
        3600,
    )

    without_mfa = _document(role=_role(require_mfa=False, max_session_duration=43200))
    assert sorted(_apply(aws.url, without_mfa)) == [
        ("UpdateRoleSession", plan.Status.APPLIED),
        ("UpdateRoleTrust", plan.Status.APPLIED),
    ]
    role = iam.get_role(RoleName="Deploy")["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST_WITHOUT_MFA
    assert role["MaxSessionDuration"] == 43200
    assert role["RoleId"] == before["RoleId"]

    _apply(aws.url, _document(role=_role(require_mfa=True, max_session_duration=7200)))
    role = iam.get_role(RoleName="Deploy")["Role"]
    assert (role["AssumeRolePolicyDocument"], role["MaxSessionDuration"]) == (TRUST_WITH_MFA, 7200)


def test_managed_policies_are_attached_and_detached(aws: Aws, acme: str) -> None:
    iam = aws.client("iam", acme)
    _apply(aws.url, _document(role=_role()))

    assert sorted(_apply(aws.url, _document(role=_role(policies=[ADMIN])))) == [
        ("AttachRolePolicy", plan.Status.APPLIED),
        ("DetachRolePolicy", plan.Status.APPLIED),
    ]
    assert _attached(iam) == [ADMIN]


def test_a_policy_detached_by_hand_before_the_pass_detaches_it_is_done_not_waited_for(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    iam = aws.client("iam", acme)
    _apply(aws.url, _document(role=_role(policies=[READ_ONLY, ADMIN])))
    _made_long_ago(acme, "Deploy")
    strict.settings.conflict_rate = 0.0  # each request is sent once, unless the pass repeats it
    hook = _once(
        "iam.DetachRolePolicy",
        lambda f: f["PolicyArn"] == ADMIN,
        lambda: iam.detach_role_policy(RoleName="Deploy", PolicyArn=ADMIN),
    )

    result = run_pass(
        aws.url, _document(role=_role()), apply=True, hook=hook, timings=quick(settle=3)
    )

    [detach] = result.outcomes
    assert isinstance(detach.change, plan.DetachRolePolicy)
    assert detach.status is plan.Status.APPLIED  # detached already: nothing left to revoke
    # The policy, not the role, is what is missing: asked once (by hand, then by the pass).
    assert strict.calls_in(acme)["iam:DetachRolePolicy"] == 2
    assert _attached(iam) == [READ_ONLY]


def test_an_inline_policy_deleted_by_hand_before_the_pass_deletes_it_is_done(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    iam = aws.client("iam", acme)
    _apply(aws.url, _document(role=_role(inline_policies={"logs": LOGS})))
    _made_long_ago(acme, "Deploy")
    strict.settings.conflict_rate = 0.0
    hook = _once(
        "iam.DeleteRolePolicy",
        lambda f: f["PolicyName"] == "logs",
        lambda: iam.delete_role_policy(RoleName="Deploy", PolicyName="logs"),
    )

    result = run_pass(
        aws.url, _document(role=_role()), apply=True, hook=hook, timings=quick(settle=3)
    )

    [delete] = result.outcomes
    assert isinstance(delete.change, plan.DeleteRoleInlinePolicy)
    assert delete.status is plan.Status.APPLIED
    assert _inline(iam) == {}


def test_a_role_no_longer_declared_is_deleted_under_prune_with_its_policies(
    aws: Aws, acme: str
) -> None:
    iam = aws.client("iam", acme)
    declared = _role(policies=[READ_ONLY, ADMIN], inline_policies={"logs": LOGS, "more": LOGS})
    _apply(aws.url, _document(role=declared))
    iam.create_instance_profile(InstanceProfileName="Deploy")
    iam.add_role_to_instance_profile(InstanceProfileName="Deploy", RoleName="Deploy")

    pruned = _apply(aws.url, _document(prune=True), allow_mass_removal=True)

    assert pruned == [("DeleteRole", plan.Status.APPLIED)]
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName="Deploy")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["OrganizationAccountAccessRole"]
    # The instance profile is not the role's to delete: it stays, without the role.
    assert iam.get_instance_profile(InstanceProfileName="Deploy")["InstanceProfile"]["Roles"] == []


def test_a_role_is_deleted_whole_when_iam_answers_its_listings_one_item_a_page(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    iam = aws.client("iam", acme)
    declared = _role(policies=[READ_ONLY, ADMIN], inline_policies={"logs": LOGS, "more": LOGS})
    _apply(aws.url, _document(role=declared))
    for profile in ("Deploy", "DeployToo"):
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName="Deploy")
    strict.settings.iam_page_size = 1  # every policy and profile on a page of its own

    pruned = _apply(aws.url, _document(prune=True), allow_mass_removal=True)

    assert pruned == [("DeleteRole", plan.Status.APPLIED)]
    strict.settings.iam_page_size = None
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName="Deploy")
    for profile in ("Deploy", "DeployToo"):
        assert (
            iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"] == []
        )


def test_a_role_made_by_hand_before_the_pass_creates_it_is_finished_as_declared(
    aws: Aws, acme: str
) -> None:
    iam = aws.client("iam", acme)
    made: dict[str, str] = {}

    def make_role() -> None:
        role = iam.create_role(
            RoleName="Deploy",
            AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
            Tags=[{"Key": "team", "Value": "platform"}],
        )
        made["id"] = role["Role"]["RoleId"]

    hook = _once("iam.CreateRole", lambda f: f["RoleName"] == "Deploy", make_role)
    declared = _role(max_session_duration=7200, inline_policies={"logs": LOGS})

    assert _apply(aws.url, _document(role=declared), hook=hook) == [
        ("CreateRole", plan.Status.APPLIED)
    ]
    role = iam.get_role(RoleName="Deploy")["Role"]
    assert role["RoleId"] == made["id"]  # the one made by hand, not a second
    assert role["AssumeRolePolicyDocument"] == TRUST_WITH_MFA
    assert role["MaxSessionDuration"] == 7200
    assert sorted(role["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "managed-by", "Value": "reconciler"},
        {"Key": "team", "Value": "platform"},
    ]
    assert _attached(iam) == [READ_ONLY]
    assert _inline(iam) == {"logs": LOGS}
    assert run_pass(aws.url, _document(role=declared), apply=False).plan.empty


def test_an_adopted_role_is_marked_for_its_instance_and_keeps_its_tags(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    iam = aws.client("iam", acme)
    made = iam.create_role(
        RoleName="Deploy",
        AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    iam.attach_role_policy(RoleName="Deploy", PolicyArn=READ_ONLY)
    strict.catch_up()

    outcomes = _apply(aws.url, _document(role=_role(adopt=True)), instance="blue")

    assert outcomes == [
        ("UpdateRoleTrust", plan.Status.APPLIED),
        ("MarkRole", plan.Status.APPLIED),
    ]
    role = iam.get_role(RoleName="Deploy")["Role"]
    assert role["RoleId"] == made["Role"]["RoleId"]
    assert role["AssumeRolePolicyDocument"] == TRUST_WITH_MFA
    assert sorted(role["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "managed-by", "Value": "blue"},
        {"Key": "team", "Value": "platform"},
    ]


# --- units ---------------------------------------------------------------------------------


UNITS_PER_PAGE = 20  # Organizations' largest page of ListOrganizationalUnitsForParent


def _units(aws: Aws, parent: str) -> list[tuple[str, str]]:
    """The (name, id) of the units under `parent`, duplicates and all."""
    units = aws.org.list_organizational_units_for_parent(ParentId=parent)["OrganizationalUnits"]
    return sorted((u["Name"], u["Id"]) for u in units)


def _clients_made_by_hand_first(aws: Aws, simulator: FaultyServer) -> tuple[Hook, dict[str, str]]:
    """A hook that makes the unit Clients under the root by hand just before the pass asks
    for it, and the id it got (under "id", once made)."""
    made: dict[str, str] = {}

    def make_unit() -> None:
        unit = aws.org.create_organizational_unit(ParentId=aws.root(), Name="Clients")
        made["id"] = unit["OrganizationalUnit"]["Id"]
        # What AWS answers from now on to a unit of that name under the root (moto would
        # make a second one).
        duplicate = Fault(
            "organizations:CreateOrganizationalUnit",
            code="DuplicateOrganizationalUnitException",
            message="An OU with the same name already exists.",
            body_contains='"Clients"',
        )
        simulator.injector.faults = [duplicate]

    hook = _once(
        "organizations.CreateOrganizationalUnit", lambda f: f["Name"] == "Clients", make_unit
    )
    return hook, made


def test_a_unit_made_by_hand_before_the_pass_creates_it_is_used_not_duplicated(
    aws: Aws, acme: str, simulator: FaultyServer
) -> None:
    root = aws.root()
    other = aws.org.create_organizational_unit(ParentId=root, Name="Other")["OrganizationalUnit"]
    hook, made = _clients_made_by_hand_first(aws, simulator)
    units = [{"name": "Clients", "units": [{"name": "Acme"}]}]

    outcomes = _apply(aws.url, _document(units=units, unit="Clients/Acme"), hook=hook)

    assert outcomes == [
        ("CreateUnit", plan.Status.APPLIED),
        ("CreateUnit", plan.Status.APPLIED),
        ("MoveAccount", plan.Status.APPLIED),
    ]
    assert simulator.injector.injected["organizations:CreateOrganizationalUnit"] >= 1
    assert _units(aws, root) == [("Clients", made["id"]), ("Other", other["Id"])]
    assert [name for name, _ in _units(aws, made["id"])] == ["Acme"]
    assert aws.unit_path(acme) == "Clients/Acme"


def test_a_unit_made_by_hand_past_the_first_page_of_its_parents_listing_is_found(
    aws: Aws, acme: str, simulator: FaultyServer
) -> None:
    """Organizations lists at most 20 units a page: the pass reads on to the page naming it."""
    root = aws.root()
    for i in range(UNITS_PER_PAGE):
        aws.org.create_organizational_unit(ParentId=root, Name=f"Other-{i:02d}")
    hook, made = _clients_made_by_hand_first(aws, simulator)
    first_page = aws.org.list_organizational_units_for_parent(ParentId=root)

    outcomes = _apply(aws.url, _document(units=[{"name": "Clients"}], unit="Clients"), hook=hook)

    assert len(first_page["OrganizationalUnits"]) == UNITS_PER_PAGE  # Clients came after them
    assert outcomes == [("CreateUnit", plan.Status.APPLIED), ("MoveAccount", plan.Status.APPLIED)]
    assert aws.unit_path(acme) == "Clients"
    assert aws.org.list_parents(ChildId=acme)["Parents"][0]["Id"] == made["id"]


def test_a_unit_aws_says_exists_but_does_not_list_yet_is_left_to_the_next_pass(
    aws: Aws, acme: str, simulator: FaultyServer
) -> None:
    simulator.injector.faults = [
        Fault(
            "organizations:CreateOrganizationalUnit",
            code="DuplicateOrganizationalUnitException",
            message="An OU with the same name already exists.",
        )
    ]

    result = run_pass(aws.url, _document(units=[{"name": "Clients"}]), apply=True)

    [created] = result.outcomes
    assert isinstance(created.change, plan.CreateUnit)
    assert created.status == plan.Status.FAILED
    assert created.reason == "unit Clients exists but is not listed yet; the next pass goes on"
    assert _units(aws, aws.root()) == []


def test_a_move_into_a_unit_the_pass_could_not_create_fails_naming_it(
    aws: Aws, acme: str, simulator: FaultyServer
) -> None:
    simulator.injector.faults = [
        Fault("organizations:CreateOrganizationalUnit", code="DuplicateOrganizationalUnitException")
    ]

    units = [{"name": "Clients", "units": [{"name": "Acme"}]}]

    result = run_pass(aws.url, _document(units=units, unit="Clients/Acme"), apply=True)

    failed = {type(o.change).__name__: (o.status, o.reason) for o in result.outcomes}
    assert failed["MoveAccount"] == (plan.Status.FAILED, "unit Clients/Acme does not exist")
    assert aws.unit_path(acme) == ""  # still in the root


def test_a_move_aws_answers_is_done_already_counts_as_applied(
    aws: Aws, acme: str, simulator: FaultyServer
) -> None:
    _apply(aws.url, _document(units=[{"name": "Clients"}]))
    # A retried move whose first answer was lost: AWS says the account is there already.
    simulator.injector.faults = [
        Fault("organizations:MoveAccount", code="DuplicateAccountException", times=1)
    ]

    outcomes = _apply(aws.url, _document(units=[{"name": "Clients"}], unit="Clients"))

    assert outcomes == [("MoveAccount", plan.Status.APPLIED)]
    assert simulator.injector.injected["organizations:MoveAccount"] == 1


def test_an_account_moves_from_one_unit_to_another(aws: Aws, acme: str) -> None:
    """AWS moves an account only from the parent it is in: the pass names that unit."""
    units: list[dict[str, Any]] = [
        {"name": "Clients"},
        {"name": "Legacy", "units": [{"name": "Archive"}]},
    ]
    _apply(aws.url, _document(units=units, unit="Legacy/Archive"))

    outcomes = _apply(aws.url, _document(units=units, unit="Clients"))

    assert outcomes == [("MoveAccount", plan.Status.APPLIED)]
    assert aws.unit_path(acme) == "Clients"


def test_a_unit_no_longer_declared_is_deleted_under_prune(aws: Aws, acme: str) -> None:
    _apply(aws.url, _document(units=[{"name": "Clients"}, {"name": "Legacy"}], unit="Clients"))
    clients = aws.unit_id("Clients")

    assert _apply(aws.url, _document(units=[{"name": "Clients"}], unit="Clients", prune=True)) == [
        ("DeleteUnit", plan.Status.APPLIED)
    ]
    assert _units(aws, aws.root()) == [("Clients", clients)]


@pytest.mark.parametrize("newcomer", ["unit", "account"])
def test_a_unit_that_gains_a_child_during_the_pass_is_left_in_place(
    aws: Aws, acme: str, newcomer: str
) -> None:
    units = [{"name": "Clients"}, {"name": "Legacy"}]
    _apply(aws.url, _document(units=units, unit="Clients"))
    legacy = aws.unit_id("Legacy")

    def move_in() -> None:
        if newcomer == "unit":
            aws.org.create_organizational_unit(ParentId=legacy, Name="Newcomer")
        else:
            clients = aws.unit_id("Clients")
            aws.org.move_account(AccountId=acme, SourceParentId=clients, DestinationParentId=legacy)

    # The tag change is applied before the deletions: a person fills Legacy then.
    text = _document(
        units=[{"name": "Clients"}], unit="Clients", tags={"team": "platform"}, prune=True
    )
    result = run_pass(aws.url, text, apply=True, progress=_after_first_change(move_in))

    outcomes = {type(o.change).__name__: o for o in result.outcomes}
    assert outcomes["UpdateAccountTags"].status == plan.Status.APPLIED
    assert outcomes["DeleteUnit"].status == plan.Status.FAILED
    assert outcomes["DeleteUnit"].reason == "unit Legacy is not empty; left in place"
    assert ("Legacy", legacy) in _units(aws, aws.root())
    if newcomer == "unit":
        assert [name for name, _ in _units(aws, legacy)] == ["Newcomer"]
    else:
        assert aws.unit_path(acme) == "Legacy"


# --- groups and memberships ------------------------------------------------------------------


def test_group_policies_gone_before_the_pass_removes_them_are_not_a_failure(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    text = _document(role=_role(), groups=[_group("Ops", ["alice"])])
    _apply(aws.url, text)
    aws.iam.put_group_policy(
        GroupName="Ops", PolicyName="break-glass", PolicyDocument=json.dumps(LOGS)
    )
    aws.iam.attach_group_policy(GroupName="Ops", PolicyArn=ADMIN)
    strict.catch_up()
    strict.settings.conflict_rate = 0.0  # each request is sent once, unless the pass repeats it
    # Someone else removes both moments before the pass does.
    by_hand: list[str] = []

    def delete_inline() -> None:
        aws.iam.delete_group_policy(GroupName="Ops", PolicyName="break-glass")
        by_hand.append("break-glass")

    def detach() -> None:
        aws.iam.detach_group_policy(GroupName="Ops", PolicyArn=ADMIN)
        by_hand.append(ADMIN)

    gone = _once("iam.DeleteGroupPolicy", lambda f: f["PolicyName"] == "break-glass", delete_inline)
    detached = _once("iam.DetachGroupPolicy", lambda f: f["PolicyArn"] == ADMIN, detach)

    def both(sessions: Sessions) -> None:
        gone(sessions)
        detached(sessions)

    assert _apply(aws.url, text, hook=both, timings=quick(settle=3)) == [
        ("DeleteGroupInlinePolicy", plan.Status.APPLIED),
        ("DetachGroupPolicy", plan.Status.APPLIED),
    ]
    assert sorted(by_hand) == [ADMIN, "break-glass"]
    # Not waited for: the policies, not the group, are what is missing.
    calls = strict.calls_in(MANAGEMENT)
    assert (calls["iam:DeleteGroupPolicy"], calls["iam:DetachGroupPolicy"]) == (2, 2)
    assert aws.iam.list_group_policies(GroupName="Ops")["PolicyNames"] == ["reconciler-grants"]
    assert aws.iam.list_attached_group_policies(GroupName="Ops")["AttachedPolicies"] == []


def _members(aws: Aws, group: str) -> list[str]:
    return sorted(u["UserName"] for u in aws.iam.get_group(GroupName=group)["Users"])


def test_members_are_added_and_removed(aws: Aws, acme: str) -> None:
    _apply(aws.url, _document(role=_role(), groups=[_group("Ops", ["alice", "james"])]))
    assert _members(aws, "Ops") == ["alice", "james"]

    outcomes = _apply(aws.url, _document(role=_role(), groups=[_group("Ops", ["james", "carol"])]))

    assert sorted(outcomes) == [
        ("AddMember", plan.Status.APPLIED),
        ("RemoveMember", plan.Status.APPLIED),
    ]
    assert _members(aws, "Ops") == ["carol", "james"]


def test_a_missing_user_fails_at_once_saying_so_and_the_others_are_added(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    _apply(aws.url, _document(role=_role(), groups=[_group("Ops", ["alice"])]))
    strict.settings.conflict_rate = 0.0  # each request is sent once, unless the pass repeats it
    before = strict.calls_in(MANAGEMENT)["iam:AddUserToGroup"]
    text = _document(role=_role(), groups=[_group("Ops", ["alice", "zed", "carol"])])

    result = run_pass(aws.url, text, apply=True, timings=quick(settle=3))

    by_user = {o.change.target: o for o in result.outcomes}
    assert by_user["Ops/carol"].status == plan.Status.APPLIED
    assert by_user["Ops/zed"].status == plan.Status.FAILED
    assert by_user["Ops/zed"].reason == (
        "iam:AddUserToGroup: NoSuchEntity: The user with name zed cannot be found. (user zed "
        "does not exist in the source account 123456789012; create the IAM user first)"
    )
    error = by_user["Ops/zed"].error
    assert isinstance(error, NotFoundError)
    assert (error.operation, error.code) == ("iam:AddUserToGroup", "NoSuchEntity")
    # Not waited for: the read already found no such user.
    assert strict.calls_in(MANAGEMENT)["iam:AddUserToGroup"] - before == 2
    assert _members(aws, "Ops") == ["alice", "carol"]


def test_a_group_is_deleted_whole_when_iam_answers_its_members_one_a_page(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    groups = [_group("Ops", ["alice"]), _group("Old", ["james"])]
    _apply(aws.url, _document(role=_role(), groups=groups))

    def meddle() -> None:  # what the plan does not know of, so DeleteGroup must list it
        for user in ("carol", "mallory"):
            aws.iam.add_user_to_group(GroupName="Old", UserName=user)
        for name in ("logs", "more"):
            aws.iam.put_group_policy(
                GroupName="Old", PolicyName=name, PolicyDocument=json.dumps(LOGS)
            )
        for arn in (ADMIN, READ_ONLY):
            aws.iam.attach_group_policy(GroupName="Old", PolicyArn=arn)
        strict.settings.iam_page_size = 1

    text = _document(role=_role(), groups=[_group("Ops", ["alice"])], prune=True)
    result = run_pass(aws.url, text, apply=True, progress=_after_first_change(meddle))

    assert result.converged, failures(result)
    strict.settings.iam_page_size = None
    assert [g["GroupName"] for g in aws.iam.list_groups()["Groups"]] == ["Ops"]
    for user in ("james", "carol", "mallory"):
        assert aws.iam.list_groups_for_user(UserName=user)["Groups"] == []


def test_a_group_deleted_under_prune_loses_what_it_gained_during_the_pass(
    aws: Aws, acme: str
) -> None:
    groups = [_group("Ops", ["alice"]), _group("Old", ["james"])]
    _apply(aws.url, _document(role=_role(), groups=groups))

    meddled: list[bool] = []

    def meddle() -> None:
        aws.iam.add_user_to_group(GroupName="Old", UserName="mallory")
        aws.iam.put_group_policy(
            GroupName="Old", PolicyName="extra", PolicyDocument=json.dumps(LOGS)
        )
        aws.iam.attach_group_policy(GroupName="Old", PolicyArn=ADMIN)
        meddled.append(True)

    text = _document(role=_role(), groups=[_group("Ops", ["alice"])], prune=True)
    result = run_pass(aws.url, text, apply=True, progress=_after_first_change(meddle))

    assert result.converged, failures(result)
    assert meddled == [True]
    [deleted] = [o for o in result.outcomes if isinstance(o.change, plan.DeleteGroup)]
    assert (deleted.change.target, deleted.status) == ("Old", plan.Status.APPLIED)
    assert [g["GroupName"] for g in aws.iam.list_groups()["Groups"]] == ["Ops"]
    assert aws.iam.list_groups_for_user(UserName="mallory")["Groups"] == []
    assert _members(aws, "Ops") == ["alice"]


def test_groups_and_members_are_made_in_the_source_account_the_document_names(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    # People's users live in an account of their own, apart from the management account.
    identity = aws.create_account("aws+identity@example.com", "identity")
    source_iam = aws.client("iam", identity)
    source_iam.create_user(UserName="alice")
    strict.catch_up()
    document = json.loads(_document(role=_role(), groups=[_group("Ops", ["alice"])]))
    document["access"]["source_account_id"] = identity

    _apply(aws.url, json.dumps(document))

    members = source_iam.get_group(GroupName="Ops")["Users"]
    assert [u["UserName"] for u in members] == ["alice"]
    assert [g["GroupName"] for g in aws.iam.list_groups()["Groups"]] == []


def test_a_managed_policy_that_does_not_exist_fails_at_once_not_waited_for(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    _apply(aws.url, _document(role=_role()))
    _made_long_ago(acme, "Deploy")
    strict.settings.conflict_rate = 0.0  # each request is sent once, unless the pass repeats it
    before = strict.calls_in(acme)["iam:AttachRolePolicy"]
    missing = "arn:aws:iam::aws:policy/NoSuchPolicy"
    text = _document(role=_role(policies=[READ_ONLY, missing]))

    result = run_pass(aws.url, text, apply=True, timings=quick(settle=3))

    [attach] = [o for o in result.outcomes if isinstance(o.change, plan.AttachRolePolicy)]
    assert attach.status == plan.Status.FAILED
    assert attach.reason.startswith("iam:AttachRolePolicy: NoSuchEntity: "), attach.reason
    # An old role: NoSuchEntity means the policy is missing, which waiting does not mend.
    assert strict.calls_in(acme)["iam:AttachRolePolicy"] - before == 1


def test_a_shutdown_while_iam_catches_up_says_the_next_pass_finishes_it(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    strict.settings.consistency_calls = 10_000  # IAM never shows the new role in this pass
    stop = threading.Event()

    def stop_once_hidden(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Error", {}).get("Code") == "NoSuchEntity":
            stop.set()  # SIGTERM while the role's policy waits for IAM to show the role

    def hook(sessions: Sessions) -> None:
        sessions.on_event("after-call.iam.AttachRolePolicy", stop_once_hidden)

    text = _document(role=_role())
    result = run_pass(aws.url, text, apply=True, hook=hook, stop=stop, timings=quick(settle=60))

    [create] = [o for o in result.outcomes if isinstance(o.change, plan.CreateRole)]
    assert create.status == plan.Status.SKIPPED
    assert create.reason == "not finished: shutting down; the next pass finishes it"


def test_a_role_made_moments_before_the_pass_is_waited_for_while_iam_catches_up(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    # Made by an earlier pass that was stopped before its policy: IAM hides it from the next call.
    aws.client("iam", acme).create_role(
        RoleName="Deploy",
        AssumeRolePolicyDocument=json.dumps(TRUST_WITH_MFA),
        Tags=[{"Key": "managed-by", "Value": "reconciler"}],
    )
    strict.settings.conflict_rate = 0.0
    hidden = strict.injected["not_found"]

    assert _apply(aws.url, _document(role=_role())) == [("AttachRolePolicy", plan.Status.APPLIED)]

    assert strict.injected["not_found"] - hidden == 1  # the attach met the lag, and waited
    assert _attached(aws.client("iam", acme)) == [READ_ONLY]


def test_iam_lag_is_waited_on_no_longer_than_the_settle_time(
    aws: Aws, acme: str, strict: StrictAws
) -> None:
    strict.settings.consistency_calls = 10_000  # IAM never shows the new role in this pass
    strict.settings.conflict_rate = 0.0  # each request is sent once, unless the pass repeats it

    result = run_pass(aws.url, _document(role=_role()), apply=True, timings=quick(settle=0.5))

    [create] = [o for o in result.outcomes if isinstance(o.change, plan.CreateRole)]
    assert create.status == plan.Status.FAILED
    # Waits of 0.1 s, then 0.2 s, fit in 0.5 s; the next, 0.4 s, would end past it: at most
    # three tries, whatever the machine's speed.
    assert 1 <= strict.calls_in(acme)["iam:AttachRolePolicy"] <= 3


def test_every_kind_of_change_the_plan_makes_has_an_applier() -> None:
    assert len(change_kinds()) == 21  # a new kind of change needs an applier too
    assert change_kinds() == set(write._APPLIERS)
