"""The bounds of every input: how long a text, how many items, how large a number, which instants.

No input may stop a case: an event outside these bounds is refused, naming the field and
the bound, before anything is applied.  :func:`check_event` needs nothing but the event, so a
client checks it before sending; :func:`check_in_case` adds what only the case knows (an
instant must fall within the case's life and its calendar).  The workflow checks both in
its update validator and again as it takes a signal (``cases-keep-moving``).
"""

from __future__ import annotations

import datetime as dt

from ombuds.engine.policy.durations import parse_duration

from .case import Case, Rejected
from .events import Event, ProposeCompensation

#: A message or a final response: characters.
TEXT = 50_000
#: A reason, a summary, a root cause, one corrective action: characters.
NOTE = 5_000
#: An id, a level, a stage, a remedy, an option, a clock, a duration, an instant: characters.
NAME = 200
#: Corrective actions of one resolution.
ITEMS = 100
#: A proposal number, a number of coupons, a survey score.
COUNT = 1_000_000
#: Digits before the decimal point of an amount.
AMOUNT_DIGITS = 12
#: An extension's target: at most this many calendar days (about five years).
EXTENSION_DAYS = 5 * 366

#: Each text field and its bound.
LENGTHS = {
    "text": TEXT,
    "summary": NOTE,
    "reason": NOTE,
    "question": NOTE,
    "root_cause": NOTE,
    "assignee": NAME,
    "stage": NAME,
    "remedy": NAME,
    "option": NAME,
    "clock": NAME,
    "target": NAME,
    "at": NAME,
}


def check_event(event: Event) -> None:
    """Sizes, counts and forms that need no case; raises :class:`Rejected` naming the field."""
    model = event.root
    for name, value in (("actor.id", event.actor.id), ("actor.level", event.actor.level)):
        if value is not None and len(value) > NAME:
            raise Rejected(f"{name}: {len(value):,} characters, at most {NAME:,}")
    for name, limit in LENGTHS.items():
        value = getattr(model, name, None)
        if isinstance(value, str) and len(value) > limit:
            raise Rejected(f"{name}: {len(value):,} characters, at most {limit:,}")
    actions = getattr(model, "corrective_actions", None) or []
    if len(actions) > ITEMS:
        raise Rejected(f"corrective_actions: {len(actions):,} items, at most {ITEMS:,}")
    for n, action in enumerate(actions):
        if len(action) > NOTE:
            raise Rejected(f"corrective_actions[{n}]: {len(action):,} characters, at most {NOTE:,}")
    for name in ("proposal", "coupons", "score"):
        value = getattr(model, name, None)
        if isinstance(value, int) and not -COUNT <= value <= COUNT:
            raise Rejected(f"{name}: {value} is out of range (at most {COUNT:,})")
    amount = getattr(model, "amount", None)
    if isinstance(model, ProposeCompensation) and model.amount_problem():
        raise Rejected(f"amount: {model.amount_problem()}")
    if amount is not None and amount.adjusted() >= AMOUNT_DIGITS:
        raise Rejected(f"amount: {amount} has more than {AMOUNT_DIGITS} digits before the decimal point")
    at = getattr(model, "at", None)
    if at:
        instant(at)
    target = getattr(model, "target", None)
    if event.kind == "extend" and target:
        try:
            duration = parse_duration(target)
        except ValueError as exc:
            raise Rejected(f"target: {exc}") from None
        if duration.approx_calendar_days() > EXTENSION_DAYS:
            raise Rejected(f'target: "{target}" is longer than {EXTENSION_DAYS:,} calendar days')


def instant(text: str) -> int:
    """An ISO 8601 time with its UTC offset, as UTC seconds; raises :class:`Rejected`."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(f'at: "{text[:40]}" is not an ISO 8601 time') from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Rejected(f'at: "{text}" needs its UTC offset, e.g. 2027-03-01T10:00:00+01:00')
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        raise Rejected(f'at: "{text}" is out of range') from None


def check_in_case(case: Case, event: Event, now: int) -> None:
    """What needs the case: an instant lies within the case's life and its calendar, and an
    extension's date within as many days of receipt as an extension's target may be long."""
    until = getattr(event.root, "until", None)
    if isinstance(until, dt.date):
        received = dt.datetime.fromtimestamp(case.state.received, dt.UTC).date()
        if until > received + dt.timedelta(days=EXTENSION_DAYS):
            raise Rejected(
                f"until: {until} is more than {EXTENSION_DAYS:,} days after the complaint was received"
            )
        if until < received:
            raise Rejected(f"until: {until} is before the complaint was received")
    at = getattr(event.root, "at", None)
    if not at:
        return
    t = instant(at)
    end = case.instance.horizon_end()
    if t > end:
        limit = dt.datetime.fromtimestamp(end, dt.UTC).date().isoformat()
        raise Rejected(f'at: "{at}" is beyond the case calendar (until {limit})')
    if t < case.state.received:
        raise Rejected(f'at: "{at}" is before the complaint was received')
