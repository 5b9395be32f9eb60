"""Clocks start and stop on case events (``starts``, ``stops``), pause while the case waits on
the customer (``pause_while_waiting_on_customer``), and restart or resume on reopen
(``on_reopen``).

Starting, stopping or breaching a clock is itself a case event
(``clock:<id>:started`` ...), so clocks can be anchored on each other.
"""

from __future__ import annotations

from ombuds.engine.policy.anchors import complaint_date, is_complaint_date
from ombuds.engine.policy.business_time import CaseCalendar, HorizonExceeded
from ombuds.engine.policy.durations import Duration, parse_duration
from ombuds.engine.policy.model import Clock
from ombuds.engine.policy.rules import clock_applies, clock_calendar
from ombuds.engine.policy.vocabulary import ENDING, ONCE_ONLY, clock_event

from .. import dates, notifications
from ..case import Case, answer, event_first, iso
from ..events import SYSTEM, Actor, Answer, RequestInformation
from ..patches import DEADLINES_AS_REGIMES_COUNT, MESSAGES_WORTH_READING, SETTINGS_ACT_AS_WRITTEN
from ..state import ClockState

#: Case events nested deeper than this (clocks anchored on each other in a ring) stop here.
MAX_DEPTH = 16


def arm(case: Case) -> None:
    """At intake: every clock waits for its start, or is off where ``applies_when`` does not hold."""
    for clock in case.policy.clocks:
        state = ClockState(id=clock.id)
        if not clock_applies(clock, case.variables(), case.evaluator):
            state.status = "off"
        case.state.clocks[clock.id] = state


def process(case: Case, now: int, event: str, actor: Actor, since: int | None = None) -> None:
    """A case event: record it, then start and stop the clocks anchored on it.  ``since``: the
    deadline the event is (a breach), which a clock it starts counts on from."""
    case.record_event(now, event)
    case.depth += 1
    if case.depth > MAX_DEPTH:
        case.depth -= 1
        return
    try:
        for clock in case.policy.clocks:
            cs = case.state.clocks.get(clock.id)
            if cs is None or cs.status == "off":
                continue
            if event in clock.stops and cs.status in ("running", "paused", "breached"):
                stop(case, now, clock, cs, event, actor)
                if clock.repeat and event not in ENDING:
                    start(case, now, clock, cs, event, actor)
            elif event == clock.starts and (cs.status == "waiting" or again(clock, cs, event)):
                cs.status = "waiting"
                start(case, now, clock, cs, event, actor, since=since)
    finally:
        case.depth -= 1


def again(clock: Clock, cs: ClockState, event: str) -> bool:
    """A clock that waits for the customer's answer (``starts: information_requested``) starts
    again on each request once it stopped."""
    return event == "information_requested" and cs.status == "stopped"


def start(
    case: Case,
    now: int,
    clock: Clock,
    cs: ClockState,
    trigger: str,
    actor: Actor,
    since: int | None = None,
    origin: int | None = None,
) -> None:
    """Start a clock at ``now``; ``since``: a deadline it counts on from (a repeating notice's last
    one, a breach), not a new receipt out of hours (``deadlines-as-regimes-count``); ``origin``:
    the instant it counts from when that is not ``now`` (a date the complaint gives)."""
    i = case.clock_index(clock.id)
    plan = case.plan.clocks[i]
    duration, rule = plan.target_for(i, case.state.priority or None)
    cal = case.calendar(clock_calendar(case.policy, clock))
    continuing = since is not None and case.patched(DEADLINES_AS_REGIMES_COUNT)
    if continuing and cs.first_start is not None and duration.unit in ("months", "years"):
        # the nth month from the first start, not a month from a deadline a short month clamped
        cs.periods += 1
        due = cal.due(cs.first_start, Duration(duration.amount * cs.periods, duration.unit), plan.counting)
    elif continuing and since is not None:
        cs.periods += 1
        due = cal.due(since, duration, plan.counting, continuing=True)
    else:
        cs.first_start, cs.periods = now if origin is None else origin, 1
        due = cal.due(cs.first_start, duration, plan.counting)
    due, by_date = bounded_by_dates(case, clock, due)
    cs.status, cs.started_at, cs.due, cs.met = "running", now if origin is None else origin, due, None
    cs.target, cs.target_rule = str(duration), rule
    cs.remaining = None
    cs.warnings_at = warning_instants(case, clock, cal, duration, now, due)
    cs.warnings_fired = []
    waiting = case.state.waiting_on_customer and clock.pause_while_waiting_on_customer
    # a clock that starts while the case waits is logged as started, then paused
    pause_first = waiting and not case.patched(SETTINGS_ACT_AS_WRITTEN)
    if pause_first:
        pause(case, now, clock, cs, actor)
    case.log(
        now,
        f"event:{trigger}",
        rule,
        "clock started",
        actor,
        clock=clock.id,
        due=iso(due),
        target=str(duration),
        by_date=by_date,
    )
    if waiting and not pause_first:
        pause(case, now, clock, cs, actor)
    process(case, now, clock_event(clock.id, "started"), actor)


def bounded_by_dates(case: Case, clock: Clock, due: int) -> tuple[int, str | None]:
    """The deadline within the clock's ``at_latest`` and ``at_earliest`` dates, those known now;
    and the date that moved it, if one did."""
    by: str | None = None
    for name, pick in ((clock.at_latest, min), (clock.at_earliest, max)):
        if name is None:
            continue
        index = next(i for i, d in enumerate(case.policy.dates) if d.id == name)
        limit = dates.due(case, case.policy.dates[index], case.plan.dates[index])
        if limit is not None and pick(due, limit) != due:
            due, by = limit, name
    return due, by


def start_from_complaint_dates(case: Case, now: int) -> None:
    """At intake: each clock that counts from a date the complaint gives starts from it (a
    complaint without that date leaves the clock waiting; one past its deadline breaches at once)."""
    for clock in case.policy.clocks:
        cs = case.state.clocks.get(clock.id)
        if cs is None or cs.status != "waiting" or not is_complaint_date(clock.starts):
            continue
        cal = case.calendar(clock_calendar(case.policy, clock))
        origin = complaint_date(case.complaint, clock.starts, cal)
        if origin is None:
            continue
        try:
            start(case, now, clock, cs, clock.starts, SYSTEM, origin=min(origin, now))
        except HorizonExceeded as exc:
            if exc.needed >= cal.start:
                raise  # past the calendar: the case is given a longer one
            # working time before the case is in no calendar (validation refuses such targets)
            cs.status = "waiting"
            rule = f"clocks[{case.clock_index(clock.id)}].starts"
            reason = "it would count working time before the case calendar"
            case.log(now, "intake", rule, "clock not started", clock=clock.id, reason=reason)


def warning_instants(
    case: Case, clock: Clock, cal: CaseCalendar, duration: Duration, start: int, due: int
) -> list[int]:
    """When each of the clock's warnings falls due: at a share of the target, or a time before it."""
    out = []
    total = span(cal, duration, start, due)
    for warning in case.plan.clock(clock.id).warnings:
        if warning.share is not None:
            out.append(advance(cal, duration, start, int(total * warning.share)))
        elif warning.before is not None:
            before = warning.before
            if before.is_business and before.unit == "business_days":
                seconds = before.amount * cal.business_day_seconds
            elif before.is_business:
                seconds = before.approx_minutes() * 60
            else:
                out.append(due - before.approx_minutes() * 60)
                continue
            try:
                out.append(cal.add_business_seconds(due, -seconds))
            except HorizonExceeded:  # more working time before the deadline than the calendar has
                out.append(start)
    return out


def stop(
    case: Case, now: int, clock: Clock, cs: ClockState, event: str, actor: Actor, unmet: bool = False
) -> None:
    cal = case.calendar(clock_calendar(case.policy, clock))
    duration = parse_duration(cs.target)
    if cs.status == "running" and cs.due is not None:
        cs.remaining = span(cal, duration, now, cs.due)
    met = not unmet and cs.status != "breached" and (cs.due is None or now <= cs.due)
    cs.status, cs.met = "stopped", met
    case.log(
        now,
        f"event:{event}",
        f"clocks[{case.clock_index(clock.id)}].stops",
        "clock stopped",
        actor,
        clock=clock.id,
        met=met,
    )
    for promise in case.state.promises:
        if promise.kind == clock.id and promise.kept is None:
            promise.kept = now <= promise.due
    process(case, now, clock_event(clock.id, "stopped"), actor)


def pause(case: Case, now: int, clock: Clock, cs: ClockState, actor: Actor) -> None:
    if cs.status != "running" or cs.due is None:
        return
    cal = case.calendar(clock_calendar(case.policy, clock))
    cs.remaining = span(cal, parse_duration(cs.target), now, cs.due)
    cs.status = "paused"
    case.log(
        now,
        "event:request_information",
        f"clocks[{case.clock_index(clock.id)}].pause_while_waiting_on_customer",
        "clock paused",
        actor,
        clock=clock.id,
        remaining_seconds=cs.remaining,
    )


def resume(case: Case, now: int, clock: Clock, cs: ClockState, actor: Actor, trigger: str) -> None:
    if cs.status != "paused" or cs.remaining is None or cs.due is None:
        return
    cal = case.calendar(clock_calendar(case.policy, clock))
    duration = parse_duration(cs.target)
    old_due = cs.due
    cs.due = advance(cal, duration, now, cs.remaining)
    if duration.is_business:
        cs.warnings_at = [shift_business(cal, w, old_due, cs.due) for w in cs.warnings_at]
    else:
        cs.warnings_at = [w + cs.due - old_due for w in cs.warnings_at]
    cs.status = "running"
    cs.remaining = None
    rule = f"clocks[{case.clock_index(clock.id)}].pause_while_waiting_on_customer"
    case.log(now, trigger, rule, "clock resumed", actor, clock=clock.id, due=iso(cs.due))


def on_request_information(case: Case, event: RequestInformation, now: int) -> Answer:
    """Staff wait on the customer: clocks that pause while waiting pause."""
    s = case.state
    s.waiting_on_customer = True
    asked = case.log(
        now,
        "event:request_information",
        "clocks",
        "waiting on customer",
        event.actor,
        # before messages-worth-reading, a question (a field added since) is recorded as the reason
        reason=event.reason if case.patched(MESSAGES_WORTH_READING) else event.reason or event.question,
        question=event.question if case.patched(MESSAGES_WORTH_READING) else None,
    )

    def happened() -> None:
        for clock in case.policy.clocks:
            cs = s.clocks.get(clock.id)
            if cs is not None and clock.pause_while_waiting_on_customer:
                pause(case, now, clock, cs, event.actor)
        process(case, now, "information_requested", event.actor)  # a clock may wait for the answer

    def told() -> None:
        if case.patched(MESSAGES_WORTH_READING):  # the customer is told what is asked, and by when
            notifications.announce(
                case, asked, "information_requested", question=event.question or event.reason
            )

    event_first(case, happened, told)
    return answer("waiting_on_customer", asked)


def stop_waiting(case: Case, now: int, actor: Actor, trigger: str) -> None:
    """The customer answered: the case no longer waits, paused clocks resume."""
    s = case.state
    if not s.waiting_on_customer:
        return
    s.waiting_on_customer = False
    for clock in case.policy.clocks:
        cs = s.clocks.get(clock.id)
        if cs is not None and clock.pause_while_waiting_on_customer:
            resume(case, now, clock, cs, actor, trigger)


def reopen(case: Case, now: int, actor: Actor, trigger: str) -> None:
    """A reopened case: stopped clocks restart or resume as ``on_reopen`` says."""
    for clock in case.policy.clocks:
        cs = case.state.clocks.get(clock.id)
        if cs is None or cs.status != "stopped":
            continue
        if clock.on_reopen == "restart" and not stopped_for_good(case, clock):
            cs.status = "waiting"
            start(case, now, clock, cs, "reopened", actor)
        elif clock.on_reopen == "resume" and cs.remaining is not None:
            cal = case.calendar(clock_calendar(case.policy, clock))
            cs.due = advance(cal, parse_duration(cs.target), now, cs.remaining)
            cs.status, cs.remaining = "running", None
            cs.warnings_fired = list(range(len(cs.warnings_at)))
            case.log(
                now,
                trigger,
                f"clocks[{case.clock_index(clock.id)}].on_reopen",
                "clock resumed",
                actor,
                clock=clock.id,
                due=iso(cs.due),
            )


def stop_all(case: Case, now: int, actor: Actor, event: str, unmet: bool = False) -> None:
    """The case ends: every clock still running or paused stops (``unmet``: none was met)."""
    for clock in case.policy.clocks:
        cs = case.state.clocks.get(clock.id)
        if cs is not None and cs.status in ("running", "paused"):
            stop(case, now, clock, cs, event, actor, unmet=unmet)


def stopped_for_good(case: Case, clock: Clock) -> bool:
    """A clock whose stop events happen once and have happened (an acknowledgement)."""
    return all(e in ONCE_ONLY and e in case.state.events for e in clock.stops)


def span(cal: CaseCalendar, duration: Duration, start: int, due: int) -> int:
    """Remaining time in the clock's own measure: working seconds for business units."""
    if duration.is_business:
        return max(cal.business_seconds_between(start, due), 0)
    return max(due - start, 0)


def advance(cal: CaseCalendar, duration: Duration, start: int, amount: int) -> int:
    """``amount`` of the clock's own measure after ``start``."""
    if duration.is_business:
        return cal.add_business_seconds(cal.next_opening(start), amount)
    return start + amount


def paused_shift(case: Case, cal: CaseCalendar, cs: ClockState, due: int, duration: Duration) -> int:
    """``due`` (counted from the clock's start) moved on by the time the clock spent paused.

    A pause moves the deadline on when the clock resumes; a deadline counted
    afresh from the start (an extension, its cap) keeps that time too.
    """
    if cs.due is None or cs.started_at is None:
        return due
    counted = cal.due(cs.started_at, parse_duration(cs.target), case.plan.clock(cs.id).counting)
    if duration.is_business:
        paused = cal.business_seconds_between(counted, cs.due) if cs.due > counted else 0
        return cal.add_business_seconds(due, paused) if paused > 0 else due
    return due + max(cs.due - counted, 0)


def shift_business(cal: CaseCalendar, t: int, old_due: int, new_due: int) -> int:
    """Move a warning instant by the working time the pause added."""
    added = cal.business_seconds_between(old_due, new_due)
    return cal.add_business_seconds(t, added) if added > 0 else t
