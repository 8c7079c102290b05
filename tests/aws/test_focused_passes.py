"""Reading a part of the organization again on top of an earlier read (`read_scope`): what it
refreshes, and what it must leave as it was, against the strict simulator."""

from __future__ import annotations

from dataclasses import replace

from reconciler import reconcile
from reconciler.aws.read_scope import read_scope
from reconciler.core.scope import Scope
from tests.aws.support import EXAMPLE_TEXT, Aws, failures, parse, run_pass


def test_a_placement_read_leaves_an_unreachable_account_unreachable(aws: Aws) -> None:
    """acme-prod's roles could not be read last time; a tag event reads its unit and tags,
    not its roles: it stays unreachable (no roles, no drift known), with its tags refreshed.
    A read of its roles makes it reachable again."""
    built = run_pass(aws.url, apply=True)
    assert not failures(built), failures(built)
    earlier = run_pass(aws.url, apply=False).live
    prod = next(a for a in earlier.accounts if a.name == "acme-prod")
    known = replace(
        earlier,
        accounts=tuple(replace(a, roles=None) if a is prod else a for a in earlier.accounts),
        unreachable={"acme-prod": "AssumeRole: AccessDenied"},
    )
    aws.org.tag_resource(ResourceId=prod.id, Tags=[{"Key": "environment", "Value": "x"}])
    document = parse(EXAMPLE_TEXT)
    sessions = reconcile.sessions_for(document, aws.url, 4)

    placed = read_scope(document, sessions, known, Scope(placement=frozenset({"acme-prod"})))
    after = next(a for a in placed.accounts if a.id == prod.id)
    assert placed.unreachable == {"acme-prod": "AssumeRole: AccessDenied"}
    assert (after.roles, after.tags["environment"]) == (None, "x")

    read = read_scope(document, sessions, known, Scope(roles=frozenset({"acme-prod"})))
    again = next(a for a in read.accounts if a.id == prod.id)
    assert read.unreachable == {}
    assert sorted(again.roles or {}) == ["AccountAccessRole", "ReadOnlyAccessRole"]
