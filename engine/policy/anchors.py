"""Dates a complaint supplies (``complaint.incident_date``, ``complaint.custom.<field>``), as the
instants a derived date or a clock counts from.

A date without a time is the start of that day in the counting calendar's timezone (so
"60 days after the statement date" ends 60 days after that date, at the end of the day); a time
with a UTC offset is that instant.  A field that is missing, holds no ISO date, or a date before
1900 gives None: the date is not computed, and a condition reading it sees no entry.  A date
after the complaint was received is the receipt (an event the complaint reports has happened).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from .business_time import DAY, CaseCalendar
from .model import Complaint
from .plan import DatePlan
from .vocabulary import COMPLAINT_DATE

_EPOCH = dt.date(1970, 1, 1).toordinal()


def is_complaint_date(anchor: str) -> bool:
    return anchor.startswith(COMPLAINT_DATE)


def complaint_date(complaint: Complaint, anchor: str, cal: CaseCalendar) -> int | None:
    """The instant ``anchor`` (``complaint.incident_date``, ``complaint.custom.x``) names."""
    field = anchor[len(COMPLAINT_DATE) :]
    value: object
    if field == "incident_date":
        value = complaint.incident_date
    elif field.startswith("custom."):
        value = complaint.custom.get(field[len("custom.") :])
    else:
        return None
    if isinstance(value, str):
        value = _parsed(value.strip()[:40])
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return None
        at = int(value.timestamp())
    elif isinstance(value, dt.date):
        at = cal.utc_of_local((value.toordinal() - _EPOCH) * DAY)
    else:
        return None
    if at < EARLIEST:
        return None
    return min(at, int(complaint.received_at.timestamp()))


#: 1900-01-01T00:00Z: a date the complaint gives before it is no date (a typo, a placeholder).
EARLIEST = -2_208_988_800


def _parsed(text: str) -> dt.date | dt.datetime | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None


def date_due(plan: DatePlan, cal: CaseCalendar, anchor: Callable[[str], int | None]) -> int | None:
    """A derived date's instant: each term's period counted from its anchor (``anchor`` gives
    when an event happened or a complaint's date, None when not known), or its fixed date at the
    end of that day; the later or earlier of several.  None while an event a term counts from
    has not happened; a term from a date the complaint does not give is left out of a later-of
    or earlier-of (it never comes).  Raises :class:`HorizonExceeded` past the calendar."""
    found: list[int] = []
    for term in plan.terms:
        if term.on is not None:
            found.append(cal.end_of_local_day(term.on.toordinal()))
            continue
        at = anchor(term.anchor)
        if at is None and plan.pick != "one" and is_complaint_date(term.anchor):
            continue
        if at is None or term.offset is None:
            return None
        found.append(cal.due(at, term.offset, term.counting))
    if not found:
        return None
    return min(found) if plan.pick == "earlier" else max(found)
