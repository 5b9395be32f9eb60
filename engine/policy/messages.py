"""Values in messages: the typed values a message carries (instants, dates, money, labels,
remedies), made into objects that print themselves in the reader's locale and timezone.

The interpreter core puts JSON into a message (``{"type": "instant", "at": ..., ...}``);
:func:`localise` turns it, at delivery and at validation, into the small objects a template
prints (``{{ deadlines['resolution'] }}`` → ``Tuesday, 29 December 2026, 17:30``) or reads
(``{{ deadlines['resolution'].date }}``).  Formatting never fails: a value that cannot be
read prints as it was written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, localedata
from babel.core import get_global
from babel.dates import format_date, format_time
from babel.numbers import format_currency

from .calendar import CalendarError, zone
from .model import LocalText, Policy, text_in
from .rules import default_calendar

#: What a message carries of the complaint as submitted (its ``custom`` fields included).
SUBMITTED = frozenset({"complaint", "customer"})

#: The largest amount printed as money (more is printed as written: a number of that size is a mistake).
LARGEST_AMOUNT = Decimal(10) ** 15


@dataclass(frozen=True)
class Instant:
    """A moment, in the reader's timezone; "by the end of a day" prints the day only."""

    date: str
    short_date: str
    time: str
    weekday: str
    end_of_day: bool
    iso: str
    timezone: str

    def __str__(self) -> str:
        return f"{self.date}, {self.time}" if self.time else self.date


@dataclass(frozen=True)
class Date:
    """A day the customer is told (an ombudsman referral date)."""

    date: str
    short_date: str
    weekday: str
    iso: str

    def __str__(self) -> str:
        return self.date


@dataclass(frozen=True)
class Money:
    """An amount in a currency, written as the reader's locale writes money."""

    amount: Decimal | None
    currency: str
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Label:
    """A name from the policy (a level's, a remedy's, a clock's title) in the message's locale.

    It equals its id, as a key too: ``deadlines[clock]``, ``{% if level == "supervisor" %}``."""

    of: str
    id: str
    title: str

    def __str__(self) -> str:
        return self.title

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Label):
            return (self.of, self.id) == (other.of, other.id)
        return isinstance(other, str) and other == self.id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Remedy:
    """A remedy offered or granted, by title, with its amount when it has one."""

    id: str
    title: str
    amount: Money | None
    #: The remedies of a bundle (care and compensation), each with its amount.
    parts: tuple[Remedy, ...] = ()

    def __str__(self) -> str:
        if self.parts:
            return f"{self.title}: " + " + ".join(str(part) for part in self.parts)
        return f"{self.title} ({self.amount})" if self.amount is not None else self.title


def _level(policy: Policy, id: str) -> LocalText | None:
    return next((level.title for level in policy.authority if level.id == id), None)


def _remedy(policy: Policy, id: str) -> LocalText | None:
    remedy = policy.compensation.remedies.get(id) or policy.compensation.bundles.get(id)
    return remedy.title if remedy is not None else None


def _clock(policy: Policy, id: str) -> LocalText | None:
    return next((clock.title for clock in policy.clocks if clock.id == id), None)


def _stage(policy: Policy, id: str) -> LocalText | None:
    return next((stage.title for stage in policy.stages if stage.id == id), None)


def _date(policy: Policy, id: str) -> LocalText | None:
    return next((date.title for date in policy.dates if date.id == id), None)


def _question(policy: Policy, id: str) -> LocalText | None:
    survey = policy.follow_up.survey
    if survey is None or not (id.isascii() and id.isdigit()) or int(id) >= len(survey.questions):
        return None
    return survey.questions[int(id)]


def _reason(policy: Policy, id: str) -> LocalText | None:
    """An escalation rule's reason, by the rule's id."""
    return next((rule.reason for rule in policy.escalation if rule.id == id), None)


#: Where a label's text is in the policy, by what it labels.
TITLES: dict[str, Callable[[Policy, str], LocalText | None]] = {
    "level": _level,
    "remedy": _remedy,
    "clock": _clock,
    "stage": _stage,
    "date": _date,
    "question": _question,
    "reason": _reason,
}


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or len(name) > 100:
        return None
    try:
        return zone(name)
    except CalendarError:
        return None


def policy_timezone(policy: Policy | None) -> str | None:
    """The timezone of the policy's default calendar (of a selector: of its first choice)."""
    if policy is None:
        return None
    name = default_calendar(policy)
    choices = policy.calendar_selectors.get(name)
    if choices:
        name = next((c.calendar for c in choices if c.when is None), choices[0].calendar)
    calendar = policy.calendars.get(name)
    return calendar.timezone if calendar is not None else None


@lru_cache(maxsize=256)
def _babel(code: str, timezone: str | None) -> Locale | None:
    """``code`` as Babel knows it, with the territory of ``timezone`` when it names none and
    Babel has the pair (``en`` in Europe/London: ``en_GB``); None when Babel does not know it."""
    try:
        found = Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if found.territory is None and timezone:
        territory = get_global("zone_territories").get(timezone)
        if territory and localedata.exists(f"{found.language}_{territory}"):
            return Locale.parse(f"{found.language}_{territory}")
    return found


def babel_locale(locale: str | None, policy: Policy | None) -> Locale:
    """The Babel locale a message in ``locale`` is formatted in; an unknown one gives the
    policy's default locale, and that failing, English."""
    timezone = policy_timezone(policy)
    default = policy.policy.locale if policy is not None else "en"
    for code in (locale, default, "en"):
        found = _babel(code, timezone) if isinstance(code, str) and code else None
        if found is not None:
            return found
    return Locale("en")


@dataclass(frozen=True)
class _Reader:
    """Who reads the message: the locale its values are written in, and the reader's timezone."""

    locale: Locale
    language: str
    default: str
    policy: Policy | None
    timezone: ZoneInfo | None

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            kind = value.get("type")
            make = _KINDS.get(kind) if isinstance(kind, str) else None
            if make is not None:
                return make(self, value)
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def instant(self, value: dict[str, Any]) -> Instant:
        raw = value.get("at")
        end_of_day = value.get("end_of_day") is True
        own = _zone(value.get("timezone"))
        where = own if end_of_day else (self.timezone or own)
        try:
            at = dt.datetime.fromisoformat(str(raw))
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            if where is None:
                raise ValueError("no timezone")
            if end_of_day:
                day = (at - dt.timedelta(seconds=1)).astimezone(where).date()
                return Instant(
                    date=self.full(day),
                    short_date=format_date(day, "short", locale=self.locale),
                    time="",
                    weekday=format_date(day, "EEEE", locale=self.locale),
                    end_of_day=True,
                    iso=day.isoformat(),
                    timezone=where.key,
                )
            local = at.astimezone(where)
            return Instant(
                date=self.full(local.date()),
                short_date=format_date(local.date(), "short", locale=self.locale),
                time=format_time(local, "short", tzinfo=where, locale=self.locale),
                weekday=format_date(local.date(), "EEEE", locale=self.locale),
                end_of_day=False,
                iso=local.isoformat(timespec="minutes"),
                timezone=where.key,
            )
        except Exception:  # a message is never held back by a value it cannot format
            text = str(raw)
            return Instant(text, text, "", "", end_of_day, text, str(value.get("timezone", "")))

    def full(self, day: dt.date) -> str:
        """A date written out in full; French writes the first of the month "1er"."""
        text = format_date(day, "full", locale=self.locale)
        if self.locale.language == "fr" and day.day == 1:
            text = text.replace(" 1 ", " 1er ", 1)
        return text

    def date(self, value: dict[str, Any]) -> Date:
        raw = str(value.get("date"))
        try:
            day = dt.date.fromisoformat(raw)
            return Date(
                date=self.full(day),
                short_date=format_date(day, "short", locale=self.locale),
                weekday=format_date(day, "EEEE", locale=self.locale),
                iso=day.isoformat(),
            )
        except Exception:  # as for instants: printed as written
            return Date(raw, raw, "", raw)

    def money(self, value: dict[str, Any]) -> Money:
        raw, currency = value.get("amount"), str(value.get("currency") or "")
        try:
            amount = Decimal(str(raw))
            code = len(currency) == 3 and currency.isascii() and currency.isalpha() and currency.isupper()
            if not amount.is_finite() or abs(amount) >= LARGEST_AMOUNT or not code:
                raise ValueError(raw)
            return Money(amount, currency, format_currency(amount, currency, locale=self.locale))
        except Exception:  # as for instants: printed as written
            return Money(None, currency, f"{raw} {currency}".strip())

    def label(self, value: dict[str, Any]) -> Label:
        of, id = str(value.get("of", "")), str(value.get("id", ""))
        return Label(of, id, self.title(of, id))

    def title(self, of: str, id: str) -> str:
        find = TITLES.get(of)
        if self.policy is None or find is None:
            return id
        return text_in(find(self.policy, id), self.language, self.default) or id

    def remedy(self, value: dict[str, Any]) -> Remedy:
        id = str(value.get("id", ""))
        amount = value.get("amount")
        parts = value.get("parts")
        return Remedy(
            id,
            self.title("remedy", id),
            self.money(amount) if isinstance(amount, dict) else None,
            tuple(self.remedy(p) for p in parts[:20] if isinstance(p, dict))
            if isinstance(parts, list)
            else (),
        )


_KINDS: dict[str, Callable[[_Reader, dict[str, Any]], Any]] = {
    "instant": _Reader.instant,
    "date": _Reader.date,
    "money": _Reader.money,
    "label": _Reader.label,
    "remedy": _Reader.remedy,
}


def localise(context: dict[str, Any], policy: Policy | None, locale: str, *, to: str) -> dict[str, Any]:
    """A message's values with each typed value made an object that prints itself in ``locale``
    (``to``: ``customer`` or ``staff``, who reads it).

    Times are shown in the customer's timezone in a customer message (when the customer gave
    a valid one), else in the timezone of the calendar they were counted in.  Labels are read
    from ``policy`` in ``locale``; without a policy (at validation) a label prints its id."""
    customer = context.get("customer")
    timezone = _zone(customer.get("timezone")) if to == "customer" and isinstance(customer, dict) else None
    reader = _Reader(
        locale=babel_locale(locale, policy),
        language=locale,
        default=policy.policy.locale if policy is not None else "en",
        policy=policy,
        timezone=timezone,
    )
    # what the complaint carries is data as submitted: a field of its own named "type" is no value
    return {key: item if key in SUBMITTED else reader.value(item) for key, item in context.items()}
