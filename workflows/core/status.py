"""The case as an agent or auditor reads it (``ombuds status``): a view, never the state itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import Field

from ombuds.engine.policy.business_time import HorizonExceeded
from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.model import Clock, Policy
from ombuds.engine.policy.rules import clock_calendar
from ombuds.engine.policy.snapshot import Instance

from . import dates, notifications, values
from .case import iso
from .clocks import running
from .driver import Interpreter
from .payload import Payload
from .state import Callback, ConditionError, Promise, Proposal


class ClockView(Payload):
    id: str
    kind: str
    status: str
    target: str
    due: str | None = None
    due_local: str | None = None
    remaining: str | None = Field(None, description="Working (or elapsed) time left, e.g. 12h30m.")
    extended: bool = False


class StatusView(Payload):
    """What ``ombuds status`` shows."""

    complaint_id: str
    policy_id: str
    policy_version: str
    policy_sha: str
    now: str
    #: Case time is the real time: ``now`` is when the case last ran, and a client shows the
    #: time left as of the moment it asks (:func:`as_of`).  False for a simulated case.
    real_time: bool = False
    calendar_sha: str = ""
    status: str
    stage: str
    level: str
    severity: str
    priority: str
    category: str
    queue: str
    assignee: str | None = None
    sla_breached: bool
    undelivered: int = 0
    next_deadline: str | None = None
    next_deadline_what: str | None = Field(
        None, description="What falls due then, e.g. `final-response due`."
    )
    clocks: list[ClockView]
    promises: list[Promise]
    proposals: list[Proposal]
    compensation_total: Decimal
    offered: list[str]
    chosen: str | None = None
    callbacks: list[Callback]
    dates: dict[str, str]
    log_entries: int
    condition_errors: list[ConditionError] = Field(default_factory=list)
    locale: str = Field("", description="The language the customer is written to in.")
    subject: str | None = Field(None, description="The complaint's subject, as submitted.")
    customer: dict[str, Any] | None = Field(
        None, description="Who complained: name and contacts, for staff (sealed in every history)."
    )
    customer_timezone: str | None = Field(None, description="The customer's timezone, when they gave one.")
    texts: dict[str, str] = Field(
        default_factory=dict,
        description="The free texts the decision log refers to by sha256, for staff (sealed in every history).",
    )
    told: dict[str, Any] = Field(
        default_factory=dict,
        description="The deadlines as the customer's messages tell them (`deadlines`: each still to come, "
        "as typed values the delivery words), for the customer's pages.",
    )


def told(core: Interpreter, t: int, calendar: str | None) -> str:
    """A deadline as people read it in its calendar's timezone; one at the end of a day (a close
    at 24:00, or 23:59:59) is that day's end, not the next day's midnight."""
    cal = core.calendar(calendar)
    day, end_of_day = cal.told_day(t)
    if end_of_day:
        return f"{day.isoformat()} end of day ({cal.timezone})"
    return core.local(t, calendar)


def remaining_text(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m"


def remaining(
    policy: Policy, instance: Instance, clock: Clock, target: str, due: int, now: int
) -> str | None:
    """A running clock's time left at ``now``, in its own measure (working time for business units)."""
    cal = instance.calendar(clock_calendar(policy, clock))
    try:
        return remaining_text(running.span(cal, parse_duration(target), now, due))
    except HorizonExceeded:
        return None


def as_of(view: StatusView, policy: Policy, instance: Instance, now: int) -> StatusView:
    """A real-time case's status as of ``now`` (the moment a client asks), not as of the last
    moment the case ran: each running clock's time left counted again.  A simulated case runs
    on its own clock, so its view is returned as it is."""
    if not view.real_time:
        return view
    clocks = []
    for shown in view.clocks:
        clock = next((c for c in policy.clocks if c.id == shown.id), None)
        if clock is not None and shown.status == "running" and shown.due is not None:
            due = int(dt.datetime.fromisoformat(shown.due.replace("Z", "+00:00")).timestamp())
            shown = shown.model_copy(
                update={"remaining": remaining(policy, instance, clock, shown.target, due, now)}
            )
        clocks.append(shown)
    return view.model_copy(update={"clocks": clocks, "now": iso(now)})


def status_view(core: Interpreter, now: int, real_time: bool = False) -> StatusView:
    """The case as an agent or auditor reads it, at case time ``now``."""
    s = core.state
    clocks = []
    for clock in core.policy.clocks:
        cs = s.clocks.get(clock.id)
        if cs is None:
            continue
        view = ClockView(
            id=clock.id,
            kind=clock.kind,
            status=cs.status,
            target=cs.target or clock.target,
            extended=cs.extended,
        )
        if cs.due is not None:
            view.due = iso(cs.due)
            view.due_local = told(core, cs.due, clock.calendar)
            if cs.status == "running":
                view.remaining = remaining(
                    core.policy, core.instance, clock, cs.target or clock.target, cs.due, now
                )
            elif cs.status == "paused" and cs.remaining is not None:
                view.remaining = remaining_text(cs.remaining)
        clocks.append(view)
    upcoming = core.next_due()
    return StatusView(
        complaint_id=s.complaint_id,
        policy_id=core.policy.policy.id,
        policy_version=core.policy.policy.version,
        policy_sha=s.policy_sha,
        now=iso(now),
        real_time=real_time,
        calendar_sha=core.calendar_sha,
        status=s.status,
        stage=s.stage,
        level=core.level_id,
        severity=s.severity,
        priority=s.priority,
        category=s.category,
        queue=s.queue,
        assignee=s.assignee,
        sla_breached=s.sla_breached,
        undelivered=s.undelivered,
        next_deadline=iso(upcoming[0]) if upcoming is not None else None,
        next_deadline_what=upcoming[1] if upcoming is not None else None,
        clocks=clocks,
        promises=s.promises,
        proposals=s.proposals,
        compensation_total=s.compensation_total,
        offered=s.offered,
        chosen=s.chosen,
        callbacks=s.callbacks,
        dates=dates.derived(core, strict=False),
        log_entries=len(s.log),
        condition_errors=s.condition_errors,
        locale=core.complaint.customer.locale or core.policy.policy.locale,
        subject=core.complaint.subject,
        customer={
            "name": core.complaint.customer.name,
            "contacts": core.complaint.customer.contacts.model_dump(exclude_none=True),
        },
        customer_timezone=core.complaint.customer.timezone,
        texts=dict(s.texts),
        told=told_customer(core, now),
    )


def told_customer(core: Interpreter, now: int) -> dict[str, Any]:
    """The deadlines as the customer's messages word them; none when one is past the calendar."""
    try:
        typed = notifications.typed_values(core, frozenset({"deadlines"}), "customer")
        return values.worded(core, typed, now, "customer")
    except HorizonExceeded:
        return {}
