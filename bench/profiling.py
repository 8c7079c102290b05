"""Where a steady pass spends the reconciler's CPU: one pass under cProfile in every thread the
pass starts, each timed by its own thread's CPU clock, the profiles merged, and the own time
summed by where the code lives (the product, botocore, urllib3 and the standard library's HTTP
client, YAML, the rest); a built-in's time counts for the code that called it.

cProfile's hooks make each Python call cost more, so the profiled pass uses more CPU than an
unprofiled one: the shares matter, not the seconds. The daemon child runs it after the measured
passes, so it changes no figure the targets judge.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOP = 12  # functions listed by own time
_CHECKOUT = f"{Path(__file__).resolve().parents[1]}/"  # the repository, where reconciler/ is

# The first rule whose fragment the file's path holds names the group; the order matters, as
# botocore's vendored packages live under botocore. Any other file counts for its top package
# or module (the standard library's email, hmac, urllib, ...).
GROUPS = (
    ("/reconciler/", "reconciler"),
    ("/urllib3/", "urllib3 and http.client"),
    ("/http/client.py", "urllib3 and http.client"),
    ("/socket.py", "urllib3 and http.client"),
    ("/botocore/", "botocore"),
    ("/boto3/", "botocore"),
    ("/email/", "email (http.client's header parsing)"),
    ("/concurrent/", "threads and locks"),
    ("/threading.py", "threads and locks"),
    ("/queue.py", "threads and locks"),
    ("<frozen importlib", "imports"),
    ("<frozen _collections_abc>", "HTTP header dicts (collections.abc)"),
    ("~", "built-ins called from nowhere else"),
)


@dataclass(frozen=True)
class Profile:
    cpu: float  # CPU seconds of the profiled pass (inflated by the profiler)
    groups: list[tuple[str, float]]  # group, share of own time, largest first
    top: list[tuple[str, float]]  # function, share of own time, largest first


def profiled_pass(the_daemon: Any) -> dict[str, Any]:
    """Run one pass under the profiler; its profile as the child's JSON answer."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def profile_this_thread(*_: Any) -> None:
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.setprofile(profile_this_thread)  # every thread the pass starts
    cpu = time.process_time()
    main.enable()
    try:
        the_daemon.run_pass()
    finally:
        main.disable()
        threading.setprofile(None)  # None removes the hook
    cpu = time.process_time() - cpu
    stats = pstats.Stats(main)
    stats.add(*profiles[1:])  # each stopped by its thread's end: the pass joins its pools
    return {"cpu": cpu, **_summary(stats)}


def _summary(stats: pstats.Stats) -> dict[str, list[tuple[str, float]]]:
    own: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    table: dict[Function, tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for function, (_, _, own_seconds, _, callers) in table.items():
        by_function[_name(function)] += own_seconds
        for group, seconds in _attributed(function, own_seconds, callers).items():
            own[group] += seconds
    total = sum(own.values()) or 1.0
    return {
        "groups": [(group, seconds / total) for group, seconds in own.most_common()],
        "top": [(function, seconds / total) for function, seconds in by_function.most_common(TOP)],
    }


Function = tuple[str, int, str]  # pstats' key: file, line, name


def _attributed(
    function: Function, own_seconds: float, callers: dict[Function, tuple[Any, ...]]
) -> Counter[str]:
    """A Python function's own time goes to its own group; a built-in's (dict.get, str.lower,
    socket.connect) to its callers' groups, in proportion to the time spent from each."""
    path, _, _ = function
    if path != "~" or not callers:
        return Counter({_group(path): own_seconds})
    from_callers = {caller: timing[2] for caller, timing in callers.items()}
    total = sum(from_callers.values()) or 1.0
    shares: Counter[str] = Counter()
    for (caller_path, _, _), seconds in from_callers.items():
        shares[_group(caller_path)] += own_seconds * seconds / total
    return shares


def _group(path: str) -> str:
    known = next((group for fragment, group in GROUPS if fragment in path), None)
    return known or _short(path).split("/", 1)[0].removesuffix(".py")


def _name(function: Function) -> str:
    path, line, name = function
    return name if path == "~" else f"{_short(path)}:{line}({name})"


def _short(path: str) -> str:
    """The path from its package down: botocore/parsers.py or reconciler/aws/read.py, not the
    whole virtualenv or checkout path."""
    for marker in ("/site-packages/", "/lib/python3."):  # a virtualenv may be in the checkout
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." else tail
    return path.removeprefix(_CHECKOUT)


def from_answer(answer: dict[str, Any]) -> Profile:
    return Profile(
        answer["cpu"],
        [(group, share) for group, share in answer["groups"]],
        [(function, share) for function, share in answer["top"]],
    )
