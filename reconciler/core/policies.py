"""IAM policy documents: the ones reconciler writes, and their canonical form for comparison.

Pure functions on plain values: no I/O, no AWS calls. Two documents that IAM treats alike
(statements or list values in another order, a single value instead of a one-element list,
other JSON formatting, the URL-encoding IAM applies to returned documents, an account id
instead of its root ARN as principal) have the same canonical form, so they never show as drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

# IAM's quota for all inline policies of one group, in characters without whitespace.
GROUP_INLINE_POLICY_LIMIT = 5120
VERSION = "2012-10-17"

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# Keys whose values IAM matches case-insensitively (action names).
_ACTION_KEYS = frozenset({"Action", "NotAction"})
# Keys whose value is a set: order and single-vs-list carry no meaning.
_SET_KEYS = frozenset({"Action", "NotAction", "Resource", "NotResource"})


DEFAULT_PARTITION = "aws"
# Where each partition's console signs people in; ARNs carry the partition's name.
CONSOLE_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
    "aws-cn": "signin.amazonaws.cn",
}
_ARN_PARTITION = re.compile(r"^arn:([a-z][a-z-]*):")


def partition_of(arn: str) -> str:
    """The partition an ARN belongs to (`aws`, `aws-cn`, `aws-us-gov`, ...)."""
    match = _ARN_PARTITION.match(arn)
    return match.group(1) if match else DEFAULT_PARTITION


def switch_role_url(partition: str) -> str:
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS[DEFAULT_PARTITION])
    return f"https://{host}/switchrole"


def trust_policy(
    source_account_id: str, *, require_mfa: bool, partition: str = DEFAULT_PARTITION
) -> dict[str, Any]:
    """The trust policy of a role for people: only the source account, with MFA if required."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{source_account_id}:root"},
        "Action": "sts:AssumeRole",
    }
    if require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return {"Version": VERSION, "Statement": [statement]}


def role_arn(account_id: str, role_name: str, partition: str = DEFAULT_PARTITION) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def aws_managed_policy(name: str, partition: str = DEFAULT_PARTITION) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def grant_policy(role_arns: Iterable[str]) -> dict[str, Any]:
    """The group inline policy allowing sts:AssumeRole on exactly these role ARNs.

    One statement listing every ARN keeps the document small: IAM's 5,120-character quota
    for a group's inline policies is the binding limit on how many grants a group can hold.
    """
    resources = sorted(set(role_arns))
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resources}],
    }


def compact_json(document: Mapping[str, Any]) -> str:
    """The smallest JSON text of a document, the form written to AWS and measured for quotas."""
    return json.dumps(document, separators=(",", ":"), sort_keys=False)


def parse(document: str | Mapping[str, Any]) -> Any:
    """A document as returned by IAM (URL-encoded JSON text, plain JSON text, or decoded)."""
    if not isinstance(document, str):
        return document
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    return json.loads(text)


def canonical(document: str | Mapping[str, Any]) -> str:
    """A canonical JSON text of a policy document: equal for documents IAM treats alike."""
    parsed = parse(document)
    if not isinstance(parsed, Mapping):
        return json.dumps(parsed, sort_keys=True)
    result = {k: v for k, v in parsed.items() if k != "Statement"}
    statements = parsed.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    canonical_statements = [_statement(s) if isinstance(s, Mapping) else s for s in statements]
    result["Statement"] = _as_set(canonical_statements)
    return json.dumps(result, sort_keys=True)


def _statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key == "Sid":
            continue  # a label for people; IAM ignores it when evaluating
        if key in _ACTION_KEYS:
            result[key] = _as_set([str(v).lower() for v in _as_list(value)])
        elif key in _SET_KEYS:
            result[key] = _as_set(_as_list(value))
        elif key in {"Principal", "NotPrincipal"}:
            result[key] = _principal(value)
        elif key == "Condition" and isinstance(value, Mapping):
            result[key] = {op: _condition_block(block) for op, block in value.items()}
        else:
            result[key] = value
    return result


def _principal(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value  # "*"
    result = {}
    for kind, principals in value.items():
        items = [str(p) for p in _as_list(principals)]
        if kind == "AWS":
            # IAM stores a bare account id as that account's root ARN.
            items = [f"arn:aws:iam::{p}:root" if _ACCOUNT_ID.match(p) else p for p in items]
        result[kind] = _as_set(items)
    return result


def _condition_block(block: Any) -> Any:
    if not isinstance(block, Mapping):
        return block
    # Condition keys are case-insensitive; values are a set of strings (IAM returns booleans
    # as the strings "true" and "false").
    return {
        str(key).lower(): _as_set([_scalar_text(item) for item in _as_list(values)])
        for key, values in block.items()
    }


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _as_set(items: list[Any]) -> list[Any]:
    unique = {json.dumps(v, sort_keys=True): v for v in items}
    return [unique[k] for k in sorted(unique)]
