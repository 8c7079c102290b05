"""The project's own exceptions. Every failure a user can see is one of these.

    ReconcilerError
    ├── SpecError             the document is invalid; carries every problem found, with positions
    ├── SourceError           the git source cannot be fetched or read
    ├── SafetyError           a safety rail refused the whole plan; nothing changed
    ├── EventError            a queue message is not an AWS change event; it is dropped
    └── AwsError              an AWS call failed; botocore's ClientError is translated at the edge
        ├── AccessError       terminal for one account: role cannot be assumed, access denied
        ├── TransientAwsError throttling or service trouble that outlived the retries
        │   └── ConflictError       a concurrent modification; AWS did nothing, try again
        └── AwsRequestError   AWS refused the request itself
            ├── NotFoundError       the entity named does not exist (or not yet: IAM is
            │                       eventually consistent)
            ├── AlreadyExistsError  the entity to create exists already
            └── LimitExceededError  an AWS quota would be exceeded

`AWS_ERROR_CODES` maps AWS's error codes to these classes, in one place; the AWS edge raises
the class it names and callers decide on classes, never on code strings.

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
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return printable(text)


# Problems shown in a SpecError's text; a generated or hostile document can hold millions.
MAX_SHOWN_ISSUES = 100


class SpecError(ReconcilerError):
    """The document is invalid. `issues` lists every problem found, in document order; the
    text shows the first `MAX_SHOWN_ISSUES` and counts the rest."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.field))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The text a person reads: a count, then one line per problem shown."""
        count = len(self.issues)
        lines = [f"{count} {_problems(count)}:"]
        lines += [str(issue) for issue in self.issues[:MAX_SHOWN_ISSUES]]
        rest = count - MAX_SHOWN_ISSUES
        if rest > 0:
            lines.append(f"... and {rest} more {_problems(rest)}")
        return lines


def _problems(count: int) -> str:
    return "problem" if count == 1 else "problems"


def printable(text: str) -> str:
    """`text` with every character a terminal would not show as itself written as an escape.

    Line breaks would fake further lines, control characters reach the terminal as escape
    sequences, and format characters (U+202E, U+200B, ...) reorder or hide what follows.
    """
    # repr() writes a character Python cannot print as \n, \x1b or \u202e.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class SourceError(ReconcilerError):
    """The document's source (a git remote or a directory) could not be read."""


class EventError(ReconcilerError):
    """A message on the events queue is not an AWS API call event the daemon can read."""


class SafetyError(ReconcilerError):
    """A safety rail refused the plan as a whole; no change was made."""


class NotAttemptedError(ReconcilerError):
    """A change left alone: the process was stopping, or an earlier change in its account
    failed in a way that blocks the rest of that account's changes in this pass."""


class UnexpectedError(ReconcilerError):
    """An answer or a failure nothing here anticipated; logged with its traceback."""


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
    """AWS refused the request (invalid input, a missing or existing entity, a quota)."""


class ConflictError(TransientAwsError):
    """Another request was modifying the same entity; this one was not carried out."""


class NotFoundError(AwsRequestError):
    """The entity the request names does not exist, or is not visible yet."""


class AlreadyExistsError(AwsRequestError):
    """The entity the request would create exists already."""


class LimitExceededError(AwsRequestError):
    """Carrying out the request would exceed an AWS quota."""


# Every AWS error code the project decides on, by the class it becomes. Codes not listed are
# `AwsRequestError`s: AWS refused the request and saying so is all that can be done.
AWS_ERROR_CODES: dict[str, type[AwsError]] = {
    # Access: the credentials are missing, refused or expired, or the policy denies the call.
    "AccessDenied": AccessError,
    "AccessDeniedException": AccessError,
    "UnauthorizedOperation": AccessError,
    "InvalidClientTokenId": AccessError,
    "ExpiredToken": AccessError,
    "ExpiredTokenException": AccessError,
    "UnrecognizedClientException": AccessError,
    "AWSOrganizationsNotInUseException": AccessError,
    # Throttling and service faults: the next attempt may succeed.
    "Throttling": TransientAwsError,
    "ThrottlingException": TransientAwsError,
    "TooManyRequestsException": TransientAwsError,
    "RequestLimitExceeded": TransientAwsError,
    "ServiceUnavailable": TransientAwsError,
    "ServiceUnavailableException": TransientAwsError,
    "ServiceFailure": TransientAwsError,
    "ServiceException": TransientAwsError,
    "InternalFailure": TransientAwsError,
    # Conflicts: Organizations and IAM refuse overlapping writes to one entity.
    "ConcurrentModificationException": ConflictError,
    "ConcurrentModification": ConflictError,
    # The entity named does not exist.
    "NoSuchEntity": NotFoundError,
    "AccountNotFoundException": NotFoundError,
    "OrganizationalUnitNotFoundException": NotFoundError,
    "ParentNotFoundException": NotFoundError,
    "ChildNotFoundException": NotFoundError,
    "CreateAccountStatusNotFoundException": NotFoundError,
    "TargetNotFoundException": NotFoundError,
    # The entity to create exists already.
    "EntityAlreadyExists": AlreadyExistsError,
    "DuplicateOrganizationalUnitException": AlreadyExistsError,
    "DuplicateAccountException": AlreadyExistsError,
    # Quotas.
    "LimitExceeded": LimitExceededError,
    "LimitExceededException": LimitExceededError,
    "ConstraintViolationException": LimitExceededError,
}


def error_class(code: str) -> type[AwsError]:
    """The class an AWS error code becomes."""
    return AWS_ERROR_CODES.get(code, AwsRequestError)
