"""Deadlines of a policy for one complaint, as ``ombuds deadline`` prints them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .explain import convention, date_rule
from .policy.anchors import complaint_date, date_due, is_complaint_date
from .policy.business_time import CaseCalendar, HorizonExceeded
from .policy.compile import horizon_days, instantiate
from .policy.expressions import Evaluator, case_variables, complaint_variables
from .policy.model import Clock, Complaint, text_in
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


def _date_at(compiled: CompiledPolicy, instance: Any, name: str, complaint: Complaint, t0: int) -> int | None:
    """A derived date as ``ombuds deadline`` shows it: events as if at receipt."""
    policy = compiled.policy
    index = next(i for i, d in enumerate(policy.dates) if d.id == name)
    date, plan = policy.dates[index], compiled.plan.dates[index]
    cal = instance.calendar(date.calendar or default_calendar(policy))
    return date_due(plan, cal, _as_if_at_receipt(complaint, cal, t0))


def _as_if_at_receipt(complaint: Complaint, cal: CaseCalendar, t0: int) -> Callable[[str], int | None]:
    """When an anchor happened, as ``ombuds deadline`` shows it: a date the complaint gives
    (None when it gives none), any case event at receipt."""

    def anchor(event: str) -> int | None:
        return complaint_date(complaint, event, cal) if is_complaint_date(event) else t0

    return anchor


def _bounded(
    compiled: CompiledPolicy, instance: Any, clock: Clock, due: int, complaint: Complaint, t0: int
) -> tuple[int, str | None]:
    """A deadline within its clock's ``at_latest`` and ``at_earliest`` dates, and why it moved."""
    why = None
    for name, pick, words in (
        (clock.at_latest, min, "at the latest"),
        (clock.at_earliest, max, "not before"),
    ):
        if name is None:
            continue
        limit = _date_at(compiled, instance, name, complaint, t0)
        if limit is not None and pick(due, limit) != due:
            due, why = limit, f'{words} the date "{name}"'
    return due, why


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
        start = t0
        if is_complaint_date(clock.starts):
            found = complaint_date(complaint, clock.starts, cal)
            if found is None:
                row.applies = False
                row.note = f"starts from {clock.starts}, which this complaint does not give"
            else:
                start = min(found, t0)
                row.note = f"starts from {clock.starts} ({_iso(cal.local_datetime(start))})"
        elif clock.starts != "submitted":
            row.note = f"starts when {event_words(clock.starts)}; shown as if that happened at receipt"
        if row.applies:
            due = cal.due(start, duration, plan.counting)
            due, bounded = _bounded(compiled, instance, clock, due, complaint, t0)
            if bounded:
                row.note = "; ".join(filter(None, [row.note, bounded]))
            row.due_local = _iso(cal.local_datetime(due))
            day, row.end_of_day = cal.told_day(due)
            row.due_day = day.isoformat()
            row.due_utc = dt.datetime.fromtimestamp(due, dt.UTC).isoformat()
            # working time from receipt at the earliest: none is known before the case
            row.business_time = _span(
                cal.business_seconds_between(max(start, cal.start), max(due, cal.start))
            )
            if plan.extension_cap is not None:
                cap = cal.due(start, plan.extension_cap, plan.counting)
                row.extended_max_local = told(cal, cap)
            elif clock.extension is not None:
                row.extended_max_local = "no cap"
        rows.append(row)
    dates: list[dict[str, Any]] = []
    for date, date_plan in zip(policy.dates, compiled.plan.dates, strict=True):
        if only is not None:
            break
        cal_name = date.calendar or default_calendar(policy)
        cal = instance.calendar(cal_name)
        anchors = [t.anchor for t in date_plan.terms if t.on is None]
        anchor = _as_if_at_receipt(complaint, cal, t0)
        on = date_due(date_plan, cal, anchor)
        missing = [a for a in anchors if is_complaint_date(a) and anchor(a) is None]
        later = [a for a in anchors if not is_complaint_date(a) and a != "submitted"]
        notes = []
        if missing and date_plan.pick == "one":
            notes.append(f"needs {', '.join(missing)}, which this complaint does not give")
        elif missing:
            notes.append(f"{', '.join(missing)} not given: left out")
        if later:
            notes.append(
                f"shown as if {'that event' if len(later) == 1 else 'those events'} happened at receipt"
            )
        entry: dict[str, Any] = {
            "date": date.id,
            "title": text_in(date.title, None, policy.policy.locale) or date.id,
            "from": ", ".join(event_words(a) for a in anchors) or "a fixed date",
            "rule": date_rule(date_plan),
            "local": None,
            "day": None,
            "end_of_day": False,
            "told": "not known",
            "note": "; ".join(notes),
        }
        if on is not None:
            entry.update(
                local=_iso(cal.local_datetime(on)),
                day=cal.told_day(on)[0].isoformat(),
                end_of_day=cal.told_day(on)[1],
                told=told(cal, on),
            )
        dates.append(entry)
    return rows, dates, classes
