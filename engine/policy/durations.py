"""Durations as policies write them: ``10 hours``, ``5 business days``, ``2 months``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Unit = Literal[
    "minutes",
    "hours",
    "days",
    "weeks",
    "months",
    "years",
    "business_minutes",
    "business_hours",
    "business_days",
]

_ALIASES: dict[str, Unit] = {
    "minute": "minutes",
    "minutes": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "hour": "hours",
    "hours": "hours",
    "h": "hours",
    "day": "days",
    "days": "days",
    "calendar day": "days",
    "calendar days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
    "business minute": "business_minutes",
    "business minutes": "business_minutes",
    "business hour": "business_hours",
    "business hours": "business_hours",
    "working hour": "business_hours",
    "working hours": "business_hours",
    "business day": "business_days",
    "business days": "business_days",
    "working day": "business_days",
    "working days": "business_days",
}

DURATION_PATTERN = (
    r"^\s*[0-9]+\s*(minutes?|mins?|h|hours?|(calendar )?days?|weeks?|months?|years?"
    r"|(business|working) (minutes?|hours?|days?))\s*$"
)
PERCENT_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$"

_RE = re.compile(r"^\s*(\d+)\s*([a-z ]+?)\s*$")

UNITS_HELP = (
    "write a whole number and a unit: minutes, hours, days, weeks, months, years, "
    'business minutes, business hours or business days (e.g. "5 business days")'
)


#: The longest duration of each unit a policy may write: about ten years, which lets the
#: longest legal periods through (a six-year limitation date) and keeps every deadline of a
#: complaint received before 2100 inside the calendar.
LONGEST: dict[Unit, int] = {
    "minutes": 5_259_600,
    "hours": 87_660,
    "days": 3_653,
    "weeks": 522,
    "months": 120,
    "years": 10,
    "business_minutes": 1_566_000,
    "business_hours": 26_100,
    "business_days": 2_610,
}


class DurationError(ValueError):
    """A duration string that does not parse."""


@dataclass(frozen=True)
class Duration:
    """An amount of a unit; business units count working time of a calendar."""

    amount: int
    unit: Unit

    @property
    def is_business(self) -> bool:
        return self.unit.startswith("business_")

    def __str__(self) -> str:
        name = self.unit.replace("_", " ")
        if self.amount == 1:
            name = name[:-1]
        return f"{self.amount} {name}"

    def too_long(self) -> str | None:
        """Why this duration is longer than a policy may write, or None."""
        longest = LONGEST[self.unit]
        if self.amount <= longest:
            return None
        return f'"{self}" is longer than a policy may write: at most {Duration(longest, self.unit)} (about ten years)'

    def approx_minutes(self) -> int:
        """A rough size for ordering and horizons (business days as 24 h, months as 31 d)."""
        per = {
            "minutes": 1,
            "hours": 60,
            "days": 1440,
            "weeks": 10080,
            "months": 44640,
            "years": 527040,
            "business_minutes": 1,
            "business_hours": 60,
            "business_days": 1440,
        }[self.unit]
        return self.amount * per

    def approx_calendar_days(self) -> int:
        """Generous calendar-day size of this duration, for calendar horizons."""
        if self.unit == "business_days":
            return self.amount * 2 + 14
        if self.unit == "business_hours":
            return self.amount // 4 + 14
        if self.unit == "business_minutes":
            return self.amount // 240 + 14
        return self.approx_minutes() // 1440 + 1


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> Duration:
    """Parse ``"5 business days"``; raises :class:`DurationError` with a hint.

    Cached: a case's clocks keep their target as text, and the same few texts come back."""
    match = _RE.match(str(text).lower())
    if not match:
        raise DurationError(f'"{text}" is not a duration')
    amount, unit_text = int(match.group(1)), " ".join(match.group(2).split())
    unit = _ALIASES.get(unit_text)
    if unit is None:
        raise DurationError(f'"{text}" has an unknown unit "{unit_text}"')
    return Duration(amount, unit)


def parse_percent(text: str) -> float:
    """``"75%"`` → 75.0."""
    value = str(text).strip()
    if not value.endswith("%"):
        raise DurationError(f'"{text}" is not a percentage')
    try:
        number = float(value[:-1])
    except ValueError:
        raise DurationError(f'"{text}" is not a percentage') from None
    if not 0 < number <= 100:
        raise DurationError(f'"{text}" must be between 0 % and 100 %')
    return number
