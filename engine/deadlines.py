"""Deadlines of a policy for one complaint, as ``ombuds deadline`` prints them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from .explain import convention
from .policy.business_time import CaseCalendar, HorizonExceeded
from .policy.compile import horizon_days, instantiate
from .policy.expressions import Evaluator, case_variables, complaint_variables
from .policy.model import Complaint, text_in
from .policy.rules import classify, clock_applies, clock_calendar, default_calendar
from .policy.snapshot import CompiledPolicy
from .policy.vocabulary import event_words


@dataclass
class DeadlineRow:
    clock: str
    kind: str
    applies: bool
    target: str
    target_rule: str
    calendar: str
    timezone: str
    convention: str
    starts: str
    due_local: str | None = None
    due_utc: str | None = None
    #: The day the deadline is told as, and whether it is that day's end (a close at 24:00 is
    #: the end of that day, not the next day's midnight).
    due_day: str | None = None
    end_of_day: bool = False
    business_time: str | None = None
    extended_max_local: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _span(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def _iso(cal_local: dt.datetime) -> str:
    return cal_local.isoformat()


def told(cal: CaseCalendar, t: int) -> str:
    """A deadline as people read it: ``2026-12-29 end of day``, or the local time."""
    day, end_of_day = cal.told_day(t)
    return f"{day.isoformat()} end of day" if end_of_day else _iso(cal.local_datetime(t))


#: The longest calendar ``ombuds deadline`` builds (a sparse calendar needs more days than a
#: duration's size suggests): beyond it, the deadline is reported as past the calendar.
LONGEST_CALENDAR_DAYS = 150 * 366


def deadlines(
    compiled: CompiledPolicy,
    received: dt.datetime,
    complaint: Complaint | None = None,
    only: str | None = None,
) -> tuple[list[DeadlineRow], list[dict[str, Any]], dict[str, str]]:
    """Rows for every clock (``only``: that clock, and no dates), the derived dates, and the
    classification used.

    The calendar covers the longest duration from receipt, and doubles while a deadline
    falls past it (a calendar open one day a week holds few business days a year)."""
    days = horizon_days(compiled.plan, whole=True)
    while True:
        try:
            return _deadlines(compiled, received, complaint, days, only)
        except HorizonExceeded:
            if days >= LONGEST_CALENDAR_DAYS:
                raise
            days = min(2 * days, LONGEST_CALENDAR_DAYS)


def _deadlines(
    compiled: CompiledPolicy, received: dt.datetime, complaint: Complaint | None, days: int, only: str | None
) -> tuple[list[DeadlineRow], list[dict[str, Any]], dict[str, str]]:
    policy = compiled.policy
    complaint = complaint or Complaint(received_at=received, channel="web")
    evaluator = Evaluator()
    variables: dict[str, Any] = {"complaint": complaint_variables(complaint), "case": case_variables()}
    classes = {k: str(m.value) for k, m in classify(policy, variables, evaluator).items()}
    variables["case"] = case_variables(classes)
    instance = instantiate(compiled, received, complaint, days=days)
    t0 = int(received.timestamp())
    rows: list[DeadlineRow] = []
    for i, (clock, plan) in enumerate(zip(policy.clocks, compiled.plan.clocks, strict=True)):
        if only is not None and clock.id != only:
            continue
        duration, rule = plan.target_for(i, classes.get("priority"))
        cal_name = clock_calendar(policy, clock)
        cal = instance.calendar(cal_name)
        chosen = instance.selected.get(cal_name)
        row = DeadlineRow(
            clock=clock.id,
            kind=clock.kind,
            applies=clock_applies(clock, variables, evaluator),
            target=str(duration),
            target_rule=rule,
            calendar=f"{cal_name} → {chosen}" if chosen else cal_name,
            timezone=cal.timezone,
            convention=convention(duration, clock.counting),
            starts=event_words(clock.starts),
        )
        if clock.starts != "submitted":
            row.note = f"starts when {event_words(clock.starts)}; shown as if that happened at receipt"
        if row.applies:
            due = cal.due(t0, duration, plan.counting)
            row.due_local = _iso(cal.local_datetime(due))
            day, row.end_of_day = cal.told_day(due)
            row.due_day = day.isoformat()
            row.due_utc = dt.datetime.fromtimestamp(due, dt.UTC).isoformat()
            row.business_time = _span(cal.business_seconds_between(t0, due))
            if plan.extension_cap is not None:
                cap = cal.due(t0, plan.extension_cap, plan.counting)
                row.extended_max_local = told(cal, cap)
        rows.append(row)
    dates: list[dict[str, Any]] = []
    for date, date_plan in zip(policy.dates, compiled.plan.dates, strict=True):
        if only is not None:
            break
        cal_name = date.calendar or default_calendar(policy)
        cal = instance.calendar(cal_name)
        due = cal.due(t0, date_plan.offset, date_plan.counting)
        dates.append(
            {
                "date": date.id,
                "title": text_in(date.title, None, policy.policy.locale) or date.id,
                "from": event_words(date.from_event),
                "local": _iso(cal.local_datetime(due)),
                "day": cal.told_day(due)[0].isoformat(),
                "end_of_day": cal.told_day(due)[1],
                "told": told(cal, due),
                "note": ""
                if date.from_event == "submitted"
                else "shown as if that event happened at receipt",
            }
        )
    return rows, dates, classes
