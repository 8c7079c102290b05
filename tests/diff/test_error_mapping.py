"""Every AWS error code the project decides on becomes the class written here, through the one
mapping table and through the AWS edge's translation of botocore's ClientError."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from reconciler.aws.sessions import translated
from reconciler.core import errors

# The whole table, written out: a code moved to another class is a change someone must mean.
EXPECTED: dict[str, type[errors.AwsError]] = {
    "AccessDenied": errors.AccessError,
    "AccessDeniedException": errors.AccessError,
    "UnauthorizedOperation": errors.AccessError,
    "InvalidClientTokenId": errors.AccessError,
    "ExpiredToken": errors.AccessError,
    "ExpiredTokenException": errors.AccessError,
    "UnrecognizedClientException": errors.AccessError,
    "AWSOrganizationsNotInUseException": errors.AccessError,
    "Throttling": errors.TransientAwsError,
    "ThrottlingException": errors.TransientAwsError,
    "TooManyRequestsException": errors.TransientAwsError,
    "RequestLimitExceeded": errors.TransientAwsError,
    "ServiceUnavailable": errors.TransientAwsError,
    "ServiceUnavailableException": errors.TransientAwsError,
    "ServiceFailure": errors.TransientAwsError,
    "ServiceException": errors.TransientAwsError,
    "InternalFailure": errors.TransientAwsError,
    "ConcurrentModificationException": errors.ConflictError,
    "ConcurrentModification": errors.ConflictError,
    "NoSuchEntity": errors.NotFoundError,
    "AccountNotFoundException": errors.NotFoundError,
    "OrganizationalUnitNotFoundException": errors.NotFoundError,
    "ParentNotFoundException": errors.NotFoundError,
    "ChildNotFoundException": errors.NotFoundError,
    "CreateAccountStatusNotFoundException": errors.NotFoundError,
    "TargetNotFoundException": errors.NotFoundError,
    "EntityAlreadyExists": errors.AlreadyExistsError,
    "DuplicateOrganizationalUnitException": errors.AlreadyExistsError,
    "DuplicateAccountException": errors.AlreadyExistsError,
    "LimitExceeded": errors.LimitExceededError,
    "LimitExceededException": errors.LimitExceededError,
    "ConstraintViolationException": errors.LimitExceededError,
}


def test_the_mapping_table_is_exactly_this() -> None:
    assert errors.AWS_ERROR_CODES == EXPECTED


@pytest.mark.parametrize(
    ("code", "kind"), [*EXPECTED.items(), ("MalformedPolicyDocument", errors.AwsRequestError)]
)
def test_a_client_error_becomes_its_class_keeping_aws_message(
    code: str, kind: type[errors.AwsError]
) -> None:
    answer: Any = {"Error": {"Code": code, "Message": "The role with name R cannot be found."}}
    with pytest.raises(errors.AwsError) as raised, translated("iam:AttachRolePolicy"):
        raise botocore.exceptions.ClientError(answer, "AttachRolePolicy")

    assert type(raised.value) is kind
    assert raised.value.code == code
    assert (
        str(raised.value) == f"iam:AttachRolePolicy: {code}: The role with name R cannot be found."
    )
    assert isinstance(raised.value.__cause__, botocore.exceptions.ClientError)


def test_the_families_a_caller_decides_on() -> None:
    # Conflicts are transient (retried, then left to the next pass); the request errors are
    # AWS refusing this request for a reason a person can act on.
    assert issubclass(errors.ConflictError, errors.TransientAwsError)
    for kind in (errors.NotFoundError, errors.AlreadyExistsError, errors.LimitExceededError):
        assert issubclass(kind, errors.AwsRequestError)
    assert errors.error_class("SomethingNew") is errors.AwsRequestError
