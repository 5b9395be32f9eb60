"""Dates a complaint supplies (``complaint.incident_date``, ``complaint.custom.<field>``), as the
instants a derived date or a clock counts from.

A date without a time is the start of that day in the counting calendar's timezone (so
"60 days after the statement date" ends 60 days after that date, at the end of the day); a time
with a UTC offset is that instant.  A field that is missing or holds no ISO date gives None: the
date is not computed, and a condition reading it sees no entry.
"""

from __future__ import annotations

import datetime as dt

from .business_time import DAY, CaseCalendar
from .model import Complaint
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
        value = _parsed(value.strip())
    if isinstance(value, dt.datetime):
        return int(value.timestamp()) if value.tzinfo is not None else None
    if isinstance(value, dt.date):
        return cal.utc_of_local((value.toordinal() - _EPOCH) * DAY)
    return None


def _parsed(text: str) -> dt.date | dt.datetime | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        return None
