"""Where the document comes from: a git remote the daemon fetches itself, a directory, or (for
the command line) a file read once with `read_document`.

`GitSource` keeps a bare repository in a work directory and fetches the branch each cycle
(shallow and partial: only the commit, its trees and the one blob read), then reads the document
from the fetched commit's tree, never from a working tree that could be half-updated.

The remote, the ref and the path come from configuration, and git would run a command given
the wrong one (`--upload-pack=...` read as an option, an `ext::` URL), so all three are checked
before git ever runs: https, ssh and file remotes only, a strict ref syntax, a relative path.
Every positional argument follows `--`, git itself is told which transports it may use, and a
git command that outlives its timeout is killed with every process it started.

Credentials for private remotes come from the environment (an SSH key file, or a token for
HTTPS); the token is offered to the remote's own host only, never after a redirect, and never
appears in arguments, logs or errors. SSH accepts only host keys already known (a mounted
known_hosts file); it never trusts a key on first use.

With `allowed_signers`, a head commit that is unsigned, or signed by a key the file does not
list, is returned as a refused revision: the caller keeps the last valid one in force.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.core import load, spec
from reconciler.core.errors import SourceError, SpecError, SpecIssue

GIT_TIMEOUT = 120.0  # seconds for one git command; a hung fetch must not hold the daemon
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # far above any organization's document; bounds memory
SETTLE_SECONDS = 0.2  # a directory's file must read the same twice this far apart
_SETTLE_ATTEMPTS = 10
_USERINFO = re.compile(r"(?<=://)[^/@]+@")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# A branch, tag or full ref name: a subset of what `git check-ref-format` accepts, without the
# characters that mean something in a refspec (+ : * ^ ~ ?) or a revision (@{).
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}")
_REF_FORBIDDEN = re.compile(r"\.\.|//|/\.|\.lock(/|$)|[/.]$")
_SCP = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9._~-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*:(?![:/])\S+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BLANK = re.compile(r"[\s\x00-\x1f\x7f]")
_SIGNATURE_REASONS = {
    "N": "the head commit is not signed",
    "B": "the head commit's signature is bad",
    "U": "the head commit is signed by a key the allowed signers file does not list",
    "E": "the head commit's signature cannot be checked",
}
# Only these transports: ext:: and fd:: run commands or use descriptors, plain http sends
# credentials in clear text. Set in the environment too, where it would otherwise win.
_TRANSPORTS = ("https", "ssh", "file")
_PROTOCOL_OPTIONS = [
    "-c",
    "protocol.allow=never",
    *[option for name in _TRANSPORTS for option in ("-c", f"protocol.{name}.allow=always")],
]


@dataclass(frozen=True)
class Revision:
    """The document's text at one revision (a commit sha, or a digest for a directory).
    `refusal` says why the revision must not be applied whatever its text (an unsigned head
    commit); its text is then empty."""

    id: str
    text: str
    path: str
    refusal: str | None = None


def read_document(path: str | Path) -> spec.Spec:
    """Read and validate the document at `path`, or raise `SpecError` naming the file."""
    name = str(path)
    try:
        with Path(path).open("rb") as file:
            # At most one byte over the limit: the file may grow, or be a pipe; never trust stat.
            data = file.read(load.MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(
            [SpecIssue(name, 1, 1, "", f"cannot read the file: {exc.strerror}")]
        ) from exc
    if len(data) > load.MAX_BYTES:
        # The parser refuses it by size, with its own message, before decoding would fail on a
        # character cut in two: U+FFFD takes three bytes, so the text is never shorter in UTF-8
        # than the bytes read.
        return load.parse_spec(data.decode("utf-8", "replace"), name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(name, 1, 1, "", "the file is not UTF-8 text")]) from exc
    return load.parse_spec(text, name)


class Source(Protocol):
    def fetch(self) -> Revision: ...

    def describe(self) -> str: ...

    def cancel(self) -> None:
        """Stop a fetch under way, at shutdown; it then fails with a SourceError."""


@dataclass(frozen=True)
class DirectorySource:
    """A plain file kept up to date by someone else (a git-sync sidecar, a mounted ConfigMap).

    A symlink is resolved once per fetch, so a sidecar's symlink swap cannot mix two revisions,
    and the file must read the same twice `settle` seconds apart, so a file caught while being
    rewritten in place is read again rather than applied half-written."""

    path: Path
    settle: float = SETTLE_SECONDS

    def fetch(self) -> Revision:
        target = self.path.resolve()
        data = _read_file(target)
        for _ in range(_SETTLE_ATTEMPTS):
            time.sleep(self.settle)
            again = _read_file(target)
            if again == data:
                digest = hashlib.sha256(data).hexdigest()[:12]
                return Revision(f"sha256:{digest}", _text(data, str(self.path)), str(self.path))
            data = again
        raise SourceError(f"{self.path} kept changing while it was read")

    def describe(self) -> str:
        return str(self.path)

    def cancel(self) -> None:
        """A read of a local file ends by itself."""


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    _check_size(len(data), str(path))
    return data


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str
    path: str
    workdir: Path
    ssh_key_file: str | None = None
    token: str | None = field(default=None, repr=False)
    known_hosts_file: str | None = None
    allowed_signers: str | None = None
    timeout: float = GIT_TIMEOUT
    _running: set[subprocess.Popen[bytes]] = field(
        default_factory=set, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        check_url(self.url)
        check_ref(self.ref)
        check_path(self.path)
        if self.token is not None and (not self.token or _BLANK.search(self.token)):
            raise SourceError("the git token is empty or contains spaces or control characters")
        for option, value in (
            ("--git-ssh-key-file", self.ssh_key_file),
            ("--git-known-hosts-file", self.known_hosts_file),
            ("--allowed-signers", self.allowed_signers),
        ):
            if value is not None:
                _check_file(option, value)

    def fetch(self) -> Revision:
        repository = self._repository()
        self._git(
            repository,
            *("fetch", "--quiet", "--depth", "1", "--no-tags", "--filter=blob:none"),
            *("--", self.url, self.ref),
        )
        sha = self._head(repository)
        where = f"{self.describe()}@{sha[:12]}:{self.path}"
        refusal = self._signature_refusal(repository, sha)
        if refusal:
            return Revision(sha, "", where, refusal)
        return Revision(sha, self._document(repository, sha, where), where)

    def describe(self) -> str:
        return f"{redact(self.url)}#{self.ref}"

    def cancel(self) -> None:
        """Kill the git commands under way: in sessions of their own, they would otherwise
        outlive the daemon, credentials and all."""
        for process in list(self._running):  # list(): a copy taken under the GIL
            _kill_group(process)

    def _repository(self) -> Path:
        repository = self.workdir / "repository.git"
        if not (repository / "HEAD").exists():
            try:
                repository.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SourceError(f"cannot create {repository}: {exc.strerror}") from exc
            self._git(repository, "init", "--bare", "--quiet")
        return repository

    def _head(self, repository: Path) -> str:
        sha = _text(self._git(repository, "rev-parse", "--verify", "FETCH_HEAD^{commit}"), "git")
        if not _SHA.fullmatch(sha.strip()):
            raise SourceError(f"git rev-parse answered {sha.strip()[:80]!r}, not a commit id")
        return sha.strip()

    def _document(self, repository: Path, sha: str, where: str) -> str:
        # The size first: a partial clone fetches the blob here, and a huge one is refused
        # before it is read into memory.
        size = _text(self._git(repository, "cat-file", "-s", f"{sha}:{self.path}"), where)
        _check_size(int(size.strip()), where)
        return _text(self._git(repository, "cat-file", "blob", f"{sha}:{self.path}"), where)

    def _signature_refusal(self, repository: Path, sha: str) -> str | None:
        if self.allowed_signers is None:
            return None
        verdict = self._git(
            repository,
            *("show", "--no-patch", "--format=%G?", sha, "--"),
            config=("gpg.format=ssh", f"gpg.ssh.allowedSignersFile={self.allowed_signers}"),
        )
        code = _text(verdict, "git").strip()
        return None if code == "G" else _SIGNATURE_REASONS.get(code, "the signature is not good")

    def _git(self, repository: Path, *args: str, config: tuple[str, ...] = ()) -> bytes:
        options = [*_PROTOCOL_OPTIONS, *self._auth_options()]
        options += [word for setting in config for word in ("-c", setting)]
        command = ["git", "-C", str(repository), *options, *args]
        verb = args[0]
        code, out, err = _run(command, self._environment(), self.timeout, self._running)
        if code is None:
            raise SourceError(f"git {verb} timed out after {self.timeout:g} s")
        if code != 0:
            raise SourceError(f"git {verb} failed for {self.describe()}: {_reason(err)}")
        return out

    def _auth_options(self) -> list[str]:
        if not self.token or not self.url.lower().startswith("https://"):
            return []
        # The helper reads the token from the environment at run time: it is never in argv.
        # Scoped to the remote's own scheme, host and port, with redirects off, so a remote
        # that redirects elsewhere never receives the token. The empty helper first drops any
        # helper from git's own configuration, which could store or forward it.
        helper = '!f() { echo username=x-access-token; echo "password=$RECONCILER_GIT_TOKEN"; }; f'
        return [
            *("-c", "http.followRedirects=false", "-c", "credential.helper="),
            *("-c", f"credential.https://{_host(self.url)}.helper={helper}"),
        ]

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "RECONCILER_GIT_TOKEN"}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_ALLOW_PROTOCOL=":".join(_TRANSPORTS),
            GIT_SSH_COMMAND=self._ssh_command(),
        )
        if self.token:
            env["RECONCILER_GIT_TOKEN"] = self.token
        return env

    def _ssh_command(self) -> str:
        words = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if self.known_hosts_file:
            words += ["-o", f"UserKnownHostsFile={self.known_hosts_file}"]
            words += ["-o", "GlobalKnownHostsFile=/dev/null"]
        if self.ssh_key_file:
            words += ["-i", self.ssh_key_file, "-o", "IdentitiesOnly=yes"]
        return " ".join(shlex.quote(word) for word in words)


def _run(
    command: list[str],
    env: dict[str, str],
    timeout: float,
    running: set[subprocess.Popen[bytes]],
) -> tuple[int | None, bytes, bytes]:
    """Run a command in a session of its own, so that on timeout the whole process group
    (git and the transport helpers and ssh it started, each holding the credentials) dies."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:  # git missing, or not executable
        raise SourceError(f"cannot run git: {exc.strerror}") from exc
    running.add(process)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return None, b"", b""
    finally:
        running.discard(process)
    return process.returncode, out, err


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _reason(stderr: bytes) -> str:
    """The line of git's error output that says what went wrong: the first that is not a
    warning or a hint (the last one is often advice such as "and the repository exists.")."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    telling = [line for line in lines if line and not line.startswith(("warning:", "hint:"))]
    return redact(telling[0].removeprefix("fatal: ") if telling else "no message")


def check_url(url: str) -> None:
    """Refuse a remote git would reach through another transport than https, ssh or file."""
    if len(url) > 2048 or _BLANK.search(url):
        raise SourceError("--source-url is too long or contains spaces or control characters")
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in _TRANSPORTS and _url_host_ok(url, scheme):
        return
    if not scheme and _SCP.fullmatch(url):
        return
    raise SourceError(
        f"--source-url {redact(url)[:100]!r}: only https://, ssh://, user@host:path and file:// "
        "remotes are allowed"
    )


def _url_host_ok(url: str, scheme: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    if scheme == "file":
        return not parts.netloc and parts.path.startswith("/")
    host = parts.hostname or ""
    return bool(host) and not host.startswith("-")


def _host(url: str) -> str:
    """The host and port of an https URL, as git's credential configuration matches them."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2]


def check_ref(ref: str) -> None:
    if not _REF.fullmatch(ref) or _REF_FORBIDDEN.search(ref):
        raise SourceError(
            f"--source-ref {ref[:100]!r} is not a branch or tag name: up to 255 of "
            "A-Z a-z 0-9 . _ / -, starting with a letter, digit or _, without .. or //"
        )


def check_path(path: str) -> None:
    parts = path.split("/")
    if len(path) > 1024 or _CONTROL.search(path) or any(part in ("", ".", "..") for part in parts):
        raise SourceError(
            f"--source-path {path[:100]!r} is not a file path relative to the repository root"
        )


def _check_file(option: str, path: str) -> None:
    # ssh splits option values on spaces and expands % tokens, so those are refused too.
    if _BLANK.search(path) or "%" in path:
        raise SourceError(f"{option} {path[:100]!r} contains spaces, % or control characters")
    if not Path(path).is_file():
        raise SourceError(f"{option} {path[:100]!r} is not a readable file")


def _check_size(size: int, where: str) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise SourceError(f"{where} is larger than {MAX_DOCUMENT_BYTES} bytes")


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where} is not UTF-8 text") from exc


def redact(text: str) -> str:
    """Remove credentials embedded in URLs (https://user:token@host)."""
    return _USERINFO.sub("***@", text)
