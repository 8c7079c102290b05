"""`POST /hooks/git`: a signed push to the followed branch starts a pass at once, whatever the
interval; pushes during a pass give one more pass; anything unsigned, oversized or malformed is
refused with one word and counted, and never leaves a traceback in the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import linecache
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import cli
from reconciler.daemon import Daemon as InProcess
from reconciler.daemon import Settings
from reconciler.metrics import Metrics
from reconciler.source import DirectorySource
from reconciler.webhook import Hook
from tests.aws.support import Aws, failures, run_pass
from tests.daemon.support import EXAMPLE_TEXT, REPO, Daemon
from tests.simulation.faults import FaultyServer

SECRET = "a-webhook-secret-of-the-tests"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
INVALID = "not: [a document\n"  # every pass fails validation at once: no AWS call is made
pytestmark = pytest.mark.timeout(120)


def _signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _github(body: bytes, event: str = "push") -> dict[str, str | bytes]:
    return {"X-GitHub-Event": event, "X-Hub-Signature-256": _signature(body)}


def _gitlab(token: str = SECRET, event: str = "Push Hook") -> dict[str, str | bytes]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token}


def _send(
    daemon: Daemon,
    body: bytes,
    headers: dict[str, str | bytes],
    *,
    length: str | None = "body",
    send_body: bool = True,
    method: str = "POST",
) -> tuple[int, bytes]:
    """The status and body of the answer to one request written byte for byte."""
    lines = [f"{method} /hooks/git HTTP/1.1".encode(), b"Host: reconciler"]
    lines.append(b"Content-Type: application/json")
    if length is not None:
        lines.append(
            b"Content-Length: " + (str(len(body)) if length == "body" else length).encode()
        )
    for name, value in headers.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    request = b"\r\n".join(lines) + b"\r\n\r\n" + (body if send_body else b"")
    received = b""
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=15) as connection:
        connection.sendall(request)
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, answer = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), answer


def _triggers(daemon: Daemon, source: str, result: str) -> float | None:
    return daemon.metric("reconciler_triggers_total", source=source, result=result)


def _passes(daemon: Daemon) -> float:
    return sum(
        daemon.metric("reconciler_reconcile_total", result=result) or 0.0
        for result in ("success", "error")
    )


def _start(tmp_path: Path, desired: Path, endpoint: str, *, secret: bool = True) -> Daemon:
    args = ["run", "--desired", str(desired), "--interval", "300"]
    if secret:
        secret_file = tmp_path / "webhook-secret"
        secret_file.write_text(SECRET + "\n")  # as `kubectl create secret --from-file` keeps it
        args += ["--webhook-secret-file", str(secret_file)]
    return Daemon(args, endpoint, tmp_path)


def _stop(daemon: Daemon) -> None:
    code, _ = daemon.stop()
    output = daemon.output()
    assert code == 0, output
    assert "Traceback" not in output, output


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon whose document is invalid: each pass ends quickly, with an error, and no AWS."""
    desired = tmp_path / "accounts.yaml"
    desired.write_text(INVALID)
    daemon = _start(tmp_path, desired, "http://127.0.0.1:9")
    try:
        daemon.wait_for(lambda: _passes(daemon) == 1, timeout=30, what="the first pass")
        yield daemon
    finally:
        _stop(daemon)


def _still(daemon: Daemon, passes: float, seconds: float = 1.5) -> None:
    """No pass starts: the count stays as it is. Called once the daemon has answered every
    request (it asks for a pass, or not, before it answers) and its counters were checked."""
    # A settle stays: the daemon records nothing when its on-demand thread goes back to
    # waiting, so only time lets a pass asked by mistake show in the count.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert _passes(daemon) == passes
        time.sleep(0.1)
    assert _passes(daemon) == passes


def test_every_trigger_series_starts_at_zero_but_the_first_scheduled_pass(idle: Daemon) -> None:
    assert {
        (source, result): _triggers(idle, source, result)
        for source in ("schedule", "webhook", "event")
        for result in ("accepted", "rejected")
    } == {
        ("schedule", "accepted"): 1.0,
        ("schedule", "rejected"): 0.0,
        ("webhook", "accepted"): 0.0,
        ("webhook", "rejected"): 0.0,
        ("event", "accepted"): 0.0,
        ("event", "rejected"): 0.0,
    }


def test_a_signed_github_push_starts_a_pass_at_once(idle: Daemon) -> None:
    assert _send(idle, PUSH, _github(PUSH)) == (202, b"accepted\n")
    idle.wait_for(lambda: _passes(idle) == 2, timeout=5, what="a second pass")
    assert _triggers(idle, "webhook", "accepted") == 1
    assert _triggers(idle, "schedule", "accepted") == 1
    _still(idle, 2)


def test_a_gitlab_push_with_the_token_starts_a_pass_and_a_wrong_token_is_refused(
    idle: Daemon,
) -> None:
    assert _send(idle, PUSH, _gitlab()) == (202, b"accepted\n")
    idle.wait_for(lambda: _passes(idle) == 2, timeout=5, what="a second pass")
    assert _send(idle, PUSH, _gitlab(token=SECRET + "x")) == (401, b"unauthorized\n")
    assert _send(idle, PUSH, _gitlab(token=SECRET[:-1])) == (401, b"unauthorized\n")
    assert _triggers(idle, "webhook", "accepted") == 1
    assert _triggers(idle, "webhook", "rejected") == 2
    _still(idle, 2)


def test_a_wrong_signature_is_refused_and_counted(idle: Daemon) -> None:
    headers = _github(PUSH)
    headers["X-Hub-Signature-256"] = _signature(PUSH, secret="another secret")
    assert _send(idle, PUSH, headers) == (401, b"unauthorized\n")
    assert _triggers(idle, "webhook", "rejected") == 1
    assert _triggers(idle, "webhook", "accepted") == 0
    _still(idle, 1)


def test_other_refs_and_events_are_answered_and_start_nothing(idle: Daemon) -> None:
    for ref in ("refs/heads/feature", "refs/tags/v1", "refs/heads/main2", "main"):
        body = json.dumps({"ref": ref}).encode()
        assert _send(idle, body, _github(body)) == (202, b"ignored\n"), ref
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert _send(idle, ping, _github(ping, event="ping")) == (202, b"ignored\n")
    assert _send(idle, PUSH, _github(PUSH, event="pull_request")) == (202, b"ignored\n")
    assert _send(idle, PUSH, _gitlab(event="Merge Request Hook")) == (202, b"ignored\n")
    assert (_triggers(idle, "webhook", "accepted"), _triggers(idle, "webhook", "rejected")) == (
        0,
        0,
    )
    _still(idle, 1)


def test_requests_of_the_wrong_size_shape_or_method_are_refused(idle: Daemon) -> None:
    # Over 1 MiB by its Content-Length: answered without the body ever being sent.
    big = b"x" * (1024 * 1024 + 1)
    assert _send(idle, big, _github(big), send_body=False) == (413, b"too large\n")
    assert _send(idle, PUSH, _github(PUSH), length=None) == (411, b"length required\n")
    for length in ("-1", "1e3", "0x10", "1_0", "12abc", "\u0661\u0660".encode().decode("latin-1")):
        assert _send(idle, PUSH, _github(PUSH), length=length)[0] == 400, length
    # Signed, but not JSON, or a push without a ref.
    for body in (b"{not json", b"\xff\xfe", b"[" * 100_000, b'{"after": "1"}', b"[]"):
        assert _send(idle, body, _github(body)) == (400, b"bad request\n"), body[:10]
    assert _send(idle, PUSH, _github(PUSH), method="GET")[0] == 405
    assert _send(idle, PUSH, _github(PUSH), method="PUT")[0] == 405
    # 413, 411, six 400 for the length and five for the body; 405 is not counted.
    assert _triggers(idle, "webhook", "rejected") == 13
    assert _triggers(idle, "webhook", "accepted") == 0
    _still(idle, 1)


def test_hostile_headers_are_refused_without_a_trace(idle: Daemon) -> None:
    digest = _signature(PUSH).removeprefix("sha256=")
    sha1 = hmac.new(SECRET.encode(), PUSH, hashlib.sha1).hexdigest()
    for signature in (
        "sha256=" + "f" * 60_000,  # huge
        "sha256=" + "z" * 64,  # not hexadecimal
        "sha256=" + digest.upper(),
        _signature(b'{"ref": "refs/heads/main"}'),  # another body's
        "sha1=" + sha1,
        "sha1=" + digest,
        digest,
        "",
        b"sha256=\xff\xfe\x00" + digest.encode()[3:],
        "sha256=" + digest + "00",
    ):
        assert _send(idle, PUSH, {"X-Hub-Signature-256": signature, "X-GitHub-Event": "push"}) == (
            401,
            b"unauthorized\n",
        ), signature[:20]
    assert _send(idle, PUSH, {"X-GitHub-Event": "push"}) == (401, b"unauthorized\n")
    assert _send(idle, PUSH, {"X-Gitlab-Token": b"\xff" * 30_000}) == (401, b"unauthorized\n")
    assert _triggers(idle, "webhook", "rejected") == 12
    assert _triggers(idle, "webhook", "accepted") == 0
    assert idle.get("/healthz") == (200, "ok\n")
    _still(idle, 1)


def test_without_a_secret_the_hook_does_not_exist(tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text(INVALID)
    daemon = _start(tmp_path, desired, "http://127.0.0.1:9", secret=False)
    try:
        daemon.wait_for(lambda: _passes(daemon) == 1, timeout=30, what="the first pass")
        assert _send(daemon, PUSH, _github(PUSH)) == (404, b"not found\n")
        assert _send(daemon, PUSH, _github(PUSH), method="GET") == (404, b"not found\n")
        assert _triggers(daemon, "webhook", "accepted") == 0
        _still(daemon, 1)
    finally:
        _stop(daemon)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "error: --webhook-secret-file {path} is empty"),
        ("\n", "error: --webhook-secret-file {path} is empty"),
        (None, "error: cannot read --webhook-secret-file {path}: No such file or directory"),
    ],
)
def test_an_empty_or_unreadable_secret_file_is_a_one_line_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "webhook-secret"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "run", "--webhook-secret-file", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message.format(path=path) + "\n")


@pytest.mark.parametrize(
    ("ref", "followed"),
    [
        ("main", "refs/heads/main"),
        ("release/2026", "refs/heads/release/2026"),
        ("refs/heads/main", "refs/heads/main"),
        ("refs/tags/v1", "refs/tags/v1"),
    ],
)
def test_the_followed_ref_is_a_branch_unless_given_in_full(ref: str, followed: str) -> None:
    assert Hook(b"secret", ref).followed == followed


@pytest.mark.parametrize(
    ("content", "secret"),
    [
        (b"s3cret\n", b"s3cret"),
        (b"s3cret\r\n", b"s3cret"),
        (b"s3cret", b"s3cret"),
        (b" s3 cret \n\n", b" s3 cret \n"),  # only the one trailing newline goes
    ],
)
def test_the_secret_file_loses_its_trailing_newline_only(
    tmp_path: Path, content: bytes, secret: bytes
) -> None:
    path = tmp_path / "secret"
    path.write_bytes(content)
    assert cli._webhook_secret(str(path)) == secret
    assert cli._webhook_secret(None) is None
    assert cli._webhook_secret("") is None  # RECONCILER_WEBHOOK_SECRET_FILE= : off


def test_pushes_before_a_pass_starts_give_one_pass(tmp_path: Path) -> None:
    desired = tmp_path / "accounts.yaml"
    desired.write_text(INVALID)
    metrics = Metrics()
    daemon = InProcess(
        Settings(webhook_secret=b"secret"), DirectorySource(desired, settle=0.01), metrics
    )
    on_demand = threading.Thread(target=daemon.passes_on_demand)

    def failed_passes() -> float | None:
        return metrics.registry.get_sample_value("reconciler_reconcile_total", {"result": "error"})

    with daemon._pass_lock:  # as a pass under way holds it
        on_demand.start()
        for _ in range(5):
            daemon.trigger()
        # The thread woke for the asks and now waits for the lock: no pass ran without it.
        _until(lambda: _waits_for_the_lock(on_demand), "the on-demand thread at the pass lock")
        assert failed_passes() == 0
    _until(lambda: failed_passes(), "a pass")
    # `_wanted` stays set from an ask until a pass holds the lock, which it keeps until the
    # pass is counted: both clear (read in that order), no other pass is asked or under way.
    _until(
        lambda: not daemon._wanted.is_set() and not daemon._pass_lock.locked(),
        "the on-demand thread idle",
    )
    assert failed_passes() == 1
    daemon.stop.set()
    daemon.trigger()
    on_demand.join(timeout=5)
    assert not on_demand.is_alive()


def _until(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _waits_for_the_lock(thread: threading.Thread) -> bool:
    """Whether `thread` is in `passes_on_demand`, on the line taking the pass lock."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code is not InProcess.passes_on_demand.__code__:
        return False
    return "self._pass_lock.acquire(" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)


# --- against the strict simulator ----------------------------------------------------------------


@pytest.fixture
def converged(aws: Aws, tmp_path: Path) -> Iterator[tuple[Daemon, Path]]:
    """A daemon on the example document, after its first pass; and the document's path."""
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    daemon = _start(tmp_path, desired, aws.url)
    try:
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, timeout=90, what="/readyz")
        yield daemon, desired
    finally:
        _stop(daemon)


def _auditors(aws: Aws) -> set[str]:
    return {user["UserName"] for user in aws.iam.get_group(GroupName="Auditors")["Users"]}


def test_a_member_added_before_the_push_is_applied_within_seconds(
    converged: tuple[Daemon, Path], aws: Aws
) -> None:
    daemon, desired = converged
    assert daemon.passes() == 1
    assert _auditors(aws) == {"carol"}
    desired.write_text(EXAMPLE_TEXT.replace("users: [carol]", "users: [carol, mallory]"))
    started = time.monotonic()
    assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
    daemon.wait_for(lambda: _auditors(aws) == {"carol", "mallory"}, timeout=15, what="mallory")
    assert time.monotonic() - started < 15
    daemon.wait_for_passes(2, timeout=15)
    assert (daemon.passes(), _triggers(daemon, "webhook", "accepted")) == (2, 1)


def test_a_push_that_changes_only_a_group_reads_only_the_groups(aws: Aws, tmp_path: Path) -> None:
    built = run_pass(aws.url, apply=True)  # the organization exists: the first pass reads it
    assert not failures(built), failures(built)
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    daemon = _start(tmp_path, desired, aws.url)
    try:
        daemon.wait_for_passes(1, timeout=90)
        reads = {op: _calls(daemon, op) for op in ("ListAccountsForParent", "ListRoles")}
        assert all(reads.values()), reads
        desired.write_text(EXAMPLE_TEXT.replace("users: [carol]", "users: [carol, mallory]"))
        assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
        daemon.wait_for(lambda: _auditors(aws) == {"carol", "mallory"}, timeout=15, what="member")
        daemon.wait_for_passes(2, timeout=15)
        assert {op: _calls(daemon, op) for op in reads} == reads
        assert '"scope": "groups"' in daemon.output()
    finally:
        _stop(daemon)


def _calls(daemon: Daemon, operation: str) -> float:
    return daemon.metric("reconciler_aws_api_calls_total", operation=operation) or 0.0


def test_pushes_during_a_pass_give_exactly_one_more_pass(
    converged: tuple[Daemon, Path], simulator: FaultyServer
) -> None:
    daemon, _ = converged
    assert daemon.passes() == 1
    simulator.injector.latency = 0.5  # each AWS call: a pass now lasts seconds
    calls = sum(simulator.injector.counts.values())
    assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
    daemon.wait_for(
        lambda: sum(simulator.injector.counts.values()) > calls, timeout=10, what="a pass"
    )
    for _ in range(3):
        assert _send(daemon, PUSH, _gitlab()) == (202, b"accepted\n")
    assert daemon.passes() == 1, "the pass ended before the pushes: make it slower"
    daemon.wait_for_passes(3, timeout=60)
    simulator.injector.latency = 0.0
    calls = sum(simulator.injector.counts.values())  # all of the third pass's, counted
    # A settle stays: nothing is recorded when the on-demand thread goes back to waiting; a
    # fourth pass would show at its first AWS call, long before it is counted.
    time.sleep(3)
    assert daemon.passes() == 3
    assert sum(simulator.injector.counts.values()) == calls
    assert _triggers(daemon, "webhook", "accepted") == 4
    assert _triggers(daemon, "schedule", "accepted") == 1


def test_removals_spread_over_two_pushes_meet_the_same_rail_as_in_one_pass(
    aws: Aws, tmp_path: Path
) -> None:
    """Four memberships. A push removing two of them passes the mass-removal rail (not more
    than half); the next push removing the other two must be refused, as a full pass would
    refuse it (2 of the 2 left), although the state read before the first push still counts
    four. And while the document in force asks for that refused plan, a pass over part of the
    organization, started by an AWS change event, applies nothing of it either."""
    built = run_pass(aws.url, apply=True)
    assert not failures(built), failures(built)
    queue = str(aws.client("sqs").create_queue(QueueName="events")["QueueUrl"])
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET)
    args = ["run", "--desired", str(desired), "--interval", "300"]
    args += ["--webhook-secret-file", str(secret_file), "--events-queue-url", queue]
    daemon = Daemon(args, aws.url, tmp_path)

    def members(group: str) -> set[str]:
        return {user["UserName"] for user in aws.iam.get_group(GroupName=group)["Users"]}

    try:
        daemon.wait_for_passes(1, timeout=90)
        first = EXAMPLE_TEXT.replace("users: [alice]", "users: []")
        first = first.replace("users: [james, alice]", "users: [james]")
        desired.write_text(first)
        assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
        daemon.wait_for(lambda: members("Administrators") == set(), timeout=20, what="alice out")
        daemon.wait_for_passes(2, timeout=20)
        desired.write_text(
            first.replace("users: [james]", "users: []").replace("users: [carol]", "users: []")
        )
        assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
        daemon.wait_for(lambda: "plan refused" in daemon.output(), timeout=20, what="refusal")
        assert "removes 2 of the 2 memberships" in daemon.output()
        # An event about a role, while that plan stays in force: refused too, nothing applied.
        account = next(
            a["Id"] for a in aws.org.list_accounts()["Accounts"] if a["Name"] == "acme-prod"
        )
        iam = aws.client("iam", account)
        trust = iam.get_role(RoleName="AccountAccessRole")["Role"]["AssumeRolePolicyDocument"]
        for statement in trust["Statement"]:
            statement.pop("Condition")
        iam.update_assume_role_policy(
            RoleName="AccountAccessRole", PolicyDocument=json.dumps(trust)
        )
        actor = f"arn:aws:iam::{account}:user/mallory"
        detail = {
            "eventSource": "iam.amazonaws.com",
            "eventName": "UpdateAssumeRolePolicy",
            "eventTime": "2026-12-03T10:00:00Z",
            "userIdentity": {"type": "IAMUser", "arn": actor},
            "recipientAccountId": account,
            "requestParameters": {"roleName": "AccountAccessRole"},
        }
        body = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": detail})
        aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
        # The refusal is logged as the event's pass ends, after anything it applied; its
        # message stays hidden for 300 s, so no pass follows: no settle needed.
        daemon.wait_for(
            lambda: daemon.output().count("plan refused") == 2, timeout=20, what="2nd refusal"
        )
        assert members("AcmeDevelopers") == {"james"} and members("Auditors") == {"carol"}
        trust = iam.get_role(RoleName="AccountAccessRole")["Role"]["AssumeRolePolicyDocument"]
        assert "Condition" not in json.dumps(trust)
    finally:
        _stop(daemon)


def test_what_a_pass_changed_is_read_again_before_a_pass_over_another_part(
    aws: Aws, tmp_path: Path
) -> None:
    """max_changes 2. Two changes made by hand in shared-services are corrected by a full pass
    (a push of the same revision). A role of acme-prod changed by hand then, and its event:
    the pass over acme-prod's roles must count one change, not the two the full pass already
    made (which the state read before it still shows), and so correct it."""
    built = run_pass(aws.url, apply=True)
    assert not failures(built), failures(built)
    queue = str(aws.client("sqs").create_queue(QueueName="events")["QueueUrl"])
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT.replace("max_changes: 50", "max_changes: 2"))
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET)
    args = ["run", "--desired", str(desired), "--interval", "300"]
    args += ["--webhook-secret-file", str(secret_file), "--events-queue-url", queue]
    daemon = Daemon(args, aws.url, tmp_path)
    ids = {a["Name"]: a["Id"] for a in aws.org.list_accounts()["Accounts"]}
    try:
        daemon.wait_for_passes(1, timeout=90)
        shared = aws.client("iam", ids["shared-services"])
        _drop_mfa(shared, "AccountAccessRole")
        _drop_mfa(shared, "ReadOnlyAccessRole")
        assert _send(daemon, PUSH, _github(PUSH)) == (202, b"accepted\n")
        daemon.wait_for(lambda: _has_mfa(shared, "ReadOnlyAccessRole"), 20, "full pass fix")
        daemon.wait_for_passes(2, timeout=20)
        prod = aws.client("iam", ids["acme-prod"])
        _drop_mfa(prod, "AccountAccessRole")
        detail = {
            "eventSource": "iam.amazonaws.com",
            "eventName": "UpdateAssumeRolePolicy",
            "eventTime": "2026-12-03T10:00:00Z",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ids['acme-prod']}:user/x"},
            "recipientAccountId": ids["acme-prod"],
            "requestParameters": {"roleName": "AccountAccessRole"},
        }
        body = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": detail})
        aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
        daemon.wait_for(lambda: _has_mfa(prod, "AccountAccessRole"), 20, "event pass fix")
        assert "plan refused" not in daemon.output()
    finally:
        _stop(daemon)


def _drop_mfa(iam: Any, role: str) -> None:
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    for statement in trust["Statement"]:
        statement.pop("Condition")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))


def _has_mfa(iam: Any, role: str) -> bool:
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return "Condition" in json.dumps(trust)
