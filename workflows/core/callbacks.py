"""``callbacks``: the customer asks to be called back; an owner calls inside working hours.

The slot is the requested time (or the next opening), at the latest ``within``
the offer.  The owner is reminded ``remind_owner_before``; an outcome not
reported by the slot plus one ``spacing`` counts as a failed attempt, and after
``attempts`` failures the callback is missed: a breach and the
``missed_callback`` trigger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from . import escalation, notifications, values
from .case import Case, Rejected, answer, iso
from .events import SYSTEM, Answer, CallbackOutcome, RequestCallback
from .patches import CASES_KEEP_MOVING, MESSAGES_WORTH_READING, SETTINGS_ACT_AS_WRITTEN
from .state import Callback, LogEntry, Scheduled

#: The follow-up item that reminds a callback's owner: ``callback_reminder:<number>``.
REMINDER = "callback_reminder"


def check_request(case: Case, event: RequestCallback) -> None:
    if case.policy.callbacks is None:
        raise Rejected("this policy offers no callbacks")


def on_request(case: Case, event: RequestCallback, now: int) -> Answer:
    cb = case.policy.callbacks
    assert cb is not None and case.plan.callback_within is not None
    if not case.when(cb.offer_when):
        entry = case.log(
            now, "event:request_callback", "callbacks.offer_when", "callback not offered", event.actor
        )
        return answer("not_offered", entry, "callbacks are not offered for this complaint")
    cal = case.calendar(cb.calendar)
    latest = cal.due(now, case.plan.callback_within)
    wanted = latest
    if event.at:
        try:
            requested = int(dt.datetime.fromisoformat(event.at).timestamp())
        except ValueError:
            raise Rejected(f'"{event.at}" is not an ISO 8601 time') from None
        if case.patched(CASES_KEEP_MOVING):  # a time past the latest is the latest
            wanted = cal.next_opening(min(max(requested, now), latest))
        else:
            wanted = cal.next_opening(max(requested, now))
        if wanted > latest:
            wanted = latest
    else:
        wanted = cal.next_opening(now)
    s = case.state
    owner = s.assignee if cb.owner == "assigned_agent" and s.assignee else case.level_id
    number = len(s.callbacks) + 1
    s.callbacks.append(Callback(number=number, due=wanted, owner=owner))
    entry = case.log(
        now,
        "event:request_callback",
        "callbacks",
        "callback scheduled",
        event.actor,
        at=iso(wanted),
        owner=owner,
    )
    when = values.moment(case, wanted, cb.calendar)
    if not notifications.announce(case, entry, "callback_scheduled", callback=when):
        notifications.send(case, entry, cb.template, callback=when)
    before = case.plan.callback_reminder
    if before is not None:
        s.scheduled.append(
            Scheduled(
                kind=f"{REMINDER}:{number}",
                at=max(now, wanted - before.approx_minutes() * 60),
                rule="callbacks.remind_owner_before",
            )
        )
    return answer("scheduled", entry, at=iso(wanted), owner=owner)


def owner_of(case: Case, owner: str) -> str:
    """A callback's owner as a staff message names it: ``level:<level>`` or ``staff:<id>``."""
    levels = {level.id for level in case.policy.authority}
    return f"level:{owner}" if owner in levels else f"staff:{owner}"


def remind_owner(case: Case, now: int, item: Scheduled) -> None:
    """``remind_owner_before`` the slot: the owner gets the policy's reminder."""
    number = item.kind.split(":")[1]
    entry = case.log(now, "deadline:callback_reminder", item.rule, "callback owner reminded", callback=number)
    cb = next((c for c in case.state.callbacks if str(c.number) == number), None)
    if cb is not None and cb.status == "scheduled":
        _remind(case, entry, cb)


def _remind(case: Case, entry: LogEntry, cb: Callback) -> bool:
    """Send the policy's callback reminder to staff, saying whose call it is; False without one."""
    spec = case.policy.callbacks
    if spec is None or spec.reminder is None or not case.patched(SETTINGS_ACT_AS_WRITTEN):
        return False
    when = values.moment(case, cb.due, spec.calendar)
    notifications.send(
        case,
        entry,
        spec.reminder,
        to="staff",
        callback=when,
        owner=cb.owner,
        recipient=owner_of(case, cb.owner),
    )
    return True


def offer(case: Case, now: int) -> None:
    """At intake, where ``offer_when`` holds: tell the customer a callback is available."""
    spec = case.policy.callbacks
    if spec is None or spec.offer is None or not case.when(spec.offer_when):
        return
    if case.patched(SETTINGS_ACT_AS_WRITTEN):
        entry = case.log(now, "intake", "callbacks.offer", "callback offered")
        notifications.send(case, entry, spec.offer)


def fire(case: Case, now: int) -> None:
    """Callbacks whose slot (or report deadline) has come."""
    for cb in case.state.callbacks:
        if cb.status == "scheduled" and cb.due <= now:
            due(case, now, cb)


def due(case: Case, now: int, cb: Callback) -> None:
    """The slot has come: tell the owner; past the slot plus one spacing, the attempt failed."""
    spacing = case.plan.callback_spacing
    assert spacing is not None
    if now < cb.due + spacing.approx_minutes() * 60 and cb.attempts == 0 and not cb.reminded:
        cb.reminded = True
        entry = case.log(now, f"deadline:callback:{cb.number}", "callbacks", "callback due", owner=cb.owner)
        notifications.send(
            case,
            entry,
            None if _remind(case, entry, cb) else "handoff" if "handoff" in case.compiled.templates else None,
            to="staff",
            handoff={"trigger": "callback_due", "callback": values.moment(case, cb.due)}
            if case.patched(MESSAGES_WORTH_READING)
            else f"Call the customer back now (callback {cb.number}).",
            recipient=owner_of(case, cb.owner),
        )
        cb.due = cb.due + spacing.approx_minutes() * 60
        return
    missed(case, now, cb, f"deadline:callback:{cb.number}")


def missed(case: Case, now: int, cb: Callback, trigger: str) -> None:
    """An attempt failed: try again after ``spacing``, or the callback is missed."""
    spec = case.policy.callbacks
    spacing = case.plan.callback_spacing
    assert spec is not None and spacing is not None
    cb.attempts += 1
    if cb.attempts < spec.attempts:
        cb.due = now + spacing.approx_minutes() * 60
        cb.reminded = False
        case.log(
            now,
            trigger,
            "callbacks.attempts",
            "callback attempt failed",
            attempt=cb.attempts,
            next=iso(cb.due),
        )
        return
    cb.status = "missed"
    case.state.sla_breached = True
    case.log(now, trigger, "callbacks.attempts", "callback missed", attempts=cb.attempts)
    escalation.trigger(case, now, "missed_callback", trigger, SYSTEM)


def cancel_open(case: Case, now: int, trigger: str) -> None:
    """The case is resolved: a callback not yet made is not made (``messages-worth-reading``)."""
    for cb in case.state.callbacks:
        if cb.status == "scheduled":
            cb.status = "cancelled"
            case.log(now, trigger, "callbacks", "callback cancelled", number=cb.number, reason="resolved")


def check_outcome(case: Case, event: CallbackOutcome) -> None:
    if not any(c.status == "scheduled" for c in case.state.callbacks):
        raise Rejected("no callback is scheduled")


def on_outcome(case: Case, event: CallbackOutcome, now: int) -> Answer:
    cb = next(c for c in case.state.callbacks if c.status == "scheduled")
    if event.reached:
        cb.status = "done"
        cb.attempts += 1
        entry = case.log(
            now, "event:callback_outcome", "callbacks", "callback made", event.actor, number=cb.number
        )
        return answer("done", entry)
    missed(case, now, cb, "event:callback_outcome")
    return answer("missed" if cb.status == "missed" else "retry", case.state.log[-1], attempts=cb.attempts)


def upcoming(case: Case) -> Iterator[tuple[int, int, str]]:
    """Scheduled callbacks: (the slot, when to wake: at it, what)."""
    for cb in case.state.callbacks:
        if cb.status == "scheduled":
            yield cb.due, cb.due, f"callback {cb.number}"
