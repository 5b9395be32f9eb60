"""Instantiating a policy calendar into explicit UTC working intervals.

This is the only place that consults timezones and public-holiday data.  The
result, a :class:`~.business_time.CaseCalendar`, is plain data: a workflow
counts deadlines on it without any look-up, and it records the versions of the
holiday data and tzdata it was built from.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import zoneinfo
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .business_time import DAY, CaseCalendar
from .model import Calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "system"


def zone_data_version(tzpath: Iterable[str] | None = None) -> str:
    """Where ``zoneinfo`` reads its zone data, and that data's version.

    ``zoneinfo`` looks in the system folders of ``TZPATH`` first and falls back to the
    ``tzdata`` package: the first folder that holds zones is the source
    (``system 2025b (/usr/share/zoneinfo)``), else the package (``tzdata 2025.2``).
    """
    for folder in zoneinfo.TZPATH if tzpath is None else tzpath:
        root = Path(folder)
        if not (root / "UTC").is_file():
            continue
        version = "unknown"
        try:
            first = (root / "tzdata.zi").read_text("utf-8").partition("\n")[0]
        except (OSError, UnicodeDecodeError):
            first = ""
        if first.startswith("# version "):
            version = first.removeprefix("# version ").strip()
        return f"system {version} ({folder})"
    return f"tzdata {_version('tzdata')}"


HOLIDAYS_VERSION = _version("holidays")
TZDATA_VERSION = zone_data_version()


class CalendarError(ValueError):
    """A calendar that cannot be instantiated (unknown timezone, country, subdivision)."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(f'unknown timezone "{name}"') from None


def parse_range(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` → minutes since midnight (540, 1050)."""
    start, end = (part.strip() for part in text.split("-"))
    h1, m1 = (int(x) for x in start.split(":"))
    h2, m2 = (int(x) for x in end.split(":"))
    return h1 * 60 + m1, h2 * 60 + m2


@lru_cache(maxsize=256)
def holiday_names(
    country: str, subdivision: str | None, years: tuple[int, ...], categories: tuple[str, ...]
) -> dict[dt.date, str]:
    """Public holidays from the ``holidays`` package (observed/substitute days included)."""
    import holidays

    try:
        kwargs: dict[str, object] = {"subdiv": subdivision, "years": years}
        if categories:
            kwargs["categories"] = categories
        table = holidays.country_holidays(country, **kwargs)  # type: ignore[arg-type]
    except NotImplementedError:
        raise CalendarError(f'no public-holiday data for country "{country}"') from None
    except (ValueError, KeyError) as exc:
        raise CalendarError(str(exc).strip().splitlines()[0]) from None
    return dict(table.items())


def supported_subdivisions(country: str) -> list[str]:
    import holidays

    try:
        return sorted(holidays.list_supported_countries().get(country, []))
    except Exception:  # pragma: no cover - depends on the holidays release
        return []


def _utc(tz: ZoneInfo, day: dt.date, minute: int) -> int:
    if minute >= 1440:
        return _utc(tz, day + dt.timedelta(days=1), minute - 1440)
    local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
    return int(local.timestamp())


def _offset_changes(tz: ZoneInfo, start: int, end: int, step: int = 6 * 3600) -> list[tuple[int, int]]:
    """``(instant, offset)`` pairs: the UTC offset from each instant on (looked at every
    ``step`` seconds, each change found to the second)."""

    def offset(t: int) -> int:
        delta = dt.datetime.fromtimestamp(t, tz).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    changes = [(start - DAY, offset(start - DAY))]
    t = start - DAY
    while t < end + DAY:
        nxt = t + step
        if offset(nxt) != changes[-1][1]:
            lo, hi = t, nxt  # binary search to the second of the transition
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == changes[-1][1]:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, offset(hi)))
        t = nxt
    return changes


def working_ranges(spec: Calendar, day: dt.date, closed: dict[dt.date, str]) -> list[tuple[int, int]]:
    """Working minutes of one local date, after holidays, closed and extra open days."""
    for extra in spec.open:
        if extra.date == day:
            return sorted(parse_range(r) for r in extra.hours)
    if day in closed:
        return []
    return sorted(parse_range(r) for r in spec.hours.get(WEEKDAYS[day.weekday()], []))  # type: ignore[call-overload]


def closed_dates(spec: Calendar, years: Iterable[int]) -> dict[dt.date, str]:
    """Every date closed by public holidays or the firm's own closed days."""
    year_tuple = tuple(sorted(set(years)))
    out: dict[dt.date, str] = {}
    for source in spec.holidays:
        out.update(holiday_names(source.country, source.subdivision, year_tuple, tuple(source.categories)))
    for day in spec.closed:
        out.setdefault(day, "closed")
    return out


def nominal_day_seconds(spec: Calendar) -> int:
    """Length of a working day: the setting, or the longest weekday's hours."""
    if spec.business_day_hours:
        return int(spec.business_day_hours * 3600)
    best = 0
    for ranges in spec.hours.values():
        best = max(best, sum(b - a for a, b in (parse_range(r) for r in ranges)))
    return best * 60


def _add_day(intervals: list[tuple[int, int]], day: list[tuple[int, int]]) -> None:
    """Append one local date's working intervals, kept disjoint and in order.

    Ranges of the same date that touch or overlap are merged.  Ranges of
    different dates are never merged, even when one day's work ends at 24:00
    and the next day's starts at 00:00: every interval must belong to exactly
    one local date, or business days could not be told apart (a 24/7
    calendar would be a single business day).  A range that starts before
    the previous interval ends (possible only around a clock change) is
    clipped to start where the previous one ends.
    """
    first_of_day = len(intervals)
    for ua, ub in sorted(day):
        if len(intervals) > first_of_day and intervals[-1][1] >= ua:
            a, b = intervals[-1]
            intervals[-1] = (a, max(b, ub))
            continue
        if intervals:
            ua = max(ua, intervals[-1][1])
        if ub > ua:
            intervals.append((ua, ub))


def instantiate_calendar(
    name: str, spec: Calendar, start: dt.datetime, days: int, far_days: int = 0
) -> CaseCalendar:
    """Working time of ``spec`` from the local day before ``start`` for ``days`` days, and its
    UTC offsets for ``far_days`` days when that is longer (long calendar periods)."""
    tz = zone(spec.timezone)
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = first + dt.timedelta(days=days + 1)
    closed = closed_dates(spec, range(first.year, last.year + 1))
    intervals: list[tuple[int, int]] = []
    closed_in_range: list[tuple[int, str]] = []
    day = first
    while day <= last:
        if day in closed:
            closed_in_range.append((day.toordinal(), closed[day]))
        _add_day(
            intervals, [(_utc(tz, day, a), _utc(tz, day, b)) for a, b in working_ranges(spec, day, closed)]
        )
        day += dt.timedelta(days=1)
    horizon_start = _utc(tz, first, 0)
    horizon_end = _utc(tz, last, 1440) - 1
    offsets = _offset_changes(tz, horizon_start, horizon_end)
    far_end = 0
    if far_days > days:
        far_end = _utc(tz, first + dt.timedelta(days=far_days + 1), 1440) - 1
        # past the working time, a look a day apart finds every change (none is a day apart)
        offsets += [c for c in _offset_changes(tz, horizon_end, far_end, DAY) if c[0] > offsets[-1][0]]
        back = horizon_start - (far_days - days) * DAY
        offsets = [c for c in _offset_changes(tz, back, horizon_start, DAY) if c[0] < offsets[0][0]] + offsets
        offsets = [c for i, c in enumerate(offsets) if i == 0 or c[1] != offsets[i - 1][1]]
    return CaseCalendar(
        name=name,
        timezone=spec.timezone,
        start=horizon_start,
        end=horizon_end,
        intervals=tuple(intervals),
        offsets=tuple(offsets),
        business_day_seconds=nominal_day_seconds(spec),
        closed_days=tuple(closed_in_range),
        far_end=far_end,
    )
