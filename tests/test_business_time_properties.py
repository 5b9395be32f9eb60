"""Properties of business-time arithmetic over random calendars.

Calendars are drawn at random: a timezone from a list that includes zones with
daylight-saving time (northern and southern hemisphere, 30-minute changes,
changes at midnight), weekly hours with split shifts, closed days and extra
open days; complaints are received at random instants, often exactly at or
next to an opening or a close.

"Working time" is the union of the calendar's half-open working intervals
``[a, b)``.  A deadline ``d`` in business units is *at or inside working
time* when some working interval ``[a, b)`` has ``a < d <= b``: the second
before the deadline is worked, so the deadline is either inside an interval
or exactly at its end (the close), never at an opening reached after a
break.  Checks of local dates use ``zoneinfo`` directly, not the code under
test.
"""

from __future__ import annotations

import bisect
import calendar as month_calendar
import datetime as dt
import json
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ombuds.engine.policy.business_time import CaseCalendar, CountingRules
from ombuds.engine.policy.calendar import instantiate_calendar
from ombuds.engine.policy.durations import Duration, Unit
from ombuds.engine.policy.model import Calendar

TIMEZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # 30-minute DST change
    "America/St_Johns",  # -03:30 / -02:30
    "America/Santiago",  # clocks change at midnight
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # +05:30, no DST
]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Receipts fall in the 60 days after a base date; the two windows hold the
# 2026 clock changes of every zone above.
BASES = (dt.date(2026, 3, 1), dt.date(2026, 9, 1))
WINDOW_DAYS = 60
HORIZON_DAYS = 200

MAX_BUSINESS_HOURS = 40
MAX_BUSINESS_DAYS = 20

PROFILE = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- strategies


def _clock(quarter_hours: int) -> str:
    return f"{quarter_hours // 4:02d}:{quarter_hours % 4 * 15:02d}"


def _ranges(points: list[int]) -> list[str]:
    """Sorted distinct points paired into ranges: [36, 50, 54, 70] -> 09:00-12:30, 13:30-17:30."""
    points = sorted(points)
    return [f"{_clock(points[i])}-{_clock(points[i + 1])}" for i in range(0, len(points) - 1, 2)]


# A point of the day on a 15-minute grid; midnight at either end is drawn often,
# so that work runs from one day into the next.
POINT = st.integers(0, 96) | st.sampled_from([0, 96])
# Up to three working ranges a day (split shifts); an odd last point is dropped.
DAY_RANGES = st.lists(POINT, max_size=6, unique=True).map(_ranges)
OPEN_DAY_RANGES = st.lists(POINT, min_size=2, max_size=6, unique=True).map(_ranges)


def _minutes(ranges: list[str]) -> int:
    total = 0
    for text in ranges:
        start, end = text.split("-")
        total += (int(end[:2]) * 60 + int(end[3:])) - (int(start[:2]) * 60 + int(start[3:]))
    return total


def _enough_work(hours: dict[str, list[str]]) -> bool:
    """At least two weekdays with two hours or more, so deadlines fit the horizon."""
    return sum(1 for ranges in hours.values() if _minutes(ranges) >= 120) >= 2


def _spec_json(
    base: dt.date,
    timezone: str,
    hours: dict[str, list[str]],
    closed: list[int],
    open_days: list[tuple[int, list[str]]],
) -> tuple[str, dt.date]:
    """A calendar spec as canonical JSON (so it can be cached) and its base date."""
    spec: dict[str, Any] = {
        "timezone": timezone,
        "hours": {day: ranges for day, ranges in hours.items() if ranges},
        "closed": [(base + dt.timedelta(days=d)).isoformat() for d in sorted(closed)],
        "open": [
            {"date": (base + dt.timedelta(days=d)).isoformat(), "hours": ranges} for d, ranges in open_days
        ],
    }
    return json.dumps(spec, sort_keys=True), base


def _first(item: tuple[int, list[str]]) -> int:
    return item[0]


CALENDARS = st.builds(
    _spec_json,
    base=st.sampled_from(BASES),
    timezone=st.sampled_from(TIMEZONES),
    hours=st.fixed_dictionaries({day: DAY_RANGES for day in WEEKDAYS}).filter(_enough_work),
    closed=st.lists(st.integers(0, WINDOW_DAYS + 30), max_size=5, unique=True),
    open_days=st.lists(
        st.tuples(st.integers(0, WINDOW_DAYS + 30), OPEN_DAY_RANGES), max_size=2, unique_by=_first
    ),
)


@lru_cache(maxsize=512)
def _spec(spec_json: str) -> Calendar:
    return Calendar.model_validate(json.loads(spec_json))


@lru_cache(maxsize=512)
def instantiate(spec_json: str, base: dt.date) -> CaseCalendar:
    spec = _spec(spec_json)
    start = dt.datetime(base.year, base.month, base.day, tzinfo=ZoneInfo(spec.timezone))
    return instantiate_calendar("random", spec, start, HORIZON_DAYS)


class Case(NamedTuple):
    """A random calendar, the spec it was built from, and a receipt instant."""

    cal: CaseCalendar
    spec: Calendar
    t: int


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A random calendar and a receipt instant in its window, often at a boundary."""
    spec_json, base = draw(CALENDARS)
    cal = instantiate(spec_json, base)
    spec = _spec(spec_json)
    tz = ZoneInfo(cal.timezone)
    lo = int(dt.datetime(base.year, base.month, base.day, tzinfo=tz).timestamp())
    hi = lo + WINDOW_DAYS * 86_400
    if draw(st.booleans()):
        return Case(cal, spec, draw(st.integers(lo, hi)))
    edges = [x for interval in cal.intervals for x in interval if lo <= x <= hi]
    return Case(cal, spec, draw(st.sampled_from(edges)) + draw(st.sampled_from((-1, 0, 1))))


rules_strategy = st.builds(
    CountingRules,
    receipt_day=st.sampled_from(["excluded", "included"]),
    business_days=st.sampled_from(["close_of_business", "working_hours"]),
    out_of_hours=st.sampled_from(["next_opening", "as_received"]),
    end_of_day=st.booleans(),
)


# --------------------------------------------------------------------------- independent helpers


def _containing(cal: CaseCalendar, d: int) -> tuple[int, int] | None:
    """The working interval ``[a, b)`` with ``a < d <= b``, if any (by a linear scan)."""
    for a, b in cal.intervals:
        if a < d <= b:
            return a, b
    return None


def _first_working_instant(cal: CaseCalendar, t: int) -> int:
    """``t`` if it is worked, else the next interval start (by a linear scan)."""
    for a, b in cal.intervals:
        if b > t:
            return max(a, t)
    raise AssertionError("no working time after the receipt")


def _local_date(cal: CaseCalendar, t: int) -> dt.date:
    return dt.datetime.fromtimestamp(t, ZoneInfo(cal.timezone)).date()


def _instant(tz: ZoneInfo, date: dt.date, clock: str) -> int:
    hours, minutes = int(clock[:2]), int(clock[3:])
    if hours == 24:
        date, hours = date + dt.timedelta(days=1), 0
    return int(dt.datetime(date.year, date.month, date.day, hours, minutes, tzinfo=tz).timestamp())


def _spec_close(spec: Calendar, date: dt.date) -> int | None:
    """Close of business on ``date`` read from the spec itself, or None on a non-business date.

    Extra open days replace the weekly hours; closed days have none.  Wall-clock
    times are read with ``zoneinfo`` (``fold=0``).
    """
    tz = ZoneInfo(spec.timezone)
    ranges: list[str] = []
    extra = [day for day in spec.open if day.date == date]
    if extra:
        ranges = list(extra[0].hours)
    elif date not in spec.closed:
        ranges = list(spec.hours.get(WEEKDAYS[date.weekday()], []))  # type: ignore[call-overload]
    closes = []
    for text in ranges:
        start, end = (part.strip() for part in text.split("-"))
        a, b = _instant(tz, date, start), _instant(tz, date, end)
        if b > a:
            closes.append(b)
    return max(closes) if closes else None


def _shift_months(date: dt.date, months: int) -> dt.date:
    year, month = divmod(date.month - 1 + months, 12)
    year += date.year
    last = month_calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(date.day, last))


# --------------------------------------------------------------------------- properties


@PROFILE
@given(
    case=cases(),
    unit=st.sampled_from(["business_minutes", "business_hours", "business_days"]),
    amount=st.integers(1, MAX_BUSINESS_DAYS),
    rules=rules_strategy,
)
def test_business_deadline_is_at_or_inside_working_time(
    case: Case, unit: Unit, amount: int, rules: CountingRules
) -> None:
    cal, _, t = case
    if unit == "business_minutes":
        amount *= 37
    due = cal.due(t, Duration(amount, unit), rules)
    assert due > t
    assert _containing(cal, due) is not None, "the second before the deadline is not working time"
    assert cal.is_working(due - 1)


@PROFILE
@given(case=cases(), amount=st.integers(1, MAX_BUSINESS_DAYS), included=st.booleans())
def test_business_days_end_at_close_of_the_nth_business_day(case: Case, amount: int, included: bool) -> None:
    """Close of business on the Nth business date, the dates counted from the spec itself."""
    cal, spec, t = case
    rules = CountingRules(receipt_day="included" if included else "excluded")
    due = cal.due(t, Duration(amount, "business_days"), rules)
    date = _local_date(cal, _first_working_instant(cal, t))
    if not included:
        date += dt.timedelta(days=1)
    counted = 0
    while True:
        close = _spec_close(spec, date)
        if close is not None:
            counted += 1
            if counted == amount:
                break
        date += dt.timedelta(days=1)
    assert due == close, f"expected the close of {date}"


@PROFILE
@given(
    case=cases(),
    unit=st.sampled_from(
        ["minutes", "hours", "business_minutes", "business_hours", "business_days", "days", "weeks", "months"]
    ),
    amount=st.integers(0, 7),
    rules=rules_strategy,
)
def test_deadlines_never_decrease_as_n_grows(
    case: Case, unit: Unit, amount: int, rules: CountingRules
) -> None:
    cal, _, t = case
    scale = {"business_minutes": 45, "days": 5, "business_days": 2}.get(unit, 1)
    if unit == "months":
        amount %= 3
    n = amount * scale
    earlier = cal.due(t, Duration(n, unit), rules)
    later = cal.due(t, Duration(n + scale, unit), rules)
    assert earlier <= later
    if unit in ("minutes", "hours", "business_minutes", "business_hours"):
        assert earlier < later


@PROFILE
@given(
    case=cases(),
    first=st.integers(0, MAX_BUSINESS_HOURS // 2),
    second=st.integers(1, MAX_BUSINESS_HOURS // 2),
    first_seconds=st.integers(0, 20 * 3600),
    second_seconds=st.integers(0, 20 * 3600),
)
def test_adding_n_then_m_business_hours_equals_adding_n_plus_m(
    case: Case, first: int, second: int, first_seconds: int, second_seconds: int
) -> None:
    cal, _, t = case
    rules = CountingRules()
    step = cal.due(t, Duration(first, "business_hours"), rules)
    assert cal.due(step, Duration(second, "business_hours"), rules) == cal.due(
        t, Duration(first + second, "business_hours"), rules
    )
    via = cal.add_business_seconds(cal.add_business_seconds(t, first_seconds), second_seconds)
    assert via == cal.add_business_seconds(t, first_seconds + second_seconds)


@PROFILE
@given(
    case=cases(), into=st.floats(0, 1, exclude_max=True), seconds=st.integers(0, MAX_BUSINESS_HOURS * 3600)
)
def test_business_seconds_between_inverts_adding_them(case: Case, into: float, seconds: int) -> None:
    cal, _, received = case
    # a working instant: somewhere inside the first working interval that ends after the receipt
    a = _first_working_instant(cal, received)
    b = cal.intervals[bisect.bisect_right([s for s, _ in cal.intervals], a) - 1][1]
    t = a + int((b - a) * into)
    assert cal.is_working(t)
    assert cal.business_seconds_between(t, cal.add_business_seconds(t, seconds)) == seconds
    # and from any instant of the horizon, worked or not
    assert cal.business_seconds_between(received, cal.add_business_seconds(received, seconds)) == seconds


@PROFILE
@given(case=cases())
def test_next_opening_is_the_first_working_instant(case: Case) -> None:
    cal, _, t = case
    opening = cal.next_opening(t)
    assert opening == _first_working_instant(cal, t)
    assert cal.is_working(opening)
    assert cal.business_seconds_between(t, opening) == 0


@PROFILE
@given(
    case=cases(),
    unit=st.sampled_from(["days", "weeks", "months"]),
    amount=st.integers(0, 8),
    rules=rules_strategy,
)
def test_calendar_deadlines_end_at_the_end_of_the_local_day(
    case: Case, unit: Unit, amount: int, rules: CountingRules
) -> None:
    cal, _, t = case
    if unit == "months":
        amount = amount % 3
    rules = CountingRules(receipt_day=rules.receipt_day, out_of_hours=rules.out_of_hours, end_of_day=True)
    due = cal.due(t, Duration(amount, unit), rules)
    start = t if rules.out_of_hours == "as_received" else _first_working_instant(cal, t)
    start_date = _local_date(cal, start)
    if unit == "months":
        target = _shift_months(start_date, amount)
    else:
        target = start_date + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))
    if rules.receipt_day == "included" and amount > 0:
        target -= dt.timedelta(days=1)
    assert _local_date(cal, due) == target
    assert _local_date(cal, due + 1) == target + dt.timedelta(days=1)


@PROFILE
@given(
    case=cases(), amount=st.integers(0, 48), unit=st.sampled_from(["minutes", "hours"]), rules=rules_strategy
)
def test_elapsed_time_ignores_working_time(case: Case, amount: int, unit: Unit, rules: CountingRules) -> None:
    cal, _, t = case
    per = 60 if unit == "minutes" else 3600
    assert cal.due(t, Duration(amount, unit), rules) == t + amount * per
