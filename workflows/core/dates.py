"""``dates``: the dates a customer must be told, counted from a case event."""

from __future__ import annotations

from ombuds.engine.policy.business_time import HorizonExceeded

from .case import Case


def derived(case: Case) -> dict[str, str]:
    """Each date whose event has happened, as a local date (``2027-02-23``)."""
    out = {}
    for date, plan in zip(case.policy.dates, case.plan.dates, strict=True):
        anchor = case.state.events.get(date.from_event)
        if anchor is None:
            continue
        cal = case.calendar(date.calendar)
        try:
            due = cal.due(anchor, plan.offset, plan.counting)
        except HorizonExceeded:
            continue
        out[date.id] = cal.local_datetime(due).strftime("%Y-%m-%d")
    return out
