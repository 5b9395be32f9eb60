"""Business-time arithmetic on an instantiated case calendar.

Pure interval arithmetic: a :class:`CaseCalendar` holds a calendar's working
time as explicit UTC intervals and its UTC-offset changes over a horizon, so a
workflow can count deadlines without timezone or holiday look-ups.  All
instants are integer seconds since the Unix epoch (UTC).  A working interval
``(a, b)`` is half-open: ``a`` is working time, ``b`` is not; every interval
belongs to one local date (a day's work ending at 24:00 is not merged with the
next day's work starting at 00:00).

Conventions (docs/deadlines.md), as :meth:`CaseCalendar.due` applies them:

* Units.  ``minutes`` and ``hours`` are elapsed time.  ``business minutes``
  and ``business hours`` count working time; a result exactly at the end of a
  working interval stays there (the deadline is the close, not the next
  opening).  ``days``, ``weeks``, ``months`` and ``years`` are calendar units.
* Business days (``business_days: close_of_business``, the default) end at
  close of business, the end of the day's last working interval, on the Nth
  business day.  A business day is a local date with working time (public
  holidays and closed days have none; an extra open day has some).  With
  ``receipt_day: excluded`` (default) the day of receipt does not count and
  day one is the next business day; with ``included`` the day of receipt is
  day one.  ``business_days: working_hours`` means N times the working-day
  length (``business_day_hours``, else the longest weekday) in business
  hours; the receipt-day setting does not apply to it.
* Calendar units end at ``end of day``, 23:59:59 local time of the last day
  (``end_of_day: true``, default), or at the local wall-clock time of the
  start on that day (``end_of_day: false``).  The last day is the start's
  local date plus N days or 7N days; for months and years the corresponding
  date N months (12N months) later, clamped to the month's end (31 Jan +
  1 month = 28 Feb, or 29 Feb in a leap year).  With ``receipt_day:
  included`` the period counts the day of receipt and so ends one day
  earlier.  A wall-clock time that a clock change makes ambiguous is read as
  the earlier instant; one it skips, with the offset before the change.
* Out of hours.  A complaint received outside working time (after close, at
  a weekend, on a holiday or closed day) counts business units from the next
  opening, which is then also its day of receipt (``out_of_hours:
  next_opening``, the default for business units); calendar units count from
  the instant of receipt (``as_received``, their default) unless the policy
  says ``next_opening``.  ``receipt_date`` keeps the date of receipt as the day
  of receipt for business days even when it was not a working day, so a
  Saturday receipt makes Monday day one ("business days following the day of
  receipt").  Elapsed minutes and hours are never moved.
* Continuing.  A clock that starts again at a deadline (a repeating notice, a
  clock started by another's breach) continues the count from that deadline:
  the deadline's day is the day of receipt, not counted, whatever the hour.
* Business hours are local wall-clock time in the calendar's timezone across
  daylight-saving changes: a 09:00-17:00 day is 8 working hours on the day the
  clocks change (a shift spanning the change itself is as long as the clock
  says it is in real time, e.g. 00:00-06:00 is 5 hours when 02:00 is skipped).
* An action at or before a deadline instant is on time.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from .durations import Duration

DAY = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class HorizonExceeded(Exception):
    """The computation needs calendar data beyond the instantiated horizon."""

    def __init__(self, calendar: str, needed: int) -> None:
        self.calendar = calendar
        self.needed = needed
        super().__init__(f"calendar {calendar!r} has no data past {needed}")


@dataclass(frozen=True)
class CountingRules:
    """How a clock counts (mirrors the policy's ``counting`` block); ``out_of_hours`` None is
    each unit's default (business units from the next opening, calendar units as received)."""

    receipt_day: str = "excluded"
    business_days: str = "close_of_business"
    out_of_hours: str | None = "next_opening"
    end_of_day: bool = True


@dataclass(frozen=True)
class CaseCalendar:
    """One calendar's working time from ``start`` to ``end`` (UTC seconds)."""

    name: str
    timezone: str
    start: int
    end: int
    intervals: tuple[tuple[int, int], ...]
    offsets: tuple[tuple[int, int], ...]
    business_day_seconds: int
    closed_days: tuple[tuple[int, str], ...] = field(default=())
    #: The last instant the UTC offsets cover, past ``end`` for long calendar periods
    #: (a limitation date years ahead needs the offsets, not the working time); 0: ``end``.
    #: They reach as far back before ``start`` (a period from an incident before the case).
    far_end: int = 0

    # ------------------------------------------------------------------ derived indexes

    @cached_property
    def _starts(self) -> list[int]:
        return [a for a, _ in self.intervals]

    @cached_property
    def _ends(self) -> list[int]:
        return [b for _, b in self.intervals]

    @cached_property
    def _cumulative(self) -> list[int]:
        out, total = [], 0
        for a, b in self.intervals:
            out.append(total)
            total += b - a
        out.append(total)
        return out

    @cached_property
    def _offset_starts(self) -> list[int]:
        return [t for t, _ in self.offsets]

    @cached_property
    def _business_days(self) -> tuple[list[int], list[int], list[int]]:
        """Local date ordinals with working time, their opening and closing instants."""
        ordinals: list[int] = []
        opens: list[int] = []
        closes: list[int] = []
        for a, b in self.intervals:
            day = self.local_ordinal(a)
            if ordinals and ordinals[-1] == day:
                closes[-1] = b
            else:
                ordinals.append(day)
                opens.append(a)
                closes.append(b)
        return ordinals, opens, closes

    # ------------------------------------------------------------------ local time

    def _need(self, t: int) -> None:
        if t < self.start or t > self.end:
            raise HorizonExceeded(self.name, t)

    def offset_at(self, t: int) -> int:
        """UTC offset in seconds of local time at instant ``t``."""
        i = bisect.bisect_right(self._offset_starts, t) - 1
        return self.offsets[max(i, 0)][1]

    def local_seconds(self, t: int) -> int:
        return t + self.offset_at(t)

    def local_ordinal(self, t: int) -> int:
        """Proleptic Gregorian ordinal of the local date at ``t``."""
        return self.local_seconds(t) // DAY + _EPOCH_ORDINAL

    def local_datetime(self, t: int) -> dt.datetime:
        """Naive local wall-clock time at ``t`` (with its offset as tzinfo)."""
        offset = self.offset_at(t)
        tz = dt.timezone(dt.timedelta(seconds=offset))
        return dt.datetime.fromtimestamp(t, tz)

    def utc_of_local(self, local: int) -> int:
        """The instant whose local wall-clock time is ``local`` seconds.

        On a fold (a wall-clock time that happens twice when the clocks go
        back) this is the earlier instant.  In a gap (a time skipped when the
        clocks go forward) the time is read with the offset in force before
        the change, which lands after the change, as many seconds later on
        the wall clock as the gap is long (``zoneinfo``'s ``fold=0``).
        """
        candidates = sorted({self.offset_at(local - DAY), self.offset_at(local + DAY)})
        candidates = sorted({*candidates, *(self.offset_at(local - o) for o in candidates)})
        valid = [local - o for o in candidates if self.offset_at(local - o) == o]
        if valid:
            return min(valid)
        return local - self.offset_at(local - candidates[-1])

    def told_day(self, t: int) -> tuple[dt.date, bool]:
        """The local day a deadline at ``t`` is told as, and whether it ends that day: a
        deadline at a close at 24:00, or at 23:59:59, is the end of that day (another midnight
        is the start of the next)."""
        local = self.local_seconds(t)
        if local % DAY == 0 and self.last_close(t) == t:
            return dt.date.fromordinal(local // DAY + _EPOCH_ORDINAL - 1), True
        return dt.date.fromordinal(local // DAY + _EPOCH_ORDINAL), local % DAY == DAY - 1

    def end_of_local_day(self, ordinal: int) -> int:
        """23:59:59 local time on the given date."""
        midnight_next = (ordinal + 1 - _EPOCH_ORDINAL) * DAY
        return self.utc_of_local(midnight_next) - 1

    # ------------------------------------------------------------------ working time

    def is_working(self, t: int) -> bool:
        self._need(t)
        i = bisect.bisect_right(self._starts, t) - 1
        return i >= 0 and t < self._ends[i]

    def next_opening(self, t: int) -> int:
        """``t`` itself when inside working time, else the next start of work."""
        self._need(t)
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0 and t < self._ends[i]:
            return t
        if i + 1 >= len(self.intervals):
            raise HorizonExceeded(self.name, self.end + 1)
        return self._starts[i + 1]

    def last_close(self, t: int) -> int | None:
        """The last end of working time at or before ``t``; None before the first in the horizon."""
        i = bisect.bisect_right(self._ends, t) - 1
        return self._ends[i] if i >= 0 else None

    def business_before(self, t: int) -> int:
        """Working seconds from the horizon start up to ``t``."""
        self._need(t)
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return 0
        a, b = self.intervals[i]
        return self._cumulative[i] + min(t, b) - a

    def business_seconds_between(self, a: int, b: int) -> int:
        """Working seconds in ``[a, b)``; negative when ``b`` is before ``a``."""
        return self.business_before(b) - self.business_before(a)

    def add_business_seconds(self, t: int, seconds: int) -> int:
        """The instant ``seconds`` of working time after ``t``.

        A result exactly at the end of a working interval stays there (the
        deadline is the close, not the next opening).
        """
        if seconds <= 0:
            return t if seconds == 0 else self._sub_business_seconds(t, -seconds)
        target = self.business_before(t) + seconds
        i = bisect.bisect_left(self._cumulative, target) - 1
        if i + 1 >= len(self._cumulative) or i >= len(self.intervals):
            raise HorizonExceeded(self.name, self.end + 1)
        a, _ = self.intervals[i]
        return a + target - self._cumulative[i]

    def _sub_business_seconds(self, t: int, seconds: int) -> int:
        target = self.business_before(t) - seconds
        if target < 0:
            raise HorizonExceeded(self.name, self.start - 1)
        i = bisect.bisect_right(self._cumulative, target) - 1
        i = min(i, len(self.intervals) - 1)
        a, _ = self.intervals[i]
        return a + target - self._cumulative[i]

    def business_day_index(self, ordinal: int, *, after: bool) -> int:
        """Index of the first business day on (``after=False``) or after a date."""
        ordinals = self._business_days[0]
        return (bisect.bisect_right if after else bisect.bisect_left)(ordinals, ordinal)

    def close_of_business_day(self, index: int) -> tuple[int, int]:
        """(opening, closing) of the ``index``-th business day in the horizon."""
        _, opens, closes = self._business_days
        if index >= len(closes):
            raise HorizonExceeded(self.name, self.end + 1)
        return opens[index], closes[index]

    def is_business_day(self, ordinal: int) -> bool:
        ordinals = self._business_days[0]
        i = bisect.bisect_left(ordinals, ordinal)
        return i < len(ordinals) and ordinals[i] == ordinal

    # ------------------------------------------------------------------ deadlines

    def effective_start(self, t: int, duration: Duration, rules: CountingRules) -> int:
        """When counting begins: out-of-hours receipt moves to the next opening."""
        if duration.unit in ("minutes", "hours"):
            return t
        if duration.is_business:
            return self.next_opening(t)
        if rules.out_of_hours == "next_opening" and t >= self.start:  # before the case (an
            return self.next_opening(t)  # incident): no working time is known, it counts as given
        return t

    def due(
        self, t: int, duration: Duration, rules: CountingRules | None = None, *, continuing: bool = False
    ) -> int:
        """The deadline for ``duration`` counted from instant ``t``; ``continuing``: ``t`` is a
        deadline the count goes on from (its day is the day of receipt, never counted)."""
        rules = rules or CountingRules()
        if continuing:
            return self._continued(t, duration, rules)
        start = self.effective_start(t, duration, rules)
        unit, n = duration.unit, duration.amount
        kept = rules.out_of_hours == "receipt_date" and rules.business_days == "close_of_business"
        if unit == "business_days" and kept and start != t:
            return self._nth_business_day_close(t, n, rules, kept=True)
        if unit == "minutes":
            return start + n * 60
        if unit == "hours":
            return start + n * 3600
        if unit == "business_minutes":
            return self.add_business_seconds(start, n * 60)
        if unit == "business_hours":
            return self.add_business_seconds(start, n * 3600)
        if unit == "business_days":
            if rules.business_days == "working_hours":
                return self.add_business_seconds(start, n * self.business_day_seconds)
            return self._nth_business_day_close(start, n, rules)
        return self._calendar_due(start, duration, rules)

    def _continued(self, t: int, duration: Duration, rules: CountingRules) -> int:
        """The next period after a deadline at ``t``, counted on from it."""
        unit = duration.unit
        excluded = CountingRules("excluded", rules.business_days, "as_received", rules.end_of_day)
        if unit == "business_days" and rules.business_days == "close_of_business":
            return self._nth_business_day_close(t - 1, duration.amount, excluded, kept=True)
        if duration.is_business or unit in ("minutes", "hours"):
            return self.due(t, duration, rules)
        day_end = self.local_seconds(t) % DAY == 0 and rules.end_of_day
        return self._calendar_due(t - 1 if day_end else t, duration, excluded)

    def _nth_business_day_close(self, start: int, n: int, rules: CountingRules, kept: bool = False) -> int:
        """Close of business on the Nth business day after (or from) the day of ``start``;
        ``kept``: ``start`` is the day of receipt even when it is not a working day."""
        receipt = self.local_ordinal(start)
        if rules.receipt_day == "included" and self.is_business_day(receipt):
            index = self.business_day_index(receipt, after=False) + max(n, 1) - 1
        elif n == 0:
            index = self.business_day_index(receipt, after=False)
        else:
            index = self.business_day_index(receipt, after=True) + n - 1
        if not kept:
            self._need(start)
        return self.close_of_business_day(index)[1]

    def _calendar_due(self, start: int, duration: Duration, rules: CountingRules) -> int:
        local = self.local_seconds(start)
        date = dt.date.fromordinal(local // DAY + _EPOCH_ORDINAL)
        n = duration.amount
        if duration.unit == "days":
            target = date + dt.timedelta(days=n)
        elif duration.unit == "weeks":
            target = date + dt.timedelta(days=7 * n)
        elif duration.unit == "months":
            target = add_months(date, n)
        else:
            target = add_months(date, 12 * n)
        if rules.receipt_day == "included" and n > 0:
            target -= dt.timedelta(days=1)
        if rules.end_of_day:
            result = self.end_of_local_day(target.toordinal())
        else:
            seconds_into_day = local % DAY
            result = self.utc_of_local((target.toordinal() - _EPOCH_ORDINAL) * DAY + seconds_into_day)
        # a calendar period needs the UTC offsets, not the working time: they reach further (and
        # back: one from a date before the case, such as an incident, may end before receipt)
        if result > max(self.end, self.far_end):
            raise HorizonExceeded(self.name, result)
        return result


def add_months(date: dt.date, months: int) -> dt.date:
    """Corresponding date ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(date.day, last))
