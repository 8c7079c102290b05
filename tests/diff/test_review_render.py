"""What a reviewer reads of a plan that changes access: policy diffs under their change, the
access effect and the findings, in text (with colour on a terminal), JSON, and markdown as a
pull request renders it (markdown-it, the CommonMark parser GitHub's dialect builds on)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from reconciler.core import plan, policies, render
from reconciler.core.plan import AccessAction, AccessChange, Finding

ACME = "333333333333"
SHARED_ADMIN = "arn:aws:iam::222222222222:role/Admin"
ACME_DEPLOY = "arn:aws:iam::333333333333:role/Deploy"
DENY_S3 = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}'
HOSTILE = "eve\n# EVIL\x1b[2J\u202e```<img src=x onerror=alert(1)>@here https://evil.example"


def _trust(mfa: bool) -> str:
    return policies.compact_json(policies.trust_policy("111111111111", require_mfa=mfa))


def _grants(*arns: str) -> str:
    return policies.compact_json(policies.grant_policy(arns))


TRUST = plan.UpdateRoleTrust("acme-prod", ACME, "ReadOnly", _trust(True), _trust(False))
INLINE = plan.PutRoleInlinePolicy("acme-prod", ACME, "ReadOnly", "deny", None, DENY_S3)
GRANTS = plan.PutGroupGrants("Admins", _grants(SHARED_ADMIN), _grants(SHARED_ADMIN, ACME_DEPLOY))
ACCESS = (
    AccessChange("acme-prod", "ReadOnly", "carol", AccessAction.GRANT, "Readers", ACME, False),
    AccessChange("acme-prod", "ReadOnly", "carol", AccessAction.REVOKE, "Readers", ACME, True),
)
FINDING = Finding(
    "access",
    "shared",
    "Admin",
    "erin can assume it through their own policy (hop), which the document does not declare",
    ("erin",),
)
REVIEWED = plan.Plan.of([GRANTS, INLINE, TRUST], access=ACCESS, findings=(FINDING,))

TRUST_LINES = [
    "~ role acme-prod/ReadOnly: trust policy remove the MFA condition",
    '            "Action": [',
    '              "sts:assumerole"',
    "            ],",
    '    -       "Condition": {',
    '    -         "Bool": {',
    '    -           "aws:multifactorauthpresent": [',
    '    -             "true"',
    "    -           ]",
    "    -         }",
    "    -       },",
    '            "Effect": "Allow",',
    '            "Principal": {',
    '              "AWS": [',
]
INLINE_LINES = [
    "~ role acme-prod/ReadOnly: add inline policy deny",
    "    + {",
    '    +   "Statement": [',
    "    +     {",
    '    +       "Action": [',
    '    +         "s3:*"',
    "    +       ],",
    '    +       "Effect": "Deny",',
    '    +       "Resource": [',
    '    +         "*"',
    "    +       ]",
    "    +     }",
    "    +   ],",
    '    +   "Version": "2012-10-17"',
    "    + }",
]
GRANT_LINES = [
    "~ group Admins: grant arn:aws:iam::333333333333:role/Deploy",
    "            ],",
    '            "Effect": "Allow",',
    '            "Resource": [',
    '    -         "arn:aws:iam::222222222222:role/Admin"',
    '    +         "arn:aws:iam::222222222222:role/Admin",',
    '    +         "arn:aws:iam::333333333333:role/Deploy"',
    "            ]",
    "          }",
    "        ],",
]
TAIL = [
    "! access shared/Admin: erin can assume it through their own policy (hop), which the "
    "document does not declare",
    "Plan: 0 to create, 3 to update, 0 to delete.",
    "",
    "Access effect:",
    "+ carol -> acme-prod as ReadOnly",
    "- carol -> acme-prod as ReadOnly (MFA)",
]


def _html(text: str) -> str:
    return str(MarkdownIt("commonmark").enable("table").render(text))


class _Page(HTMLParser):
    """The tags of a page, the text outside code blocks, and each <details> with its summary
    and the text of the `language-diff` code blocks inside it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.outside_code = ""
        self.details: list[tuple[str, str]] = []
        self._code: str | None = None
        self._in: list[str] = []
        self._summary = ""
        self._diff = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in.append(tag)
        if tag == "code":
            self._code = dict(attrs).get("class") or ""
        if tag == "details":
            self._summary, self._diff = "", ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._code = None
        if tag == "details":
            self.details.append((self._summary, self._diff))
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._code is None:
            self.outside_code += data
        elif self._code == "language-diff":
            self._diff += data
        if self._in and self._in[-1] == "summary":
            self._summary += data


def _long_plan(account: str = "acme-prod") -> plan.Plan:
    """A plan of more than FOLD_AFTER lines: units, two accounts, and groups."""
    attach = [
        plan.AttachRolePolicy(account, ACME, "Deploy", f"arn:aws:iam::aws:policy/P{i:02}")
        for i in range(render.FOLD_AFTER)
    ]
    changes = [
        *attach,
        plan.CreateUnit(("Clients",)),
        plan.UpdateRoleSession("shared", "222222222222", "Admin", 3600, 7200),
        plan.AddMember("Admins", "dave"),
    ]
    return plan.Plan.of(changes, unreachable={"beta": "AccessDenied"})


# text


def test_text_shows_each_policy_diff_indented_under_its_change() -> None:
    lines = render.text(REVIEWED).splitlines()

    assert lines[: len(TRUST_LINES)] == TRUST_LINES
    assert lines[len(TRUST_LINES) : len(TRUST_LINES) + len(INLINE_LINES)] == INLINE_LINES
    start = len(TRUST_LINES) + len(INLINE_LINES)
    assert lines[start : start + len(GRANT_LINES)] == GRANT_LINES


def test_text_puts_findings_before_the_summary_and_the_access_effect_after() -> None:
    lines = render.text(REVIEWED).splitlines()

    assert len(lines) == len(TRUST_LINES) + len(INLINE_LINES) + len(GRANT_LINES) + len(TAIL)
    assert lines[-len(TAIL) :] == TAIL


def test_a_policy_added_from_nothing_is_all_additions() -> None:
    lines = render.text(plan.Plan.of([INLINE])).splitlines()

    assert lines[: len(INLINE_LINES)] == INLINE_LINES


def test_text_has_no_colour_unless_asked() -> None:
    assert "\x1b" not in render.text(REVIEWED)
    assert "\x1b" not in render.render(REVIEWED, render.Format.TEXT)


def test_colour_marks_additions_removals_and_findings_only() -> None:
    lines = render.text(REVIEWED, colour=True).splitlines()

    assert lines[0] == "~ role acme-prod/ReadOnly: trust policy remove the MFA condition"
    assert lines[1] == '            "Action": ['
    assert lines[4] == '\x1b[31m    -       "Condition": {\x1b[0m'
    assert lines[15] == "\x1b[32m    + {\x1b[0m"
    assert lines[-6] == (
        "\x1b[33m! access shared/Admin: erin can assume it through their own policy (hop), "
        "which the document does not declare\x1b[0m"
    )
    assert lines[-5:] == [
        "Plan: 0 to create, 3 to update, 0 to delete.",
        "",
        "Access effect:",
        "\x1b[32m+ carol -> acme-prod as ReadOnly\x1b[0m",
        "\x1b[31m- carol -> acme-prod as ReadOnly (MFA)\x1b[0m",
    ]


def test_render_passes_colour_to_text() -> None:
    shown = render.render(plan.Plan(access=ACCESS[:1]), render.Format.TEXT, colour=True)

    assert shown.splitlines()[-1] == "\x1b[32m+ carol -> acme-prod as ReadOnly\x1b[0m"


def test_hostile_names_are_escaped_in_text() -> None:
    p = plan.Plan(
        access=(AccessChange("acme", "Admin", HOSTILE, AccessAction.GRANT, "G", ACME, True),),
        findings=(Finding("access", HOSTILE, "Admin", HOSTILE, (HOSTILE,)),),
    )
    shown = render.text(p, colour=True)
    escaped = "eve\\n# EVIL\\x1b[2J\\u202e```<img src=x onerror=alert(1)>@here https://evil.example"

    assert "\x1b[2J" not in shown and "\u202e" not in shown
    assert f"\x1b[33m! access {escaped}/Admin: {escaped}\x1b[0m" in shown.splitlines()
    assert f"\x1b[32m+ {escaped} -> acme as Admin (MFA)\x1b[0m" in shown.splitlines()


# JSON


def test_json_carries_access_and_findings_as_objects() -> None:
    shown = json.loads(render.as_json(REVIEWED))

    assert shown["access"] == [
        {
            "change": "grant",
            "user": "carol",
            "group": "Readers",
            "account": "acme-prod",
            "account_id": ACME,
            "role": "ReadOnly",
            "mfa": False,
        },
        {
            "change": "revoke",
            "user": "carol",
            "group": "Readers",
            "account": "acme-prod",
            "account_id": ACME,
            "role": "ReadOnly",
            "mfa": True,
        },
    ]
    assert shown["findings"] == [
        {
            "kind": "access",
            "account": "shared",
            "resource": "Admin",
            "detail": "erin can assume it through their own policy (hop), which the document "
            "does not declare",
            "users": ["erin"],
        }
    ]


def test_json_shows_a_grant_on_an_account_to_create_with_null_id() -> None:
    grant = AccessChange("beta", "Admin", "dave", AccessAction.GRANT, "", None, True)

    (shown,) = json.loads(render.as_json(plan.Plan(access=(grant,))))["access"]

    assert (shown["account_id"], shown["group"]) == (None, None)


def test_json_shows_policy_documents_as_objects() -> None:
    (change,) = json.loads(render.as_json(plan.Plan.of([INLINE])))["changes"]

    assert change["before"] is None
    assert change["after"] == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
    }


def test_json_keeps_hostile_names_exact_in_ascii() -> None:
    p = plan.Plan(findings=(Finding("access", HOSTILE, "Admin", HOSTILE, (HOSTILE,)),))
    shown = render.as_json(p)

    assert shown.isascii()
    assert json.loads(shown)["findings"][0]["users"] == [HOSTILE]


# markdown


def test_markdown_puts_the_summary_first_and_only_the_title_is_a_heading() -> None:
    html = _html(render.markdown(REVIEWED))
    page = _Page(html)

    assert html.startswith("<h3>reconciler plan</h3>\n")
    assert [t for t in page.tags if t in {"h1", "h2", "h3", "h4", "h5", "h6"}] == ["h3"]
    assert html.index("<strong>Plan: 0 to create, 3 to update, 0 to delete.</strong>") < (
        html.index("<pre>")
    )


def test_markdown_shows_the_access_effect_then_the_findings_in_code_blocks() -> None:
    text = render.markdown(REVIEWED)

    assert (
        "**Access effect:** 1 granted, 1 revoked\n\n```diff\n"
        "+ carol -> acme-prod as ReadOnly\n- carol -> acme-prod as ReadOnly (MFA)\n```\n"
    ) in text
    assert (
        "**Findings:** 1 way in the document does not declare\n\n```text\n"
        "! access shared/Admin: erin can assume it through their own policy (hop), which the "
        "document does not declare\n```\n"
    ) in text
    assert text.index("**Access effect:**") < text.index("**Findings:**") < text.index("~ role")


def test_a_short_plan_is_not_folded() -> None:
    p = plan.Plan.of([GRANTS, plan.AddMember("Admins", "dave")])
    page = _Page(_html(render.markdown(p)))

    assert "details" not in page.tags
    assert page.tags.count("pre") == 1


def test_markdown_puts_policy_diffs_with_the_sign_in_the_first_column() -> None:
    text = render.markdown(plan.Plan.of([GRANTS]))

    assert (
        "**Changes:**\n\n"
        "```diff\n~ group Admins: grant arn:aws:iam::333333333333:role/Deploy\n"
        "            ],\n"
        '            "Effect": "Allow",\n'
        '            "Resource": [\n'
        '-             "arn:aws:iam::222222222222:role/Admin"\n'
        '+             "arn:aws:iam::222222222222:role/Admin",\n'
        '+             "arn:aws:iam::333333333333:role/Deploy"\n'
        "            ]\n"
        "          }\n"
        "        ],\n```\n"
    ) in text


def test_a_long_plan_folds_its_changes_per_account_units_and_groups_apart() -> None:
    page = _Page(_html(render.markdown(_long_plan())))
    summaries = [summary for summary, _ in page.details]

    assert summaries == [
        "organizational units: 1 change",
        "account acme-prod: 30 changes",
        "account shared: 1 change",
        "groups in the source account: 1 change",
        "Notes",
    ]
    folded = dict(page.details)
    assert folded["organizational units: 1 change"] == "+ unit Clients: create under the root\n"
    assert folded["account shared: 1 change"] == (
        "~ role shared/Admin: max session duration 3600 -> 7200 s\n"
    )
    assert folded["groups in the source account: 1 change"] == (
        "+ membership Admins/dave: add user dave to group Admins\n"
    )
    acme = folded["account acme-prod: 30 changes"].splitlines()
    assert acme[0] == "~ role acme-prod/Deploy: attach arn:aws:iam::aws:policy/P00"
    assert len(acme) == 30


def test_a_long_plan_keeps_policy_diffs_with_their_change() -> None:
    p = plan.Plan.of([*_long_plan().changes, INLINE])
    folded = dict(_Page(_html(render.markdown(p))).details)

    acme = folded["account acme-prod: 31 changes"].splitlines()
    assert acme[-15:] == [
        "~ role acme-prod/ReadOnly: add inline policy deny",
        "+     {",
        '+       "Statement": [',
        "+         {",
        '+           "Action": [',
        '+             "s3:*"',
        "+           ],",
        '+           "Effect": "Deny",',
        '+           "Resource": [',
        '+             "*"',
        "+           ]",
        "+         }",
        "+       ],",
        '+       "Version": "2012-10-17"',
        "+     }",
    ]


def test_notes_are_folded_even_in_a_short_plan() -> None:
    p = plan.Plan(unreachable={"beta": "AccessDenied"})
    html = _html(render.markdown(p))

    assert (
        "<details><summary>Notes</summary>\n"
        '<pre><code class="language-text">- ? account beta unreachable: AccessDenied\n'
        "</code></pre>\n</details>"
    ) in html


def test_the_summary_comes_before_the_folded_changes() -> None:
    html = _html(render.markdown(_long_plan()))

    assert html.index("<strong>Plan: 2 to create, 31 to update, 0 to delete.</strong>") < (
        html.index("<details>")
    )


def test_hostile_names_stay_inside_code_blocks_in_markdown() -> None:
    hostile_change = plan.AttachRolePolicy(HOSTILE, None, "Deploy", "arn:aws:iam::aws:policy/X")
    p = plan.Plan.of(
        [*_long_plan().changes, hostile_change],
        unreachable={HOSTILE: HOSTILE},
        access=(AccessChange(HOSTILE, "Admin", HOSTILE, AccessAction.GRANT, HOSTILE, None, True),),
        findings=(Finding("access", HOSTILE, "Admin", HOSTILE, (HOSTILE,)),),
    )
    page = _Page(_html(render.markdown(p)))

    assert set(page.tags) == {"h3", "p", "strong", "pre", "code", "details", "summary"}
    assert page.tags.count("h3") == 1
    assert "EVIL" not in page.outside_code.replace(
        "account eve\\n# EVIL\\x1b[2J\\u202e```<img src=x onerror=alert(1)>@here "
        "https://evil.example: 1 change",
        "",
    )


def test_a_hostile_account_name_in_a_fold_summary_is_text() -> None:
    hostile_change = plan.AttachRolePolicy(HOSTILE, None, "Deploy", "arn:aws:iam::aws:policy/X")
    p = plan.Plan.of([*_long_plan().changes, hostile_change])
    html = _html(render.markdown(p))

    assert (
        "<details><summary>account eve\\n# EVIL\\x1b[2J\\u202e```&lt;img src=x "
        "onerror=alert(1)&gt;@here https://evil.example: 1 change</summary>"
    ) in html
    assert "<img" not in html and "<a " not in html


def test_a_fence_is_longer_than_any_backtick_run_inside_it() -> None:
    p = plan.Plan(findings=(Finding("access", "a", "Admin", "x `````` y", ("u",)),))
    text = render.markdown(p)

    assert "```````text\n! access a/Admin: x `````` y\n```````\n" in text
    page = _Page(_html(text))
    assert "``````" not in page.outside_code


def _findings(count: int) -> tuple[Finding, ...]:
    return tuple(
        Finding("access", f"a{i:03}", "Admin", "mallory can assume it", ("mallory",))
        for i in range(count)
    )


def test_a_short_list_of_findings_is_not_folded() -> None:
    page = _Page(_html(render.markdown(plan.Plan(findings=_findings(render.FOLD_AFTER)))))

    assert "details" not in page.tags


def test_a_long_list_of_findings_is_folded() -> None:
    page = _Page(_html(render.markdown(plan.Plan(findings=_findings(31)))))

    assert [summary for summary, _ in page.details] == ["31 findings"]
    assert "**Findings:** 31 ways in" in render.markdown(plan.Plan(findings=_findings(31)))


def test_a_very_long_access_effect_is_cut_with_a_count_of_the_rest() -> None:
    grants = tuple(
        AccessChange(f"a{i:03}", "Admin", "dave", AccessAction.GRANT, "G", None, False)
        for i in range(203)
    )
    (folded,) = _Page(_html(render.markdown(plan.Plan(access=grants)))).details

    assert folded[0] == "203 access changes"
    lines = folded[1].splitlines()
    assert len(lines) == 201
    assert lines[0] == "+ dave -> a000 as Admin"
    assert lines[199] == "+ dave -> a199 as Admin"
    assert lines[200] == "... and 3 more in the text or JSON plan"


def test_distant_changes_in_one_policy_are_two_hunks_apart() -> None:
    arns = [f"arn:aws:iam::{i:012}:role/R" for i in range(1, 13)]
    before = _grants(*arns)
    after = _grants("arn:aws:iam::000000000000:role/R", *arns[:-1])
    lines = render.text(plan.Plan.of([plan.PutGroupGrants("G", before, after)])).splitlines()

    assert lines[1:9] == [
        "            ],",
        '            "Effect": "Allow",',
        '            "Resource": [',
        '    +         "arn:aws:iam::000000000000:role/R",',
        '              "arn:aws:iam::000000000001:role/R",',
        '              "arn:aws:iam::000000000002:role/R",',
        '              "arn:aws:iam::000000000003:role/R",',
        "      ...",
    ]
    assert lines[9:17] == [
        '              "arn:aws:iam::000000000008:role/R",',
        '              "arn:aws:iam::000000000009:role/R",',
        '              "arn:aws:iam::000000000010:role/R",',
        '    -         "arn:aws:iam::000000000011:role/R",',
        '    -         "arn:aws:iam::000000000012:role/R"',
        '    +         "arn:aws:iam::000000000011:role/R"',
        "            ]",
        "          }",
    ]


def test_colour_never_reaches_markdown_or_json() -> None:
    assert "\x1b" not in render.render(REVIEWED, render.Format.MARKDOWN, colour=True)
    assert "\x1b" not in render.render(REVIEWED, render.Format.JSON, colour=True)


def test_a_plan_without_access_changes_has_no_access_effect_block() -> None:
    shown = render.text(plan.Plan.of([plan.CreateUnit(("Clients",))]))

    assert (
        shown
        == "+ unit Clients: create under the root\nPlan: 1 to create, 0 to update, 0 to delete.\n"
    )


def test_findings_alone_still_say_nothing_changes() -> None:
    assert render.text(plan.Plan(findings=(FINDING,))).splitlines() == [
        "! access shared/Admin: erin can assume it through their own policy (hop), which the "
        "document does not declare",
        "No changes. The organization matches the document.",
        "Plan: 0 to create, 0 to update, 0 to delete.",
    ]
