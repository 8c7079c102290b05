# PYTHON_ARGCOMPLETE_OK
"""The `reconciler` command line: thin wrappers that call the pipeline and set the exit status.

Every flag also reads `RECONCILER_<FLAG>` from the environment, so a
Kubernetes ConfigMap can configure the daemon without a command line.

Every error is one line on stderr, never a traceback. A usage error (an unknown flag, a bad
value, a missing argument, a bad `RECONCILER_<FLAG>` value) exits 64 (EX_USAGE), as 2 means
"changes found" for `plan`; Ctrl-C exits 130; a closed stdout (`reconciler schema | head -1`)
exits 141 quietly, as a shell reports a command that SIGPIPE ended.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import argcomplete

from reconciler import __version__, files, logs, progress, reconcile, source
from reconciler.aws import read
from reconciler.aws.queue import EventQueue, region_of
from reconciler.aws.sessions import Sessions
from reconciler.core import access, adopt, policies, render, spec, state, ways
from reconciler.core.errors import AwsError, ReconcilerError, SpecError
from reconciler.core.plan import Status

if TYPE_CHECKING:  # imported where the daemon runs: one-shot commands start without it
    from reconciler import daemon

Command = Callable[[argparse.Namespace], int]
# An instance name is a tag value, an IAM path element and part of a tag key: all three accept
# these characters; AWS reserves tag keys that start with "aws", and a leading "-" reads as a flag.
_INSTANCE = re.compile(r"(?!aws|-)[A-Za-z0-9+=.@_-]{1,64}", re.IGNORECASE)
# The exit status of a command line the commands cannot use (sysexits.h), as `plan` uses 2.
EX_USAGE = 64
# Interrupted by Ctrl-C, and stdout closed by its reader: as a shell reports a command that
# SIGINT or SIGPIPE ended (128 + the signal's number).
EX_INTERRUPTED, EX_BROKEN_PIPE = 130, 141
# IAM names as IAM takes them (ASCII only), and account ids: for import's options. A comma is
# an IAM name character, but --roles and --groups separate names with it.
_IAM_ROLE = re.compile(r"[\w+=.@-]{1,64}", re.ASCII)
_IAM_GROUP = re.compile(r"[\w+=.@-]{1,128}", re.ASCII)
_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
_MAX_SECRET = 4096  # bytes of a webhook secret; GitHub and GitLab take far shorter ones


def main(argv: Sequence[str] | None = None) -> int:
    _no_last_collection()
    parser = _parser()
    argcomplete.autocomplete(parser)  # answers the shell's completion request, then exits
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command's own parser, whose --help lists what it takes
        _usage_exit(
            f"reconciler {args.command_name}", f"unrecognized arguments: {' '.join(unknown)}"
        )
    _check_signature_options(args)
    _resolve_jitter(args)
    command: Command = args.command
    args.stop = threading.Event()  # set by a first Ctrl-C during apply
    try:
        with _interruptible(args.command_name, args.stop):
            status = command(args)
            sys.stdout.flush()  # a closed stdout shows here, not at exit
            return status
    except SpecError as exc:
        print(f"invalid document: {exc}", file=sys.stderr)
        return 1
    except ReconcilerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_interrupted(args.command_name), file=sys.stderr)
        return EX_INTERRUPTED
    except BrokenPipeError:
        _drop_stdout()
        return EX_BROKEN_PIPE


# What happens at exit, tested in a subprocess, which the mutation tool cannot follow.
def _no_last_collection() -> None:  # pragma: no mutate block
    """At exit, move every object out of the garbage collector's sight: as the interpreter
    tore down its modules, its last collections took apart, cycle by cycle, the structures the
    process still held (botocore's models among them), about 0.1 s of a command that read AWS,
    to free memory the exit gives back whole anyway. Exit handlers still run and streams are
    still flushed; only reference cycles go unfinalized, which Python never promised at exit."""
    atexit.unregister(gc.freeze)  # once, however often `main` runs in one process
    atexit.register(gc.freeze)


def _interrupted(command: str) -> str:
    return f"reconciler {command}: interrupted"


@contextmanager
def _interruptible(command: str, stop: threading.Event) -> Iterator[None]:
    """Ctrl-C ends the command at once with one line and exit status 130, even while worker
    threads wait on AWS. During `apply` the first Ctrl-C asks the pass to stop at a safe point
    (no change is left half made; what is left is the next pass's) and only a second one
    ends it at once. The daemon installs its own handler, and stops cleanly. Off the main
    thread, nothing changes."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if command == "apply" and not stop.is_set():
            stop.set()
            _say_from_handler(
                "reconciler apply: stopping after the changes under way; Ctrl-C again to "
                "stop at once"
            )
            return
        # RuntimeError: the signal came while the main thread was writing to stdout.
        with suppress(OSError, ValueError, RuntimeError):
            sys.stdout.flush()
        _say_from_handler(_interrupted(command))
        os._exit(EX_INTERRUPTED)

    try:
        previous = signal.signal(signal.SIGINT, interrupted)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# Signal and pipe handling, tested in subprocesses, which the mutation tool cannot follow.
def _say_from_handler(line: str) -> None:  # pragma: no mutate block
    """One line on stderr from a signal handler, written straight to the file descriptor: the
    handler runs between two steps of the main thread, which may be inside a write to stderr
    holding its buffer's lock, and a second Ctrl-C may come while the first one's line is being
    written; Python's buffered streams refuse such a reentrant write."""
    try:
        os.write(sys.stderr.fileno(), f"{line}\n".encode())
    except (OSError, ValueError):  # no descriptor behind stderr (captured, or closed)
        with suppress(OSError, ValueError, RuntimeError):
            print(line, file=sys.stderr, flush=True)


# Signal and pipe handling, tested in subprocesses, which the mutation tool cannot follow.
def _drop_stdout() -> None:  # pragma: no mutate block
    """Point stdout at /dev/null, so that the interpreter's final flush of what the closed pipe
    did not take raises nothing (as the Python documentation on SIGPIPE recommends)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stdout: nothing to flush at exit
        pass


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit status 64, not argparse's usage and 2."""

    def error(self, message: str) -> NoReturn:
        _usage_exit(self.prog, message)


def _usage_exit(prog: str, message: str) -> NoReturn:
    print(_usage_line(prog, message), file=sys.stderr)
    raise SystemExit(EX_USAGE)


def _usage_line(prog: str, message: str) -> str:
    """`reconciler plan: error: ...; see reconciler plan --help`, on one line whatever the
    message quotes from the command line (control characters escaped)."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return f"{prog}: error: {shown}; see '{prog} --help'"


def _check_signature_options(args: argparse.Namespace) -> None:
    """Half of the signature options would look like protection and give none: refused."""
    verify = getattr(args, "verify_signatures", False)
    signers = getattr(args, "allowed_signers", None)
    prog = f"reconciler {args.command_name}"
    if verify and not signers:
        _usage_exit(prog, "--verify-signatures needs --allowed-signers FILE")
    if signers and not verify:
        _usage_exit(prog, "--allowed-signers is read only with --verify-signatures")
    if verify and not args.source_url:
        _usage_exit(
            prog, "--verify-signatures needs --source-url: a directory carries no signatures"
        )


def _resolve_jitter(args: argparse.Namespace) -> None:
    """`--jitter` not given (nor RECONCILER_JITTER): a tenth of the interval chosen."""
    if getattr(args, "jitter", 0) is None:
        args.jitter = args.interval / 10


def _validate(args: argparse.Namespace) -> int:
    document = source.read_document(args.desired)
    print(
        f"{args.desired}: valid ({len(document.accounts)} accounts, "
        f"{len(document.access.roles)} roles, {len(document.groups)} groups)"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the document, for editors (yaml-language-server)."""
    schema = spec.Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "reconciler desired state (desired/accounts.yaml)"
    return schema


def _plan(args: argparse.Namespace) -> int:
    """Exit 0: nothing to change and no finding; 2: changes or access findings; 1: error."""
    document = source.read_document(args.desired)
    result = _reconcile(document, args, apply=False)
    shown = render.render(result.plan, render.Format(args.format), colour=_colour())
    print(shown, end="")
    if result.refused:
        print(f"apply would refuse this plan: {result.refused}", file=sys.stderr)
    if result.refused or result.plan.unreachable:
        return 1
    return 0 if result.plan.empty and not result.plan.findings else 2


def _import(args: argparse.Namespace) -> int:
    """Write a document declaring the live organization as it is; exit 0, 1 on an error."""
    output = Path(args.import_output) if args.import_output else None
    if output is not None:  # refused before AWS is asked anything
        files.check_file_target(output)
    live, source_account_id = _read_for_import(args)
    choice = adopt.Choice(
        source_account_id=source_account_id,
        bootstrap_role=args.bootstrap_role,
        roles=args.roles,
        groups=args.groups[0],
        group_names=args.groups[1],
    )
    imported = adopt.document(live, choice)
    for item in imported.left_out:
        print(f"left out: {item}", file=sys.stderr)
    if output is None:
        print(imported.text, end="")
        return 0
    files.write_file(output, imported.text)
    print(
        f"wrote {output}: {imported.accounts} accounts, {imported.roles} role templates, "
        f"{imported.groups} groups, {len(imported.left_out)} left out",
        file=sys.stderr,
    )
    return 0


def _read_for_import(args: argparse.Namespace) -> tuple[state.OrgState, str]:
    """The live organization, read with the sessions, concurrency and progress line of `plan`."""
    concurrency = int(args.concurrency)
    probe = Sessions(
        management_account_id="",
        bootstrap_role=args.bootstrap_role,
        endpoint_url=args.endpoint_url,
        read_only=True,
    )
    management = read.management_account_id(probe)
    sessions = Sessions(
        management_account_id=management,
        bootstrap_role=args.bootstrap_role,
        endpoint_url=args.endpoint_url,
        max_pool=concurrency + 4,
        read_only=True,
    )
    source_account_id = args.source_account_id or management
    line = progress.for_terminal(sys.stderr)
    told = None if line is None else functools.partial(line, "read")
    try:
        return read.read_for_import(sessions, source_account_id, concurrency, told), (
            source_account_id
        )
    finally:
        if line is not None:
            line.close()


def _role_names(value: str) -> frozenset[str]:
    """--roles: IAM role names, comma-separated (lowercased: IAM names ignore case)."""
    names = [_role_name(name.strip(" ")) for name in value.split(",")]
    return frozenset(name.lower() for name in names)


def _group_choice(value: str) -> tuple[adopt.GroupChoice, frozenset[str]]:
    """--groups: granting, all, managed, or IAM group names, comma-separated."""
    if value in (adopt.GroupChoice.GRANTING, adopt.GroupChoice.ALL, adopt.GroupChoice.MANAGED):
        return adopt.GroupChoice(value), frozenset()
    names = [name.strip(" ") for name in value.split(",")]
    for name in names:
        if not _IAM_GROUP.fullmatch(name):
            raise argparse.ArgumentTypeError(
                f"{name!r} is not granting, all, managed or an IAM group name: 1 to 128 of "
                "letters, digits and + = , . @ _ -"
            )
    return adopt.GroupChoice.NAMED, frozenset(name.lower() for name in names)


def _account_id(value: str) -> str:
    if not _ACCOUNT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an account id: exactly 12 digits")
    return value


# Option declarations: mutating them changes help text; the decisions are mutated.
def _import_options(sub: argparse.ArgumentParser) -> None:  # pragma: no mutate block
    option = functools.partial(sub.add_argument, action=_EnvDefault)
    option(
        "--output",
        dest="import_output",  # RECONCILER_OUTPUT is the profiles' directory
        default=None,
        metavar="PATH",
        help="write the document to this file (replaced atomically; a symbolic link is "
        "refused) instead of printing it",
    )
    option(
        "--roles",
        default=None,
        type=_role_names,
        metavar="NAME,...",
        help="the roles to import (default: every role trusting the source account that is "
        "not AWS's own)",
    )
    option(
        "--groups",
        default="granting",
        type=_group_choice,
        metavar="granting|all|managed|NAME,...",
        help="the source account's groups to import: those whose policies reach an imported "
        "role or that lie under the daemon's path, all, those under the daemon's path, or "
        "those named",
    )
    option(
        "--source-account-id",
        default=None,
        type=_account_id,
        metavar="ID",
        help="the account holding people's IAM users and groups (default: the management account)",
    )
    option(
        "--bootstrap-role",
        default="OrganizationAccountAccessRole",
        type=_role_name,
        help="the role assumed in member accounts (never imported)",
    )


def _role_name(value: str) -> str:
    """One IAM role name (--bootstrap-role)."""
    if not _IAM_ROLE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -"
        )
    return value


def _colour() -> bool:
    """Colours for a terminal only, unless NO_COLOR is set to anything (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _apply(args: argparse.Namespace) -> int:
    document = source.read_document(args.desired)
    result = _reconcile(document, args, apply=True)
    print(render.text(result.plan, colour=_colour()), end="")
    if result.refused:
        print(f"refused, nothing was changed: {result.refused}", file=sys.stderr)
        return 1
    for outcome in result.outcomes:
        if outcome.status != Status.APPLIED:
            print(f"{outcome.status}: {outcome.change.line()}: {outcome.reason}", file=sys.stderr)
    applied = sum(o.status == Status.APPLIED for o in result.outcomes)
    print(f"Applied {applied} of {len(result.plan.changes)} changes.")
    return 0 if result.converged else 1


def _reconcile(document: spec.Spec, args: argparse.Namespace, *, apply: bool) -> reconcile.Result:
    concurrency = int(args.concurrency)
    sessions = reconcile.sessions_for(document, args.endpoint_url, concurrency, read_only=not apply)
    line = progress.for_terminal(sys.stderr)  # a person waiting at a terminal, nobody else
    try:
        return reconcile.reconcile(
            document,
            sessions,
            apply=apply,
            concurrency=concurrency,
            stop=getattr(args, "stop", None),
            instance=args.instance,
            allow_mass_removal=args.allow_mass_removal,
            progress=line,
        )
    finally:
        if line is not None:
            line.close()


def _access(args: argparse.Namespace) -> int:
    """Who can reach which account as which role: from the document, or the live account."""
    document = source.read_document(args.desired)
    if args.live:
        entries = _live_access(document, args)
        title = "Who can reach the managed roles (live)"
    else:
        entries = access.declared(document)
        title = "Who the document lets reach which role"
    chosen = [e for e in entries if _access_matches(e, args.user, args.account)]
    print(render.access_list(chosen, render.AccessFormat(args.access_format), title), end="")
    return 0


def _live_access(document: spec.Spec, args: argparse.Namespace) -> list[access.Access]:
    """Every way in the source account holds; what could not be read is said on stderr, and
    an unreadable source account is an error, never an empty answer."""
    concurrency = int(args.concurrency)
    sessions = reconcile.sessions_for(document, args.endpoint_url, concurrency, read_only=True)
    org = read.read_live(document, sessions, concurrency)
    if org.source_unreachable:
        raise ReconcilerError(f"the source account could not be read: {org.source_unreachable}")
    for arn, why in sorted(org.unreadable_policies.items()):
        print(
            f"note: policy {arn} could not be read ({why}); its access is not listed",
            file=sys.stderr,
        )
    for name, why in sorted(org.unreachable.items()):
        print(
            f"note: account {name} could not be read ({why}); its roles' MFA "
            "is taken from the document",
            file=sys.stderr,
        )
    return access.live(document, org)


def _access_matches(entry: access.Access, user: str | None, account: str | None) -> bool:
    """`--user` ignores case, as IAM user names do; `--account` is a name or an id."""
    if user is not None and entry.user.lower() != user.lower():
        return False
    return account is None or account in (entry.account, entry.account_id)


# The daemon's wiring, tested end to end by tests/daemon, too slow to run per mutant.
def _run(args: argparse.Namespace) -> int:  # pragma: no mutate block
    from reconciler import daemon  # its scheduler and HTTP server slow every command's start

    logs.configure(args.log_format, args.log_level)
    return daemon.Daemon(_settings(args), _source(args)).run()


# The development sandbox, which changes nothing in AWS.
def _sandbox(args: argparse.Namespace) -> int:  # pragma: no mutate block
    from reconciler import daemon, sandbox  # sandbox: the optional simulator's extra

    logs.configure(args.log_format, args.log_level)
    desired = Path(args.desired)
    simulator, queue = sandbox.start(desired, args.simulator_port)
    args.endpoint_url = simulator.url
    args.events_queue_url = args.events_queue_url or queue
    print(sandbox.banner(simulator.url, args.listen, desired), flush=True)
    try:
        return daemon.Daemon(_settings(args), source.DirectorySource(desired)).run()
    finally:
        simulator.stop()


# The development sandbox, which changes nothing in AWS.
def _sandbox_drift(args: argparse.Namespace) -> int:  # pragma: no mutate block
    from reconciler import sandbox  # needs the optional simulator (pip install reconciler[sandbox]

    if not args.endpoint_url:
        raise ReconcilerError("--endpoint-url: the URL `reconciler sandbox` printed is needed")
    for line in sandbox.make_drift(args.endpoint_url, Path(args.desired)):
        print(f"made by hand: {line}")
    print("sent the AWS change events of these changes; the daemon's log names who made them")
    return 0


# The daemon's wiring, tested end to end by tests/daemon, too slow to run per mutant.
def _settings(args: argparse.Namespace) -> daemon.Settings:  # pragma: no mutate block
    from reconciler import daemon

    if args.mode not in [mode.value for mode in reconcile.Mode]:
        raise ReconcilerError(f"--mode must be apply or plan, not {args.mode!r}")
    return daemon.Settings(
        interval=float(args.interval),
        jitter=float(args.jitter),
        mode=reconcile.Mode(args.mode),
        concurrency=int(args.concurrency),
        endpoint_url=args.endpoint_url,
        listen=args.listen,
        instance=args.instance,
        allow_mass_removal=args.allow_mass_removal,
        webhook_secret=_webhook_secret(args.webhook_secret_file),
        webhook_ref=getattr(args, "source_ref", "main"),  # a directory is followed as main
        events_queue=_events_queue(args.events_queue_url, args.endpoint_url),
    )


# The daemon's wiring, tested end to end by tests/daemon, too slow to run per mutant.
def _events_queue(
    url: str | None, endpoint_url: str | None
) -> EventQueue | None:  # pragma: no mutate block
    """The queue of AWS change events, in the region its URL names; None without a URL."""
    if not url:
        return None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return EventQueue(
        url, region_of(url, endpoint_url=endpoint_url, default_region=region), endpoint_url
    )


# The daemon's wiring, tested end to end by tests/daemon, too slow to run per mutant.
def _webhook_secret(path: str | None) -> bytes | None:  # pragma: no mutate block
    """The shared secret of `POST /hooks/git`, without the file's trailing newline; None
    without a file (an empty RECONCILER_WEBHOOK_SECRET_FILE too: the webhook is off)."""
    if not path:
        return None
    try:
        with Path(path).open("rb") as file:
            data = file.read(_MAX_SECRET + 1)
    except OSError as exc:
        raise ReconcilerError(
            f"cannot read --webhook-secret-file {path}: {exc.strerror or exc}"
        ) from exc
    secret = data.removesuffix(b"\n").removesuffix(b"\r")
    if not secret:
        raise ReconcilerError(f"--webhook-secret-file {path} is empty")
    if len(secret) > _MAX_SECRET:
        raise ReconcilerError(f"--webhook-secret-file {path} is over {_MAX_SECRET} bytes")
    return secret


def _source(args: argparse.Namespace) -> source.Source:
    if not args.source_url:
        return source.DirectorySource(Path(args.desired))
    return source.GitSource(
        url=args.source_url,
        ref=args.source_ref,
        path=args.source_path,
        workdir=Path(args.workdir),
        ssh_key_file=args.git_ssh_key_file,
        token=os.environ.get("RECONCILER_GIT_TOKEN") or None,  # an empty Secret value: none
        known_hosts_file=args.git_known_hosts_file,
        allowed_signers=args.allowed_signers,
    )


def _ways(args: argparse.Namespace) -> tuple[spec.Spec, list[ways.Way]]:
    document = source.read_document(args.desired)
    if args.user is not None:  # an unknown user is refused before any AWS call
        args.user = ways.user_as_named(document, args.user)
    ids, problem = _created_ids(document, args)
    return document, ways.ways_in(document, ids=ids, user=args.user, lookup_problem=problem)


def _created_ids(
    document: spec.Spec, args: argparse.Namespace
) -> tuple[dict[str, str], str | None]:
    """Ids of accounts created from the document, looked up by email, and why they could not
    be (no credentials, AWS unreachable; None: looked up). Online, `args.partition` defaults
    to the partition of the credentials."""
    if all(account.id for account in document.accounts):
        return {}, None
    sessions = reconcile.sessions_for(document, args.endpoint_url, 1, read_only=True)
    try:
        live = read.list_accounts(sessions)
        args.partition = args.partition or sessions.identity().partition
    except AwsError as exc:
        print(f"note: could not look up account ids ({exc})", file=sys.stderr)
        return {}, str(exc)
    matched = state.match_accounts(document, live)
    return {name: account.id for name, account in matched.items() if account.id}, None


def _partition(args: argparse.Namespace) -> str:
    return str(args.partition or policies.DEFAULT_PARTITION)


def _profiles(args: argparse.Namespace) -> int:
    problem = _refused_value(
        ("--user", args.user, ways.check_user_name),
        ("--source-profile", args.source_profile, ways.check_profile_name),
        ("--mfa-serial", args.mfa_serial, ways.check_mfa_serial),
        ("--output", args.output, _check_output_path),
    ) or _format_problem(args)
    if problem:
        return _usage_error("profiles", problem)
    if args.output is not None:  # refused before the document is read or AWS asked
        files.check_targets(
            Path(args.output), ways.file_names(args.profile_format), ways.WRITTEN_MARKER
        )
    document, found = _ways(args)
    partition = _partition(args)
    mfa_serial = args.mfa_serial or _default_mfa_serial(
        document.source_account_id, args.user, partition, args.profile_format
    )
    rendered = ways.render(
        args.profile_format,
        found,
        source_profile=args.source_profile,
        mfa_serial=mfa_serial,
        source_account_id=document.source_account_id,
        partition=partition,
    )
    if args.output is None:
        print(*rendered.values(), sep="", end="")
        return 0
    marked = {name: ways.marked(args.profile_format, text) for name, text in rendered.items()}
    for target in files.write_files(Path(args.output), marked, ways.WRITTEN_MARKER):
        print(f"wrote {target}", file=sys.stderr)
    return 0


def _refused_value(*checks: tuple[str, str | None, Callable[[str], str]]) -> str | None:
    """The first option whose value the INI and YAML outputs could not carry, and why; checked
    before anything is read or written."""
    for flag, value, check in checks:
        try:
            if value is not None:
                check(value)
        except ways.UsageError as exc:
            return f"{flag}: {exc}"
    return None


def _usage_error(command: str, problem: str) -> int:
    print(_usage_line(f"reconciler {command}", problem), file=sys.stderr)
    return EX_USAGE


def _format_problem(args: argparse.Namespace) -> str | None:
    """Options that do not go together with the format."""
    if args.profile_format != ways.GRANTED:
        return None
    if args.output is None:
        return "--format granted writes a registry directory: pass --output DIR"
    if args.mfa_serial:
        return "--format granted asks each person for their MFA device: drop --mfa-serial"
    return None


def _check_output_path(value: str) -> str:
    if not value or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ways.UsageError(f"{value!r} is not a directory name: empty or control characters")
    return value


def _default_mfa_serial(
    source_account_id: str, user: str | None, partition: str, profile_format: str
) -> str:
    if user:
        return f"arn:{partition}:iam::{source_account_id}:mfa/{user}"
    if profile_format == ways.AWS_CONFIG:  # the only format that carries the serial as given
        print(
            "note: pass --user NAME or --mfa-serial ARN to fill in mfa_serial for your MFA device",
            file=sys.stderr,
        )
    return f"arn:{partition}:iam::{source_account_id}:mfa/YOUR-IAM-USER-NAME"


def _links(args: argparse.Namespace) -> int:
    problem = _refused_value(("--user", args.user, ways.check_user_name))
    if problem:
        return _usage_error("links", problem)
    found = _ways(args)[1]
    print(ways.render_links(found, _partition(args)), end="")
    return 0


class _EnvOption(argparse.Action):
    """An option that RECONCILER_<FLAG> also sets, as each subclass reads it; the help names
    the variable."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        variable = "RECONCILER_" + dest.upper()
        kwargs = self._from_environment(variable, os.environ.get(variable), kwargs)
        help_text = kwargs.get("help", "")
        default = kwargs.get("default")
        if default is not None and not isinstance(default, bool) and "default" not in help_text:
            help_text += " (default: %(default)s)"
        kwargs["help"] = f"{help_text} [env {variable}]".strip()
        super().__init__(option_strings, dest, **kwargs)

    def _from_environment(
        self, variable: str, value: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The keyword arguments of the option, given the variable's value (None: unset)."""
        raise NotImplementedError

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, self._given(values))

    def _given(self, values: Any) -> Any:
        """The value the option takes when it is given on the command line."""
        return values


class _EnvDefault(_EnvOption):
    """An option whose default comes from RECONCILER_<FLAG> when that variable is set."""

    def _from_environment(
        self, variable: str, value: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if value is None:
            return kwargs
        choices = kwargs.get("choices")
        if choices is not None and value not in choices:
            # argparse checks choices on the command line only, not on defaults.
            _usage_exit("reconciler", f"{variable}={value!r} is not one of {', '.join(choices)}")
        return {**kwargs, "default": value, "required": False}


class _EnvFlag(_EnvOption):
    """A switch that RECONCILER_<FLAG>=true (or 1, yes) also turns on; any other value of the
    variable is refused rather than read as off."""

    _ON, _OFF = {"true", "1", "yes"}, {"false", "0", "no", ""}

    def _from_environment(
        self, variable: str, value: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        flag = (value or "").strip().lower()
        if flag not in self._ON | self._OFF:
            _usage_exit("reconciler", f"{variable}={flag!r} must be true or false")
        return {**kwargs, "nargs": 0, "default": flag in self._ON}

    def _given(self, values: Any) -> Any:
        return True


# Option declarations: mutating them changes help text; the decisions are mutated.
def _parser() -> argparse.ArgumentParser:  # pragma: no mutate block
    parser = _Parser(
        prog="reconciler",
        description="GitOps for AWS Organizations and cross-account access.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, handler: Command, help_text: str, *, desired: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=handler, command_name=name)
        if not desired:
            return sub
        sub.add_argument(
            "--desired",
            action=_EnvDefault,
            default="desired/accounts.yaml",
            help="the desired-state document",
        )
        return sub

    command("validate", _validate, "check the document offline; no AWS call")
    command("schema", _schema, "print the JSON Schema of the document")
    for name, handler, help_text in (
        ("plan", _plan, "print the changes apply would make (exit 0 none, 2 some, 1 error)"),
        ("apply", _apply, "one reconcile pass: plan, then make the changes"),
    ):
        sub = _instance_option(_aws_options(command(name, handler, help_text)))
        if name == "plan":
            sub.add_argument(
                "--format",
                action=_EnvDefault,
                default="text",
                choices=[f.value for f in render.Format],
                help="output format",
            )
    _import_options(
        _aws_options(
            command(
                "import",
                _import,
                "write a document declaring the live organization as it is (exit 0, 1 error)",
                desired=False,
            )
        )
    )
    _access_options(
        _aws_options(
            command("access", _access, "who can reach which account as which role, and how")
        )
    )
    for name, handler, help_text, interval, log_format in (
        ("run", _run, "the daemon: reconcile on a schedule until SIGTERM", 300, "json"),
        ("sandbox", _sandbox, "the daemon against a built-in AWS simulation", 30, "text"),
    ):
        sub = _instance_option(_aws_options(command(name, handler, help_text)))
        _daemon_options(sub, interval, log_format, name)
    _aws_options(
        command(
            "sandbox-drift",
            _sandbox_drift,
            "make a change by hand in a running sandbox and send its AWS change events",
        )
    )
    for name, handler, help_text in (
        ("profiles", _profiles, "print CLI, browser-extension or Granted profiles of your roles"),
        ("links", _links, "print a console switch-role link per granted account and role"),
    ):
        sub = _aws_options(command(name, handler, help_text))
        sub.add_argument(
            "--user",
            action=_EnvDefault,
            default=None,
            help="only what this IAM user's groups grant",
        )
        sub.add_argument(
            "--partition",
            action=_EnvDefault,
            default=None,
            choices=sorted(policies.CONSOLE_HOSTS),
            help="the AWS partition of the accounts (default: that of the credentials when "
            "account ids are looked up, else aws)",
        )
        if name == "profiles":
            sub.add_argument(
                "--source-profile",
                action=_EnvDefault,
                default="default",
                help="the profile holding your IAM user's keys",
            )
            sub.add_argument(
                "--mfa-serial",
                action=_EnvDefault,
                default=None,
                help="your MFA device's ARN (default: built from --user)",
            )
            sub.add_argument(
                "--format",
                dest="profile_format",  # RECONCILER_FORMAT is the plan's
                action=_EnvDefault,
                default=ways.AWS_CONFIG,
                choices=ways.FORMATS,
                help="aws-config: ~/.aws/config profiles; switch-roles: the aws-extend-switch-"
                "roles browser extension's configuration; granted: a Granted profile registry "
                "(needs --output) (default: %(default)s)",
            )
            sub.add_argument(
                "--output",
                action=_EnvDefault,
                default=None,
                metavar="DIR",
                help="write the file(s) into this directory instead of printing them; only "
                "files this command wrote are replaced",
            )
    return parser


# Option declarations: mutating them changes help text; the decisions are mutated.
def _access_options(sub: argparse.ArgumentParser) -> None:  # pragma: no mutate block
    sub.add_argument(
        "--live",
        action=_EnvFlag,
        help="read the live source account (every group and user policy allowing "
        "sts:AssumeRole into a managed role) instead of the document",
    )
    sub.add_argument(
        "--format",
        dest="access_format",  # RECONCILER_FORMAT is the plan's
        action=_EnvDefault,
        default="text",
        choices=[f.value for f in render.AccessFormat],
        help="output format",
    )
    sub.add_argument("--user", action=_EnvDefault, default=None, help="only this IAM user")
    sub.add_argument(
        "--account", action=_EnvDefault, default=None, help="only this account (name or id)"
    )


# Option declarations: mutating them changes help text; the decisions are mutated.
def _daemon_options(
    sub: argparse.ArgumentParser, interval: int, log_format: str, name: str
) -> None:  # pragma: no mutate block
    option = functools.partial(sub.add_argument, action=_EnvDefault)
    if name == "run":
        option("--source-url", default=None, help="git remote to follow (default: --desired)")
        option("--source-ref", default="main", help="branch or tag to follow")
        option("--source-path", default="desired/accounts.yaml", help="document path in the repo")
        option("--workdir", default="/var/lib/reconciler", help="where the clone is kept")
        option("--git-ssh-key-file", default=None, help="SSH key for the git remote")
        option(
            "--git-known-hosts-file",
            default=None,
            help="known_hosts file with the SSH remote's host key (default: ~/.ssh/known_hosts); "
            "an unknown host key is refused",
        )
        sub.add_argument(
            "--verify-signatures",
            action=_EnvFlag,
            help="apply only revisions whose head commit carries an SSH signature by a key "
            "listed in --allowed-signers",
        )
        option(
            "--allowed-signers",
            default=None,
            help="ssh-keygen allowed signers file for --verify-signatures",
        )
    if name == "sandbox":
        option(
            "--simulator-port",
            default=0,
            type=_port,
            help="loopback port of the AWS simulation (default: any free port)",
        )
    option("--interval", default=interval, type=_seconds(zero=False), help="seconds between passes")
    option(
        "--jitter",
        default=None,  # resolved after parsing, from the interval chosen
        type=_seconds(zero=True),
        help="at most this many seconds of random delay before each pass "
        "(default: a tenth of --interval)",
    )
    option(
        "--mode",
        default=reconcile.Mode.APPLY.value,
        choices=[mode.value for mode in reconcile.Mode],
        help="apply corrects drift; plan only reports it",
    )
    option(
        "--listen",
        default="0.0.0.0:8080" if name == "run" else "127.0.0.1:8080",
        help="address for /metrics, /healthz, /readyz",
    )
    option(
        "--webhook-secret-file",
        default=None,
        metavar="PATH",
        help="enable POST /hooks/git: a GitHub or GitLab push to the followed branch, signed "
        "with the secret in this file, starts a pass at once",
    )
    option(
        "--events-queue-url",
        default=None,
        metavar="URL",
        help="SQS queue of AWS change events (an EventBridge rule's target, see deploy/events): "
        "a hand-made change to what the document manages starts a pass over it at once",
    )
    option("--log-format", default=log_format, choices=["json", "text"], help="log line format")
    option(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level",
    )


def _seconds(*, zero: bool) -> Callable[[str], float]:
    """A finite number of seconds, more than 0 (or 0 too, with `zero`)."""

    def seconds(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0 or (number == 0 and not zero):
            bound = "0 or more" if zero else "more than 0"
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds, {bound}")
        return number

    return seconds


# The development sandbox, which changes nothing in AWS (its simulator's port).
def _port(value: str) -> int:  # pragma: no mutate block
    """A TCP port, or 0 for any free one."""
    if not re.fullmatch(r"[0-9]{1,5}", value) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value[:40]!r} is not a port (0 to 65535)")
    return int(value)


def _instance_name(value: str) -> str:
    if not _INSTANCE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an instance name: 1 to 64 of A-Z a-z 0-9 + = . @ _ -, "
            "not starting with aws or -"
        )
    return value


# Option declarations: mutating them changes help text; the decisions are mutated.
def _instance_option(
    sub: argparse.ArgumentParser,
) -> argparse.ArgumentParser:  # pragma: no mutate block
    sub.add_argument(
        "--instance",
        action=_EnvDefault,
        default=state.DEFAULT_INSTANCE,
        type=_instance_name,
        help="the name this daemon's ownership marker carries: daemons sharing accounts "
        "each prune only their own (default: %(default)s)",
    )
    sub.add_argument(
        "--allow-mass-removal",
        action=_EnvFlag,
        help="allow a plan that removes more than half of what the daemon manages of a kind "
        "(groups, memberships, grants, roles); off by default, and kept out of the document "
        "so that the pull request making the removal cannot also allow it",
    )
    return sub


# Option declarations: mutating them changes help text; the decisions are mutated.
def _aws_options(
    sub: argparse.ArgumentParser,
) -> argparse.ArgumentParser:  # pragma: no mutate block
    sub.add_argument(
        "--endpoint-url",
        action=_EnvDefault,
        default=None,
        help="an AWS-compatible endpoint (default: AWS, or AWS_ENDPOINT_URL)",
    )
    sub.add_argument(
        "--concurrency",
        action=_EnvDefault,
        default=16,
        type=int,
        help="accounts read and changed in parallel",
    )
    return sub


if __name__ == "__main__":
    sys.exit(main())
