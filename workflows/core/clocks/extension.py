"""A clock's ``extension``: staff extend its target within ``max_total``, when ``when`` holds,
with a notice to the customer (before the deadline where ``notice_before_deadline``).
The new date is a promise: missing it is a breach.
"""

from __future__ import annotations

import datetime as dt

from ombuds.engine.policy.business_time import CaseCalendar, HorizonExceeded
from ombuds.engine.policy.durations import Duration, parse_duration
from ombuds.engine.policy.rules import clock_calendar

from .. import notifications, values
from ..case import Case, Rejected, answer, iso
from ..events import Answer, Extend
from ..patches import DEADLINES_AS_REGIMES_COUNT, EXTENSION_KEEPS_PAUSED_TIME, MESSAGES_WORTH_READING
from ..state import Promise
from . import running


def check(case: Case, event: Extend) -> None:
    if event.clock not in case.state.clocks:
        raise Rejected(f'unknown clock "{event.clock}"')
    if not event.reason:
        raise Rejected("an extension needs a reason for the customer")
    if event.target and event.until:
        raise Rejected("give the extended target or the date (until), not both")
    if event.until:
        return
    if not event.target:
        raise Rejected("give the extended target, e.g. '35 business days', or the date (until: 2027-03-31)")
    try:
        parse_duration(event.target)
    except ValueError as exc:
        raise Rejected(str(exc)) from None


def until_due(cal: CaseCalendar, day: dt.date, target: Duration) -> int | None:
    """The deadline a stated date means: the close of business that day for a clock counting
    business days (None: not a working day), else the end of that local day."""
    ordinal = day.toordinal()
    end = cal.end_of_local_day(ordinal)
    if end > cal.end:  # past the case calendar: the case is given a longer one first
        raise HorizonExceeded(cal.name, end)
    if target.unit == "business_days":
        if not cal.is_business_day(ordinal):
            return None
        return cal.close_of_business_day(cal.business_day_index(ordinal, after=False))[1]
    return end


def on_extend(case: Case, event: Extend, now: int) -> Answer:
    s = case.state
    clock = case.clock_def(event.clock or "")
    cs = s.clocks[clock.id]
    i = case.clock_index(clock.id)
    ext = clock.extension
    base = {
        "clock": clock.id,
        "target": event.target,
        "until": event.until.isoformat() if event.until else None,
        "notice_reason": event.reason,
    }
    base = {k: v for k, v in base.items() if v is not None}
    if ext is None:
        entry = case.log(
            now,
            "event:extend",
            f"clocks[{i}]",
            "extension rejected",
            event.actor,
            why="the policy allows no extension of this clock",
            **base,
        )
        return answer("rejected", entry, "the policy allows no extension of this clock", **base)
    rule = f"clocks[{i}].extension"
    if cs.status == "breached" and cs.due is not None and ext.notice_before_deadline:
        why = f"the deadline {iso(cs.due)} has passed; an extension notice must go out before it"
    elif cs.status not in ("running", "paused", "breached") or cs.due is None or cs.started_at is None:
        why = f"the clock is {cs.status}"
    elif ext.notice_before_deadline and now > cs.due:
        why = f"the notice must go out before the deadline ({iso(cs.due)})"
    elif not case.when(ext.when):
        why = f"the extension condition does not hold ({ext.when})"
    else:
        why = ""
    if why:
        entry = case.log(now, "event:extend", rule, "extension rejected", event.actor, why=why, **base)
        return answer("rejected", entry, why, **base)
    assert cs.due is not None and cs.started_at is not None
    cal = case.calendar(clock_calendar(case.policy, clock))
    plan = case.plan.clocks[i]
    cap_due = None
    if plan.extension_cap is not None:
        cap_due = cal.due(cs.started_at, plan.extension_cap, plan.counting)
        if case.patched(EXTENSION_KEEPS_PAUSED_TIME):
            cap_due = running.paused_shift(case, cal, cs, cap_due, plan.extension_cap)
    if event.until is not None:  # the date the holding reply names: the end of that working day
        new_due = until_due(cal, event.until, parse_duration(cs.target or clock.target))
    else:
        new_target = parse_duration(event.target or "")
        new_due = cal.due(cs.started_at, new_target, plan.counting)
        if case.patched(EXTENSION_KEEPS_PAUSED_TIME):
            new_due = running.paused_shift(case, cal, cs, new_due, new_target)
    if new_due is None:
        why = f"{event.until} is not a working day of the clock's calendar"
    elif cap_due is not None and new_due > cap_due:
        why = f"the new date is past the cap of {ext.max_total} ({case.local(cap_due, clock.calendar)})"
    elif new_due <= cs.due:
        why = "the new date is not later than the current deadline"
    if why or new_due is None:
        entry = case.log(now, "event:extend", rule, "extension rejected", event.actor, why=why, **base)
        return answer("rejected", entry, why, **base)
    if cs.status == "paused" and cs.remaining is not None:
        cs.remaining += cal.business_seconds_between(cs.due, new_due)
    old = cs.due
    cs.due = new_due
    cs.extended = True
    cs.target = event.target or cs.target
    cs.warnings_at = running.warning_instants(
        case, clock, cal, parse_duration(cs.target), cs.started_at, new_due
    )
    cs.warnings_fired = [k for k, w in enumerate(cs.warnings_at) if w <= now]
    worded = case.patched(MESSAGES_WORTH_READING)
    new_date = case.local(new_due, clock.calendar)
    told = values.instant(case, new_due, clock.calendar, promised=True) if worded else new_date
    entry = case.log(
        now,
        "event:extend",
        rule,
        "extended",
        event.actor,
        previous_due=iso(old),
        due=iso(new_due),
        **base,
    )

    def notice() -> None:
        notifications.send(case, entry, ext.notice, reason=event.reason, new_date=told)
        notifications.announce(case, entry, "extension", reason=event.reason, new_date=told)

    # the notice tells what the extension starts (``deadlines-as-regimes-count``); before, it went first
    event_first = case.patched(DEADLINES_AS_REGIMES_COUNT)
    if not event_first:
        notice()
    if cs.status == "breached" and new_due > now:
        cs.status = "running"  # a late extension the policy allows (no notice-before rule)
    s.promises.append(
        Promise(
            kind=clock.id,
            due=new_due,
            text=f"{clock.id} by {iso(new_due)}"
            if worded
            else f"{case.text(clock.title) or clock.id} by {new_date}",
            rule=rule,
        )
    )
    running.process(case, now, "extension_granted", event.actor)
    if event_first:
        notice()
    return answer("extended", entry, due=iso(new_due), **base)
