"""Where the document comes from: a git remote the daemon fetches itself, or a directory.

`GitSource` clones once into a work directory and fetches the branch each cycle, then reads
the document from the fetched commit's tree (`git show <sha>:<path>`), never from a working
tree that could be half-updated. Credentials for private remotes come from the environment
(an SSH key file, or a token for HTTPS) and never appear in arguments, logs or errors.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.errors import SourceError

GIT_TIMEOUT = 120  # seconds for one git command; a hung fetch must not hold the daemon
_USERINFO = re.compile(r"(?<=://)[^/@]+@")


@dataclass(frozen=True)
class Revision:
    """The document's text at one revision (a commit sha, or a digest for a directory)."""

    id: str
    text: str
    path: str


class Source(Protocol):
    def fetch(self) -> Revision: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class DirectorySource:
    """A plain file kept up to date by someone else (a git-sync sidecar, a mounted ConfigMap)."""

    path: Path

    def fetch(self) -> Revision:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from exc
        digest = hashlib.sha256(data).hexdigest()[:12]
        return Revision(f"sha256:{digest}", _text(data, str(self.path)), str(self.path))

    def describe(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str
    path: str
    workdir: Path
    ssh_key_file: str | None = None
    token: str | None = field(default=None, repr=False)

    def fetch(self) -> Revision:
        repository = self.workdir / "repository.git"
        if not (repository / "HEAD").exists():
            try:
                repository.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SourceError(f"cannot create {repository}: {exc.strerror}") from exc
            self._git(repository, "init", "--bare", "--quiet")
        self._git(repository, "fetch", "--quiet", "--depth", "1", "--no-tags", self.url, self.ref)
        sha = _text(self._git(repository, "rev-parse", "FETCH_HEAD^{commit}"), "git").strip()
        where = f"{self.describe()}@{sha[:12]}:{self.path}"
        text = _text(self._git(repository, "show", f"{sha}:{self.path}"), where)
        return Revision(sha, text, where)

    def describe(self) -> str:
        return f"{redact(self.url)}#{self.ref}"

    def _git(self, repository: Path, *args: str) -> bytes:
        command = ["git", "-C", str(repository), *self._auth_options(), *args]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                timeout=GIT_TIMEOUT,
                env=self._environment(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"git {args[0]} timed out after {GIT_TIMEOUT} s") from exc
        except OSError as exc:  # git missing, or not executable
            raise SourceError(f"cannot run git: {exc.strerror}") from exc
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            message = redact(lines[-1] if lines else "")
            raise SourceError(f"git {args[0]} failed for {self.describe()}: {message}")
        return done.stdout

    def _auth_options(self) -> list[str]:
        if not self.token:
            return []
        # The helper reads the token from the environment at run time: it is never in argv.
        helper = "!f() { echo username=x-access-token; echo password=$RECONCILER_GIT_TOKEN; }; f"
        return ["-c", f"credential.helper={helper}"]

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        if self.token:
            env["RECONCILER_GIT_TOKEN"] = self.token
        if self.ssh_key_file:
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {shlex.quote(self.ssh_key_file)} -o IdentitiesOnly=yes -o BatchMode=yes "
                "-o StrictHostKeyChecking=accept-new"
            )
        return env


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where} is not UTF-8 text") from exc


def redact(text: str) -> str:
    """Remove credentials embedded in URLs (https://user:token@host)."""
    return _USERINFO.sub("***@", text)
