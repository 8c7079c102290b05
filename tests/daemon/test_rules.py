"""The daemon's rules, without real intervals: no overlapping passes, last valid revision."""

from __future__ import annotations

import threading
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from reconciler.daemon import Daemon, DocumentState, Settings
from reconciler.source import Revision
from tests.daemon.support import EXAMPLE_TEXT

INVALID = EXAMPLE_TEXT.replace("email: aws+acme-dev@example.com", "email: nope")


def _revision(sha: str, text: str) -> Revision:
    return Revision(sha, text, f"accounts.yaml@{sha}")


def test_a_valid_revision_comes_into_force() -> None:
    documents = DocumentState()
    documents.update(_revision("a1", EXAMPLE_TEXT))
    assert documents.in_force is not None and documents.in_force[0].id == "a1"
    assert documents.newest_valid


def test_an_invalid_revision_leaves_the_last_valid_one_in_force() -> None:
    documents = DocumentState()
    documents.update(_revision("a1", EXAMPLE_TEXT))
    documents.update(_revision("b2", INVALID))
    assert documents.in_force is not None and documents.in_force[0].id == "a1"
    assert not documents.newest_valid
    assert any("nope" in error and "accounts.yaml@b2" in error for error in documents.newest_errors)
    documents.update(_revision("c3", EXAMPLE_TEXT))
    assert documents.in_force[0].id == "c3" and documents.newest_valid


def test_the_revision_in_force_coming_back_after_an_invalid_one_is_valid_again() -> None:
    documents = DocumentState()
    documents.update(_revision("a1", EXAMPLE_TEXT))
    documents.update(_revision("b2", INVALID))
    documents.update(_revision("a1", EXAMPLE_TEXT))  # reverted: the text in force, unparsed
    assert documents.in_force is not None and documents.in_force[0].id == "a1"
    assert documents.newest_valid
    assert documents.newest_errors == []


def test_the_same_commit_id_with_other_text_is_parsed_again() -> None:
    documents = DocumentState()
    documents.update(_revision("a1", EXAMPLE_TEXT))
    documents.update(_revision("a1", INVALID))
    assert not documents.newest_valid
    assert any("nope" in error for error in documents.newest_errors)


def test_an_invalid_first_revision_puts_nothing_in_force() -> None:
    documents = DocumentState()
    documents.update(_revision("a1", INVALID))
    assert documents.in_force is None
    assert not documents.newest_valid


class _BlockingSource:
    """A source whose fetch waits until released, to hold a pass open."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fetches = 0

    def fetch(self) -> Revision:
        self.fetches += 1
        self.entered.set()
        self.release.wait(10)
        return _revision("x", INVALID)  # invalid: the pass ends without touching AWS

    def describe(self) -> str:
        return "test"

    def cancel(self) -> None:
        self.release.set()


def test_a_pass_never_starts_while_another_is_running() -> None:
    source = _BlockingSource()
    daemon = Daemon(Settings(), source)
    first = threading.Thread(target=daemon.run_pass)
    first.start()
    assert source.entered.wait(5)
    assert daemon.run_pass() is False  # refused at once: not run alongside
    source.release.set()
    first.join(5)
    assert source.fetches == 1
    assert daemon.run_pass() is True  # free again once the first has ended
    assert daemon.metrics.registry.get_sample_value("reconciler_source_valid") == 0


def test_the_schedule_runs_one_pass_at_a_time_and_coalesces_missed_runs(tmp_path: Path) -> None:
    daemon = Daemon(Settings(interval=120, jitter=7), _BlockingSource())
    scheduler = BackgroundScheduler(timezone="UTC")
    daemon.schedule(scheduler)
    job = scheduler.get_job("reconcile")
    assert job.max_instances == 1
    assert job.coalesce is True
    assert job.trigger.interval.total_seconds() == 120
    assert job.trigger.jitter == 7
    assert job.next_run_time is not None  # a first pass at start-up, not after one interval
