"""A directory's document is read only once it holds still: a file caught while being
rewritten is read again, never applied half-written."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler import source
from reconciler.core.errors import SourceError
from reconciler.source import DirectorySource
from tests.daemon.support import EXAMPLE_TEXT

NEW_TEXT = EXAMPLE_TEXT.replace("users: [carol]", "users: [carol, mallory]")


def _write_slowly(path: Path, text: str, chunks: int = 20, pause: float = 0.03) -> None:
    size = -(-len(text) // chunks)
    with path.open("w") as file:
        for start in range(0, len(text), size):
            file.write(text[start : start + size])
            file.flush()
            time.sleep(pause)


def test_a_file_rewritten_in_place_is_never_read_half_written(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(EXAMPLE_TEXT)
    writer = threading.Thread(target=_write_slowly, args=(path, NEW_TEXT))
    writer.start()
    seen = []
    while writer.is_alive():
        seen.append(DirectorySource(path).fetch().text)
    writer.join()
    seen.append(DirectorySource(path).fetch().text)
    assert all(text in (EXAMPLE_TEXT, NEW_TEXT) for text in seen), [len(t) for t in seen]
    assert seen[-1] == NEW_TEXT


def test_a_file_that_never_holds_still_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(EXAMPLE_TEXT)
    stop = threading.Event()

    def append() -> None:
        with path.open("a") as file:
            while not stop.is_set():
                file.write("#\n")
                file.flush()
                time.sleep(0.002)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        with pytest.raises(SourceError) as refused:
            DirectorySource(path, settle=0.02).fetch()
    finally:
        stop.set()
        writer.join()
    assert str(refused.value) == f"{path} kept changing while it was read"


def test_a_symlink_swap_gives_one_revision_or_the_other(tmp_path: Path) -> None:
    for name, text in (("rev-1", EXAMPLE_TEXT), ("rev-2", NEW_TEXT)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "accounts.yaml").write_text(text)
    current = tmp_path / "current"
    current.symlink_to("rev-1")
    document = DirectorySource(current / "accounts.yaml", settle=0.01)
    first = document.fetch()
    (tmp_path / "next").symlink_to("rev-2")
    (tmp_path / "next").replace(current)  # git-sync's atomic swap
    second = document.fetch()
    assert (first.text, second.text) == (EXAMPLE_TEXT, NEW_TEXT)
    assert first.id != second.id
    assert second.path == str(current / "accounts.yaml")


def test_an_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_DOCUMENT_BYTES", 100)
    path = tmp_path / "accounts.yaml"
    path.write_text("#" * 101)
    with pytest.raises(SourceError) as refused:
        DirectorySource(path, settle=0.01).fetch()
    assert str(refused.value) == f"{path} is larger than 100 bytes"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe accounts", "{path} is not UTF-8 text"),
        (None, "cannot read {path}: No such file or directory"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "accounts.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as refused:
        DirectorySource(path, settle=0.01).fetch()
    assert str(refused.value) == message.format(path=path)
