"""What a message says, as values: the delivery formats them in the reader's language.

With ``messages-worth-reading`` the core writes no text for people.  A message's
context holds typed values, each a small JSON object the delivery turns into
words with Babel (``ombuds.engine.policy.messages``):

- an **instant**: ``{"type": "instant", "at": "2026-12-29T17:30:00Z", "timezone": ...,
  "end_of_day": false}``; ``end_of_day`` when it ends a day (the midnight of a close at
  24:00, or 23:59:59 of a count to the end of the day), told as that day;
- a **date**: ``{"type": "date", "date": "2027-02-23"}``;
- an amount of **money**: ``{"type": "money", "amount": "120.00", "currency": "EUR"}``;
- a **label**: ``{"type": "label", "of": "level", "id": "supervisor"}``, a title of the
  pinned policy in the reader's locale;
- a **remedy**: ``{"type": "remedy", "id": "refund", "amount": <money or null>}``.

A time promised to a customer is told inside working hours: a due instant outside
its calendar's hours is told as the last close of work before it
(``notifications.times_outside_hours``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ombuds.engine.policy import amounts
from ombuds.engine.policy import money as money_rules
from ombuds.engine.policy.business_time import HorizonExceeded

from .case import Case, iso
from .patches import MESSAGES_WORTH_READING

#: The key that marks a promised instant, with its calendar and instant, until :func:`worded`
#: has read it (never sent: a tuple no JSON input can carry).
_PROMISED = "promised_in"


def instant(
    case: Case, t: int, calendar: str | None = None, *, promised: bool = False, due: bool | None = None
) -> dict[str, Any]:
    """An instant as the delivery formats it; ``promised``: a time the case owes, which a
    customer is told inside the calendar's working hours (:func:`worded`); ``due`` (by default
    as ``promised``): a deadline, which at a day's end means that day.  A fact (a receipt, a
    callback's slot) is an instant as it is, midnight included."""
    cal = case.calendar(calendar)
    local = cal.local_seconds(t)
    value: dict[str, Any] = {
        "type": "instant",
        "at": iso(t),
        "timezone": cal.timezone,
        # a deadline at a day's end: midnight (a close at 24:00) or 23:59:59 (counted to the end)
        "end_of_day": (promised if due is None else due) and local % 86_400 in (0, 86_399),
    }
    if promised:
        value[_PROMISED] = (calendar, t)
    return value


def date(text: str) -> dict[str, Any]:
    return {"type": "date", "date": text}


def money(case: Case, amount: Decimal) -> dict[str, Any]:
    currency = case.policy.policy.currency
    places = money_rules.decimals(currency)
    return {
        "type": "money",
        "amount": str(amount.quantize(Decimal(1).scaleb(-places))),
        "currency": currency,
    }


def label(of: str, id_: str | int) -> dict[str, Any]:
    return {"type": "label", "of": of, "id": str(id_)}


def moment(case: Case, t: int, calendar: str | None = None) -> str | dict[str, Any]:
    """An instant a message tells (before ``messages-worth-reading``, as local text)."""
    return instant(case, t, calendar) if case.patched(MESSAGES_WORTH_READING) else case.local(t, calendar)


def clock(case: Case, clock_id: str) -> str | dict[str, Any]:
    """The clock a staff message is about: its title in the reader's language (before
    ``messages-worth-reading``, its id)."""
    return label("clock", clock_id) if case.patched(MESSAGES_WORTH_READING) else clock_id


def remedy(case: Case, remedy_id: str, amount: Decimal | None = None) -> dict[str, Any]:
    """A remedy with its amount: the amount granted, else the one the policy computes for the
    complaint, else the remedy's face value, else, for a refund, the amount the complaint
    disputes.  A bundle carries its remedies as ``parts``, each with its amount."""
    bundle = case.policy.compensation.bundles.get(remedy_id)
    if bundle is not None:
        return {
            "type": "remedy",
            "id": remedy_id,
            "amount": None,
            "parts": [remedy(case, part) for part in bundle.remedies],
        }
    spec = case.policy.compensation.remedies.get(remedy_id)
    if (amount is None or amount == 0) and spec is not None and spec.amounts:
        amount = amounts.computed(case.policy, remedy_id, case.complaint, case.variables(), case.evaluator)[0]
    if amount is None or amount == 0:
        amount = spec.value if spec is not None and spec.value else None
        if amount is None and spec is not None and spec.kind == "refund":
            amount = case.complaint.amount
    return {
        "type": "remedy",
        "id": remedy_id,
        "amount": money(case, amount) if amount else None,
    }


def granted(case: Case) -> list[dict[str, Any]]:
    """What the case granted: each compensation granted, then the option the customer chose."""
    out = [remedy(case, p.remedy, p.amount) for p in case.state.proposals if p.status == "accepted"]
    chosen = case.state.chosen
    for part in (
        case.policy.compensation.bundles[chosen].remedies
        if chosen in case.policy.compensation.bundles
        else [chosen]
    ):
        if part and not any(r["id"] == part for r in out):
            out.append(remedy(case, part))
    return out


#: What a message carries of the complaint as submitted: data, never a value of the core's.
SUBMITTED = frozenset({"complaint", "customer"})


def worded(case: Case, context: dict[str, Any], now: int, audience: str) -> dict[str, Any]:
    """A message's values as its reader is told them: to a customer, every promised instant
    outside working hours as the last close of work before it (unless the policy says
    ``as_counted``, or that close is already past at ``now``, when the message is decided); to
    staff, as counted.  What the complaint carries (its ``custom`` fields included) is data,
    left as submitted."""
    moved = audience == "customer" and case.policy.notifications.times_outside_hours != "as_counted"

    def told(promised: dict[str, Any]) -> dict[str, Any]:
        calendar, t = promised[_PROMISED]
        at = _last_close(case, t, calendar) if moved else None
        if at is not None and at > now:
            return instant(case, at, calendar)
        return {k: v for k, v in promised.items() if k != _PROMISED}

    def word(value: Any) -> Any:
        if isinstance(value, list):
            return [word(v) for v in value]
        if not isinstance(value, dict):
            return value
        return told(value) if _PROMISED in value else {k: word(v) for k, v in value.items()}

    return {k: v if k in SUBMITTED else word(v) for k, v in context.items()}


def _last_close(case: Case, t: int, calendar: str | None) -> int | None:
    """``t`` inside working time (or at a close); else the last close of work before it."""
    cal = case.calendar(calendar)
    try:
        if cal.is_working(t):
            return None
    except HorizonExceeded:
        return None
    close = cal.last_close(t)
    return None if close is None or close == t else close
