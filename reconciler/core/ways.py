"""Ways in: AWS CLI profiles, browser-extension and Granted configurations, and console
switch-role links for the roles groups grant.

Pure: takes the document and the account ids known so far, returns text. An account without
an id is listed as such instead of getting a broken ARN: as not created yet when the ids were
looked up and it was not among them, as unknown (and why) when they could not be looked up.

A profile's name depends only on its account's and its role's names, `<account>-<role>` with the
role in kebab case, so reordering roles or grants never points a profile at another role.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import yaml

from reconciler.core import policies, spec
from reconciler.core.errors import ReconcilerError

_DISPLAY_NAME_LIMIT = 64  # the console truncates longer display names
_KNOWN_USERS_SHOWN = 20  # an unknown user's error names at most this many known users

AWS_CONFIG, SWITCH_ROLES, GRANTED = "aws-config", "switch-roles", "granted"
FORMATS = (AWS_CONFIG, SWITCH_ROLES, GRANTED)
# The file each format writes into an output directory; Granted's registry is two files.
FILE_NAMES = {AWS_CONFIG: "config", SWITCH_ROLES: "switch-roles.ini"}
GRANTED_REGISTRY, GRANTED_CONFIG = "granted.yml", "config"
# The first line of every file written into a directory: a file that does not start with it
# was not written by `reconciler profiles`, and is never replaced.
WRITTEN_MARKER = "# Written by reconciler profiles"
# Granted asks each person for this once, when they add the registry, and fills it in.
GRANTED_MFA_KEY = "MFA_SERIAL"

# What the INI and YAML outputs may carry from the command line: nothing that could end a
# line, open a section, start a comment or split a key from its value.
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z", re.ASCII)
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}\Z", re.ASCII)  # what IAM accepts
_MFA_SERIAL = re.compile(
    r"(arn:aws[a-z-]*:iam::\d{12}:mfa/[\w+=,.@/-]{1,512}|[A-Za-z0-9]{9,256})\Z", re.ASCII
)


class UnknownUserError(ReconcilerError):
    """A user no group of the document names."""


class UsageError(ReconcilerError):
    """A value from the command line that the outputs cannot carry as it is."""


@dataclass(frozen=True)
class Way:
    """One (account, role) pair a group grants, with the names people will see."""

    account: str
    account_id: str | None
    role: str
    profile: str
    # Why `account_id` is None when the ids could not be looked up; None: looked up, not created.
    lookup_problem: str | None = None


def profile_name(account: str, role: str) -> str:
    """`acme-dev`, `ReadOnlyAccessRole` -> `acme-dev-read-only-access`."""
    return f"{account}-{_kebab(role)}"


def ways_in(
    document: spec.Spec,
    ids: Mapping[str, str],
    user: str | None = None,
    lookup_problem: str | None = None,
) -> list[Way]:
    """Every granted (account, role), or only those `user`'s groups grant, in document order.
    `lookup_problem`: why the ids of accounts declared without one could not be looked up
    (None: `ids` holds every account that exists)."""
    granted = {(g.account, g.role) for group in _groups_of(document, user) for g in group.grants}
    ways = [
        Way(
            account.name,
            account.id or ids.get(account.name),
            role,
            profile_name(account.name, role),
            None if account.id or account.name in ids else lookup_problem,
        )
        for account in document.accounts
        for role in document.role_names(account)
        if (account.name, role) in granted
    ]
    _check_unique(ways)
    return ways


def known_users(document: spec.Spec) -> list[str]:
    """The users the document's groups name, sorted ignoring case, each once."""
    users = {user.lower(): user for group in document.groups for user in group.users}
    return [users[folded] for folded in sorted(users)]


def user_as_named(document: spec.Spec, user: str) -> str:
    """`user` spelled as the document spells it (IAM user names ignore case, ARNs do not);
    an error naming the users the document knows when no group names `user`."""
    known = known_users(document)
    spelled = {name.lower(): name for name in known}.get(user.lower())
    if spelled is None:
        raise UnknownUserError(_unknown_user(user, known))
    return spelled


def _groups_of(document: spec.Spec, user: str | None) -> Iterable[spec.Group]:
    if user is None:
        return document.groups
    named = user_as_named(document, user).lower()
    return [g for g in document.groups if named in (u.lower() for u in g.users)]


def _unknown_user(user: str, known: list[str]) -> str:
    if not known:
        return f"user {user!r} is in no group: the document names no users"
    shown = ", ".join(known[:_KNOWN_USERS_SHOWN])
    more = len(known) - _KNOWN_USERS_SHOWN
    rest = f" and {more} more" if more > 0 else ""
    return f"user {user!r} is in no group; the document knows: {shown}{rest}"


def _kebab(role: str) -> str:
    """`ReadOnlyAccessRole` -> `read-only-access`."""
    stem = role.removesuffix("Role") or role
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", stem)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "role"


def _check_unique(ways: list[Way]) -> None:
    seen: dict[str, Way] = {}
    for way in ways:
        other = seen.setdefault(way.profile, way)
        if other is not way:
            raise ReconcilerError(
                f"profile name {way.profile!r} would name both {other.account}/{other.role} "
                f"and {way.account}/{way.role}; rename one of the accounts"
            )


def check_profile_name(value: str) -> str:
    if not _PROFILE_NAME.match(value):
        raise UsageError(
            f"{value!r} is not a profile name this command writes: 1 to 128 of "
            "A-Z a-z 0-9 . _ @ + -, starting with a letter or digit"
        )
    return value


def check_user_name(value: str) -> str:
    if not _USER_NAME.match(value):
        raise UsageError(f"{value!r} is not an IAM user name: 1 to 64 of A-Z a-z 0-9 _ + = , . @ -")
    return value


def check_mfa_serial(value: str) -> str:
    if not _MFA_SERIAL.match(value):
        raise UsageError(
            f"{value!r} is not an MFA device: an arn:<partition>:iam::<account>:mfa/<name> "
            "ARN, or a hardware token's serial number (letters and digits)"
        )
    return value


def render_profiles(
    ways: list[Way],
    *,
    source_profile: str,
    mfa_serial: str,
    partition: str = policies.DEFAULT_PARTITION,
) -> str:
    """An `~/.aws/config` block per way in, ready to append; role ARNs in `partition`."""
    check_profile_name(source_profile)
    check_mfa_serial(mfa_serial)
    return _config_blocks(ways, source_profile, mfa_serial, partition)


def _config_blocks(ways: list[Way], source_profile: str, mfa_serial: str, partition: str) -> str:
    blocks = []
    for way in ways:
        if way.account_id is None:
            blocks.append(_not_created(way))
            continue
        blocks.append(
            f"[profile {way.profile}]\n"
            f"role_arn = {policies.role_arn(way.account_id, way.role, partition)}\n"
            f"source_profile = {source_profile}\n"
            f"mfa_serial = {mfa_serial}\n"
        )
    return "\n".join(blocks)


def render_switch_roles(ways: list[Way], *, source_profile: str, source_account_id: str) -> str:
    """The configuration of the aws-extend-switch-roles browser extension: a base section for
    the account people sign in to, and a target profile per way in that names it."""
    check_profile_name(source_profile)
    blocks = [f"[{source_profile}]\naws_account_id = {source_account_id}\n"]
    for way in ways:
        if way.account_id is None:
            blocks.append(_not_created(way))
            continue
        blocks.append(
            f"[profile {way.profile}]\n"
            f"aws_account_id = {way.account_id}\n"
            f"role_name = {way.role}\n"
            f"color = {account_color(way.account)}\n"
            f"source_profile = {source_profile}\n"
        )
    return "\n".join(blocks)


def account_color(account: str) -> str:
    """Six hex digits, the same for an account on every run and for every person."""
    return hashlib.sha256(account.encode()).hexdigest()[:6]


def render_granted(
    ways: list[Way],
    *,
    source_profile: str,
    source_account_id: str,
    partition: str = policies.DEFAULT_PARTITION,
) -> dict[str, str]:
    """A Granted profile registry: `granted.yml` and the AWS config it lists, whose MFA serial
    Granted asks each person for once (a required key) and fills in."""
    check_profile_name(source_profile)
    template = "{{ .Required." + GRANTED_MFA_KEY + " }}"
    example = f"arn:{partition}:iam::{source_account_id}:mfa/YOUR-IAM-USER-NAME"
    registry = {
        "awsConfig": [GRANTED_CONFIG],
        "templateValues": [
            {GRANTED_MFA_KEY: [{"isRequired": "true"}, {"prompt": f"your MFA device ({example})"}]}
        ],
    }
    return {
        GRANTED_REGISTRY: yaml.safe_dump(registry, sort_keys=False),
        GRANTED_CONFIG: _config_blocks(ways, source_profile, template, partition),
    }


def render(
    fmt: str,
    ways: list[Way],
    *,
    source_profile: str,
    mfa_serial: str,
    source_account_id: str,
    partition: str = policies.DEFAULT_PARTITION,
) -> dict[str, str]:
    """The files of `fmt`, by name: one, or Granted's two. `mfa_serial` is unused by Granted,
    which asks each person for theirs, and by the browser extension, which needs none."""
    if fmt == GRANTED:
        return render_granted(
            ways,
            source_profile=source_profile,
            source_account_id=source_account_id,
            partition=partition,
        )
    if fmt == SWITCH_ROLES:
        text = render_switch_roles(
            ways, source_profile=source_profile, source_account_id=source_account_id
        )
    else:
        text = render_profiles(
            ways, source_profile=source_profile, mfa_serial=mfa_serial, partition=partition
        )
    return {FILE_NAMES[fmt]: text}


def file_names(fmt: str) -> tuple[str, ...]:
    """The files `render` returns for `fmt`."""
    return (GRANTED_REGISTRY, GRANTED_CONFIG) if fmt == GRANTED else (FILE_NAMES[fmt],)


def marked(fmt: str, text: str) -> str:
    """`text` as written into a directory: the marker line first, naming what wrote it."""
    return f"{WRITTEN_MARKER} --format {fmt}; each run replaces this file.\n{text}"


def render_links(ways: list[Way], partition: str = policies.DEFAULT_PARTITION) -> str:
    """A console switch-role link per way in, one per line, on the partition's console."""
    lines = []
    for way in ways:
        if way.account_id is None:
            lines.append(_not_created(way).rstrip("\n"))
            continue
        query = urlencode(
            {
                "roleName": way.role,
                "account": way.account_id,
                "displayName": way.profile[:_DISPLAY_NAME_LIMIT],
            }
        )
        lines.append(f"{policies.switch_role_url(partition)}?{query}")
    return "\n".join(lines) + ("\n" if lines else "")


def _not_created(way: Way) -> str:
    """The comment in place of a way into an account without an id: unknown, and why, when the
    ids could not be looked up; else not created yet."""
    if way.lookup_problem is not None:
        problem = " ".join(way.lookup_problem.split())  # a comment is one line
        return (
            f"# {way.profile}: account {way.account!r} id unknown: could not look up account ids "
            f"({problem}); pass credentials or declare its id\n"
        )
    return (
        f"# {way.profile}: account {way.account!r} is not created yet: the daemon or "
        "'reconciler apply' creates it; run this again then\n"
    )
