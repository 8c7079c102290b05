"""Who can reach which account as which role, and through what.

Three views of the same question, all pure (values in, values out):

- `declared`: what the document grants, group by group;
- `live`: every way in that the source account holds today, through any group's or user's
  policy, into the roles the document manages (the `access --live` view, and the findings);
- `review`: what a plan changes of it (its access effect) and the live access the document
  does not declare (its findings).

Only the roles the document manages count: a role in one of its accounts that it places
there. Their ARNs are built like the grant policies build them, so an account still to be
created is matched by its placeholder. Permission boundaries and service control policies are
not read; an unconditional Deny in any of a user's policies does close a way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from reconciler.core import plan, policies, spec, state

OWN_POLICY = ""  # the `group` of access through a user's own policy


@dataclass(frozen=True, order=True)
class Access:
    """One way in: `user` may assume `role` in `account` through `group` (OWN_POLICY for the
    user's own policy), by the policy `through`; `mfa` when assuming asks for MFA."""

    account: str
    role: str
    user: str
    group: str
    account_id: str | None
    mfa: bool
    through: str = state.GRANT_POLICY_NAME


@dataclass(frozen=True)
class _Role:
    account: str
    account_id: str | None
    name: str
    managed: bool = True  # placed by the document; False: only named by a live grant policy


def declared(document: spec.Spec, ids: Mapping[str, str] | None = None) -> list[Access]:
    """What the document grants: every member of every group, for each of its grants.
    `ids`: account ids known beyond those the document gives (created accounts)."""
    known = ids or {}
    found = []
    for group in document.groups:
        for grant in group.grants:
            account = document.account(grant.account)
            mfa = document.role(grant.role).require_mfa
            account_id = account.id or known.get(account.name)
            found += [
                Access(grant.account, grant.role, user, group.name, account_id, mfa)
                for user in group.users
            ]
    return sorted(found)


def live(document: spec.Spec, org: state.OrgState) -> list[Access]:
    """Every way in that the live source account holds into the roles the document manages."""
    roles = _managed_roles(document, org)
    return _accesses(_ways(org.groups, org, roles), roles, _live_mfa(document, org, roles))


def _accesses(
    ways: Iterable[_Way], roles: Mapping[str, _Role], mfa: Mapping[str, bool]
) -> list[Access]:
    found = []
    for user, group, through, arn in ways:
        if arn in mfa and arn in roles:
            role = roles[arn]
            found.append(
                Access(role.account, role.name, user, group, role.account_id, mfa[arn], through)
            )
    return sorted(found)


def review(
    document: spec.Spec, org: state.OrgState, p: plan.Plan, *, with_effect: bool = True
) -> plan.Plan:
    """The plan with its access effect (unless `with_effect` is off: a refused plan changes
    nothing) and its findings. The live ways in are worked out once, for both."""
    managed = _managed_roles(document, org)
    roles = {**_granted_roles(document, org), **managed}
    before_mfa = _live_mfa(document, org, roles)
    before_ways = list(_ways(org.groups, org, roles))
    live_access = _accesses(before_ways, managed, before_mfa)
    found = [*_access_findings(document, live_access, _grant_policies(org)), *_unreadable(org)]
    changes = _effect(document, org, p, roles, before_ways, before_mfa) if with_effect else []
    return replace(p, access=tuple(changes), findings=tuple(found))


def effect(document: spec.Spec, org: state.OrgState, p: plan.Plan) -> list[plan.AccessChange]:
    """The (user, account, role) pairs the plan grants and revokes: who can assume what
    through the live groups and users' own policies before the plan, and after it, with the
    groups as its changes leave them (a plan changes no user's own policy).

    The roles are those the document manages, and those the live grant policies name in its
    accounts (a grant dropped together with its role is still a revocation). MFA is the live
    trust policy's before, and after what the plan leaves: the document's word for a role it
    manages, unless that role's change is withheld."""
    roles = {**_granted_roles(document, org), **_managed_roles(document, org)}
    before_mfa = _live_mfa(document, org, roles)
    return _effect(document, org, p, roles, list(_ways(org.groups, org, roles)), before_mfa)


def _effect(
    document: spec.Spec,
    org: state.OrgState,
    p: plan.Plan,
    roles: Mapping[str, _Role],
    before_ways: list[_Way],
    before_mfa: Mapping[str, bool],
) -> list[plan.AccessChange]:
    before = _pairs(before_ways, before_mfa)
    after_ways = _ways(groups_after(org.groups, p.changes), org, roles)
    after = _pairs(after_ways, _mfa_after(document, p, roles, before_mfa))
    changes = [
        _change(plan.AccessAction.GRANT, k, g, roles) for k, g in after.items() if k not in before
    ]
    changes += [
        _change(plan.AccessAction.REVOKE, k, g, roles) for k, g in before.items() if k not in after
    ]
    return sorted(changes)


def findings(document: spec.Spec, org: state.OrgState) -> list[plan.Finding]:
    """Live access into managed roles that the document does not declare: one finding per
    role and per policy it comes through, naming the users; and each managed policy attached
    in the source account that could not be read (what it allows is unknown)."""
    return [
        *_access_findings(document, live(document, org), _grant_policies(org)),
        *_unreadable(org),
    ]


def _grant_policies(org: state.OrgState) -> dict[str, str]:
    """Each live group (name lowercased) -> the name of the policy holding its grants."""
    return {name.lower(): state.grant_policy_name(g) for name, g in org.groups.items()}


def _access_findings(
    document: spec.Spec, ways: Iterable[Access], grant_policies: Mapping[str, str]
) -> list[plan.Finding]:
    """`grant_policies`: each live group's (lowercased name) grant policy name."""
    granted = {
        (group.name.lower(), grant.account, grant.role.lower())
        for group in document.groups
        for grant in group.grants
    }
    users: dict[tuple[str, str, str, str], set[str]] = {}
    for way in ways:
        grant_policy = grant_policies.get(way.group.lower(), state.GRANT_POLICY_NAME)
        declared_way = way.through == grant_policy and (
            (way.group.lower(), way.account, way.role.lower()) in granted
        )
        if not declared_way:
            users.setdefault((way.account, way.role, way.group, way.through), set()).add(way.user)
    return sorted(
        plan.Finding(
            kind="access",
            account=account,
            resource=role,
            detail=_finding_detail(sorted(names, key=str.lower), group, through),
            users=tuple(sorted(names, key=str.lower)),
        )
        for (account, role, group, through), names in users.items()
    )


def _unreadable(org: state.OrgState) -> list[plan.Finding]:
    """Managed policies attached in the source account whose documents could not be read:
    the access they grant is unknown, which a reviewer must know rather than read as none."""
    return [
        plan.Finding(
            kind="policy",
            account=plan.SOURCE_ACCOUNT,
            resource=arn,
            detail=f"could not be read ({why}): whom it lets assume the managed roles is "
            "unknown; reconciler needs iam:GetPolicy and iam:GetPolicyVersion on it",
        )
        for arn, why in sorted(org.unreadable_policies.items())
    ]


def _finding_detail(users: list[str], group: str, through: str) -> str:
    who = ", ".join(users)
    where = f"group {group}" if group != OWN_POLICY else "their own policy"
    return f"{who} can assume it through {where} ({through}), which the document does not declare"


def groups_after(
    groups: Mapping[str, state.Group], changes: Iterable[plan.Change]
) -> dict[str, state.Group]:
    """The source account's groups as the plan's changes leave them (names ignore case)."""
    result = {name.lower(): group for name, group in groups.items()}
    for change in changes:
        key = (change.group_name or "").lower()
        group = result.get(key)
        if isinstance(change, plan.CreateGroup):
            result[key] = replace(change.definition, users=frozenset())
        elif isinstance(change, plan.DeleteGroup):
            result.pop(key, None)
        elif group is not None:
            result[key] = _group_after(group, change)
    return result


def _group_after(group: state.Group, change: plan.Change) -> state.Group:
    if isinstance(change, plan.PutGroupGrants):
        return replace(group, grant_policy=change.after)
    if isinstance(change, plan.DeleteGroupInlinePolicy):
        others = {n: d for n, d in group.other_policies.items() if n != change.policy_name}
        return replace(group, other_policies=others)
    if isinstance(change, plan.DetachGroupPolicy):
        return replace(group, attached=group.attached - {change.policy_arn})
    if isinstance(change, plan.AddMember):
        return replace(group, users=group.users | {change.user})
    if isinstance(change, plan.RemoveMember):
        kept = frozenset(u for u in group.users if u.lower() != change.user.lower())
        return replace(group, users=kept)
    return group


_PairKey = tuple[str, bool, str]  # role ARN, mfa, user in lower case (IAM ignores case)
# One way in: (user, group or OWN_POLICY, the policy it comes through, role ARN).
_Way = tuple[str, str, str, str]


def _pairs(ways: Iterable[_Way], mfa: Mapping[str, bool]) -> dict[_PairKey, tuple[str, str]]:
    """(role, mfa, user) -> (user, the group it comes through: a group's name, by name, over
    the user's own policy)."""
    pairs: dict[_PairKey, tuple[str, str]] = {}
    for user, group, _, arn in sorted(ways, key=lambda way: (way[1] == OWN_POLICY, way)):
        if arn in mfa:
            pairs.setdefault((arn, mfa[arn], user.lower()), (user, group))
    return pairs


def _granted_roles(document: spec.Spec, org: state.OrgState) -> dict[str, _Role]:
    """Role ARN -> role, for each role in one of the document's accounts that a live grant
    policy names, whether or not the document still places it there."""
    matched = state.match_accounts(document, org.accounts)
    by_id = {live.id: name for name, live in matched.items() if live.id}
    roles = {}
    for group in org.groups.values():
        for arn in plan.grants_of(group.grant_policy):
            parts = arn.split(":", 5)  # arn:partition:iam::account:role/path/name
            if len(parts) == 6 and parts[4] in by_id and parts[5].startswith("role/"):
                name = parts[5].rpartition("/")[2]
                roles[arn] = _Role(by_id[parts[4]], parts[4], name, managed=False)
    return roles


def _mfa_after(
    document: spec.Spec,
    p: plan.Plan,
    roles: Mapping[str, _Role],
    before: Mapping[str, bool],
) -> dict[str, bool]:
    """Role ARN -> whether assuming it asks for MFA once the plan is applied, for the roles
    that exist then: those that exist now, unless the plan deletes them, and those it creates.
    The document decides for the roles it manages, except where their change is withheld; the
    others stay as they are."""
    withheld = {_role_key(w.change) for w in p.withheld if isinstance(w.change, plan.RoleChange)}
    deleted = {_role_key(c) for c in p.changes if isinstance(c, plan.DeleteRole)}
    created = {_role_key(c) for c in p.changes if isinstance(c, plan.CreateRole)}
    result = {}
    for arn, role in roles.items():
        key = (role.account, role.name.lower())
        if key in deleted or (arn not in before and key not in created):
            continue
        if role.managed and key not in withheld:
            result[arn] = _document_mfa(document, role.name)
        else:
            result[arn] = before[arn]
    return result


def _role_key(change: plan.RoleChange) -> tuple[str, str]:
    return change.account_name, change.role.lower()


def _change(
    action: plan.AccessAction,
    key: _PairKey,
    found: tuple[str, str],
    roles: Mapping[str, _Role],
) -> plan.AccessChange:
    arn, mfa, _ = key
    user, group = found
    role = roles[arn]
    return plan.AccessChange(role.account, role.name, user, action, group, role.account_id, mfa)


def _ways(
    groups: Mapping[str, state.Group], org: state.OrgState, roles: Mapping[str, _Role]
) -> Iterator[_Way]:
    """Every way in to `roles`, through a group or a user's own policy, that no unconditional
    Deny of the user's closes. User names ignore case, as IAM's do; a user is named as IAM
    spells it. Each policy document is evaluated once."""
    arns = frozenset(roles)
    allowed = _Evaluation(arns)
    by_group = {
        group.name: [(name, doc) for name, doc in _group_documents(group, org)]
        for group in groups.values()
    }
    spelling = {user.lower(): user for user in org.user_policies}
    members: dict[str, list[str]] = {}
    for each in sorted(groups.values(), key=lambda group: group.name):
        for user in sorted(each.users):
            spelling.setdefault(user.lower(), user)
            members.setdefault(user.lower(), []).append(each.name)
    for folded in sorted(spelling):
        user = spelling[folded]
        sources = [(OWN_POLICY, _user_documents(user, org))]
        sources += [(g, by_group[g]) for g in members.get(folded, [])]
        denied = policies.union(allowed.denied(d) for _, docs in sources for _, d in docs)
        for group, docs in sources:
            for through, document in docs:
                for arn in sorted(allowed(document) - denied):
                    yield user, group, through, arn


class _Evaluation:
    """What each policy document allows and denies of `arns`, worked out once per document:
    a thousand users holding the same policy cost one evaluation."""

    def __init__(self, arns: frozenset[str]) -> None:
        self._arns = arns
        self._allowed: dict[str, frozenset[str]] = {}
        self._denied: dict[str, frozenset[str]] = {}

    def __call__(self, document: policies.PolicyDocument) -> frozenset[str]:
        key = document.canonical
        if key not in self._allowed:
            self._allowed[key] = document.allows_assuming(self._arns)
        return self._allowed[key]

    def denied(self, document: policies.PolicyDocument) -> frozenset[str]:
        key = document.canonical
        if key not in self._denied:
            self._denied[key] = document.denies_assuming(self._arns)
        return self._denied[key]


def _group_documents(
    group: state.Group, org: state.OrgState
) -> list[tuple[str, policies.PolicyDocument]]:
    documents = dict(group.other_policies)
    if group.grant_policy is not None:
        documents[state.GRANT_POLICY_NAME] = group.grant_policy
    return _named(documents, group.attached, org)


def _user_documents(user: str, org: state.OrgState) -> list[tuple[str, policies.PolicyDocument]]:
    own = org.user_policies.get(user, state.UserPolicies())  # keyed as IAM spells the user
    return _named(own.inline, own.attached, org)


def _named(
    inline: Mapping[str, str], attached: Iterable[str], org: state.OrgState
) -> list[tuple[str, policies.PolicyDocument]]:
    """Inline policies by name, then attached ones by ARN (those whose document was read)."""
    found = [(name, policies.PolicyDocument.of(text)) for name, text in sorted(inline.items())]
    for arn in sorted(attached):
        text = org.managed_policies.get(arn)
        if text is not None:
            found.append((arn, policies.PolicyDocument.of(text)))
    return found


def _managed_roles(document: spec.Spec, org: state.OrgState) -> dict[str, _Role]:
    """Role ARN -> the managed role: every role the document places in every account, with
    the account's id when known, else its placeholder (as the grant policies name it)."""
    matched = state.match_accounts(document, org.accounts)
    ids = {name: live.id for name, live in matched.items() if live.id}
    roles = {}
    for account in document.accounts:
        account_id = account.id or ids.get(account.name)
        for name in document.role_names(account):
            arn = policies.role_arn(
                account_id or state.placeholder(account.name), name, org.partition
            )
            roles[arn] = _Role(account.name, account_id, name)
    return roles


def _live_mfa(
    document: spec.Spec, org: state.OrgState, roles: Mapping[str, _Role]
) -> dict[str, bool]:
    """Role ARN -> whether its live trust policy asks for MFA, for the managed roles that
    exist. An account whose roles could not be read keeps the document's word."""
    by_id = org.account_by_id()
    result = {}
    for arn, role in roles.items():
        account = by_id.get(role.account_id or "")
        if account is None:
            continue  # not created yet: nothing to assume
        if account.roles is None:
            result[arn] = _document_mfa(document, role.name)
            continue
        live_role = next(
            (r for n, r in account.roles.items() if n.lower() == role.name.lower()), None
        )
        if live_role is not None:
            result[arn] = policies.PolicyDocument.of(live_role.trust_policy).requires_mfa
    return result


def _document_mfa(document: spec.Spec, role: str) -> bool:
    """Whether the document's role template asks for MFA (a role it does not declare: yes,
    the safe reading)."""
    template = next((r for r in document.access.roles if r.name == role), None)
    return True if template is None else template.require_mfa
