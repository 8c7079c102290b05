"""The command line never answers a new user with a traceback or a usage dump: a usage error is
one line and exit status 64 (2 is the plan's "changes found"), Ctrl-C one line and 130, a closed
stdout nothing and 141; `--help` shows the defaults; the shell completes commands and flags."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import cli, daemon, logs

REPO = Path(__file__).resolve().parents[2]
DESIRED = str(REPO / "desired" / "accounts.yaml")
CONSOLE_SCRIPT = Path(sys.executable).parent / "reconciler"


def _usage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[object, str, list[str]]:
    with pytest.raises(SystemExit) as stopped:
        cli.main(list(args))
    out, err = capsys.readouterr()
    return stopped.value.code, out, err.splitlines()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((), "reconciler: error: the following arguments are required: COMMAND; "),
        (
            ("deploy",),
            "reconciler: error: argument COMMAND: invalid choice: 'deploy' (choose from "
            "'validate', 'schema', 'plan', 'apply', 'import', 'access', 'run', 'sandbox', "
            "'sandbox-drift', 'profiles', 'links'); ",
        ),
        (("validate", "--bogus"), "reconciler validate: error: unrecognized arguments: --bogus; "),
        (
            ("validate", "--bogus", "--other"),
            "reconciler validate: error: unrecognized arguments: --bogus --other; ",
        ),
        (("schema", "extra"), "reconciler schema: error: unrecognized arguments: extra; "),
        (
            ("plan", "--format", "yaml"),
            "reconciler plan: error: argument --format: invalid choice: 'yaml' (choose from "
            "'text', 'json', 'markdown'); ",
        ),
        (
            ("plan", "--concurrency", "many"),
            "reconciler plan: error: argument --concurrency: invalid int value: 'many'; ",
        ),
        (("apply", "--desired"), "reconciler apply: error: argument --desired: expected one "),
        (
            ("access", "--format"),
            "reconciler access: error: argument --format: expected one argument; ",
        ),
        (
            ("run", "--interval", "0"),
            "reconciler run: error: argument --interval: '0' is not a number of seconds, more "
            "than 0; ",
        ),
        (
            ("run", "--jitter", "nan"),
            "reconciler run: error: argument --jitter: 'nan' is not a number of seconds, 0 or "
            "more; ",
        ),
        (
            ("sandbox", "--mode", "yolo"),
            "reconciler sandbox: error: argument --mode: invalid choice: 'yolo' (choose from "
            "'apply', 'plan'); ",
        ),
        (
            ("profiles", "--partition", "aws-evil"),
            "reconciler profiles: error: argument --partition: invalid choice: 'aws-evil' ",
        ),
        (("links", "--user"), "reconciler links: error: argument --user: expected one argument; "),
    ],
)
def test_a_usage_error_is_one_line_and_exit_status_64(
    offline: None, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], line: str
) -> None:
    code, out, lines = _usage(capsys, *args)

    prog = "reconciler" if args in [(), ("deploy",)] else f"reconciler {args[0]}"
    assert (code, out, len(lines)) == (64, "", 1)
    assert lines[0].startswith(line), lines[0]
    assert lines[0].endswith(f"; see '{prog} --help'"), lines[0]


def test_a_control_character_in_an_unknown_argument_stays_on_the_line(
    offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, lines = _usage(capsys, "plan", "--x\nFAKE\x1b[2J")

    assert (code, lines) == (
        64,
        [
            "reconciler plan: error: unrecognized arguments: --x\\nFAKE\\x1b[2J; "
            "see 'reconciler plan --help'"
        ],
    )


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "RECONCILER_MODE",
            "yolo",
            "reconciler: error: RECONCILER_MODE='yolo' is not one of apply, plan; "
            "see 'reconciler --help'",
        ),
        (
            "RECONCILER_LIVE",
            "maybe",
            "reconciler: error: RECONCILER_LIVE='maybe' must be true or false; "
            "see 'reconciler --help'",
        ),
        (
            "RECONCILER_INTERVAL",
            "-5",
            "reconciler run: error: argument --interval: '-5' is not a number of seconds, more "
            "than 0; see 'reconciler run --help'",
        ),
    ],
)
def test_a_bad_variable_is_a_usage_error_too(
    offline: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    line: str,
) -> None:
    monkeypatch.setenv(variable, value)

    assert _usage(capsys, "run") == (64, "", [line])


def test_a_value_given_to_a_switch_is_a_usage_error(
    offline: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, lines = _usage(capsys, "plan", "--allow-mass-removal=yes")

    assert code == 64
    assert lines == [
        "reconciler plan: error: argument --allow-mass-removal: ignored explicit argument 'yes'; "
        "see 'reconciler plan --help'"
    ]


def _help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cmd: str) -> str:
    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    with pytest.raises(SystemExit) as stopped:
        cli.main([cmd, "--help"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("cmd", "shown"),
    [
        (
            "run",
            [
                "seconds between passes (default: 300) [env RECONCILER_INTERVAL]",
                "before each pass (default: a tenth of --interval) [env RECONCILER_JITTER]",
                "where the clone is kept (default: /var/lib/reconciler) [env RECONCILER_WORKDIR]",
                "/readyz (default: 0.0.0.0:8080) [env RECONCILER_LISTEN]",
                "plan only reports it (default: apply) [env RECONCILER_MODE]",
                "log line format (default: json) [env RECONCILER_LOG_FORMAT]",
                "branch or tag to follow (default: main) [env RECONCILER_SOURCE_REF]",
                "the desired-state document (default: desired/accounts.yaml) "
                "[env RECONCILER_DESIRED]",
            ],
        ),
        (
            "sandbox",
            [
                "seconds between passes (default: 30) [env RECONCILER_INTERVAL]",
                "/readyz (default: 127.0.0.1:8080) [env RECONCILER_LISTEN]",
                "log line format (default: text) [env RECONCILER_LOG_FORMAT]",
            ],
        ),
        ("plan", ["output format (default: text) [env RECONCILER_FORMAT]"]),
        ("access", ["output format (default: text) [env RECONCILER_ACCESS_FORMAT]"]),
    ],
)
def test_help_shows_the_defaults(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cmd: str,
    shown: list[str],
) -> None:
    for variable in [v for v in os.environ if v.startswith("RECONCILER_")]:
        monkeypatch.delenv(variable)

    text = _help(capsys, monkeypatch, cmd)

    for part in shown:
        assert part in text, part
    assert "(default: None)" not in text and "(default: False)" not in text
    assert [line for line in text.splitlines() if line.count("default") > 1] == []


def test_help_shows_the_default_a_variable_sets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_INTERVAL", "60")

    assert "seconds between passes (default: 60) [env" in _help(capsys, monkeypatch, "run")


class _Recorded:
    """Stands in for the daemon: records its settings, runs no pass."""

    settings: list[daemon.Settings]

    def __init__(self, settings: daemon.Settings, *_: object) -> None:
        type(self).settings.append(settings)

    def run(self) -> int:
        return 0


@pytest.fixture
def recorded(offline: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[daemon.Settings]]:
    _Recorded.settings = []
    monkeypatch.setattr(daemon, "Daemon", _Recorded)
    monkeypatch.setattr(logs, "configure", lambda *_: None)
    yield _Recorded.settings


@pytest.mark.parametrize(
    ("args", "env", "timing"),
    [
        ((), {}, (300.0, 30.0)),
        (("--interval", "10"), {}, (10.0, 1.0)),
        ((), {"RECONCILER_INTERVAL": "10"}, (10.0, 1.0)),
        (("--interval", "3600"), {}, (3600.0, 360.0)),
        (("--interval", "10", "--jitter", "0"), {}, (10.0, 0.0)),
        (("--interval", "10"), {"RECONCILER_JITTER": "5"}, (10.0, 5.0)),
        (("--jitter", "2"), {"RECONCILER_INTERVAL": "10", "RECONCILER_JITTER": "5"}, (10.0, 2.0)),
    ],
)
def test_the_jitter_is_a_tenth_of_the_interval_chosen_unless_given(
    recorded: list[daemon.Settings],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    timing: tuple[float, float],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["run", "--desired", DESIRED, *args]) == 0

    assert [(s.interval, s.jitter) for s in recorded] == [timing]


def _environment() -> dict[str, str]:
    """No configuration from this environment, and no way to reach AWS."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "AWS_"))}
    return {
        **kept,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _reconciler(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args],
        env=_environment(),
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_usage_error_in_a_process_is_one_line() -> None:
    done = _reconciler("plan", "--format", "yaml")

    assert (done.returncode, done.stdout) == (64, "")
    assert done.stderr == (
        "reconciler plan: error: argument --format: invalid choice: 'yaml' (choose from "
        "'text', 'json', 'markdown'); see 'reconciler plan --help'\n"
    )


def test_a_bad_listen_address_is_one_line_in_a_process() -> None:
    done = _reconciler("run", "--desired", DESIRED, "--listen", "foo")

    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: --listen 'foo' is not host:port (port 1 to 65535, IPv6 in brackets)\n",
    )


def test_a_busy_port_is_one_line_in_a_process() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = int(holder.getsockname()[1])
        done = _reconciler("run", "--desired", DESIRED, "--listen", f"127.0.0.1:{port}")

    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n",
    )


def test_a_closed_stdout_ends_the_command_quietly_with_141() -> None:
    reader, writer = os.pipe()
    os.close(reader)  # as `reconciler schema | head -1` once head has exited
    try:
        done = _reconciler("schema", stdout=writer)
    finally:
        os.close(writer)

    assert (done.returncode, done.stderr) == (141, "")


def test_ctrl_c_during_a_plan_is_one_line_and_exit_status_130() -> None:
    with socket.socket() as silent:  # takes the plan's first request and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        silent.settimeout(60)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", "plan", "--endpoint-url", url],
            env=_environment(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            connection, _ = silent.accept()
            with connection:
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=30)
        finally:
            process.kill()
            process.wait()

    assert (process.returncode, out, err) == (130, "", "reconciler plan: interrupted\n")


def test_ctrl_c_during_an_apply_first_stops_at_a_safe_point_then_at_once() -> None:
    with socket.socket() as silent:  # takes the first request and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        silent.settimeout(60)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler.cli", "apply", "--endpoint-url", url],
            env=_environment(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            connection, _ = silent.accept()
            with connection:
                process.send_signal(signal.SIGINT)
                assert process.stderr is not None
                first = process.stderr.readline()
                alive = process.poll() is None
                process.send_signal(signal.SIGINT)
                out, rest = process.communicate(timeout=30)
        finally:
            process.kill()
            process.wait()

    assert first == (
        "reconciler apply: stopping after the changes under way; Ctrl-C again to stop at once\n"
    )
    assert alive
    assert (process.returncode, out, rest) == (130, "", "reconciler apply: interrupted\n")


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What the shell would offer at the end of `line`, as argcomplete's own tests ask."""
    answer = tmp_path / "completions"
    done = subprocess.run(
        [str(CONSOLE_SCRIPT)],
        env={
            **_environment(),
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_IFS": "\n",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    return [candidate.strip() for candidate in answer.read_text().split("\n")]


@pytest.mark.parametrize(
    ("line", "candidates"),
    [
        ("reconciler pl", ["plan"]),
        ("reconciler plan --for", ["--format"]),
        ("reconciler plan --format ", ["text", "json", "markdown"]),
        ("reconciler profiles --format s", ["switch-roles"]),
    ],
)
def test_the_shell_completes_commands_flags_and_choices(
    tmp_path: Path, line: str, candidates: list[str]
) -> None:
    assert _complete(line, tmp_path) == candidates


def _raises(error: BaseException) -> cli.Command:
    def command(args: object) -> int:
        raise error

    return command


def test_an_interrupt_off_the_signal_handler_is_one_line_too(
    offline: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_validate", _raises(KeyboardInterrupt()))

    assert cli.main(["validate"]) == 130
    assert capsys.readouterr() == ("", "reconciler validate: interrupted\n")


def test_a_broken_pipe_in_process_is_quiet(
    offline: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_schema", _raises(BrokenPipeError()))

    assert cli.main(["schema"]) == 141
    assert capsys.readouterr() == ("", "")


def test_a_command_leaves_the_interpreter_no_last_collection_to_make() -> None:
    # Nothing is frozen while the command runs; an exit handler registered before it runs
    # after the command's own, when every object must be out of the collector's sight and the
    # command's output whole.
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from reconciler import cli\n"
        f"status = cli.main(['validate', '--desired', {DESIRED!r}])\n"
        "print('frozen after the command:', gc.get_freeze_count() > 0)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_environment(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{DESIRED}: valid (")
    assert done.stdout.endswith("frozen after the command: False\nfrozen at exit: True\n")
