"""Whatever text arrives, `parse_spec` returns a `Spec` or raises `SpecError`, with positions.

Documents are generated from the real keys with values of random types, serialised as YAML and
then often mangled (characters deleted, inserted or replaced, lines duplicated, text truncated),
so the loader meets both near-valid documents and broken YAML.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core import load, spec
from reconciler.core.errors import SpecError

FILENAME = "fuzz.yaml"
# PyYAML counts each of these as a line break when it numbers lines.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

ACCOUNT_IDS = ["111111111111", "222222222222", "333333333333", "1111", "0123456789012"]
ROLES = ["AccountAccessRole", "ReadOnlyAccessRole", "OrganizationAccountAccessRole", "Bad Role"]
ACCOUNTS = ["acme-dev", "shared", "acme-prod", "-bad"]
EMAILS = ["aws+acme@example.com", "AWS+ACME@example.com", "aws+shared@example.com", "nope"]
UNITS = ["Clients", "Acme", "Production", "a/b"]
UNIT_PATHS = ["Clients", "Clients/Acme", "Acme", "Clients/Acme/Production"]
USERS = ["alice", "james", "Alice", "bob smith"]
POLICY_ARNS = ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/Admin", "x"]
MALFORMED = {"1111", "0123456789012", "Bad Role", "-bad", "nope", "a/b", "x", "bob smith"}
PLAUSIBLE = st.sampled_from(
    ACCOUNT_IDS + ROLES + ACCOUNTS + EMAILS + UNITS + UNIT_PATHS + USERS + POLICY_ARNS + [""]
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**13), max_value=10**13),
    st.floats(),
    st.text(max_size=12),
    PLAUSIBLE,
)
ANYTHING = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | PLAUSIBLE, inner, max_size=3)
    ),
    max_leaves=6,
)


def documents(noisy: bool) -> st.SearchStrategy[dict[Any, Any]]:
    """Documents shaped like the real one; `noisy` ones also hold values of random types."""

    def loose(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(*[strategy] * 8, ANYTHING) if noisy else strategy

    def pick(values: list[str]) -> st.SearchStrategy[str]:
        # Clean documents hold only well-formed values: what they break is the cross-checks.
        if not noisy:
            return st.sampled_from([value for value in values if value not in MALFORMED])
        return st.one_of(*[st.sampled_from(values)] * 8, st.text(max_size=10))

    def model(
        required: dict[str, st.SearchStrategy[Any]] | None = None,
        **optional: st.SearchStrategy[Any],
    ) -> st.SearchStrategy[dict[Any, Any]]:
        known = st.fixed_dictionaries(
            {k: loose(v) for k, v in (required or {}).items()},
            optional={k: loose(v) for k, v in optional.items()},
        )
        if not noisy:
            return known
        stray = st.one_of(
            *[st.just({})] * 8, st.dictionaries(st.text(max_size=8), ANYTHING, max_size=1)
        )
        return st.tuples(known, stray).map(lambda kv: {**kv[1], **kv[0]})

    def many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
        return st.lists(strategy, max_size=4)

    account_id: st.SearchStrategy[object] = pick(ACCOUNT_IDS)
    if noisy:
        account_id |= st.integers(min_value=0, max_value=10**13)
    role = pick(ROLES)
    unit = st.deferred(lambda: model({"name": pick(UNITS)}, roles=many(role), units=many(unit)))
    return model(
        {
            "organization": model(
                {"management_account_id": account_id}, bootstrap_role=role, units=many(unit)
            ),
            "access": model(
                source_account_id=account_id,
                roles=many(
                    model(
                        {"name": role},
                        policies=many(pick(POLICY_ARNS)),
                        require_mfa=st.booleans(),
                        max_session_duration=st.integers(min_value=3000, max_value=45_000),
                        inline_policies=st.dictionaries(pick(ROLES), st.just({}), max_size=2),
                    )
                ),
            ),
        },
        accounts=many(
            model(
                {"name": pick(ACCOUNTS), "email": pick(EMAILS)},
                id=account_id,
                unit=pick(UNIT_PATHS),
                tags=st.dictionaries(pick(UNITS), pick(UNITS), max_size=2),
                roles=many(role),
            )
        ),
        groups=many(
            model(
                {"name": pick(ROLES)},
                users=many(pick(USERS)),
                grants=many(model({"account": pick(ACCOUNTS), "role": role})),
            )
        ),
        policy=model(
            prune=st.booleans(),
            max_changes=st.integers(min_value=-1),
            protected_accounts=many(pick(ACCOUNTS) | account_id),
        ),
    )


DOCUMENT = documents(noisy=True) | documents(noisy=False)

YAML_CHARACTERS = st.sampled_from([*"{}[]:,-?&*!|>'\"#%@`\t\n \\", "\x00", "\u2028", "é"])
EDIT = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "duplicate-line"]),
    st.integers(min_value=0, max_value=10_000),
    YAML_CHARACTERS | st.characters(),
)


def mangle(text: str, edits: list[tuple[str, int, str]], cut: int | None) -> str:
    for kind, where, char in edits:
        at = where % (len(text) + 1)
        if kind == "delete":
            text = text[:at] + text[at + 1 :]
        elif kind == "insert":
            text = text[:at] + char + text[at:]
        elif kind == "replace":
            text = text[:at] + char + text[at + 1 :]
        else:
            lines = text.splitlines(keepends=True) or [""]
            line = where % len(lines)
            text = "".join([*lines[: line + 1], lines[line], *lines[line + 1 :]])
    return text if cut is None else text[: cut % (len(text) + 1)]


def check(text: str) -> None:
    """The loader's contract: a Spec, or a SpecError whose every issue points into the text."""
    try:
        result = load.parse_spec(text, FILENAME)
    except SpecError as exc:
        lines = len(_LINE_BREAK.split(text))
        assert exc.issues, "a SpecError names at least one problem"
        for issue in exc.issues:
            assert issue.file == FILENAME
            assert 1 <= issue.line <= lines, (issue, lines)
            assert issue.column >= 1, issue
            assert issue.message
            assert str(issue).startswith(f"{FILENAME}:{issue.line}:{issue.column}: ")
    else:
        assert isinstance(result, spec.Spec)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=DOCUMENT,
    flow=st.booleans(),
    edits=st.lists(EDIT, max_size=4),
    cut=st.none() | st.none() | st.integers(min_value=0),
)
def test_generated_documents_load_or_fail_cleanly(
    document: dict[Any, Any], flow: bool, edits: list[tuple[str, int, str]], cut: int | None
) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True, sort_keys=False)

    check(mangle(text, edits, cut))


@settings(max_examples=1000, deadline=None)
@given(text=st.text(YAML_CHARACTERS | st.characters(), max_size=200) | st.text(max_size=200))
def test_random_text_loads_or_fails_cleanly(text: str) -> None:
    check(text)
