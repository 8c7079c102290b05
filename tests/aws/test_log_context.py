"""Every line a pass logs names the pass and the revision it applies, whichever thread wrote
it: the tree walk's pool, the readers' pools, each account's lane and the source account's lane
run in copies of the pass's context, so that one `pass_id` filter finds all of a pass's lines."""

from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass

from reconciler import logs, reconcile
from tests.aws.support import Aws, failures, run_pass

PASS_ID, REVISION = "pass-under-test", "revision-under-test"


@dataclass(frozen=True)
class _Line:
    thread: str
    message: str
    pass_id: str  # what the JSON lines' formatter reads when it writes the line
    revision: str


class _Lines(logging.Handler):
    """Every record with the context it was logged in, as the product's formatters read it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[_Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        thread = threading.current_thread().name
        line = _Line(thread, record.getMessage()[:90], logs.PASS_ID.get(), logs.REVISION.get())
        self.seen.append(line)


def _in_a_pass(aws: Aws) -> reconcile.Result:
    logs.PASS_ID.set(PASS_ID)
    logs.REVISION.set(REVISION)
    return run_pass(aws.url, apply=True)


def test_every_line_of_an_apply_pass_names_its_pass_and_revision(aws: Aws) -> None:
    root, lines = logging.getLogger(), _Lines()
    saved = (root.handlers[:], root.level, logging.getLogger("botocore").level)
    root.handlers[:], root.level = [lines], logging.DEBUG
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # a line for every request
    try:
        result = contextvars.copy_context().run(_in_a_pass, aws)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("botocore").setLevel(saved[2])
    assert result.converged, failures(result)

    # The simulator serves in this process too, from its own request threads: not the pass's.
    ours = [line for line in lines.seen if "process_request_thread" not in line.thread]
    made = " ".join(line.message for line in ours if line.message.startswith("Making request"))
    # Read and written from every pool: the tree, the accounts, the lanes, the source account.
    for operation in ("ListOrganizationalUnitsForParent", "ListRoles", "CreateAccount"):
        assert operation in made
    assert "PutGroupPolicy" in made and "CreateRole" in made
    unnamed = sorted({f"{line.thread}: {line.message}" for line in ours if line.pass_id != PASS_ID})
    assert unnamed == []
    assert {line.revision for line in ours} == {REVISION}
