"""A strict AWS: WSGI middleware over moto's server that is as hard as AWS documents AWS to be,
where moto is lenient.

`StrictAws(app, settings)` wraps moto's WSGI app (run in the same process: it reads and
replays through moto's backends directly). Every signed request is identified by service,
operation and the account it acts in (the account moto maps its access key to; the default
keys act in the management account), recorded, and then, by `StrictSettings`:

- conflicts: a seeded share of Organizations writes answer ConcurrentModificationException,
  and of IAM writes ConcurrentModification (409); two Organizations writes on one entity in
  flight at once conflict too. A conflicted request never reaches moto;
- eventual consistency: a role, group or user just created answers NoSuchEntity to the next
  calls that name it in that account; a new account refuses AssumeRole for a while;
- CreateAccount is asynchronous: IN_PROGRESS for some polls, then SUCCEEDED (only then is the
  request replayed to moto) or FAILED (EMAIL_ALREADY_EXISTS, or a reason the test chose); at
  most 5 creations in progress per organization, whoever started them;
- quotas: 10 managed policies per role and per group, 10,240 characters of inline policy per
  role and 5,120 per group; DeleteGroup refuses a group with members or policies;
- account states: Account objects carry `State` (settable per account) and no `Status`, and
  AssumeRole into an account that is not ACTIVE is denied;
- moves: MoveAccount from a parent the account is not in is refused (moto moves it anyway);
- partitions: requests carry ARNs of the configured partition (moto sees `arn:aws:`), ARNs of
  another partition are refused, and answers name the configured partition.

The settings can change between calls; `reset()` (also run by a POST to /moto-api/reset
passing through) clears the state and the records, not the settings. One lock guards the
state and is never held while moto runs.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from xml.etree import ElementTree

import moto.iam.models as iam_models
from moto.iam.exceptions import NotFoundException
from moto.organizations.models import organizations_backends

from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.simulation.wire import JSON_CONTENT, error_body, identify, status_line

# Organizations writes that AWS documents as answering ConcurrentModificationException.
ORGANIZATIONS_WRITES = frozenset(
    {
        "CreateAccount",
        "CreateOrganizationalUnit",
        "DeleteOrganizationalUnit",
        "MoveAccount",
        "TagResource",
        "UntagResource",
    }
)
ACCOUNT_READS = frozenset({"ListAccounts", "ListAccountsForParent", "DescribeAccount"})
IAM_CREATES = {"CreateRole": "role", "CreateGroup": "group", "CreateUser": "user"}
# The form fields that name an IAM entity; the group first, as AWS reports an AddUserToGroup
# naming two missing entities.
IAM_NAMES = {"GroupName": "group", "RoleName": "role", "UserName": "user"}
MANAGED_POLICIES_PER_ENTITY = 10
INLINE_CHARACTERS = {"role": 10_240, "group": 5_120}
CREATIONS_IN_PROGRESS = 5  # per organization, whoever started them
CREATION_STATES = ("IN_PROGRESS", "SUCCEEDED", "FAILED")
PAGE_SIZE = 20
# IAM listings paged by `StrictSettings.iam_page_size`: operation -> the element of the list.
IAM_LISTINGS = {
    "GetGroup": "Users",
    "ListAttachedGroupPolicies": "AttachedPolicies",
    "ListAttachedRolePolicies": "AttachedPolicies",
    "ListGroupPolicies": "PolicyNames",
    "ListInstanceProfilesForRole": "InstanceProfiles",
    "ListRolePolicies": "PolicyNames",
    "ListRoles": "Roles",
}
ORGANIZATIONS_CONFLICT = (
    "AWS Organizations can't complete your request because it conflicts with another attempt "
    "to modify the same entity. Try again later."
)
IAM_CONFLICT = (
    "The request was rejected because multiple requests to change this object were submitted "
    "simultaneously. Wait a few minutes and submit your request again."
)
WRONG_PARTITION_CODES = {
    "iam": "InvalidInput",
    "organizations": "InvalidInputException",
    "sts": "InvalidParameterValue",
}
ROLE_ACCOUNT = re.compile(r"arn:aws:iam::(\d{12}):")


@dataclass
class StrictSettings:
    """How strict the simulated AWS is; a test may change any field between calls."""

    conflict_rate: float = 0.1  # share of Organizations and IAM writes that conflict
    consistency_calls: int = 1  # calls naming a new role, group or user that answer NoSuchEntity
    access_delay_calls: int = 1  # AssumeRole calls into a new account that are denied
    creation_polls: int = 1  # DescribeCreateAccountStatus polls answered IN_PROGRESS
    fail_creations: dict[str, str] = field(default_factory=dict)  # email -> FailureReason
    account_states: dict[str, str] = field(default_factory=dict)  # account id -> State
    partition: str = "aws"
    write_latency: float = 0.0  # seconds an Organizations write stays in flight
    # account id -> share of the calls acting in it that AWS throttles (its limits are per
    # account and per API)
    throttled_accounts: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    # IAM's listings answer at most this many items a page (None: all in one, as moto does).
    # AWS documents that IAM may return fewer items than asked, with IsTruncated and a Marker,
    # even below MaxItems: a reader must follow the marker whatever the size.
    iam_page_size: int | None = None


@dataclass(frozen=True)
class Call:
    """One signed AWS request: who it acts as, what it calls, its body as moto will see it."""

    environ: dict[str, Any]
    service: str
    operation: str
    account: str
    body: bytes

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"

    @cached_property
    def fields(self) -> dict[str, Any]:
        """The request's parameters: form fields (IAM, STS) or the JSON body (Organizations)."""
        if self.environ.get("HTTP_X_AMZ_TARGET"):
            return dict(json.loads(self.body or b"{}"))
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("Content-Type", JSON_CONTENT),)

    def send(self, start_response: Any) -> list[bytes]:
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        start_response(
            status_line(self.status), [*headers, ("Content-Length", str(len(self.body)))]
        )
        return [self.body]


@dataclass
class Creation:
    """One CreateAccount request, ours or another tool's, as AWS tracks it."""

    id: str
    account: str  # the management account whose organization creates the account
    params: dict[str, Any]  # the CreateAccount parameters, replayed to moto on success
    polls_left: int | None  # polls still answered IN_PROGRESS; None: it never completes
    requested: float = field(default_factory=time.time)
    state: str = "IN_PROGRESS"
    completing: bool = False
    account_id: str = ""
    failure: str = ""
    completed: float | None = None

    def poll(self) -> bool:
        """Count one poll; whether the caller must complete the request now."""
        if self.state != "IN_PROGRESS" or self.completing or self.polls_left is None:
            return False
        if self.polls_left > 0:
            self.polls_left -= 1
            return False
        self.completing = True
        return True

    def finish(self, account_id: str, failure: str) -> None:
        self.state = "FAILED" if failure else "SUCCEEDED"
        self.account_id, self.failure, self.completed = account_id, failure, time.time()

    def status(self) -> dict[str, Any]:
        status = {
            "Id": self.id,
            "AccountName": self.params["AccountName"],
            "State": self.state,
            "RequestedTimestamp": self.requested,
        }
        if self.completed is not None:
            status["CompletedTimestamp"] = self.completed
        if self.account_id:
            status["AccountId"] = self.account_id
        if self.failure:
            status["FailureReason"] = self.failure
        return status


class StrictAws:
    """WSGI middleware making moto's server behave as strictly as AWS (see the module)."""

    def __init__(self, app: Any, settings: StrictSettings) -> None:
        self._app = app
        self.settings = settings
        self._lock = threading.Lock()
        # Completions one at a time: the duplicate-email check and the creation it allows
        # must not interleave with another completion's.
        self._completing = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.calls_by_account: Counter[tuple[str, str]] = Counter()
        self.assumed: Counter[str] = Counter()  # AssumeRole attempts by target account
        self.injected: Counter[str] = Counter()  # what this layer answered itself, by kind
        self._fresh: Counter[tuple[str, str, str]] = Counter()  # (account, kind, name)
        self._delayed: Counter[str] = Counter()  # new account -> AssumeRole calls denied
        self._creations: dict[str, Creation] = {}
        self._busy: set[str] = set()  # Organizations entities a write is changing
        self._streams: dict[str, random.Random] = {}  # seeded conflict draws, by operation
        self._ids = random.Random()
        self.reset()

    def reset(self) -> None:
        """Forget every request, entity and record, as when moto's state is wiped; draws
        start again from the seed."""
        with self._lock:
            for kept in (self.calls, self.calls_by_account, self.assumed, self.injected):
                kept.clear()
            for state in (self._fresh, self._delayed, self._creations, self._busy, self._streams):
                state.clear()
            self._ids.seed(f"{self.settings.seed}:ids")

    def calls_in(self, account_id: str) -> Counter[str]:
        """The calls made in one account, by `service:Operation`."""
        with self._lock:
            return Counter(
                {name: n for (acct, name), n in self.calls_by_account.items() if acct == account_id}
            )

    def foreign_creation(self, name: str, polls: int | None = None, email: str = "") -> str:
        """Start a CreateAccount as another tool would; it completes after `polls` polls of
        its id (never when None). Its id."""
        params = {"AccountName": name, "Email": email or f"{name}@foreign.example"}
        with self._lock:
            return self._new_creation(MANAGEMENT_ACCOUNT_ID, params, polls).id

    def finish_creations(self, polls: int = 0) -> None:
        """AWS gets on with it: every request in progress completes after `polls` more polls."""
        with self._lock:
            for creation in self._creations.values():
                if creation.state == "IN_PROGRESS":
                    creation.polls_left = polls

    def catch_up(self) -> None:
        """IAM catches up: every role, group and user created so far is visible to all calls."""
        with self._lock:
            self._fresh.clear()

    def grant_access(self) -> None:
        """New accounts' bootstrap roles become assumable now, however long they lagged."""
        with self._lock:
            self._delayed.clear()

    def in_progress(self) -> list[str]:
        """The account names of the requests in progress."""
        with self._lock:
            return [
                c.params["AccountName"]
                for c in self._creations.values()
                if c.state == "IN_PROGRESS"
            ]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            self.reset()
        if path.startswith("/moto-api/") or "HTTP_AUTHORIZATION" not in environ:
            return self._app(environ, start_response)
        return self._answer(self._call(environ)).send(start_response)

    def _call(self, environ: dict[str, Any]) -> Call:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        service, operation = identify(environ, body)
        key = re.search(r"Credential=([^/]+)/", environ["HTTP_AUTHORIZATION"])
        # moto's own lookup, read at call time (a benchmark may replace it with an index).
        account = iam_models.get_account_id_from(key.group(1) if key else "")
        with self._lock:
            self.calls[f"{service}:{operation}"] += 1
            self.calls_by_account[(account, f"{service}:{operation}")] += 1
        return Call(environ, service, operation, account, body)

    def _answer(self, call: Call) -> Answer:
        refusal = self._wrong_partition(call)
        if refusal is not None:
            return self._to_partition(refusal)
        call = replace(call, body=self._from_partition(call.body))
        if self._throttled(call):
            code = "TooManyRequestsException" if call.service == "organizations" else "Throttling"
            return self._refuse("throttled", call, 400, code, "Rate exceeded")
        handler = {"iam": self._iam, "organizations": self._organizations, "sts": self._sts}
        return self._to_partition(handler.get(call.service, self._forward)(call))

    def _forward(self, call: Call) -> Answer:
        environ = {**call.environ, "wsgi.input": io.BytesIO(call.body)}
        environ["CONTENT_LENGTH"] = str(len(call.body))
        started: list[Any] = []
        written: list[bytes] = []  # by WSGI's legacy write(), should moto ever use it

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return written.append

        chunks = self._app(environ, start_response)
        try:
            body = b"".join([*written, *chunks])
        finally:
            getattr(chunks, "close", lambda: None)()
        return Answer(int(started[0].split()[0]), body, tuple(started[1]))

    def _refuse(self, kind: str, call: Call, status: int, code: str, message: str) -> Answer:
        """An error AWS would answer and moto would not: counted in `injected` by kind."""
        with self._lock:
            self.injected[kind] += 1
        return _error(call.service, status, code, message)

    def _throttled(self, call: Call) -> bool:
        share = self.settings.throttled_accounts.get(call.account, 0.0)
        if not share:
            return False
        with self._lock:
            stream = self._streams.setdefault(
                f"throttle:{call.account}",
                random.Random(f"{self.settings.seed}:throttle:{call.account}"),
            )
            return stream.random() < share

    def _conflicts(self, call: Call) -> bool:
        """A seeded draw for this write; call with the lock held. One stream per operation:
        which calls conflict depends only on their order, not on other operations'."""
        stream = self._streams.get(call.name)
        if stream is None:
            stream = self._streams[call.name] = random.Random(f"{self.settings.seed}:{call.name}")
        return stream.random() < self.settings.conflict_rate

    # --- partitions ---------------------------------------------------------------------------

    def _wrong_partition(self, call: Call) -> Answer | None:
        """AWS refuses an ARN of another partition than the one it runs in."""
        if self.settings.partition == "aws":
            return None
        text = urllib.parse.unquote_plus(call.body.decode("utf-8", "replace"))
        wrong = re.search(r"arn:aws:[^\s\"'<>&,\]}\\]*", text)
        if wrong is None:
            return None
        message = f'Partition "aws" is not valid for resource "{wrong.group(0)}".'
        code = WRONG_PARTITION_CODES.get(call.service, "InvalidInput")
        return self._refuse("wrong_partition", call, 400, code, message)

    def _from_partition(self, body: bytes) -> bytes:
        if self.settings.partition == "aws":
            return body
        return _repartition(body.decode(), self.settings.partition, "aws").encode()

    def _to_partition(self, answer: Answer) -> Answer:
        if self.settings.partition == "aws":
            return answer
        body = _repartition(answer.body.decode(), "aws", self.settings.partition)
        return replace(answer, body=body.encode())

    # --- Organizations ------------------------------------------------------------------------

    def _organizations(self, call: Call) -> Answer:
        handler = {
            "CreateAccount": self._create_account,
            "DescribeCreateAccountStatus": self._describe_creation,
            "ListCreateAccountStatus": self._list_creations,
        }.get(call.operation)
        if handler is not None:
            return handler(call)
        if call.operation in ORGANIZATIONS_WRITES:
            return self._organizations_write(call)
        answer = self._forward(call)
        return self._restate(answer) if call.operation in ACCOUNT_READS else answer

    def _organizations_write(self, call: Call) -> Answer:
        """A write that conflicts at random or with another write in flight on its entity."""
        target = _write_target(call.fields)
        with self._lock:
            overlaps = target in self._busy
            conflicted = overlaps or self._conflicts(call)
            if not conflicted:
                self._busy.add(target)
        if conflicted:
            kind = "overlap" if overlaps else "conflict"
            code = "ConcurrentModificationException"
            return self._refuse(kind, call, 400, code, ORGANIZATIONS_CONFLICT)
        try:
            time.sleep(self.settings.write_latency)
            # Checked while the entity is busy: no other write can move the account meanwhile.
            return self._wrong_source(call) or self._forward(call)
        finally:
            with self._lock:
                self._busy.discard(target)

    def _wrong_source(self, call: Call) -> Answer | None:
        """A MoveAccount whose SourceParentId is not where the account is now is refused, as
        AWS refuses it (moto moves the account from wherever it is); None for anything else."""
        if call.operation != "MoveAccount":
            return None
        account_id = str(call.fields.get("AccountId", ""))
        accounts = organizations_backends[call.account]["aws"].accounts
        account = next((a for a in accounts if a.id == account_id), None)
        if account is None or call.fields.get("SourceParentId") == account.parent_id:
            return None
        message = "We can't find a source root or OU with the ParentId that you specified."
        return self._refuse("source", call, 400, "SourceParentNotFoundException", message)

    def _restate(self, answer: Answer) -> Answer:
        """Account objects as AWS now returns them: `State` set, `Status` (retiring) gone."""
        if answer.status != 200:
            return answer
        data = json.loads(answer.body)
        accounts = data.get("Accounts", []) + ([data["Account"]] if "Account" in data else [])
        for account in accounts:
            account.pop("Status", None)
            states = self.settings.account_states
            account["State"] = states.get(account["Id"], account.get("State", "ACTIVE"))
        return replace(answer, body=json.dumps(data).encode())

    def _create_account(self, call: Call) -> Answer:
        """Accept the request IN_PROGRESS without creating anything yet, as AWS does."""
        with self._lock:
            conflicted = self._conflicts(call)
            crowded = sum(c.state == "IN_PROGRESS" for c in self._creations.values())
            crowded_out = not conflicted and crowded >= CREATIONS_IN_PROGRESS
            if not (conflicted or crowded_out):
                polls = self.settings.creation_polls
                accepted = self._new_creation(call.account, call.fields, polls).status()
                return _json({"CreateAccountStatus": accepted})
        if conflicted:
            code = "ConcurrentModificationException"
            return self._refuse("conflict", call, 400, code, ORGANIZATIONS_CONFLICT)
        message = (
            f"You can have at most {CREATIONS_IN_PROGRESS} account creations in progress at "
            "the same time. Wait for one to complete and try again."
        )
        return self._refuse("too_many_creations", call, 400, "TooManyRequestsException", message)

    def _new_creation(self, account: str, params: dict[str, Any], polls: int | None) -> Creation:
        """Record a request IN_PROGRESS; call with the lock held."""
        creation = Creation(f"car-{self._ids.getrandbits(128):032x}", account, params, polls)
        self._creations[creation.id] = creation
        return creation

    def _describe_creation(self, call: Call) -> Answer:
        with self._lock:
            creation = self._creations.get(call.fields.get("CreateAccountRequestId", ""))
            due = creation is not None and creation.poll()
        if creation is None:
            message = "We can't find a create account request with the CreateAccountRequestId."
            return _error(call.service, 400, "CreateAccountStatusNotFoundException", message)
        if due:
            self._complete(creation)
        with self._lock:
            return _json({"CreateAccountStatus": creation.status()})

    def _complete(self, creation: Creation) -> None:
        """End a request: FAILED as chosen or for a taken email, else created in moto."""
        with self._completing:
            failure = self._creation_failure(creation)
            organization = organizations_backends[creation.account]["aws"]
            created = {} if failure else organization.create_account(**creation.params)
        account_id = created.get("CreateAccountStatus", {}).get("AccountId", "")
        with self._lock:
            creation.finish(account_id, failure)
            if account_id:
                self._delayed[account_id] = self.settings.access_delay_calls
            if failure:
                self.injected["creation_failed"] += 1

    def _creation_failure(self, creation: Creation) -> str:
        email = creation.params["Email"].lower()
        chosen = {e.lower(): reason for e, reason in self.settings.fail_creations.items()}
        if email in chosen:
            return chosen[email]
        accounts = list(organizations_backends[creation.account]["aws"].accounts)
        # AWS compares emails without regard to case; moto accepts duplicates.
        taken = any(account.email.lower() == email for account in accounts)
        return "EMAIL_ALREADY_EXISTS" if taken else ""

    def _list_creations(self, call: Call) -> Answer:
        """Every request this organization has seen, newest first, filtered and paged."""
        wanted = set(call.fields.get("States") or CREATION_STATES)
        start = int(call.fields.get("NextToken") or 0)
        end = start + int(call.fields.get("MaxResults") or PAGE_SIZE)
        with self._lock:
            rows = [c.status() for c in reversed(self._creations.values()) if c.state in wanted]
        page: dict[str, Any] = {"CreateAccountStatuses": rows[start:end]}
        if end < len(rows):
            page["NextToken"] = str(end)
        return _json(page)

    # --- STS ----------------------------------------------------------------------------------

    def _sts(self, call: Call) -> Answer:
        refusal = self._assume_refusal(call) if call.operation == "AssumeRole" else None
        return refusal or self._forward(call)

    def _assume_refusal(self, call: Call) -> Answer | None:
        """AWS denies AssumeRole into an account that is not ACTIVE, and into a new account's
        role for a while after its creation SUCCEEDED."""
        role_arn = call.fields.get("RoleArn", "")
        found = ROLE_ACCOUNT.match(role_arn)
        target = found.group(1) if found else ""
        active = self.settings.account_states.get(target, "ACTIVE") == "ACTIVE"
        with self._lock:
            self.assumed[target] += 1
            delayed = active and _take(self._delayed, target)
        if active and not delayed:
            return None
        message = (
            f"User: arn:aws:iam::{call.account}:root is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}"
        )
        kind = "access_delay" if delayed else "account_state"
        return self._refuse(kind, call, 403, "AccessDenied", message)

    # --- IAM ----------------------------------------------------------------------------------

    def _iam(self, call: Call) -> Answer:
        refusal = self._iam_conflict(call) or self._not_yet_visible(call) or self._iam_rule(call)
        if refusal is not None:
            return refusal
        listed = IAM_LISTINGS.get(call.operation)
        size = self.settings.iam_page_size
        if listed and size is not None:  # moto answers the whole list, which is then cut
            whole = {k: v for k, v in call.fields.items() if k not in ("Marker", "MaxItems")}
            answer = self._forward(replace(call, body=urllib.parse.urlencode(whole).encode()))
        else:
            answer = self._forward(call)
        if listed and size is not None and answer.status == 200:
            start = int(call.fields.get("Marker") or 0)
            answer = _one_page(
                answer, listed, start, min(size, int(call.fields.get("MaxItems") or size))
            )
        kind = IAM_CREATES.get(call.operation)
        if kind and answer.status == 200 and self.settings.consistency_calls > 0:
            with self._lock:
                key = (call.account, kind, call.fields.get(f"{kind.title()}Name", ""))
                self._fresh[key] = self.settings.consistency_calls
        return answer

    def _iam_conflict(self, call: Call) -> Answer | None:
        if call.operation.startswith(("Get", "List")):
            return None
        with self._lock:
            conflicted = self._conflicts(call)
        if not conflicted:
            return None
        return self._refuse("conflict", call, 409, "ConcurrentModification", IAM_CONFLICT)

    def _not_yet_visible(self, call: Call) -> Answer | None:
        """IAM is eventually consistent: an entity just created may not be found yet."""
        if call.operation in IAM_CREATES or call.operation == "GetAccountAuthorizationDetails":
            return None
        named = [(kind, call.fields[key]) for key, kind in IAM_NAMES.items() if key in call.fields]
        with self._lock:
            hidden = [(k, n) for k, n in named if _take(self._fresh, (call.account, k, n))]
        if not hidden:
            return None
        kind, name = hidden[0]
        message = f"The {kind} with name {name} cannot be found."
        return self._refuse("not_found", call, 404, "NoSuchEntity", message)

    def _iam_rule(self, call: Call) -> Answer | None:
        rule = {
            "AttachRolePolicy": self._managed_quota,
            "AttachGroupPolicy": self._managed_quota,
            "PutRolePolicy": self._inline_quota,
            "PutGroupPolicy": self._inline_quota,
            "DeleteGroup": self._group_in_use,
        }.get(call.operation)
        return rule(call) if rule is not None else None

    def _managed_quota(self, call: Call) -> Answer | None:
        kind = "role" if "Role" in call.operation else "group"
        entity = _iam_entity(call, kind)
        if entity is None or call.fields.get("PolicyArn") in entity.managed_policies:
            return None
        if len(entity.managed_policies) < MANAGED_POLICIES_PER_ENTITY:
            return None
        quota = f"PoliciesPer{kind.title()}: {MANAGED_POLICIES_PER_ENTITY}"
        return self._refuse("limit", call, 409, "LimitExceeded", f"Cannot exceed quota for {quota}")

    def _inline_quota(self, call: Call) -> Answer | None:
        """AWS counts every inline policy of the entity, without whitespace, in its partition."""
        kind = "role" if "Role" in call.operation else "group"
        entity = _iam_entity(call, kind)
        if entity is None:
            return None
        documents = {**entity.policies, call.fields["PolicyName"]: call.fields["PolicyDocument"]}
        partition = self.settings.partition
        size = sum(
            len("".join(_repartition(d, "aws", partition).split())) for d in documents.values()
        )
        limit = INLINE_CHARACTERS[kind]
        if size <= limit:
            return None
        message = f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}"
        return self._refuse("limit", call, 409, "LimitExceeded", message)

    def _group_in_use(self, call: Call) -> Answer | None:
        """AWS refuses to delete a group with members or policies; moto deletes it."""
        group = _iam_entity(call, "group")
        if group is None:
            return None
        if group.users:
            reason = "must remove users from group first"
        elif group.managed_policies:
            reason = "must detach all policies first"
        elif group.policies:
            reason = "must delete policies first"
        else:
            return None
        message = f"Cannot delete entity, {reason}."
        return self._refuse("delete_conflict", call, 409, "DeleteConflict", message)


def _iam_entity(call: Call, kind: str) -> Any:
    """The role or group the call names, from moto's backend of the call's account; None
    when it does not exist (moto then answers NoSuchEntity itself)."""
    backend = iam_models.iam_backends[call.account]["global"]
    name = call.fields.get(f"{kind.title()}Name", "")
    try:
        return backend.get_role(name) if kind == "role" else backend.get_group(name)
    except NotFoundException:
        return None


def _write_target(fields: dict[str, Any]) -> str:
    """The entity an Organizations write changes: an account, OU or resource, or the name a
    new OU takes under its parent."""
    for key in ("AccountId", "ResourceId", "OrganizationalUnitId"):
        if key in fields:
            return str(fields[key])
    return f"{fields.get('ParentId')}/{fields.get('Name')}"


def _take(counter: Counter[Any], key: Any) -> bool:
    """Use up one of the calls left under `key`, if any."""
    if counter[key] <= 0:
        return False
    counter[key] -= 1
    return True


def _repartition(text: str, source: str, target: str) -> str:
    """`text` with ARNs of the `source` partition in the `target` one, raw or percent-encoded
    (form fields, IAM's policy documents in XML). ARNs inside JSON strings are raw."""
    pattern = rf"arn(:|%3[aA]){re.escape(source)}(:|%3[aA])"
    return re.sub(pattern, rf"arn\g<1>{target}\g<2>", text)


def _one_page(answer: Answer, listed: str, start: int, size: int) -> Answer:
    """moto's whole IAM listing cut to the page starting at `start`, with IsTruncated and,
    when more follow, the Marker of the next page (here, its offset)."""
    root = ElementTree.fromstring(answer.body)  # noqa: S314  (moto's own answer, in process)
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    result = root[0]  # <XxxResult>, before <ResponseMetadata>
    items = result.find(namespace + listed)
    assert items is not None, f"no {listed} in {answer.body[:200]!r}"
    every = list(items)
    for item in every:
        items.remove(item)
    items.extend(every[start : start + size])
    for old in result.findall(namespace + "IsTruncated") + result.findall(namespace + "Marker"):
        result.remove(old)
    more = start + size < len(every)
    ElementTree.SubElement(result, namespace + "IsTruncated").text = str(more).lower()
    if more:
        ElementTree.SubElement(result, namespace + "Marker").text = str(start + size)
    ElementTree.register_namespace("", namespace.strip("{}"))
    return replace(answer, body=ElementTree.tostring(root, encoding="utf-8"))


def _json(data: dict[str, Any]) -> Answer:
    return Answer(200, json.dumps(data).encode())


def _error(service: str, status: int, code: str, message: str) -> Answer:
    content_type, body = error_body(service, code, message)
    return Answer(status, body, (("Content-Type", content_type),))
