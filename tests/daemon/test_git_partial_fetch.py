"""Fetches are shallow and partial: the commit and its trees, and of the blobs only the
document's; a document too large to be one is refused before it is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import source
from reconciler.core.errors import SourceError
from reconciler.source import GitSource
from tests.daemon.support import EXAMPLE_TEXT, git, serving_remote

PATH = "desired/accounts.yaml"


def _object_exists(repository: Path, blob: str) -> bool:
    listed = git(repository, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return blob in listed.split()


def test_only_the_document_blob_is_fetched(tmp_path: Path) -> None:
    remote = tmp_path / "repo"
    url = serving_remote(remote)
    (remote / "large.bin").write_bytes(b"x" * 1_000_000)
    git(remote, "add", "-A")
    git(remote, "commit", "-q", "-m", "a large file beside the document")
    other = git(remote, "rev-parse", "HEAD:large.bin")
    revision = GitSource(url, "main", PATH, tmp_path / "work").fetch()
    assert revision.text == EXAMPLE_TEXT
    assert revision.id == git(remote, "rev-parse", "HEAD")
    assert not _object_exists(tmp_path / "work" / "repository.git", other)


def test_a_document_over_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source, "MAX_DOCUMENT_BYTES", 1000)
    url = serving_remote(tmp_path / "repo", EXAMPLE_TEXT + "#" * 1000)
    with pytest.raises(SourceError) as refused:
        GitSource(url, "main", PATH, tmp_path / "work").fetch()
    sha = git(tmp_path / "repo", "rev-parse", "HEAD")
    assert str(refused.value) == (
        f"file://{tmp_path}/repo#main@{sha[:12]}:{PATH} is larger than 1000 bytes"
    )


def test_a_missing_document_names_the_revision(tmp_path: Path) -> None:
    url = serving_remote(tmp_path / "repo")
    with pytest.raises(SourceError) as refused:
        GitSource(url, "main", "desired/other.yaml", tmp_path / "work").fetch()
    assert str(refused.value).startswith(f"git cat-file failed for file://{tmp_path}/repo#main: ")
    assert "desired/other.yaml" in str(refused.value)


def test_a_missing_branch_is_one_line(tmp_path: Path) -> None:
    url = serving_remote(tmp_path / "repo")
    with pytest.raises(SourceError) as refused:
        GitSource(url, "release", PATH, tmp_path / "work").fetch()
    assert str(refused.value) == (
        f"git fetch failed for file://{tmp_path}/repo#release: couldn't find remote ref release"
    )
