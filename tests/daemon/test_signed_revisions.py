"""With allowed signers, only a head commit signed by a listed key is applied; an unsigned one
or one signed by another key is refused like an invalid revision, with its reason."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.daemon import DocumentState
from reconciler.source import GitSource
from tests.aws.support import Aws
from tests.daemon.support import EXAMPLE_TEXT, Daemon, git, serving_remote

PATH = "desired/accounts.yaml"


@dataclass
class Keys:
    alice: Path
    eve: Path
    allowed: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    if not shutil.which("ssh-keygen"):
        pytest.skip("ssh-keygen signs and checks git's SSH signatures")
    for name in ("alice", "eve"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", tmp_path / name],
            check=True,
        )
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"alice@example.com {(tmp_path / 'alice.pub').read_text()}")
    return Keys(tmp_path / "alice", tmp_path / "eve", allowed)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    serving_remote(tmp_path / "repo")
    return tmp_path / "repo"


def _commit(repository: Path, text: str, key: Path | None) -> str:
    (repository / PATH).write_text(text)
    git(repository, "add", "-A")
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    git(repository, *signing, "commit", "-q", "--allow-empty", *(["-S"] if key else []), "-m", "c")
    return git(repository, "rev-parse", "HEAD")


def _source(remote: Path, tmp_path: Path, keys: Keys) -> GitSource:
    return GitSource(
        f"file://{remote}", "main", PATH, tmp_path / "work", allowed_signers=str(keys.allowed)
    )


def test_a_commit_signed_by_an_allowed_key_is_read(
    remote: Path, tmp_path: Path, keys: Keys
) -> None:
    sha = _commit(remote, EXAMPLE_TEXT + "# signed\n", keys.alice)
    revision = _source(remote, tmp_path, keys).fetch()
    assert (revision.id, revision.refusal) == (sha, None)
    assert revision.text == EXAMPLE_TEXT + "# signed\n"


@pytest.mark.parametrize(
    ("signer", "reason"),
    [
        (None, "the head commit is not signed"),
        ("eve", "the head commit is signed by a key the allowed signers file does not list"),
    ],
)
def test_other_commits_are_refused(
    remote: Path, tmp_path: Path, keys: Keys, signer: str | None, reason: str
) -> None:
    key = getattr(keys, signer) if signer else None
    sha = _commit(remote, EXAMPLE_TEXT + "# changed\n", key)
    revision = _source(remote, tmp_path, keys).fetch()
    assert (revision.id, revision.refusal, revision.text) == (sha, reason, "")


def test_a_refused_revision_leaves_the_last_valid_one_in_force(
    remote: Path, tmp_path: Path, keys: Keys
) -> None:
    source, documents = _source(remote, tmp_path, keys), DocumentState()
    signed = _commit(remote, EXAMPLE_TEXT, keys.alice)
    documents.update(source.fetch())
    _commit(remote, EXAMPLE_TEXT.replace("acme-dev", "evil-dev"), keys.eve)
    documents.update(source.fetch())
    assert documents.in_force is not None and documents.in_force[0].id == signed
    assert not documents.newest_valid
    assert documents.newest_errors == [
        "the head commit is signed by a key the allowed signers file does not list"
    ]


@pytest.fixture
def daemon(aws: Aws, remote: Path, tmp_path: Path, keys: Keys) -> Iterator[Daemon]:
    _commit(remote, EXAMPLE_TEXT, keys.alice)
    process = Daemon(
        ["run", "--source-url", f"file://{remote}", "--workdir", str(tmp_path / "work")],
        aws.url,
        tmp_path,
        RECONCILER_INTERVAL="1",
        RECONCILER_VERIFY_SIGNATURES="true",
        RECONCILER_ALLOWED_SIGNERS=str(keys.allowed),
    )
    yield process
    if process.process.poll() is None:
        process.stop()


def test_the_daemon_keeps_the_signed_revision_and_reports_the_unsigned_one(
    daemon: Daemon, remote: Path
) -> None:
    signed = git(remote, "rev-parse", "HEAD")
    daemon.wait_for_passes(1)
    assert daemon.metric("reconciler_source_valid") == 1
    unsigned = _commit(remote, EXAMPLE_TEXT.replace("users: [carol]", "users: [mallory]"), None)
    daemon.wait_for(lambda: daemon.metric("reconciler_source_valid") == 0, timeout=15)
    assert daemon.metric("reconciler_source_info", revision=signed) == 1
    refused = [
        line
        for line in map(json.loads, daemon.output().splitlines())
        if line.get("invalid_revision") == unsigned
    ]
    assert refused and refused[0]["errors"] == ["the head commit is not signed"]
    assert refused[0]["message"] == (
        f"revision {unsigned} is invalid and is not applied; still enforcing {signed}"
    )
