"""One reconcile pass: read the live state, diff, guard, and (in apply mode) make it so.

The CLI's `plan` and `apply` and the daemon all call `reconcile`; it reads as one step per
stage. Each pass returns a `Result` value from which exit codes and metrics are derived.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from reconciler.aws import read, read_scope, write
from reconciler.aws.sessions import Sessions
from reconciler.core import access, diff, plan, safety, spec, state
from reconciler.core.errors import SafetyError
from reconciler.core.plan import Outcome, Plan, Status
from reconciler.core.scope import EVERYTHING, Scope


class Mode(enum.StrEnum):
    """Whether a pass makes the changes it finds or only reports them."""

    APPLY = "apply"
    PLAN = "plan"


class Phase(enum.StrEnum):
    """The timed phases of a pass; `source` and `total` are the daemon's, around `reconcile`."""

    SOURCE = "source"
    READ = "read"
    PLAN = "plan"
    APPLY = "apply"
    TOTAL = "total"


@dataclass(frozen=True)
class Result:
    plan: Plan
    live: state.OrgState
    outcomes: tuple[Outcome, ...] = ()
    refused: SafetyError | None = None  # the rail that refused the plan as a whole
    durations: dict[Phase, float] = field(default_factory=dict)
    scope: Scope = EVERYTHING  # what the pass read again and planned

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != Status.APPLIED]

    @property
    def converged(self) -> bool:
        """Nothing refused, withheld, unreachable or failed: the organization is as declared."""
        return not (self.refused or self.plan.withheld or self.plan.unreachable or self.failed)


def sessions_for(
    document: spec.Spec,
    endpoint_url: str | None,
    concurrency: int,
    *,
    read_only: bool = False,
    session_name: str | None = None,
) -> Sessions:
    return Sessions(
        management_account_id=document.organization.management_account_id,
        bootstrap_role=document.organization.bootstrap_role,
        endpoint_url=endpoint_url,
        max_pool=concurrency + 4,
        read_only=read_only,
        session_name=session_name,
    )


@dataclass(frozen=True)
class Focus:
    """A pass limited to part of the organization: `scope` is read again on top of `known`
    (the live state an earlier pass read), and only changes within it are planned. `causes`
    says who made the drift of which resource, as AWS change events told it."""

    scope: Scope
    known: state.OrgState
    causes: Mapping[str, plan.Cause] = field(default_factory=dict)


def reconcile(
    document: spec.Spec,
    sessions: Sessions,
    *,
    apply: bool,
    concurrency: int = 16,
    stop: threading.Event | None = None,
    instance: str = state.DEFAULT_INSTANCE,
    timings: write.Timings | None = None,
    allow_mass_removal: bool = False,
    progress: Progress | None = None,
    focus: Focus | None = None,
) -> Result:
    """`progress`, when given, is told each phase's advance: ("read", accounts read, of how
    many) and ("apply", changes done, of how many). `focus`, when given, limits the pass."""
    clock = _Clock()
    scope = focus.scope if focus else EVERYTHING
    # Read the organization and every declared account's roles, in parallel; or, for a
    # focused pass, only what its scope names.
    if focus is None:
        live = read.read_live(document, sessions, concurrency, instance, _phase(progress, "read"))
    else:
        live = read_scope.read_scope(
            document, sessions, focus.known, focus.scope, concurrency, instance
        )
    clock.lap(Phase.READ)
    # Compute the changes, let the safety rails refuse or withhold them, then keep those
    # within the scope. The rails judge the whole plan: one a full pass would refuse is not
    # applied piece by piece by passes over parts of it.
    declared = state.declared(document, live, instance)
    proposed = diff.diff(declared, live, _rules(document, instance))
    if focus is not None:
        proposed = replace(proposed, causes=focus.causes)
    try:
        facts = safety.Facts(live, declared, instance, allow_mass_removal)
        guarded = scope.limit(
            safety.guard(
                document, proposed, live.management_account_id, live.caller_account_id, facts
            )
        )
    except SafetyError as exc:
        reviewed = access.review(document, live, scope.limit(proposed), with_effect=False)
        return Result(reviewed, live, refused=exc, durations=clock.lap(Phase.PLAN), scope=scope)
    # What the plan changes of who can reach which role, and the access it leaves undeclared.
    guarded = access.review(document, live, guarded)
    clock.lap(Phase.PLAN)
    if not apply:
        return Result(guarded, live, durations=clock.laps, scope=scope)
    # Apply in dependency order; every change gets an outcome.
    context = write.Context(
        sessions=sessions,
        root_id=live.root_id,
        source_account_id=document.source_account_id,
        unit_ids={path: unit.id for path, unit in live.units.items()},
        account_ids={a.name: a.id for a in declared.accounts if a.id},
        instance=instance,
        foreign_creations=live.foreign_creations,
        created=_recent_roles(live),
        timings=timings or write.Timings(),
        stop=stop or threading.Event(),
        progress=_phase(progress, "apply"),
    )
    outcomes = write.execute(guarded, context, concurrency)
    return Result(guarded, live, tuple(outcomes), durations=clock.lap(Phase.APPLY), scope=scope)


# A role created this long before a pass read it may still be invisible to some IAM calls.
RECENT_ROLE = 300.0


def _recent_roles(live: state.OrgState) -> set[tuple[str, str]]:
    """Roles created moments before this pass read them (by a pass that was stopped, or by a
    person): IAM may still answer NoSuchEntity for them, as for roles this pass creates, so
    they are waited for in the same way."""
    now = time.time()
    return {
        (account.id, role.name.lower())
        for account in live.accounts
        if account.id is not None
        for role in (account.roles or {}).values()
        if now - role.created < RECENT_ROLE
    }


# Told (phase, done, total): where a pass stands, for a progress line on a terminal.
Progress = Callable[[str, int, int], None]


def _phase(progress: Progress | None, phase: str) -> plan.Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(phase, done, total)


def _rules(document: spec.Spec, instance: str) -> diff.Rules:
    return diff.Rules(
        prune=document.policy.prune,
        bootstrap_role=document.organization.bootstrap_role,
        instance=instance,
    )


class _Clock:
    def __init__(self) -> None:
        self._last = time.monotonic()
        self.laps: dict[Phase, float] = {}

    def lap(self, phase: Phase) -> dict[Phase, float]:
        now = time.monotonic()
        self.laps[phase] = now - self._last
        self._last = now
        return self.laps
