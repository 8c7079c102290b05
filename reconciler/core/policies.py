"""IAM policy documents: the ones reconciler writes, and `PolicyDocument`, the value compared.

Pure functions on plain values: no I/O, no AWS calls. Two documents that IAM treats alike
(statements or list values in another order, a single value instead of a one-element list,
other JSON formatting, the URL-encoding IAM applies to returned documents, an account id
instead of its root ARN as principal) have the same canonical form, so they never show as drift.
A `PolicyDocument` is parsed and canonicalised once and answers what the plan and the safety
rails ask of it (does it require MFA, which roles does it grant, does it trust anyone).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document, equal to another exactly when IAM treats the two alike.

    `text` is its compact JSON as given (what is written to AWS and shown); only `canonical`
    takes part in comparison and hashing. Build one with `PolicyDocument.of`.
    """

    canonical: str
    text: str = field(compare=False)
    requires_mfa: bool = field(compare=False)
    grants: frozenset[str] = field(compare=False)
    trusts_anyone: bool = field(compare=False)
    assume_rules: tuple[AssumeRule, ...] = field(compare=False, default=())

    @classmethod
    def of(cls, document: str | Mapping[str, Any]) -> PolicyDocument:
        """The value of a document as IAM returns it or as written (text or decoded)."""
        if isinstance(document, str):
            return _document(document)
        return _build(document)

    @property
    def value(self) -> Any:
        """The document as a JSON value (a fresh copy: the document stays as it is)."""
        return json.loads(self.text)

    def allows_assuming(self, role_arns: frozenset[str]) -> frozenset[str]:
        """Which of `role_arns` this identity policy allows `sts:AssumeRole` into, before any
        Deny (see `denies_assuming`). A conditional Allow counts: the condition may hold."""
        return union(rule.matching(role_arns) for rule in self.assume_rules if rule.allow)

    def denies_assuming(self, role_arns: frozenset[str]) -> frozenset[str]:
        """Which of `role_arns` an unconditional Deny of this policy closes. A conditional
        Deny does not count: the condition may not hold."""
        return union(
            rule.matching(role_arns)
            for rule in self.assume_rules
            if not rule.allow and not rule.conditional
        )

    def pretty(self) -> list[str]:
        """The canonical form pretty-printed, one line per element: what a reviewer reads
        and what policy diffs compare (action names lower case, as IAM compares them)."""
        return json.dumps(json.loads(self.canonical), indent=2, sort_keys=True).splitlines()

    def without_conditions(self) -> str:
        """The canonical form with every statement's Condition left out."""
        parsed = json.loads(self.canonical)
        for statement in _statements_of(parsed):
            statement.pop("Condition", None)
        return json.dumps(parsed, sort_keys=True)


# Bounded: the documents of one pass (a few per role and group) are each canonicalised once.
@functools.lru_cache(maxsize=4096)
def _document(text: str) -> PolicyDocument:
    return _build(parse(text))


def _build(parsed: Any) -> PolicyDocument:
    canonical_text = _canonical(parsed)
    statements = _statements_of(json.loads(canonical_text))
    allowed = [s for s in statements if s.get("Effect") == "Allow"]
    return PolicyDocument(
        canonical=canonical_text,
        text=json.dumps(parsed, separators=(",", ":")),
        requires_mfa=bool(allowed) and all(_requires_mfa(s) for s in allowed),
        grants=frozenset(arn for s in allowed if _assumes_role(s) for arn in _resources(s)),
        trusts_anyone=any(_principal_is_anyone(s.get("Principal")) for s in statements),
        assume_rules=tuple(rule for s in statements if (rule := _assume_rule(s)) is not None),
    )


@dataclass(frozen=True)
class AssumeRule:
    """What one statement says about `sts:AssumeRole`: allowed or denied on the role ARNs its
    Resource patterns match (or, for NotResource, do not match)."""

    allow: bool
    conditional: bool
    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    negated: bool

    def matching(self, role_arns: frozenset[str]) -> frozenset[str]:
        named = self.exact & role_arns
        if self.patterns:
            named |= {arn for arn in role_arns if any(p.fullmatch(arn) for p in self.patterns)}
        return role_arns - named if self.negated else named


def _assume_rule(statement: Mapping[str, Any]) -> AssumeRule | None:
    """The statement's rule on sts:AssumeRole, or None when it does not cover that action."""
    if "Action" in statement:
        covers = _assumes_role(statement)
    else:  # NotAction: every action but those listed
        covers = not any(
            _wildcard(str(a)).fullmatch(ASSUME_ROLE) for a in statement.get("NotAction", [])
        )
    if not covers or statement.get("Effect") not in ("Allow", "Deny"):
        return None
    if "Resource" not in statement and "NotResource" not in statement:
        return None  # a trust policy's statement (a Principal, no resource) grants nothing
    negated = "Resource" not in statement
    allow = statement["Effect"] == "Allow"
    values = [str(r) for r in statement.get("NotResource" if negated else "Resource", [])]
    # A policy variable (${aws:username}) stands for a value known only per request. Read so
    # as never to hide access: where matching more would allow more, it matches anything;
    # where it would deny more, the value is left out.
    widen = allow != negated
    patterns = [_pattern(v, widen) for v in values if _WILDCARDS.search(v)]
    return AssumeRule(
        allow=allow,
        conditional=bool(statement.get("Condition")),
        exact=frozenset(v for v in values if not _WILDCARDS.search(v)),
        patterns=tuple(p for p in patterns if p is not None),
        negated=negated,
    )


ASSUME_ROLE = "sts:assumerole"  # canonical (lower case) action name
_WILDCARDS = re.compile(r"[*?]|\$\{")
# `${*}`, `${?}` and `${$}` are IAM's escapes for those characters; any other `${...}` is a
# policy variable.
_PATTERN_TOKENS = re.compile(r"\$\{([*?$])\}|\$\{[^}]*\}|[*?]|[^*?$]+|\$")


@functools.lru_cache(maxsize=1024)
def _pattern(value: str, widen: bool) -> re.Pattern[str] | None:
    """A Resource value as a regular expression: IAM's `*` and `?`, escapes, and policy
    variables matching anything (`widen`) or, when not widening, no pattern at all."""
    parts = []
    for token in _PATTERN_TOKENS.finditer(value):
        text, escaped = token.group(0), token.group(1)
        if escaped:
            parts.append(re.escape(escaped))
        elif text.startswith("${"):
            if not widen:
                return None
            parts.append(".*")
        else:
            parts.append(_wildcard(text).pattern)
    return re.compile("".join(parts), re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` any one; everything else literal
    (unlike fnmatch, `[` is no character class)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    """The union of sets of ARNs."""
    return frozenset().union(*sets)


def _statements_of(canonical_parsed: Any) -> list[dict[str, Any]]:
    if not isinstance(canonical_parsed, Mapping):
        return []
    return [s for s in canonical_parsed.get("Statement", []) if isinstance(s, dict)]


# The condition operators under which aws:MultiFactorAuthPresent "true" asks for MFA. Not
# BoolIfExists: requests signed with an IAM user's long-term access keys carry no such key at
# all, and ...IfExists lets them through without MFA.
_MFA_OPERATORS = frozenset({"Bool"})
_MFA_KEY = "aws:multifactorauthpresent"  # condition keys are case-insensitive: canonical lowers


def _requires_mfa(statement: Mapping[str, Any]) -> bool:
    """Whether a canonical statement applies only when MFA was used: its condition names
    aws:MultiFactorAuthPresent true and nothing but true (a set of values is any of them)."""
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return False
    for operator in _MFA_OPERATORS & set(conditions):
        block = conditions[operator]
        values = block.get(_MFA_KEY) if isinstance(block, Mapping) else None
        if values and all(str(v).lower() == "true" for v in values):
            return True
    return False


def _assumes_role(statement: Mapping[str, Any]) -> bool:
    # Canonical actions are lower case; IAM matches `*` and `?` in action names.
    actions = statement.get("Action", [])
    return any(_wildcard(str(a)).fullmatch(ASSUME_ROLE) for a in actions)


def _resources(statement: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in statement.get("Resource", [])]


def _principal_is_anyone(principal: Any) -> bool:
    if isinstance(principal, Mapping):
        return any("*" in values for values in principal.values())
    return bool(principal == "*")


def canonical(document: str | Mapping[str, Any]) -> str:
    """A canonical JSON text of a policy document: equal for documents IAM treats alike."""
    return PolicyDocument.of(document).canonical


def _canonical(parsed: Any) -> str:
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
