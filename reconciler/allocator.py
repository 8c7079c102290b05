"""The C allocator's set-up for a long-running process with a pool of reader threads.

glibc's malloc gives each thread that allocates an arena of its own, up to eight per core. The
daemon's readers are many threads that each parse AWS answers and drop them, so the memory they
free stays spread over as many arenas, and the resident size rises pass after pass: measured at
1,000 accounts and 16 readers, the peak of four passes in a row went 83, 90, 92, 94 MB with the
default and 81, 87, 88, 88 MB with two arenas, for the same CPU time. Python's own small-object
allocator is not concerned; larger blocks (answers, parsed documents) are.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


def use_few_arenas() -> bool:
    """Cap glibc's malloc arenas at `ARENAS`, for the threads started from now on; True when
    done. Off glibc (musl, macOS) nothing changes and the answer is False. An operator's own
    MALLOC_ARENA_MAX is taken as it is."""
    if platform.libc_ver()[0] != "glibc" or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS))
