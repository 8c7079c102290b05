"""The daemon caps glibc's malloc arenas, so that its reader threads share two of them; read
back from glibc's own report (malloc_info) in a fresh process."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.daemon.support import REPO

# Eight threads each hold a few hundred blocks too large for Python's small-object allocator,
# all at once, then glibc lists its heaps (one per arena).
_THREADS_THEN_ARENAS = textwrap.dedent(
    """
    import ctypes, sys, threading
    from reconciler import allocator
    if sys.argv[1] == "capped":
        print(allocator.use_few_arenas())
    barrier = threading.Barrier(8)
    def allocate():
        blocks = [bytearray(4096) for _ in range(300)]
        barrier.wait()
    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    stream = libc.fopen(sys.argv[2].encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    report = open(sys.argv[2]).read()
    print(report.count("<heap nr="))
    """
)


def _run(tmp_path: Path, mode: str, **env: str) -> list[str]:
    report = tmp_path / "malloc_info.xml"
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_THEN_ARENAS, mode, str(report)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.split()


@pytest.fixture(autouse=True)
def _glibc() -> None:
    assert platform.libc_ver()[0] == "glibc", "the container and CI run on glibc"


def test_threads_share_two_arenas_once_capped(tmp_path: Path) -> None:
    assert _run(tmp_path, "capped") == ["True", "2"]


def test_without_the_cap_the_same_threads_spread_over_more_arenas(tmp_path: Path) -> None:
    """The workload above does show the cap: without it, glibc gives the threads more."""
    (arenas,) = _run(tmp_path, "default")
    assert int(arenas) > 2


def test_an_operators_own_setting_is_left_alone(tmp_path: Path) -> None:
    assert _run(tmp_path, "capped", MALLOC_ARENA_MAX="4") == ["False", "4"]
