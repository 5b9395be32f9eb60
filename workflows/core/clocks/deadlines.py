"""What falls due on a clock: its ``warnings``, its breach (``notify_on_breach``, the
``sla_breach`` trigger), and the notices of clocks that tell the customer
(``notify_customer``: a delay notice, a periodic update), which are met, not breached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ombuds.engine.policy.model import Clock
from ombuds.engine.policy.vocabulary import clock_event

from .. import escalation, notifications, values
from ..case import Case, Rejected, answer, iso
from ..events import SYSTEM, Answer, ExplainDelay, Resolve
from ..patches import CASES_KEEP_MOVING, MESSAGES_WORTH_READING
from ..state import ClockState
from . import running

#: The reason a notice clock gives the customer.
DELAY_REASON = "the investigation is not yet complete"


#: A warning handled more than this many seconds after it fell due is logged with that instant.
LATE = 60


def fire(case: Case, now: int) -> None:
    """Every warning and deadline of a running clock due at or before ``now``.

    With ``cases-keep-moving``, what fell due while nothing could act (a complaint entered late,
    a worker or the server down) is handled at once, in the order it fell due, across clocks: a
    breach is logged with its due instant (the entry's own instant is when it was handled); a
    warning whose clock had breached by then is logged as skipped, with the instant it fell due;
    any other warning goes out, logged with the instant it fell due when that is past."""
    if not case.patched(CASES_KEEP_MOVING):
        fire_by_clock(case, now)
        return
    for at, _order, clock, index in due_in_order(case, now):
        cs = case.state.clocks[clock.id]
        if cs.status != "running" or cs.due is None:
            continue  # stopped or breached by what was handled before it
        i = case.clock_index(clock.id)
        if index is None:
            fall_due(case, now, clock, cs, i)
        elif index not in cs.warnings_fired:
            cs.warnings_fired.append(index)
            if now > cs.due:
                case.log(
                    now,
                    f"deadline:{clock.id}",
                    f"clocks[{i}].warnings[{index}]",
                    "warning skipped",
                    clock=clock.id,
                    fell_due=iso(at),
                    reason=f"the deadline {iso(cs.due)} had passed when the warning could be handled",
                )
                continue
            warn(case, now, clock, cs, index, fell_due=iso(at) if now - at > LATE else None)


def due_in_order(case: Case, now: int) -> list[tuple[int, int, Clock, int | None]]:
    """Warnings (a warning's index) and breaches (None) of running clocks due by ``now``, in the
    order they fell due; at one instant, warnings first."""
    due: list[tuple[int, int, Clock, int | None]] = []
    for order, clock in enumerate(case.policy.clocks):
        cs = case.state.clocks.get(clock.id)
        if cs is None or cs.status != "running" or cs.due is None:
            continue
        for index, at in enumerate(cs.warnings_at):
            if index not in cs.warnings_fired and at <= now:
                due.append((at, order, clock, index))
        if now > cs.due:
            due.append((cs.due + 1, order, clock, None))
    return sorted(due, key=lambda item: (item[0], item[3] is None, item[1]))


def warn(case: Case, now: int, clock: Clock, cs: ClockState, index: int, fell_due: str | None = None) -> None:
    """A clock's warning: staff are told, the ``sla_warning`` trigger fires (``fell_due``: when it
    fell due, for a warning handled late)."""
    i = case.clock_index(clock.id)
    warning = clock.warnings[index]
    entry = case.log(
        now,
        f"deadline:{clock.id}",
        f"clocks[{i}].warnings[{index}]",
        "warning",
        clock=clock.id,
        due=iso(cs.due or now),
        fell_due=fell_due,
    )
    for template in warning.notify:
        notifications.send(case, entry, template, to="staff", clock=values.clock(case, clock.id))
    escalation.trigger(
        case, now, "sla_warning", f"deadline:{clock.id}", SYSTEM, clock=clock.id, warning=warning.id
    )


def fire_by_clock(case: Case, now: int) -> None:
    """Before ``cases-keep-moving``: clock by clock; a warning past its clock's deadline is dropped."""
    for clock in case.policy.clocks:
        cs = case.state.clocks.get(clock.id)
        if cs is None or cs.status != "running" or cs.due is None:
            continue
        i = case.clock_index(clock.id)
        for w_index, at in enumerate(cs.warnings_at):
            if w_index not in cs.warnings_fired and at <= now and now <= cs.due:
                cs.warnings_fired.append(w_index)
                warn(case, now, clock, cs, w_index)
        if now > cs.due:
            fall_due(case, now, clock, cs, i)


def fall_due(case: Case, now: int, clock: Clock, cs: ClockState, i: int) -> None:
    """A notice clock sends its notice (and starts again if it repeats); a clock with
    ``when_due`` acts; any other clock breaches."""
    if clock.when_due is not None:
        act_when_due(case, now, clock, cs, i)
        return
    if clock.notify_customer is not None:
        late = cs.due is not None and now - cs.due > LATE and case.patched(CASES_KEEP_MOVING)
        entry = case.log(
            now,
            f"deadline:{clock.id}",
            f"clocks[{i}].notify_customer",
            "customer notified",
            clock=clock.id,
            fell_due=iso(cs.due) if late and cs.due is not None else None,
        )
        worded = case.patched(MESSAGES_WORTH_READING)
        # staff's reason (explain_delay), else the template says why in its own language
        reason = case.state.delay_reason if worded else DELAY_REASON
        new_date: str | dict[str, object] | None = expected_resolution(case)
        if worded:  # a repeating notice tells the next one's date: the clock starts again first
            new_date = expected_resolution_value(case)
            restart_notice(case, now, clock, cs)
        notifications.send(case, entry, clock.notify_customer, reason=reason, new_date=new_date)
        if clock.kind == "delay_notice":
            notifications.announce(case, entry, "delay", reason=reason, new_date=new_date)
        if not worded:
            restart_notice(case, now, clock, cs)
        return
    cs.status = "breached"
    case.state.sla_breached = True
    entry = case.log(
        now, f"deadline:{clock.id}", cs.target_rule, "breached", clock=clock.id, due=iso(cs.due or now)
    )
    for template in clock.notify_on_breach:
        notifications.send(case, entry, template, to="staff", clock=values.clock(case, clock.id))
    running.process(case, now, clock_event(clock.id, "breached"), SYSTEM, since=cs.due)
    escalation.trigger(case, now, "sla_breach", f"deadline:{clock.id}", SYSTEM, clock=clock.id)


def act_when_due(case: Case, now: int, clock: Clock, cs: ClockState, i: int) -> None:
    """The clock's ``when_due``: the customer is sent its notice, then the case closes, is
    resolved or enters a stage (each only from where it can: an open case, or a resolved one
    for closing).  The clock is neither met nor breached: it fell due."""
    from .. import lifecycle, stages

    action = clock.when_due
    assert action is not None
    due = cs.due
    cs.status, cs.met = "stopped", False
    rule = f"clocks[{i}].when_due"
    trigger = f"deadline:{clock.id}"
    entry = case.log(now, trigger, rule, "clock fell due", clock=clock.id, then=action.action)
    running.process(case, now, clock_event(clock.id, "stopped"), SYSTEM, since=due)
    status = case.state.status
    if status not in ("open", "resolved") or (status == "resolved" and action.action != "close"):
        case.log(now, trigger, rule, "nothing to do", clock=clock.id, reason=f"the case is {status}")
        return
    notifications.send(case, entry, action.notify, clock=values.clock(case, clock.id))
    # the clock's own message is the one the customer gets: not a closing or stage letter too
    case.hushed = action.notify is not None
    try:
        if action.action == "close":
            lifecycle.close(case, now, SYSTEM, trigger)
        elif action.action == "enter_stage":
            stages.enter(case, now, action.stage or "", trigger, SYSTEM)
        else:
            lifecycle.on_resolve(case, Resolve(actor=SYSTEM, final_response=False), now)
    finally:
        case.hushed = False


def latest_resolution(case: Case, first: bool = False) -> tuple[int, str] | None:
    """The latest (``first``: the next) running resolution or hard-limit deadline and its clock."""
    candidates = [
        (c.due, cid)
        for cid, c in case.state.clocks.items()
        if c.status in ("running", "paused")
        and c.due is not None
        and case.clock_def(cid).kind in ("resolution", "hard_limit")
    ]
    if not candidates:
        return None
    return min(candidates) if first else max(candidates)


def on_explain_delay(case: Case, event: ExplainDelay, now: int) -> Answer:
    """Staff say why the case takes longer: the customer is told now, with the date a solution
    is expected, and later delay and progress notices say it too."""
    if not case.patched(MESSAGES_WORTH_READING):
        raise Rejected("this case started before explain_delay: extend the clock, which gives a reason")
    case.state.delay_reason = event.reason
    rule, template = delay_notice(case)
    entry = case.log(now, "event:explain_delay", rule, "delay explained", event.actor, reason=event.reason)
    told: dict[str, Any] = {"reason": event.reason, "new_date": expected_resolution_value(case)}
    if not notifications.announce(case, entry, "delay", **told):  # on its channels, to its audience
        notifications.send(case, entry, template, **told)
    return answer("explained", entry)


def delay_notice(case: Case) -> tuple[str, str | None]:
    """The delay notice's rule and template: the ``delay`` notification, else a delay-notice
    clock's ``notify_customer``."""
    note = case.policy.notifications.events.get("delay")
    if note is not None:
        return "notifications.events.delay", note.template
    for i, clock in enumerate(case.policy.clocks):
        if clock.kind == "delay_notice" and clock.notify_customer:
            return f"clocks[{i}].notify_customer", clock.notify_customer
    return "notifications.events.delay", None


def check_explain_delay(case: Case, event: ExplainDelay) -> None:
    if case.state.status != "open":
        raise Rejected(f"the case is {case.state.status}")
    if delay_notice(case)[1] is None:
        raise Rejected(
            "this policy sends no delay notice (notifications.events.delay or a delay_notice clock)"
        )


def restart_notice(case: Case, now: int, clock: Clock, cs: ClockState) -> None:
    """A notice clock is met when it falls due; one that repeats starts again, counting on from
    that deadline."""
    due = cs.due
    cs.status = "stopped"
    if clock.repeat:
        cs.status = "waiting"
        running.start(case, now, clock, cs, clock_event(clock.id, "stopped"), SYSTEM, since=due)


def expected_resolution_value(case: Case) -> dict[str, object] | None:
    """When the customer can expect the resolution: the next running resolution or hard-limit
    deadline (a breached one is no promise), as a value the delivery words."""
    latest = latest_resolution(case, first=True)
    if latest is None:
        return None
    return values.instant(case, latest[0], case.clock_def(latest[1]).calendar, promised=True)


def expected_resolution(case: Case) -> str | None:
    """The latest running resolution or hard-limit deadline, as the customer reads it."""
    latest = latest_resolution(case)
    return None if latest is None else case.local(latest[0], case.clock_def(latest[1]).calendar)


def upcoming(case: Case) -> Iterator[tuple[int, int, str]]:
    """Running clocks: each deadline (woken just after it passes) and each warning still to fire."""
    for cs in case.state.clocks.values():
        if cs.status == "running" and cs.due is not None:
            yield cs.due, cs.due + 1, f"{cs.id} due"
            for i, w in enumerate(cs.warnings_at):
                if i not in cs.warnings_fired:
                    yield w, w, f"{cs.id} warning"
