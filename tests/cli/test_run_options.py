"""`reconciler run` refuses a bad address, a busy port, hostile source options and half of the
signature options with one line, before it starts anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import cli

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    try:
        code = cli.main(["run", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("listen", ["foo", "127.0.0.1:http", "127.0.0.1:70000", "::1:80"])
def test_a_bad_listen_address_is_one_line(capsys: pytest.CaptureFixture[str], listen: str) -> None:
    code, lines = _run(capsys, "--listen", listen)
    assert (code, lines) == (
        1,
        [f"error: --listen {listen!r} is not host:port (port 1 to 65535, IPv6 in brackets)"],
    )


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str], busy_port: int) -> None:
    code, lines = _run(capsys, "--listen", f"127.0.0.1:{busy_port}")
    assert (code, lines) == (
        1,
        [f"error: cannot listen on 127.0.0.1:{busy_port}: Address already in use"],
    )


def test_the_listen_variable_is_checked_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_LISTEN", "0.0.0.0:\uff18\uff10")
    assert _run(capsys) == (
        1,
        [
            "error: --listen '0.0.0.0:\uff18\uff10' is not host:port "
            "(port 1 to 65535, IPv6 in brackets)"
        ],
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--source-ref", "--upload-pack=touch /tmp/PWNED"),
        ("--source-ref", "main\nfetch"),
        ("--source-url", "ext::sh -c touch% /tmp/PWNED"),
        ("--source-url", "fd::3"),
        ("--source-path", "../../etc/passwd"),
    ],
)
def test_hostile_source_options_are_one_line(
    capsys: pytest.CaptureFixture[str], option: str, value: str, tmp_path: Path
) -> None:
    base = ["--source-url", "file:///srv/acme.git", "--workdir", str(tmp_path / "work")]
    code, lines = _run(capsys, *base, f"{option}={value}")
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {option} ")
    assert not (tmp_path / "work").exists()


def test_a_ref_that_looks_like_an_option_is_taken_as_a_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = _run(
        capsys, "--source-url", "file:///srv/acme.git", "--source-ref=--upload-pack=touch x"
    )
    assert (code, lines) == (
        1,
        [
            "error: --source-ref '--upload-pack=touch x' is not a branch or tag name: up to 255 "
            "of A-Z a-z 0-9 . _ / -, starting with a letter, digit or _, without .. or //"
        ],
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--verify-signatures"], {}, "--verify-signatures needs --allowed-signers FILE"),
        (
            [],
            {"RECONCILER_VERIFY_SIGNATURES": "true"},
            "--verify-signatures needs --allowed-signers FILE",
        ),
        (
            ["--allowed-signers", "signers"],
            {},
            "--allowed-signers is read only with --verify-signatures",
        ),
        (
            ["--verify-signatures", "--allowed-signers", "signers", "--desired", "a.yaml"],
            {},
            "--verify-signatures needs --source-url: a directory carries no signatures",
        ),
    ],
)
def test_half_of_the_signature_options_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, lines = _run(capsys, *args)
    assert (code, lines) == (64, [f"reconciler run: error: {message}; see 'reconciler run --help'"])


def test_an_unreadable_allowed_signers_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "allowed_signers"
    code, lines = _run(
        capsys,
        *("--source-url", "file:///srv/acme.git", "--workdir", str(tmp_path / "work")),
        *("--verify-signatures", "--allowed-signers", str(missing)),
    )
    assert (code, lines) == (
        1,
        [f"error: --allowed-signers {str(missing)!r} is not a readable file"],
    )


def test_a_signature_variable_that_is_not_a_boolean_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_VERIFY_SIGNATURES", "sometimes")
    assert _run(capsys) == (
        64,
        [
            "reconciler: error: RECONCILER_VERIFY_SIGNATURES='sometimes' must be true or false; "
            "see 'reconciler --help'"
        ],
    )
