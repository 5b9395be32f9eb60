"""Deadlines counted the way real procedures count them.

The table in ``data/deadlines.yaml`` holds cases whose expected values were
worked out by hand; each is checked against :meth:`CaseCalendar.due`.  The
direct tests below cover the horizon, month arithmetic and working-time spans.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from ombuds.engine.policy.business_time import (
    CaseCalendar,
    CountingRules,
    HorizonExceeded,
    add_months,
)
from ombuds.engine.policy.calendar import instantiate_calendar
from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.model import Calendar, Counting

TABLE_PATH = Path(__file__).resolve().parent / "data" / "deadlines.yaml"
TABLE: dict[str, Any] = yaml.safe_load(TABLE_PATH.read_text(encoding="utf-8"))
CALENDARS: dict[str, dict[str, Any]] = TABLE["calendars"]
CASES: list[dict[str, Any]] = TABLE["cases"]

# Generous: the longest case is one year from receipt.
HORIZON_DAYS = 400


def _calendar_spec(case: dict[str, Any]) -> tuple[str, Calendar]:
    ref = case["calendar"]
    if isinstance(ref, str):
        return ref, Calendar.model_validate(CALENDARS[ref])
    return f"inline:{case['id']}", Calendar.model_validate(ref)


def _rules(case: dict[str, Any]) -> CountingRules:
    counting = Counting.model_validate(case.get("counting") or {})
    return CountingRules(
        receipt_day=counting.receipt_day,
        business_days=counting.business_days,
        out_of_hours=counting.out_of_hours,
        end_of_day=counting.end_of_day,
    )


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} has no UTC offset"
    return value


def _utc(text: str) -> int:
    return int(_aware(text).timestamp())


@cache
def _named_calendar(name: str, received: str) -> CaseCalendar:
    spec = Calendar.model_validate(CALENDARS[name])
    return instantiate_calendar(name, spec, _aware(received), HORIZON_DAYS)


def _case_calendar(case: dict[str, Any]) -> tuple[CaseCalendar, str]:
    name, spec = _calendar_spec(case)
    if isinstance(case["calendar"], str):
        return _named_calendar(name, case["received"]), spec.timezone
    return instantiate_calendar(name, spec, _aware(case["received"]), HORIZON_DAYS), spec.timezone


# --------------------------------------------------------------------------- the table


def test_table_has_enough_distinct_cases() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids), "case ids must be unique"
    for case in CASES:
        assert set(case) <= {"id", "calendar", "received", "duration", "counting", "expected", "reason"}
        assert str(case.get("reason", "")).strip(), f"{case['id']} has no reason"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_table_instants_are_local_times(case: dict[str, Any]) -> None:
    """Received and expected instants are written with the calendar's own offset."""
    _, spec = _calendar_spec(case)
    tz = ZoneInfo(spec.timezone)
    for key in ("received", "expected"):
        written = _aware(case[key])
        assert written.utcoffset() == written.astimezone(tz).utcoffset(), f"{key} {case[key]}"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_deadline(case: dict[str, Any]) -> None:
    cal, timezone = _case_calendar(case)
    duration = parse_duration(case["duration"])
    due = cal.due(_utc(case["received"]), duration, _rules(case))
    got = dt.datetime.fromtimestamp(due, ZoneInfo(timezone)).isoformat()
    expected = _aware(case["expected"]).isoformat()
    assert got == expected, case["reason"]


# --------------------------------------------------------------------------- the horizon


def _london(received: str, days: int) -> CaseCalendar:
    return instantiate_calendar(
        "london", Calendar.model_validate(CALENDARS["london"]), _aware(received), days
    )


def test_deadline_inside_a_short_horizon_is_counted() -> None:
    cal = _london("2026-01-12T10:00:00+00:00", 10)
    due = cal.due(_utc("2026-01-12T10:00:00+00:00"), parse_duration("5 business days"))
    assert due == _utc("2026-01-19T17:00:00+00:00")


@pytest.mark.parametrize("duration", ["15 business days", "100 business hours", "2 months", "8 weeks"])
def test_deadline_past_the_horizon_raises(duration: str) -> None:
    cal = _london("2026-01-12T10:00:00+00:00", 10)
    with pytest.raises(HorizonExceeded) as info:
        cal.due(_utc("2026-01-12T10:00:00+00:00"), parse_duration(duration))
    assert info.value.calendar == "london"
    assert info.value.needed > cal.end


def test_working_time_past_the_horizon_raises() -> None:
    cal = _london("2026-01-12T10:00:00+00:00", 10)
    last_close = cal.intervals[-1][1]
    with pytest.raises(HorizonExceeded):
        cal.next_opening(last_close)
    with pytest.raises(HorizonExceeded):
        cal.add_business_seconds(_utc("2026-01-12T10:00:00+00:00"), 200 * 3600)
    with pytest.raises(HorizonExceeded):
        cal.is_working(cal.end + 1)
    with pytest.raises(HorizonExceeded):
        cal.is_working(cal.start - 1)


def test_receipt_before_the_horizon_raises() -> None:
    cal = _london("2026-01-12T10:00:00+00:00", 10)
    with pytest.raises(HorizonExceeded):
        cal.due(_utc("2026-01-01T10:00:00+00:00"), parse_duration("1 business day"))


# --------------------------------------------------------------------------- add_months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-01-30", 1, "2026-02-28"),
        ("2026-01-28", 1, "2026-02-28"),
        ("2026-01-15", 1, "2026-02-15"),
        ("2026-03-31", 1, "2026-04-30"),
        ("2026-05-31", 1, "2026-06-30"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-12-31", 2, "2027-02-28"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2026-08-31", 6, "2027-02-28"),
        ("2026-01-31", 13, "2027-02-28"),
        ("2028-02-29", 12, "2029-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2026-02-28", 1, "2026-03-28"),
        ("2026-06-30", 0, "2026-06-30"),
        ("2026-03-31", -1, "2026-02-28"),
        ("2026-01-31", -2, "2025-11-30"),
        ("2026-01-31", -13, "2024-12-31"),
        ("2028-03-31", -1, "2028-02-29"),
    ],
)
def test_add_months(start: str, months: int, expected: str) -> None:
    assert add_months(dt.date.fromisoformat(start), months) == dt.date.fromisoformat(expected)


# --------------------------------------------------------------------------- business_seconds_between


@pytest.mark.parametrize(
    ("calendar", "start", "end", "seconds"),
    [
        # 11:00-12:30 and 13:30-17:30 Mon, 09:00-12:30 and 13:30-14:30 Tue: 1.5 + 4 + 3.5 + 1 h
        ("london_split", "2026-01-12T11:00:00+00:00", "2026-01-13T14:30:00+00:00", 10 * 3600),
        # the lunch break does not count: 12:00-12:30 and 13:30-14:00
        ("london_split", "2026-01-12T12:00:00+00:00", "2026-01-12T14:00:00+00:00", 3600),
        # Fri 16:00-17:00 and Mon 09:00-10:00
        ("london", "2026-01-16T16:00:00+00:00", "2026-01-19T10:00:00+00:00", 2 * 3600),
        # Sat to Mon opening: no working time
        ("london", "2026-01-17T10:00:00+00:00", "2026-01-19T09:00:00+00:00", 0),
        # same instant
        ("london", "2026-01-14T11:00:00+00:00", "2026-01-14T11:00:00+00:00", 0),
        # backwards is negative
        ("london", "2026-01-19T10:00:00+00:00", "2026-01-16T16:00:00+00:00", -2 * 3600),
        # Good Friday and Easter Monday are not counted: Thu 2 Apr 16-17, Tue 7 Apr 09-10
        ("london", "2026-04-02T16:00:00+01:00", "2026-04-07T10:00:00+01:00", 2 * 3600),
        # across the spring change: Sat 13-17 GMT and Sun 09-15 BST are 10 wall-clock hours
        ("london_7d", "2026-03-28T13:00:00+00:00", "2026-03-29T15:00:00+01:00", 10 * 3600),
        # the 00:00-06:00 shift on the New York spring-forward night is 5 real hours
        ("new_york_night", "2026-03-08T00:00:00-05:00", "2026-03-08T06:00:00-04:00", 5 * 3600),
    ],
)
def test_business_seconds_between(calendar: str, start: str, end: str, seconds: int) -> None:
    cal = _named_calendar(calendar, min(start, end, key=_utc))
    assert cal.business_seconds_between(_utc(start), _utc(end)) == seconds


# --------------------------------------------------------------------------- working time edges


def test_working_interval_is_half_open() -> None:
    cal = _named_calendar("london", "2026-01-14T11:00:00+00:00")
    assert cal.is_working(_utc("2026-01-14T09:00:00+00:00"))
    assert cal.is_working(_utc("2026-01-14T16:59:59+00:00"))
    assert not cal.is_working(_utc("2026-01-14T17:00:00+00:00"))
    assert not cal.is_working(_utc("2026-01-14T08:59:59+00:00"))
    assert cal.next_opening(_utc("2026-01-14T17:00:00+00:00")) == _utc("2026-01-15T09:00:00+00:00")
    assert cal.next_opening(_utc("2026-01-16T17:30:00+00:00")) == _utc("2026-01-19T09:00:00+00:00")
    assert cal.next_opening(_utc("2026-01-14T12:00:00+00:00")) == _utc("2026-01-14T12:00:00+00:00")


def test_nonstop_calendar_keeps_one_interval_per_day() -> None:
    cal = _named_calendar("nonstop", "2026-01-12T10:00:00+00:00")
    monday = _utc("2026-01-12T00:00:00+00:00")
    assert (monday, monday + 86_400) in cal.intervals
    assert cal.is_working(monday + 86_400)
    assert cal.next_opening(monday + 86_400) == monday + 86_400


def test_add_business_seconds_stays_at_the_close() -> None:
    cal = _named_calendar("london_split", "2026-01-13T09:00:00+00:00")
    start = _utc("2026-01-13T09:00:00+00:00")
    assert cal.add_business_seconds(start, 3 * 3600 + 1800) == _utc("2026-01-13T12:30:00+00:00")
    assert cal.add_business_seconds(start, 3 * 3600 + 1801) == _utc("2026-01-13T13:30:01+00:00")
    assert cal.add_business_seconds(start, 0) == start
