"""Generated files written into a directory a person names, without harming what is there;
and the one file `import --output` names.

Files are written atomically (beside the target, then renamed over it), only files that carry
the writer's marker on their first line are ever replaced, and symbolic links are neither
followed nor replaced. Every target is checked before any is written, so a refusal leaves the
directory as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.core.errors import ReconcilerError


def write_files(directory: Path, texts: Mapping[str, str], marker: str) -> list[Path]:
    """Each text into `directory` under its name; the files written."""
    check_targets(directory, tuple(texts), marker)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        _replace(directory / name, text)
        written.append(directory / name)
    return written


def check_targets(directory: Path, names: Sequence[str], marker: str) -> None:
    """Refuses a `directory` that is something else, and targets that are not ours."""
    if directory.is_symlink():
        raise ReconcilerError(f"--output {directory} is a symbolic link: not followed")
    if directory.exists() and not directory.is_dir():
        raise ReconcilerError(f"--output {directory} exists and is not a directory")
    for name in names:
        _check_replaceable(directory / name, marker)


def write_file(target: Path, text: str) -> None:
    """`text` into the file `target`, replaced atomically; see `check_file_target`."""
    check_file_target(target)
    _replace(target, text)


def check_file_target(target: Path) -> None:
    """Refuses a symbolic link (never followed), something other than a regular file, and a
    file in a directory that does not exist."""
    if target.is_symlink():
        raise ReconcilerError(f"--output {target} is a symbolic link: not followed, not replaced")
    if target.exists() and not target.is_file():
        raise ReconcilerError(f"--output {target} exists and is not a regular file")
    if not target.parent.is_dir():
        raise ReconcilerError(f"--output {target}: directory {target.parent} does not exist")


def _check_replaceable(target: Path, marker: str) -> None:
    """Only a regular file whose first line carries `marker` is replaced; a symbolic link is
    never followed, as it could lead out of the directory."""
    if target.is_symlink():
        raise ReconcilerError(f"{target} is a symbolic link: not followed, not replaced")
    if not target.exists():
        return
    if not target.is_file():
        raise ReconcilerError(f"{target} exists and is not a regular file: not replaced")
    with target.open(encoding="utf-8", errors="replace") as existing:
        first_line = existing.readline()
    if not first_line.startswith(marker):
        raise ReconcilerError(
            f"{target} exists and was not written by reconciler: not replaced; "
            "move it away or choose another --output"
        )


def _replace(target: Path, text: str) -> None:
    """Write beside `target`, then rename over it: a reader sees the old file or the new."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
