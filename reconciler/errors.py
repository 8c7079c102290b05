"""The project's own exceptions. Every failure a user can see is one of these.

    ReconcilerError
    ├── SpecError             the document is invalid; carries every problem found, with positions
    ├── SourceError           the git source cannot be fetched or read
    ├── SafetyError           a safety rail refused the whole plan (SPEC section 7); nothing changed
    └── AwsError              an AWS call failed; botocore's ClientError is translated at the edge
        ├── AccessError       terminal for one account: role cannot be assumed, access denied
        ├── TransientAwsError throttling or service trouble that outlived botocore's retries
        └── AwsRequestError   AWS refused the request itself (bad input, conflict, limit)

Nothing here imports boto3: the pure core raises and catches these without touching AWS.
"""

from __future__ import annotations

from dataclasses import dataclass


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem in the document, at a position a person can jump to."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SpecError(ReconcilerError):
    """The document is invalid. `issues` lists every problem found, in document order."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.field))
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun}:\n" + "\n".join(str(i) for i in self.issues))


class SourceError(ReconcilerError):
    """The document's source (a git remote or a directory) could not be read."""


class SafetyError(ReconcilerError):
    """A safety rail refused the plan as a whole; no change was made."""


class AwsError(ReconcilerError):
    """An AWS call failed. `operation` names it; `code` is AWS's error code when there is one."""

    def __init__(self, message: str, *, operation: str = "", code: str = "") -> None:
        self.operation = operation
        self.code = code
        super().__init__(message)


class AccessError(AwsError):
    """The account cannot be reached or the call was denied: terminal for that account."""


class TransientAwsError(AwsError):
    """Throttling or a service fault that outlived the retries; the next pass tries again."""


class AwsRequestError(AwsError):
    """AWS refused the request (invalid input, conflict, quota)."""
