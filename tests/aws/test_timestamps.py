"""Timestamps in AWS's answers are read as botocore reads them, whichever form they take."""

from __future__ import annotations

import datetime

import pytest

from reconciler.aws.sessions import _timestamp

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T13:47:37Z", datetime.datetime(2026, 12, 4, 13, 47, 37, tzinfo=UTC)),
        ("2026-12-04T13:47:37.250Z", datetime.datetime(2026, 12, 4, 13, 47, 37, 250000, UTC)),
        (
            "2026-12-04T15:47:37+02:00",
            datetime.datetime(2026, 12, 4, 13, 47, 37, tzinfo=UTC),
        ),
        ("Fri, 04 Dec 2026 13:47:37 GMT", datetime.datetime(2026, 12, 4, 13, 47, 37, tzinfo=UTC)),
        ("1796392057", datetime.datetime(2026, 12, 4, 13, 47, 37, tzinfo=UTC)),
    ],
)
def test_each_form_aws_uses_gives_the_same_moment(text: str, expected: datetime.datetime) -> None:
    parsed = _timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_a_time_without_a_zone_is_read_as_botocore_reads_it() -> None:
    parsed = _timestamp("2026-12-04T13:47:37")
    assert parsed.replace(tzinfo=None) == datetime.datetime(2026, 12, 4, 13, 47, 37)


def test_text_that_is_no_time_is_refused() -> None:
    with pytest.raises(ValueError):
        _timestamp("not a time")
