"""``dates``: the dates a customer must be told, counted from a case event or from a date the
complaint supplies (``complaint.incident_date``, ``complaint.custom.<field>``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ombuds.engine.policy.anchors import complaint_date, date_due, is_complaint_date
from ombuds.engine.policy.business_time import CaseCalendar, HorizonExceeded
from ombuds.engine.policy.model import DerivedDate
from ombuds.engine.policy.plan import DatePlan

from .case import Case
from .patches import DEADLINES_AS_REGIMES_COUNT


def anchor(case: Case, name: str, calendar: str | None) -> int | None:
    """When a case event happened, or the instant a complaint's date names; None: not (yet)."""
    if is_complaint_date(name):
        return complaint_date(case.complaint, name, case.calendar(calendar))
    return case.state.events.get(name)


def due(case: Case, date: DerivedDate, plan: DatePlan) -> int | None:
    """The date's instant, once its anchors are known; raises :class:`HorizonExceeded`."""
    return date_due(plan, case.calendar(date.calendar), lambda name: anchor(case, name, date.calendar))


def known(case: Case, *, strict: bool) -> Iterator[tuple[DerivedDate, CaseCalendar, int]]:
    """Each date whose anchors are known, with its calendar and instant; one past the case
    calendar raises :class:`HorizonExceeded` when ``strict``, else is left out."""
    for date, plan in zip(case.policy.dates, case.plan.dates, strict=True):
        try:
            at = due(case, date, plan)
        except HorizonExceeded:
            if strict:
                raise
            continue
        if at is not None:
            yield date, case.calendar(date.calendar), at


def derived(case: Case, *, strict: bool = True) -> dict[str, str]:
    """Each date whose anchor is known, as a local date (``2027-02-23``).

    With ``deadlines-as-regimes-count`` a date at the end of a working day (a close at 24:00) is
    that day, and a date past the case calendar raises :class:`HorizonExceeded` (the host then
    builds a longer calendar) unless ``strict`` is off (a view: the date is left out); before,
    such a date was the next day, or left out."""
    if not case.patched(DEADLINES_AS_REGIMES_COUNT):
        return {
            date.id: cal.local_datetime(at).strftime("%Y-%m-%d")
            for date, cal, at in known(case, strict=False)
        }
    return {date.id: cal.told_day(at)[0].isoformat() for date, cal, at in known(case, strict=strict)}


def condition_values(case: Case) -> dict[str, dict[str, Any]]:
    """What conditions see as ``dates["<id>"]``: the day, whether it had passed when the
    complaint was received, and the calendar days from the day of receipt to it (negative
    when it was before)."""
    received = case.state.received
    out: dict[str, dict[str, Any]] = {}
    for date, cal, at in known(case, strict=False):
        day = cal.told_day(at)[0]
        out[date.id] = {
            "day": day.isoformat(),
            "passed_at_receipt": at < received,
            "days_from_receipt": day.toordinal() - cal.local_ordinal(received),
        }
    return out
