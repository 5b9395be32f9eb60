"""The pure interpreter core: ``(state, event, now) → (state, sends)``.

No Temporal, no I/O, no clock: the caller passes case time ``now`` as integer
UTC seconds.  The same core runs in the workflow, in tests, in replay and in
simulation.  Every decision appends a log entry naming the rule (its source
path, file and line), the trigger and the actor.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from ombuds.engine.policy.business_time import CaseCalendar, CountingRules, HorizonExceeded
from ombuds.engine.policy.compile import CompiledPolicy, Instance
from ombuds.engine.policy.durations import Duration, parse_duration, parse_percent
from ombuds.engine.policy.expressions import Evaluator, case_variables, complaint_variables
from ombuds.engine.policy.model import CONTACT_FOR_CHANNEL, Clock, Complaint, Counting, EscalationRule, Policy
from ombuds.engine.policy.rules import (
    classify,
    clock_applies,
    clock_calendar,
    clock_target,
    default_calendar,
    intake_refusal,
)

from .model import (
    SYSTEM,
    Actor,
    Answer,
    Callback,
    CapCheck,
    CaseState,
    ClockState,
    ClockView,
    ConditionError,
    Deferred,
    Event,
    LogEntry,
    Promise,
    Proposal,
    Scheduled,
    Send,
    StatusView,
)

FOREVER = 2**62
#: Case events that cannot happen twice: a clock stopped by them does not restart on reopen.
ONCE_ONLY = frozenset({"acknowledged", "first_response", "submitted"})


class Rejected(ValueError):
    """Malformed input or an impossible state: refused before anything is recorded."""


def rules_of(counting: Counting) -> CountingRules:
    return CountingRules(
        counting.receipt_day, counting.business_days, counting.out_of_hours, counting.end_of_day
    )


def entry_time(entry: LogEntry) -> int:
    return int(dt.datetime.fromisoformat(entry.at.replace("Z", "+00:00")).timestamp())


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


#: An extension (and its cap) keeps the working time the clock spent paused.
EXTENSION_KEEPS_PAUSED_TIME = "extension-keeps-paused-time"
#: Distinct condition errors kept per case (a broken condition repeats the same one).
MAX_CONDITION_ERRORS = 20
#: ``handoff_summary: false`` leaves out the summary built from the case.
HANDOFF_SUMMARY_OPTIONAL = "handoff-summary-optional"
#: Every change of behaviour a recorded history may predate, oldest first.
PATCHES = (EXTENSION_KEEPS_PAUSED_TIME, HANDOFF_SUMMARY_OPTIONAL)


def _current(_: str) -> bool:
    return True


class Interpreter:
    """Interprets one compiled policy for one complaint."""

    def __init__(
        self,
        compiled: CompiledPolicy,
        instance: Instance,
        complaint: Complaint,
        complaint_id: str,
        patched: Callable[[str], bool] | None = None,
    ) -> None:
        self.compiled = compiled
        #: Whether a change of behaviour (by its id in :data:`PATCHES`) applies at this point of
        #: the case: the workflow passes ``workflow.patched``, so a history recorded before the
        #: change replays with the old behaviour; everywhere else the current behaviour holds.
        self.patched: Callable[[str], bool] = patched or _current
        self.policy: Policy = compiled.policy
        self.instance = instance
        self.complaint = complaint
        self.complaint_id = complaint_id
        self.evaluator = Evaluator()
        self._complaint_vars = complaint_variables(complaint)
        # what templates see of the complaint: no free text, which stays in the history once
        self._complaint_context = complaint.model_dump(
            mode="json", exclude={"description"}, exclude_none=True
        )
        self._complaint_context["id"] = complaint_id
        self._complaint_context.setdefault("customer", {}).setdefault("contacts", {})
        self.sends: list[Send] = []
        self.cap_checks: list[CapCheck] = []
        self._depth = 0
        self.state: CaseState = CaseState(
            complaint_id=complaint_id,
            policy_sha=compiled.sha256,
            received=int(complaint.received_at.timestamp()),
        )

    # ------------------------------------------------------------------ helpers

    def calendar(self, name: str | None = None) -> CaseCalendar:
        """A case calendar (the instance decodes each once, for every case that shares it)."""
        return self.instance.calendar(name or default_calendar(self.policy))

    def variables(self) -> dict[str, Any]:
        s = self.state
        return {
            "complaint": self._complaint_vars,
            "case": case_variables(
                {
                    "status": s.status,
                    "stage": s.stage,
                    "level": self.level_id,
                    "level_rank": s.level,
                    "severity": s.severity,
                    "priority": s.priority,
                    "category": s.category,
                    "queue": s.queue,
                    "acknowledged": s.acknowledged,
                    "waiting_on_customer": s.waiting_on_customer,
                    "escalations": s.escalations,
                    "reopened": s.reopened,
                    "compensation_total": float(s.compensation_total),
                    "survey_score": s.survey_score or 0,
                    "previous_complaints": s.previous_complaints,
                    "customer_requested_escalation": s.customer_requested_escalation,
                    "justified": bool(s.justified),
                }
            ),
        }

    def when(self, condition: str | None) -> bool:
        return condition is None or self.evaluator.truth(condition, self.variables())[0]

    @property
    def level_id(self) -> str:
        return self.policy.authority[self.state.level].id

    def level_index(self, level_id: str | None) -> int | None:
        for i, level in enumerate(self.policy.authority):
            if level.id == level_id:
                return i
        return None

    def source(self, rule: str) -> str:
        ref = self.compiled.source_of(rule)
        return f"{ref.file}:{ref.line}" if ref else ""

    def log(
        self, now: int, trigger: str, rule: str, action: str, actor: Actor = SYSTEM, **detail: Any
    ) -> LogEntry:
        self.state.seq += 1
        entry = LogEntry(
            seq=self.state.seq,
            at=iso(now),
            trigger=trigger,
            rule=rule,
            source=self.source(rule),
            actor=actor.describe(),
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
            policy_sha=self.compiled.sha256,
        )
        self.state.log.append(entry)
        return entry

    def local(self, t: int, calendar: str | None = None) -> str:
        cal = self.calendar(calendar)
        return cal.local_datetime(t).strftime("%Y-%m-%d %H:%M") + f" ({cal.timezone})"

    def send(
        self,
        entry: LogEntry,
        template: str | None,
        *,
        to: str = "customer",
        channels: Sequence[str] | None = None,
        rule: str = "",
        **context: Any,
    ) -> None:
        if template is None:
            return
        notes = self.policy.notifications
        prefix = f"{self.complaint_id}:{entry.seq}:"
        same_entry = [s for s in self.sends if s.key.startswith(prefix)]
        audience = "staff" if to == "staff" else "customer"
        if any(s.template == template and s.to == audience for s in same_entry):
            return  # one decision sends a message once, however many settings name it
        n = len(same_entry)
        key = f"{self.complaint_id}:{entry.seq}:{n}"
        chosen = list(channels or [notes.preferred, *notes.fallback])
        locale = self.complaint.customer.locale or self.policy.policy.locale
        message = Send(
            key=key,
            to="staff" if to == "staff" else "customer",
            template=template,
            locale=locale,
            channels=chosen,
            context=self.context(self.compiled.template_variables(template), **context),
            rule=rule or entry.rule,
        )
        quiet = notes.quiet_hours
        until = self.quiet_until(entry_time(entry)) if quiet is not None and to != "staff" else None
        reachable = [c for c in chosen if self.reachable(c)]
        if quiet is not None and until is not None and any(c in quiet.channels for c in reachable):
            others = [c for c in reachable if c not in quiet.channels]
            if others:
                message = message.model_copy(update={"channels": others})
            else:
                self.state.deferred.append(Deferred(at=until, send=message))
                self.log(
                    entry_time(entry),
                    entry.trigger,
                    "notifications.quiet_hours",
                    "held for quiet hours",
                    template=template,
                    until=iso(until),
                )
                return
        self.sends.append(message)

    def reachable(self, channel: str) -> bool:
        """Whether the customer gave a contact for this channel."""
        contacts = self.complaint.customer.contacts
        return bool(getattr(contacts, CONTACT_FOR_CHANNEL.get(channel, channel), None))

    def quiet_until(self, now: int) -> int | None:
        """The end of the quiet hours ``now`` falls in, or None outside them."""
        quiet = self.policy.notifications.quiet_hours
        if quiet is None:
            return None
        offsets = self.instance.customer_offsets
        if quiet.timezone == "customer" and offsets:
            i = max(bisect.bisect_right([t for t, _ in offsets], now) - 1, 0)
            offset = offsets[i][1]
        else:
            offset = self.calendar().offset_at(now)
        local = now + offset
        minute = (local % 86_400) // 60
        start = int(quiet.start[:2]) * 60 + int(quiet.start[3:])
        end = int(quiet.end[:2]) * 60 + int(quiet.end[3:])
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if not inside:
            return None
        return local - local % 60 + ((end - minute) % 1440) * 60 - offset

    def announce(self, entry: LogEntry, event: str, **context: Any) -> bool:
        """Send the policy's message for a notification event, to its audience on its channels."""
        note = self.policy.notifications.events.get(event)  # type: ignore[call-overload]
        if note is None:
            return False
        self.send(entry, note.template, to=note.to, channels=note.channels or None, **context)
        return True

    def context(self, needed: frozenset[str] | None = None, **extra: Any) -> dict[str, Any]:
        """What a template sees: only the names it reads, plus who the message goes to."""
        s = self.state
        want = (needed or frozenset(self.TEMPLATE_NAMES)) | {"customer", "complaint", "case"}
        out: dict[str, Any] = {
            "complaint": self._complaint_context,
            "customer": self._complaint_context["customer"],
            "case": {
                "status": s.status,
                "stage": s.stage,
                "level": self.level_id,
                "severity": s.severity,
                "priority": s.priority,
                "category": s.category,
                "survey_score": s.survey_score,
            },
        }
        if "policy" in want:
            meta = self.policy.policy
            out["policy"] = {"id": meta.id, "version": meta.version, "title": meta.title}
        if "deadlines" in want:
            deadlines = {
                cid: self.local(c.due, self.clock_def(cid).calendar)
                for cid, c in s.clocks.items()
                if c.due is not None and c.status in ("running", "paused", "breached")
            }
            for p in s.promises:
                if p.kept is None:
                    deadlines.setdefault(p.kind, self.local(p.due))
            out["deadlines"] = deadlines
        if "dates" in want:
            out["dates"] = self.derived_dates()
        if "level" in want:
            out["level"] = self.policy.authority[s.level].title
        if "received" in want:
            out["received"] = self.local(s.received)
        out.update({k: v for k, v in extra.items() if v is not None and k in want})
        return out

    TEMPLATE_NAMES = ("policy", "deadlines", "dates", "level", "received")

    def clock_def(self, clock_id: str) -> Clock:
        for clock in self.policy.clocks:
            if clock.id == clock_id:
                return clock
        raise KeyError(clock_id)

    def clock_index(self, clock_id: str) -> int:
        return next(i for i, c in enumerate(self.policy.clocks) if c.id == clock_id)

    def derived_dates(self) -> dict[str, str]:
        out = {}
        for date in self.policy.dates:
            anchor = self.state.events.get(date.from_event)
            if anchor is None:
                continue
            cal = self.calendar(date.calendar)
            try:
                due = cal.due(anchor, parse_duration(date.offset), rules_of(date.counting))
            except HorizonExceeded:
                continue
            out[date.id] = cal.local_datetime(due).strftime("%Y-%m-%d")
        return out

    def span(self, cal: CaseCalendar, duration: Duration, start: int, due: int) -> int:
        """Remaining time in the clock's own measure: working seconds for business units."""
        if duration.is_business:
            return max(cal.business_seconds_between(start, due), 0)
        return max(due - start, 0)

    def advance(self, cal: CaseCalendar, duration: Duration, start: int, amount: int) -> int:
        if duration.is_business:
            return cal.add_business_seconds(cal.next_opening(start), amount)
        return start + amount

    # ------------------------------------------------------------------ intake

    def start(self, now: int) -> CaseState:
        """Intake: register, refuse or accept, classify, start clocks, first messages."""
        try:
            return self._start(now)
        finally:
            self.note_condition_errors(now)

    def _start(self, now: int) -> CaseState:
        policy = self.policy
        s = self.state
        self.log(
            now, "intake", "policy", "registered", policy=policy.policy.id, version=policy.policy.version
        )
        self.record_event(now, "submitted")
        variables = self.variables()
        refused = intake_refusal(policy, self.complaint, variables, self.evaluator)
        if refused is not None:
            return self.refuse(now, refused.template, refused.reason, refused.rule)
        for attr, match in classify(policy, variables, self.evaluator).items():
            setattr(s, attr, str(match.value))
            self.log(now, "intake", match.path, "classified", **{attr: match.value})
        for i, clock in enumerate(policy.clocks):
            state = ClockState(id=clock.id)
            if not clock_applies(clock, self.variables(), self.evaluator):
                state.status = "off"
            s.clocks[clock.id] = state
            del i
        self.process(now, "submitted", SYSTEM)
        self.announce(self.enter_stage(now, policy.stages[0].id, "intake", SYSTEM), "received")
        primary = policy.intake.primary_response
        if primary and primary != policy.stages[0].notify:
            entry = self.log(now, "intake", "intake.primary_response", "primary response sent")
            self.send(entry, primary)
        ack = policy.notifications.events.get("acknowledged")
        if ack is not None and policy.intake.acknowledge == "at_intake":
            entry = self.log(now, "intake", "notifications.events.acknowledged", "acknowledgement sent")
            self.announce(entry, "acknowledged")
            self.mark_acknowledged(now, SYSTEM)
        self.trigger(now, "classification", "intake", SYSTEM)
        return s

    def uses_ledger(self) -> bool:
        """Whether this policy needs the customer's ledger (per-customer caps, repeat complaints)."""
        caps = self.policy.compensation.caps.per_customer is not None
        return caps or any(r.trigger.on == "repeat_complaint" for r in self.policy.escalation)

    def repeat_check(self, now: int, previous: int) -> None:
        """The ledger's count of the customer's earlier complaints; fires repeat_complaint."""
        self.state.previous_complaints = previous
        self.log(
            now, "intake", "compensation.caps.per_customer", "earlier complaints counted", previous=previous
        )
        if previous:
            self.trigger(now, "repeat_complaint", "intake", SYSTEM)

    def refuse(self, now: int, template: str | None, reason: str, rule: str) -> CaseState:
        s = self.state
        s.status = "refused"
        entry = self.log(now, "intake", rule, "refused", reason=reason)
        self.send(entry, template, reason=reason)
        if template is None:
            self.announce(entry, "refused", reason=reason)
        return s

    def record_event(self, now: int, name: str) -> None:
        self.state.events.setdefault(name, now)

    def mark_acknowledged(self, now: int, actor: Actor) -> None:
        if not self.state.acknowledged:
            self.state.acknowledged = True
            self.process(now, "acknowledged", actor)

    # ------------------------------------------------------------------ clocks

    def process(self, now: int, event: str, actor: Actor) -> None:
        """Start and stop clocks on a case event (anchors), then record it.

        Starting, stopping or breaching a clock is itself an event
        (``clock:<id>:started`` ...), so clocks can be anchored on each other.
        """
        self.record_event(now, event)
        self._depth += 1
        if self._depth > 16:  # clocks anchored on each other in a ring stop here
            self._depth -= 1
            return
        try:
            self._process_clocks(now, event, actor)
        finally:
            self._depth -= 1

    def _process_clocks(self, now: int, event: str, actor: Actor) -> None:
        for clock in self.policy.clocks:
            cs = self.state.clocks.get(clock.id)
            if cs is None or cs.status == "off":
                continue
            if event in clock.stops and cs.status in ("running", "paused", "breached"):
                self.stop_clock(now, clock, cs, event, actor)
                if clock.repeat and event not in ("resolved", "final_response", "withdrawn", "closed"):
                    self.start_clock(now, clock, cs, event, actor)
            elif event == clock.starts and cs.status == "waiting":
                self.start_clock(now, clock, cs, event, actor)

    def start_clock(self, now: int, clock: Clock, cs: ClockState, trigger: str, actor: Actor) -> None:
        i = self.clock_index(clock.id)
        duration, rule = clock_target(self.policy, i, self.state.priority or None)
        cal = self.calendar(clock_calendar(self.policy, clock))
        due = cal.due(now, duration, rules_of(clock.counting))
        cs.status, cs.started_at, cs.due, cs.original_due = "running", now, due, due
        cs.target, cs.target_rule = str(duration), rule
        cs.remaining = None
        cs.cycles += 1
        cs.warnings_at = self.warning_instants(clock, cal, duration, now, due)
        cs.warnings_fired = []
        if self.state.waiting_on_customer and clock.pause_while_waiting_on_customer:
            self.pause_clock(now, clock, cs, actor)
        self.log(
            now,
            f"event:{trigger}",
            rule,
            "clock started",
            actor,
            clock=clock.id,
            due=iso(due),
            target=str(duration),
        )
        self.process(now, f"clock:{clock.id}:started", actor)

    def warning_instants(
        self, clock: Clock, cal: CaseCalendar, duration: Duration, start: int, due: int
    ) -> list[int]:
        out = []
        total = self.span(cal, duration, start, due)
        for warning in clock.warnings:
            if warning.at is not None:
                share = parse_percent(warning.at) / 100
                out.append(self.advance(cal, duration, start, int(total * share)))
            elif warning.before is not None:
                before = parse_duration(warning.before)
                if before.is_business and before.unit == "business_days":
                    seconds = before.amount * cal.business_day_seconds
                    out.append(cal.add_business_seconds(due, -seconds))
                elif before.is_business:
                    out.append(cal.add_business_seconds(due, -before.approx_minutes() * 60))
                else:
                    out.append(due - before.approx_minutes() * 60)
        return out

    def stop_clock(self, now: int, clock: Clock, cs: ClockState, event: str, actor: Actor) -> None:
        cal = self.calendar(clock_calendar(self.policy, clock))
        duration = parse_duration(cs.target)
        if cs.status == "running" and cs.due is not None:
            cs.remaining = self.span(cal, duration, now, cs.due)
        met = cs.status != "breached" and (cs.due is None or now <= cs.due)
        cs.status, cs.stopped_at = "stopped", now
        self.log(
            now,
            f"event:{event}",
            f"clocks[{self.clock_index(clock.id)}].stops",
            "clock stopped",
            actor,
            clock=clock.id,
            met=met,
        )
        for promise in self.state.promises:
            if promise.kind == clock.id and promise.kept is None:
                promise.kept = now <= promise.due
        self.process(now, f"clock:{clock.id}:stopped", actor)

    def pause_clock(self, now: int, clock: Clock, cs: ClockState, actor: Actor) -> None:
        if cs.status != "running" or cs.due is None:
            return
        cal = self.calendar(clock_calendar(self.policy, clock))
        cs.remaining = self.span(cal, parse_duration(cs.target), now, cs.due)
        cs.status = "paused"
        rule = f"clocks[{self.clock_index(clock.id)}].pause_while_waiting_on_customer"
        self.log(
            now,
            "event:request_information",
            rule,
            "clock paused",
            actor,
            clock=clock.id,
            remaining_seconds=cs.remaining,
        )

    def resume_clock(self, now: int, clock: Clock, cs: ClockState, actor: Actor, trigger: str) -> None:
        if cs.status != "paused" or cs.remaining is None or cs.due is None:
            return
        cal = self.calendar(clock_calendar(self.policy, clock))
        duration = parse_duration(cs.target)
        old_due = cs.due
        cs.due = self.advance(cal, duration, now, cs.remaining)
        if duration.is_business:
            cs.warnings_at = [self.shift_business(cal, w, old_due, cs.due) for w in cs.warnings_at]
        else:
            cs.warnings_at = [w + cs.due - old_due for w in cs.warnings_at]
        cs.status = "running"
        cs.remaining = None
        rule = f"clocks[{self.clock_index(clock.id)}].pause_while_waiting_on_customer"
        self.log(now, trigger, rule, "clock resumed", actor, clock=clock.id, due=iso(cs.due))

    def paused_shift(self, cal: CaseCalendar, cs: ClockState, due: int, duration: Duration) -> int:
        """``due`` (counted from the clock's start) moved on by the time the clock spent paused.

        A pause moves the deadline on when the clock resumes; a deadline counted
        afresh from the start (an extension, its cap) keeps that time too.
        """
        if cs.due is None or cs.started_at is None:
            return due
        counted = cal.due(cs.started_at, parse_duration(cs.target), rules_of(self.clock_def(cs.id).counting))
        if duration.is_business:
            paused = cal.business_seconds_between(counted, cs.due) if cs.due > counted else 0
            return cal.add_business_seconds(due, paused) if paused > 0 else due
        return due + max(cs.due - counted, 0)

    def shift_business(self, cal: CaseCalendar, t: int, old_due: int, new_due: int) -> int:
        """Move a warning instant by the working time the pause added."""
        added = cal.business_seconds_between(old_due, new_due)
        return cal.add_business_seconds(t, added) if added > 0 else t

    # ------------------------------------------------------------------ time

    def next_wake(self) -> int | None:
        """The next instant at which something falls due, or None."""
        s = self.state
        candidates: list[int] = []
        for cs in s.clocks.values():
            if cs.status == "running" and cs.due is not None:
                candidates.append(cs.due + 1)
                candidates += [w for i, w in enumerate(cs.warnings_at) if i not in cs.warnings_fired]
        candidates += [p.due + 1 for p in s.promises if p.kept is None]
        candidates += [x.at for x in s.scheduled if not x.done]
        for cb in s.callbacks:
            if cb.status == "scheduled":
                candidates.append(cb.due)
        candidates += [d.at for d in s.deferred]
        return min(candidates) if candidates else None

    def next_due(self) -> tuple[int, str] | None:
        """What falls due next and when, as people read it (a deadline at its own instant).

        :meth:`next_wake` wakes one second after a deadline, when it has passed;
        this names the deadline itself, for ``ombuds status``.
        """
        s = self.state
        items: list[tuple[int, str]] = []
        for cs in s.clocks.values():
            if cs.status == "running" and cs.due is not None:
                items.append((cs.due, f"{cs.id} due"))
                items += [
                    (w, f"{cs.id} warning")
                    for i, w in enumerate(cs.warnings_at)
                    if i not in cs.warnings_fired
                ]
        items += [(p.due, f"promise: {p.kind}") for p in s.promises if p.kept is None]
        items += [(x.at, x.kind.replace("_", " ")) for x in s.scheduled if not x.done]
        items += [(cb.due, f"callback {cb.number}") for cb in s.callbacks if cb.status == "scheduled"]
        items += [(d.at, f"held message: {d.send.template}") for d in s.deferred]
        return min(items) if items else None

    def tick(self, now: int) -> CaseState:
        """Fire everything due at or before ``now``: warnings, breaches, follow-ups."""
        try:
            return self._tick(now)
        finally:
            self.note_condition_errors(now)

    def _tick(self, now: int) -> CaseState:
        s = self.state
        for clock in self.policy.clocks:
            cs = s.clocks.get(clock.id)
            if cs is None or cs.status != "running" or cs.due is None:
                continue
            i = self.clock_index(clock.id)
            for w_index, at in enumerate(cs.warnings_at):
                if w_index not in cs.warnings_fired and at <= now and now <= cs.due:
                    cs.warnings_fired.append(w_index)
                    warning = clock.warnings[w_index]
                    entry = self.log(
                        now,
                        f"deadline:{clock.id}",
                        f"clocks[{i}].warnings[{w_index}]",
                        "warning",
                        clock=clock.id,
                        due=iso(cs.due),
                    )
                    for template in warning.notify:
                        self.send(entry, template, to="staff", clock=clock.id)
                    self.trigger(
                        now, "sla_warning", f"deadline:{clock.id}", SYSTEM, clock=clock.id, warning=warning.id
                    )
            if now > cs.due:
                self.fall_due(now, clock, cs, i)
        for promise in s.promises:
            if promise.kept is None and now > promise.due:
                promise.kept = False
                s.sla_breached = True
                self.log(now, f"deadline:{promise.kind}", promise.rule, "promise missed", text=promise.text)
        for item in s.scheduled:
            if not item.done and item.at <= now:
                item.done = True
                self.follow_up(now, item)
        for cb in s.callbacks:
            if cb.status == "scheduled" and cb.due <= now:
                self.callback_due(now, cb)
        due = [d for d in s.deferred if d.at <= now]
        if due:
            s.deferred = [d for d in s.deferred if d.at > now]
            for held in due:
                self.log(
                    now,
                    "deadline:quiet_hours",
                    "notifications.quiet_hours",
                    "sent after quiet hours",
                    template=held.send.template,
                )
                self.sends.append(held.send)
        self.maybe_close(now)
        return s

    def fall_due(self, now: int, clock: Clock, cs: ClockState, i: int) -> None:
        if clock.notify_customer is not None:
            # Notice clocks (delay notice, periodic update) send and are met, not breached.
            entry = self.log(
                now,
                f"deadline:{clock.id}",
                f"clocks[{i}].notify_customer",
                "customer notified",
                clock=clock.id,
            )
            new_date = self.expected_resolution()
            self.send(entry, clock.notify_customer, reason=self.delay_reason(), new_date=new_date)
            if clock.kind == "delay_notice":
                self.announce(entry, "delay", reason=self.delay_reason(), new_date=new_date)
            cs.status, cs.stopped_at = "stopped", now
            if clock.repeat:
                cs.status = "waiting"
                self.start_clock(now, clock, cs, f"clock:{clock.id}:stopped", SYSTEM)
            return
        cs.status, cs.breached_at = "breached", now
        self.state.sla_breached = True
        entry = self.log(
            now, f"deadline:{clock.id}", cs.target_rule, "breached", clock=clock.id, due=iso(cs.due or now)
        )
        for template in clock.notify_on_breach:
            self.send(entry, template, to="staff", clock=clock.id)
        self.process(now, f"clock:{clock.id}:breached", SYSTEM)
        self.trigger(now, "sla_breach", f"deadline:{clock.id}", SYSTEM, clock=clock.id)

    def delay_reason(self) -> str:
        return "the investigation is not yet complete"

    def expected_resolution(self) -> str | None:
        candidates = [
            (c.due, cid)
            for cid, c in self.state.clocks.items()
            if c.status in ("running", "paused")
            and c.due is not None
            and self.clock_def(cid).kind in ("resolution", "hard_limit")
        ]
        if not candidates:
            return None
        due, cid = max(candidates)
        return self.local(due, self.clock_def(cid).calendar)

    # ------------------------------------------------------------------ stages and escalation

    def enter_stage(self, now: int, stage_id: str, trigger: str, actor: Actor) -> LogEntry:
        index = next((i for i, st in enumerate(self.policy.stages) if st.id == stage_id), None)
        if index is None:
            raise Rejected(f'unknown stage "{stage_id}"')
        stage = self.policy.stages[index]
        self.state.stage = stage.id
        entry = self.log(now, trigger, f"stages[{index}]", "stage entered", actor, stage=stage.id)
        self.send(entry, stage.notify)
        self.process(now, f"stage:{stage.id}", actor)
        return entry

    def trigger(
        self,
        now: int,
        on: str,
        trigger: str,
        actor: Actor,
        clock: str | None = None,
        summary: str | None = None,
        warning: str | None = None,
    ) -> EscalationRule | None:
        """Fire the first escalation rule for this trigger whose condition holds."""
        for i, rule in enumerate(self.policy.escalation):
            t = rule.trigger
            if t.on != on or (t.clock is not None and t.clock != clock):
                continue
            if t.warning is not None and t.warning != warning:
                continue
            if not self.when(t.when):
                continue
            self.escalate(now, i, rule, trigger, actor, summary)
            return rule
        return None

    def escalate(
        self,
        now: int,
        index: int,
        rule: EscalationRule,
        trigger: str,
        actor: Actor,
        summary: str | None,
        to_level: int | None = None,
    ) -> bool:
        s = self.state
        levels = self.policy.authority
        if to_level is None:
            to_level = s.level + 1 if rule.to == "next" else self.level_index(rule.to)
        if to_level is None or to_level >= len(levels):
            self.log(
                now,
                trigger,
                f"escalation[{index}]",
                "escalation not possible",
                actor,
                reason="already at the highest level",
            )
            return False
        if to_level <= s.level:
            self.log(
                now,
                trigger,
                f"escalation[{index}]",
                "already at or above the level",
                actor,
                level=levels[to_level].id,
            )
            return False
        previous = levels[s.level].id
        s.level = to_level
        s.escalations += 1
        handoff = summary
        if not handoff and (rule.handoff_summary or not self.patched(HANDOFF_SUMMARY_OPTIONAL)):
            handoff = self.handoff_summary(rule, trigger)
        entry = self.log(
            now,
            trigger,
            f"escalation[{index}]",
            "escalated",
            actor,
            from_level=previous,
            to_level=levels[to_level].id,
            handoff=handoff,
            reason=rule.reason,
        )
        level = levels[to_level]
        self.send(entry, rule.notify_customer, level=level.title)
        for template in rule.notify_staff:
            self.send(entry, template, to="staff", handoff=handoff, level=level.title)
        if level.handoff_template and level.handoff_template not in rule.notify_staff:
            self.send(entry, level.handoff_template, to="staff", handoff=handoff, level=level.title)
        if level.decision_within:
            cal = self.calendar(level.calendar)
            due = cal.due(now, parse_duration(level.decision_within))
            s.promises.append(
                Promise(
                    kind="decision",
                    due=due,
                    text=f"{level.title} decides by {self.local(due, level.calendar)}",
                    rule=f"authority[{to_level}].decision_within",
                )
            )
        self.announce(entry, "escalated", level=level.title)
        return True

    def handoff_summary(self, rule: EscalationRule, trigger: str) -> str:
        s = self.state
        subject = self.complaint.subject or (
            self.complaint.description[:120] if self.complaint.description else ""
        )
        clocks = ", ".join(
            f"{cid} {c.status} (due {iso(c.due)})"
            for cid, c in s.clocks.items()
            if c.due is not None and c.status in ("running", "paused", "breached")
        )
        return (
            f"{rule.reason or 'Escalated on ' + rule.trigger.on.replace('_', ' ')} ({trigger}). "
            f"Complaint: {subject}. Category {s.category or '-'}, severity {s.severity or '-'}, stage {s.stage}. "
            f"Clocks: {clocks or 'none running'}. Compensation so far: {s.compensation_total}."
        )

    # ------------------------------------------------------------------ events

    def validate(self, event: Event) -> None:
        """Refuse malformed input or an impossible state; raises :class:`Rejected`."""
        s = self.state
        actor = event.actor
        if actor.kind == "staff" and (actor.level is None or self.level_index(actor.level) is None):
            raise Rejected(f'staff actor needs a known authority level, got "{actor.level}"')
        kind = event.kind
        over = s.status in ("refused", "closed", "withdrawn")
        if over and kind not in ("survey_answer",):
            raise Rejected(f"the case is {s.status}")
        staff_only = {
            "agent_reply",
            "request_information",
            "acknowledge",
            "assign",
            "enter_stage",
            "accept_escalation",
            "propose_compensation",
            "decide_approval",
            "offer_options",
            "callback_outcome",
            "finding",
            "resolve",
            "extend",
            "close",
        }
        if kind in staff_only and actor.kind == "customer":
            raise Rejected(f"{kind} is for staff, not the customer")
        if kind in ("choose_option", "survey_answer", "withdraw") and actor.kind != "customer":
            raise Rejected(f"{kind} is for the customer")
        if kind == "enter_stage" and event.stage not in [st.id for st in self.policy.stages]:
            raise Rejected(f'unknown stage "{event.stage}"')
        if kind == "escalate" and actor.kind == "staff" and not (event.summary and event.summary.strip()):
            raise Rejected("an escalation by staff needs a hand-off summary (summary)")
        if kind == "propose_compensation":
            if event.remedy not in self.policy.compensation.remedies:
                raise Rejected(f'unknown remedy "{event.remedy}"')
            if s.status != "open":
                raise Rejected(f"compensation cannot be proposed on a {s.status} case")
        if kind == "decide_approval":
            if event.proposal is None or event.approve is None:
                raise Rejected("give proposal (its number) and approve (true/false)")
            match = [p for p in s.proposals if p.number == event.proposal]
            if not match or match[0].status != "needs_approval":
                raise Rejected(f"proposal {event.proposal} is not waiting for approval")
        if kind == "choose_option" and event.option not in s.offered:
            raise Rejected(f'"{event.option}" was not offered; offered: {", ".join(s.offered) or "nothing"}')
        if kind == "survey_answer":
            survey = self.policy.follow_up.survey
            if survey is None or "survey" not in s.events:
                raise Rejected("no survey was sent")
            if event.score is None or not survey.scale[0] <= event.score <= survey.scale[1]:
                raise Rejected(f"score must be between {survey.scale[0]} and {survey.scale[1]}")
            if s.survey_score is not None:
                raise Rejected("the survey was already answered")
        if kind == "extend":
            if event.clock not in s.clocks:
                raise Rejected(f'unknown clock "{event.clock}"')
            if not event.reason:
                raise Rejected("an extension needs a reason for the customer")
            if not event.target:
                raise Rejected("give the extended target, e.g. '35 business days'")
            try:
                parse_duration(event.target)
            except ValueError as exc:
                raise Rejected(str(exc)) from None
        if kind == "callback_outcome" and not any(c.status == "scheduled" for c in s.callbacks):
            raise Rejected("no callback is scheduled")
        if kind == "request_callback" and self.policy.callbacks is None:
            raise Rejected("this policy offers no callbacks")
        if kind == "resolve" and s.status != "open":
            raise Rejected(f"the case is already {s.status}")
        if kind == "reopen" and s.status not in ("resolved",):
            raise Rejected(
                "only a resolved case can be reopened here; a closed case reopens as a new linked complaint"
            )

    def apply(self, event: Event, now: int) -> Answer:
        """Validate and apply one event; returns the decision taken."""
        self.validate(event)
        handler = getattr(self, f"on_{event.kind}")
        try:
            answer: Answer = handler(event, now)
            self.maybe_close(now)
        finally:
            self.note_condition_errors(now)
        return answer

    def note_condition_errors(self, now: int) -> None:
        """Record the conditions that failed to evaluate (each counted as false), once per error.

        They go beside the decision log, not into it, so the log and the message keys
        of a case stay what they were; ``ombuds status`` shows them.
        """
        failures, self.evaluator.failures = self.evaluator.failures, []
        known = self.state.condition_errors
        for condition, error in failures:
            found = next((e for e in known if e.condition == condition and e.error == error), None)
            if found is not None:
                found.count += 1
            elif len(known) < MAX_CONDITION_ERRORS:
                rules = sorted(path for path, text in self.compiled.conditions.items() if text == condition)
                known.append(ConditionError(rules=rules, condition=condition, error=error, first_at=iso(now)))

    def _answer(self, status: str, entry: LogEntry | None, reason: str | None = "", **detail: Any) -> Answer:
        return Answer(status=status, reason=reason or "", seq=entry.seq if entry else None, detail=detail)

    def on_customer_message(self, event: Event, now: int) -> Answer:
        s = self.state
        entry = self.log(
            now, "event:customer_message", "intake", "customer message recorded", event.actor, text=event.text
        )
        self.process(now, "customer_reply", event.actor)
        if event.information:
            self.process(now, "information_received", event.actor)
        if s.waiting_on_customer:
            s.waiting_on_customer = False
            for clock in self.policy.clocks:
                cs = s.clocks.get(clock.id)
                if cs is not None and clock.pause_while_waiting_on_customer:
                    self.resume_clock(now, clock, cs, event.actor, "event:customer_message")
        return self._answer("recorded", entry)

    def on_agent_reply(self, event: Event, now: int) -> Answer:
        entry = self.log(now, "event:agent_reply", "stages", "agent replied", event.actor, text=event.text)
        first = "first_response" not in self.state.events
        self.process(now, "agent_reply", event.actor)
        if first:
            self.process(now, "first_response", event.actor)
        return self._answer("recorded", entry)

    def on_request_information(self, event: Event, now: int) -> Answer:
        s = self.state
        s.waiting_on_customer = True
        entry = self.log(
            now,
            "event:request_information",
            "clocks",
            "waiting on customer",
            event.actor,
            reason=event.reason,
        )
        for clock in self.policy.clocks:
            cs = s.clocks.get(clock.id)
            if cs is not None and clock.pause_while_waiting_on_customer:
                self.pause_clock(now, clock, cs, event.actor)
        return self._answer("waiting_on_customer", entry)

    def on_acknowledge(self, event: Event, now: int) -> Answer:
        if self.state.acknowledged:
            return self._answer("already_acknowledged", None)
        entry = self.log(
            now, "event:acknowledge", "notifications.events.acknowledged", "acknowledgement sent", event.actor
        )
        self.announce(entry, "acknowledged")
        self.mark_acknowledged(now, event.actor)
        return self._answer("acknowledged", entry)

    def on_assign(self, event: Event, now: int) -> Answer:
        self.state.assignee = event.assignee
        entry = self.log(now, "event:assign", "authority", "assigned", event.actor, assignee=event.assignee)
        return self._answer("assigned", entry)

    def on_enter_stage(self, event: Event, now: int) -> Answer:
        self.enter_stage(now, event.stage or "", "event:enter_stage", event.actor)
        return self._answer("entered", self.state.log[-1], stage=event.stage)

    def on_escalate(self, event: Event, now: int) -> Answer:
        on = "customer_request" if event.actor.kind == "customer" else "agent_request"
        if on == "customer_request":
            self.state.customer_requested_escalation = True
        before = self.state.level
        rule = self.trigger(now, on, "event:escalate", event.actor, summary=event.summary)
        if rule is None:
            entry = self.log(
                now,
                "event:escalate",
                "escalation",
                "escalation request recorded",
                event.actor,
                reason="no escalation rule matches",
            )
            return self._answer("no_rule", entry, "no escalation rule matches this request")
        moved = self.state.level != before
        return self._answer(
            "escalated" if moved else "not_escalated", self.state.log[-1], level=self.level_id
        )

    def on_accept_escalation(self, event: Event, now: int) -> Answer:
        entry = self.log(
            now,
            "event:accept_escalation",
            f"authority[{self.state.level}]",
            "escalation accepted",
            event.actor,
        )
        for promise in self.state.promises:
            if promise.kind == "decision" and promise.kept is None:
                promise.kept = True
        self.process(now, "escalation_accepted", event.actor)
        return self._answer("accepted", entry)

    # compensation ---------------------------------------------------------------------

    def limit_problem(
        self, level_index: int, remedy: str, amount: Decimal, discount: float, coupons: int
    ) -> str | None:
        level = self.policy.authority[level_index]
        lim = level.limits
        if remedy not in lim.remedies:
            return f'{level.id} may not grant "{remedy}"'
        if amount > lim.max_amount:
            return f"{amount} is above {level.id}'s limit of {lim.max_amount} {self.policy.policy.currency}"
        if discount > lim.max_discount_percent:
            return f"{discount:g}% is above {level.id}'s discount limit of {lim.max_discount_percent:g}%"
        if coupons > lim.max_coupons:
            return f"{coupons} coupons is above {level.id}'s limit of {lim.max_coupons}"
        return None

    def on_propose_compensation(self, event: Event, now: int) -> Answer:
        s = self.state
        actor_level = self.level_index(event.actor.level) or 0
        remedy = event.remedy or ""
        amount = event.amount or Decimal(0)
        remedy_def = self.policy.compensation.remedies[remedy]
        if remedy_def.value is not None and event.coupons:
            amount = max(amount, remedy_def.value * event.coupons)
        discount = event.discount_percent or 0.0
        coupons = event.coupons or 0
        number = len(s.proposals) + 1
        base = {
            "proposal": number,
            "remedy": remedy,
            "amount": str(amount),
            "discount_percent": discount,
            "coupons": coupons,
        }
        draft = Proposal(
            number=number,
            by=event.actor.describe(),
            level=self.policy.authority[actor_level].id,
            remedy=remedy,
            amount=amount,
            discount_percent=discount,
            coupons=coupons,
            status="rejected",
        )

        def decide(status: str, rule: str, reason: str, **detail: Any) -> Answer:
            s.proposals.append(draft.model_copy(update={"status": status, "reason": reason, **detail}))
            action = "compensation rejected" if status == "rejected" else "compensation needs approval"
            entry = self.log(
                now, "event:propose_compensation", rule, action, event.actor, reason=reason, **detail, **base
            )
            return self._answer(status, entry, reason, **detail, **base)

        cap = self.policy.compensation.caps.per_complaint
        if cap is not None and s.compensation_total + amount > cap:
            reason = f"the total {s.compensation_total + amount} would exceed the per-complaint cap of {cap}"
            return decide("rejected", "compensation.caps.per_complaint", reason)
        limits = f"authority[{actor_level}].limits"
        problem = self.limit_problem(actor_level, remedy, amount, discount, coupons)
        if problem is None:
            return self.grant(now, event.actor, number, remedy, amount, discount, coupons, limits, base)
        higher = range(actor_level + 1, len(self.policy.authority))
        approver = next(
            (i for i in higher if self.limit_problem(i, remedy, amount, discount, coupons) is None), None
        )
        if approver is None:
            return decide("rejected", limits, f"{problem}, and no level may grant it")
        answer = decide("needs_approval", limits, problem, approval_level=self.policy.authority[approver].id)
        for i, rule in enumerate(self.policy.escalation):
            if rule.trigger.on == "compensation_above_authority" and self.when(rule.trigger.when):
                target = approver if rule.to == "next" else self.level_index(rule.to)
                summary = f"Approval needed for proposal {number}: {remedy} {amount}. {problem}."
                self.escalate(
                    now, i, rule, "event:propose_compensation", event.actor, summary, to_level=target
                )
                break
        return answer

    def record_proposal(
        self,
        number: int,
        actor: Actor,
        remedy: str,
        amount: Decimal,
        discount: float,
        coupons: int,
        status: str,
    ) -> bool:
        """Set a proposal's status (a new one is recorded as the actor's); True if it existed."""
        for proposal in self.state.proposals:
            if proposal.number == number:
                proposal.status = status  # type: ignore[assignment]
                if status == "pending_cap_check":
                    proposal.approved_by = actor.describe()
                return True
        self.state.proposals.append(
            Proposal(
                number=number,
                by=actor.describe(),
                level=actor.level or "",
                remedy=remedy,
                amount=amount,
                discount_percent=discount,
                coupons=coupons,
                status=status,
            )
        )
        return False

    def customer_key(self) -> str | None:
        """A stable key for the customer's ledger; contact details only as a hash."""
        customer = self.complaint.customer
        raw = customer.id or customer.contacts.email or customer.contacts.phone or customer.account_number
        if raw is None:
            return None
        return hashlib.sha256(f"{self.policy.policy.id}|{raw}".encode()).hexdigest()[:24]

    def grant(
        self,
        now: int,
        actor: Actor,
        number: int,
        remedy: str,
        amount: Decimal,
        discount: float,
        coupons: int,
        rule: str,
        base: dict[str, Any],
        checked: bool = False,
    ) -> Answer:
        s = self.state
        per_customer = self.policy.compensation.caps.per_customer
        if per_customer is not None and amount > 0 and not checked and self.customer_key() is not None:
            self.record_proposal(number, actor, remedy, amount, discount, coupons, "pending_cap_check")
            period = parse_duration(per_customer.period).approx_minutes() * 60
            self.cap_checks.append(
                CapCheck(
                    proposal=number,
                    amount=amount,
                    at=now,
                    period=period,
                    cap=per_customer.amount,
                    max_compensated=per_customer.max_compensated_complaints,
                )
            )
            return self._answer("pending_cap_check", None, **base)
        s.compensation_total += amount
        existing = self.record_proposal(number, actor, remedy, amount, discount, coupons, "accepted")
        entry = self.log(
            now,
            "event:cap_check"
            if checked
            else "event:propose_compensation"
            if not existing
            else "event:decide_approval",
            rule,
            "compensation granted",
            actor,
            total=str(s.compensation_total),
            **base,
        )
        title = self.policy.compensation.remedies[remedy].title
        self.announce(entry, "compensation_offered", options=[title], offer=title)
        return self._answer("accepted", entry, **base)

    def settle_cap_check(self, now: int, check: CapCheck, granted: bool, reason: str) -> Answer:
        """The ledger's answer to a per-customer cap check: grant, or reject with its reason."""
        proposal = next(p for p in self.state.proposals if p.number == check.proposal)
        base = {"proposal": proposal.number, "remedy": proposal.remedy, "amount": str(proposal.amount)}
        actor = SYSTEM
        if granted:
            return self.grant(
                now,
                actor,
                proposal.number,
                proposal.remedy,
                proposal.amount,
                proposal.discount_percent,
                proposal.coupons,
                "compensation.caps.per_customer",
                base,
                checked=True,
            )
        proposal.status = "rejected"
        proposal.reason = reason
        entry = self.log(
            now,
            "event:cap_check",
            "compensation.caps.per_customer",
            "compensation rejected",
            actor,
            reason=reason,
            **base,
        )
        return self._answer("rejected", entry, reason, **base)

    def keep_decision_promises(self) -> None:
        for promise in self.state.promises:
            if promise.kind == "decision" and promise.kept is None:
                promise.kept = True

    def on_decide_approval(self, event: Event, now: int) -> Answer:
        s = self.state
        self.keep_decision_promises()
        proposal = next(p for p in s.proposals if p.number == event.proposal)
        actor_level = self.level_index(event.actor.level) or 0
        needed = self.level_index(proposal.approval_level) or 0
        base = {"proposal": proposal.number, "remedy": proposal.remedy, "amount": str(proposal.amount)}
        if actor_level < needed:
            entry = self.log(
                now,
                "event:decide_approval",
                f"authority[{actor_level}].limits",
                "approval refused",
                event.actor,
                reason=f"needs {proposal.approval_level}",
                **base,
            )
            return self._answer(
                "not_authorised", entry, f"approval needs level {proposal.approval_level} or above", **base
            )
        if not event.approve:
            proposal.status = "rejected"
            proposal.reason = event.reason or "rejected by approver"
            entry = self.log(
                now,
                "event:decide_approval",
                f"authority[{actor_level}].limits",
                "compensation rejected",
                event.actor,
                reason=proposal.reason,
                **base,
            )
            return self._answer("rejected", entry, proposal.reason, **base)
        cap = self.policy.compensation.caps.per_complaint
        if cap is not None and s.compensation_total + proposal.amount > cap:
            proposal.status = "rejected"
            proposal.reason = f"the total would exceed the per-complaint cap of {cap}"
            entry = self.log(
                now,
                "event:decide_approval",
                "compensation.caps.per_complaint",
                "compensation rejected",
                event.actor,
                reason=proposal.reason,
                **base,
            )
            return self._answer("rejected", entry, proposal.reason, **base)
        return self.grant(
            now,
            event.actor,
            proposal.number,
            proposal.remedy,
            proposal.amount,
            proposal.discount_percent,
            proposal.coupons,
            f"authority[{actor_level}].limits",
            base,
        )

    def on_offer_options(self, event: Event, now: int) -> Answer:
        for i, option_set in enumerate(self.policy.compensation.option_sets):
            if self.when(option_set.when):
                self.state.offered = list(option_set.options)
                titles = [self.policy.compensation.remedies[o].title for o in option_set.options]
                entry = self.log(
                    now,
                    "event:offer_options",
                    f"compensation.option_sets[{i}]",
                    "options offered",
                    event.actor,
                    options=option_set.options,
                )
                template = option_set.template or (
                    self.policy.notifications.events["compensation_offered"].template
                    if "compensation_offered" in self.policy.notifications.events
                    else None
                )
                self.send(entry, template, options=titles)
                return self._answer("offered", entry, options=option_set.options)
        entry = self.log(
            now, "event:offer_options", "compensation.option_sets", "no options apply", event.actor
        )
        return self._answer("no_options", entry, "no option set applies to this complaint")

    def on_choose_option(self, event: Event, now: int) -> Answer:
        self.state.chosen = event.option
        entry = self.log(
            now,
            "event:choose_option",
            "compensation.option_sets",
            "customer chose",
            event.actor,
            option=event.option,
        )
        return self._answer("chosen", entry, option=event.option)

    # callbacks --------------------------------------------------------------------------

    def on_request_callback(self, event: Event, now: int) -> Answer:
        cb = self.policy.callbacks
        assert cb is not None
        if not self.when(cb.offer_when):
            entry = self.log(
                now, "event:request_callback", "callbacks.offer_when", "callback not offered", event.actor
            )
            return self._answer("not_offered", entry, "callbacks are not offered for this complaint")
        cal = self.calendar(cb.calendar)
        latest = cal.due(now, parse_duration(cb.within))
        wanted = latest
        if event.at:
            try:
                requested = int(dt.datetime.fromisoformat(event.at).timestamp())
            except ValueError:
                raise Rejected(f'"{event.at}" is not an ISO 8601 time') from None
            wanted = cal.next_opening(max(requested, now))
            if wanted > latest:
                wanted = latest
        else:
            wanted = cal.next_opening(now)
        owner = self.state.assignee if cb.owner == "assigned_agent" and self.state.assignee else self.level_id
        number = len(self.state.callbacks) + 1
        self.state.callbacks.append(Callback(number=number, due=wanted, owner=owner))
        entry = self.log(
            now,
            "event:request_callback",
            "callbacks",
            "callback scheduled",
            event.actor,
            at=iso(wanted),
            owner=owner,
        )
        when = self.local(wanted, cb.calendar)
        if not self.announce(entry, "callback_scheduled", callback=when):
            self.send(entry, cb.template, callback=when)
        if cb.remind_owner_before:
            before = parse_duration(cb.remind_owner_before).approx_minutes() * 60
            self.state.scheduled.append(
                Scheduled(
                    kind=f"callback_reminder:{number}",
                    at=max(now, wanted - before),
                    rule="callbacks.remind_owner_before",
                )
            )
        return self._answer("scheduled", entry, at=iso(wanted), owner=owner)

    def callback_due(self, now: int, cb: Callback) -> None:
        spec = self.policy.callbacks
        assert spec is not None
        # the owner has until the slot plus one spacing to report an outcome
        if (
            now < cb.due + parse_duration(spec.spacing).approx_minutes() * 60
            and cb.attempts == 0
            and not cb.reminded
        ):
            cb.reminded = True
            entry = self.log(
                now, f"deadline:callback:{cb.number}", "callbacks", "callback due", owner=cb.owner
            )
            self.send(
                entry,
                "handoff" if "handoff" in self.compiled.templates else None,
                to="staff",
                handoff=f"Call the customer back now (callback {cb.number}).",
            )
            cb.due = cb.due + parse_duration(spec.spacing).approx_minutes() * 60
            return
        self.missed_callback(now, cb, f"deadline:callback:{cb.number}")

    def missed_callback(self, now: int, cb: Callback, trigger: str) -> None:
        spec = self.policy.callbacks
        assert spec is not None
        cb.attempts += 1
        if cb.attempts < spec.attempts:
            cb.due = now + parse_duration(spec.spacing).approx_minutes() * 60
            cb.reminded = False
            self.log(
                now,
                trigger,
                "callbacks.attempts",
                "callback attempt failed",
                attempt=cb.attempts,
                next=iso(cb.due),
            )
            return
        cb.status = "missed"
        self.state.sla_breached = True
        self.log(now, trigger, "callbacks.attempts", "callback missed", attempts=cb.attempts)
        self.trigger(now, "missed_callback", trigger, SYSTEM)

    def on_callback_outcome(self, event: Event, now: int) -> Answer:
        cb = next(c for c in self.state.callbacks if c.status == "scheduled")
        if event.reached:
            cb.status = "done"
            cb.attempts += 1
            entry = self.log(
                now, "event:callback_outcome", "callbacks", "callback made", event.actor, number=cb.number
            )
            return self._answer("done", entry)
        self.missed_callback(now, cb, "event:callback_outcome")
        return self._answer(
            "missed" if cb.status == "missed" else "retry", self.state.log[-1], attempts=cb.attempts
        )

    # investigation and resolution ----------------------------------------------------

    def on_finding(self, event: Event, now: int) -> Answer:
        s = self.state
        if event.justified is not None:
            s.justified = event.justified
        if event.root_cause:
            s.root_cause = event.root_cause
        entry = self.log(
            now,
            "event:finding",
            "stages",
            "finding recorded",
            event.actor,
            justified=event.justified,
            root_cause=event.root_cause,
        )
        return self._answer("recorded", entry)

    def on_resolve(self, event: Event, now: int) -> Answer:
        s = self.state
        if event.justified is not None:
            s.justified = event.justified
        s.root_cause = event.root_cause or s.root_cause
        s.corrective_actions = event.corrective_actions or s.corrective_actions
        s.status = "resolved"
        self.keep_decision_promises()
        entry = self.log(
            now,
            "event:resolve",
            "notifications.events.resolved",
            "resolved",
            event.actor,
            justified=s.justified,
            root_cause=s.root_cause,
            corrective_actions=s.corrective_actions or None,
            text=event.text,
        )
        if event.final_response:
            self.record_event(now, "final_response")
        decision = None if s.justified is None else ("upheld" if s.justified else "not_upheld")
        self.announce(entry, "resolved", reason=event.text, decision=decision)
        if event.final_response:
            self.process(now, "final_response", event.actor)
        self.process(now, "resolved", event.actor)
        self.schedule_follow_up(now)
        return self._answer("resolved", entry)

    def schedule_follow_up(self, now: int) -> None:
        follow = self.policy.follow_up
        cal = self.calendar()
        if follow.survey:
            self.state.scheduled.append(
                Scheduled(
                    kind="survey",
                    at=cal.due(
                        now,
                        parse_duration(follow.survey.after),
                        CountingRules(end_of_day=False, out_of_hours="as_received"),
                    ),
                    rule="follow_up.survey",
                )
            )
        if follow.thank_you:
            self.state.scheduled.append(
                Scheduled(
                    kind="thank_you", at=self.after(now, follow.thank_you.after), rule="follow_up.thank_you"
                )
            )
        if follow.check_in_call:
            self.state.scheduled.append(
                Scheduled(
                    kind="check_in",
                    at=self.after(now, follow.check_in_call.after),
                    rule="follow_up.check_in_call",
                )
            )

    def after(self, now: int, text: str) -> int:
        return self.calendar().due(
            now, parse_duration(text), CountingRules(end_of_day=False, out_of_hours="as_received")
        )

    def follow_up(self, now: int, item: Scheduled) -> None:
        follow = self.policy.follow_up
        s = self.state
        if item.kind == "survey" and follow.survey:
            self.record_event(now, "survey")
            entry = self.log(
                now, "deadline:survey", item.rule, "survey sent", questions=len(follow.survey.questions)
            )
            survey: dict[str, Any] = {
                "survey_url": f"/survey/{self.complaint_id}",
                "questions": follow.survey.questions,
            }
            if not self.announce(entry, "survey", **survey):
                self.send(entry, follow.survey.template, channels=[follow.survey.channel], **survey)
            if follow.survey.reminder_after:
                s.scheduled.append(
                    Scheduled(
                        kind="survey_reminder",
                        at=self.after(now, follow.survey.reminder_after),
                        rule="follow_up.survey.reminder_after",
                    )
                )
            s.scheduled.append(
                Scheduled(
                    kind="survey_expiry",
                    at=self.after(now, follow.survey.expires_after),
                    rule="follow_up.survey.expires_after",
                )
            )
        elif item.kind == "survey_reminder" and follow.survey:
            if s.survey_score is None:
                entry = self.log(now, "deadline:survey_reminder", item.rule, "survey reminder sent")
                note = self.policy.notifications.events.get("survey_reminder")
                self.send(
                    entry,
                    note.template if note else follow.survey.template,
                    survey_url=f"/survey/{self.complaint_id}",
                )
        elif item.kind == "survey_expiry":
            if s.survey_score is None:
                self.log(now, "deadline:survey_expiry", item.rule, "survey expired unanswered")
        elif item.kind == "thank_you" and follow.thank_you:
            entry = self.log(now, "deadline:thank_you", item.rule, "thank-you sent")
            if not self.announce(entry, "thank_you"):
                self.send(entry, follow.thank_you.template, channels=[follow.thank_you.channel])
        elif item.kind == "check_in":
            entry = self.log(
                now, "deadline:check_in", item.rule, "check-in call due", owner=s.assignee or self.level_id
            )
            del entry
        elif item.kind.startswith("callback_reminder:"):
            self.log(
                now,
                "deadline:callback_reminder",
                item.rule,
                "callback owner reminded",
                callback=item.kind.split(":")[1],
            )

    def on_survey_answer(self, event: Event, now: int) -> Answer:
        s = self.state
        survey = self.policy.follow_up.survey
        assert survey is not None
        s.survey_score = event.score
        for item in s.scheduled:
            if item.kind in ("survey_reminder", "survey_expiry"):
                item.done = True
        entry = self.log(
            now, "event:survey_answer", "follow_up.survey", "survey answered", event.actor, score=event.score
        )
        low = survey.low_score
        if low is not None and event.score is not None and event.score < low.below:
            rule = "follow_up.survey.low_score"
            action_entry = self.log(
                now,
                "event:survey_answer",
                rule,
                f"low score: {low.action}",
                event.actor,
                score=event.score,
                below=low.below,
            )
            for template in low.notify:
                self.send(action_entry, template, to="staff")
            if low.action in ("reopen", "escalate") and s.status == "resolved":
                self.reopen(now, event.actor, "event:survey_answer")
            # escalation rules on low scores fire whatever the action (they may have conditions)
            self.trigger(now, "low_survey_score", "event:survey_answer", event.actor)
        return self._answer("recorded", entry, score=event.score)

    def on_reopen(self, event: Event, now: int) -> Answer:
        self.reopen(now, event.actor, "event:reopen")
        return self._answer("reopened", self.state.log[-1])

    def stopped_for_good(self, clock: Clock) -> bool:
        """A clock whose stop events happen once and have happened (an acknowledgement)."""
        return all(e in ONCE_ONLY and e in self.state.events for e in clock.stops)

    def reopen(self, now: int, actor: Actor, trigger: str) -> None:
        s = self.state
        s.status = "open"
        s.reopened += 1
        s.scheduled = [x for x in s.scheduled if x.done or x.kind == "thank_you"]
        self.log(now, trigger, "clocks", "reopened", actor, times=s.reopened)
        self.announce(s.log[-1], "reopened")
        for clock in self.policy.clocks:
            cs = s.clocks.get(clock.id)
            if cs is None or cs.status != "stopped":
                continue
            i = self.clock_index(clock.id)
            if clock.on_reopen == "restart" and not self.stopped_for_good(clock):
                cs.status = "waiting"
                self.start_clock(now, clock, cs, "reopened", actor)
            elif clock.on_reopen == "resume" and cs.remaining is not None:
                cal = self.calendar(clock_calendar(self.policy, clock))
                cs.due = self.advance(cal, parse_duration(cs.target), now, cs.remaining)
                cs.status, cs.remaining = "running", None
                cs.warnings_fired = list(range(len(cs.warnings_at)))
                self.log(
                    now,
                    trigger,
                    f"clocks[{i}].on_reopen",
                    "clock resumed",
                    actor,
                    clock=clock.id,
                    due=iso(cs.due),
                )
        self.process(now, "reopened", actor)

    def on_withdraw(self, event: Event, now: int) -> Answer:
        s = self.state
        s.status = "withdrawn"
        entry = self.log(
            now,
            "event:withdraw",
            "notifications.events.withdrawn",
            "withdrawn",
            event.actor,
            reason=event.reason,
        )
        self.announce(entry, "withdrawn")
        self.process(now, "withdrawn", event.actor)
        s.scheduled = [x for x in s.scheduled if x.done]
        return self._answer("withdrawn", entry)

    def on_extend(self, event: Event, now: int) -> Answer:
        s = self.state
        clock = self.clock_def(event.clock or "")
        cs = s.clocks[clock.id]
        i = self.clock_index(clock.id)
        ext = clock.extension
        base = {"clock": clock.id, "target": event.target, "notice_reason": event.reason}
        if ext is None:
            entry = self.log(
                now,
                "event:extend",
                f"clocks[{i}]",
                "extension rejected",
                event.actor,
                why="the policy allows no extension of this clock",
                **base,
            )
            return self._answer("rejected", entry, "the policy allows no extension of this clock", **base)
        rule = f"clocks[{i}].extension"
        if cs.status == "breached" and cs.due is not None and ext.notice_before_deadline:
            why = f"the deadline {iso(cs.due)} has passed; an extension notice must go out before it"
        elif cs.status not in ("running", "paused", "breached") or cs.due is None or cs.started_at is None:
            why = f"the clock is {cs.status}"
        elif ext.notice_before_deadline and now > cs.due:
            why = f"the notice must go out before the deadline ({iso(cs.due)})"
        elif not self.when(ext.when):
            why = f"the extension condition does not hold ({ext.when})"
        else:
            why = ""
        if why:
            entry = self.log(now, "event:extend", rule, "extension rejected", event.actor, why=why, **base)
            return self._answer("rejected", entry, why, **base)
        assert cs.due is not None and cs.started_at is not None
        cal = self.calendar(clock_calendar(self.policy, clock))
        counting = rules_of(clock.counting)
        new_target = parse_duration(event.target or "")
        cap_target = parse_duration(ext.max_total)
        new_due = cal.due(cs.started_at, new_target, counting)
        cap_due = cal.due(cs.started_at, cap_target, counting)
        if self.patched(EXTENSION_KEEPS_PAUSED_TIME):
            new_due = self.paused_shift(cal, cs, new_due, new_target)
            cap_due = self.paused_shift(cal, cs, cap_due, cap_target)
        if new_due > cap_due:
            why = f"the new date is past the cap of {ext.max_total} ({self.local(cap_due, clock.calendar)})"
        elif new_due <= cs.due:
            why = "the new date is not later than the current deadline"
        if why:
            entry = self.log(now, "event:extend", rule, "extension rejected", event.actor, why=why, **base)
            return self._answer("rejected", entry, why, **base)
        if cs.status == "paused" and cs.remaining is not None:
            cs.remaining += cal.business_seconds_between(cs.due, new_due)
        old = cs.due
        cs.due = new_due
        cs.extended = True
        cs.target = event.target or cs.target
        cs.warnings_at = self.warning_instants(clock, cal, parse_duration(cs.target), cs.started_at, new_due)
        cs.warnings_fired = [k for k, w in enumerate(cs.warnings_at) if w <= now]
        new_date = self.local(new_due, clock.calendar)
        entry = self.log(
            now,
            "event:extend",
            rule,
            "extended",
            event.actor,
            previous_due=iso(old),
            due=iso(new_due),
            **base,
        )
        self.send(entry, ext.notice, reason=event.reason, new_date=new_date)
        self.announce(entry, "extension", reason=event.reason, new_date=new_date)
        if cs.status == "breached" and new_due > now:
            cs.status = "running"  # a late extension the policy allows (no notice-before rule)
        s.promises.append(
            Promise(kind=clock.id, due=new_due, text=f"{clock.title or clock.id} by {new_date}", rule=rule)
        )
        self.process(now, "extension_granted", event.actor)
        return self._answer("extended", entry, due=iso(new_due), **base)

    def on_close(self, event: Event, now: int) -> Answer:
        self.close(now, event.actor, "event:close")
        return self._answer("closed", self.state.log[-1])

    def close(self, now: int, actor: Actor, trigger: str) -> None:
        s = self.state
        s.status = "closed"
        final = next((st for st in self.policy.stages if st.final), None)
        if final is not None and s.stage != final.id:
            self.enter_stage(now, final.id, trigger, actor)
        closed = self.log(
            now, trigger, "records", "closed", actor, retention_years=self.policy.records.retention_years
        )
        self.announce(closed, "closed")
        self.process(now, "closed", actor)
        for clock in self.policy.clocks:
            cs = s.clocks.get(clock.id)
            if cs is not None and cs.status in ("running", "paused"):
                self.stop_clock(now, clock, cs, "closed", actor)
        for promise in s.promises:
            if promise.kept is None:
                promise.kept = True
        s.scheduled = [x for x in s.scheduled if x.done or x.kind in ("thank_you", "check_in")]

    def maybe_close(self, now: int) -> None:
        """A resolved case closes by itself once its survey is answered or expired."""
        s = self.state
        if s.status != "resolved":
            return
        pending = [
            x for x in s.scheduled if not x.done and x.kind in ("survey", "survey_reminder", "survey_expiry")
        ]
        if not pending:
            self.close(now, SYSTEM, "deadline:follow_up")


def remaining_text(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m"


def status_view(core: Interpreter, now: int) -> StatusView:
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
            view.due_local = core.local(cs.due, clock.calendar)
            if cs.status == "running":
                cal = core.calendar(clock_calendar(core.policy, clock))
                try:
                    view.remaining = remaining_text(core.span(cal, parse_duration(cs.target), now, cs.due))
                except HorizonExceeded:
                    view.remaining = None
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
        dates=core.derived_dates(),
        log_entries=len(s.log),
        condition_errors=s.condition_errors,
    )


def record_delivery_failure(core: Interpreter, now: int, send: Send, error: str) -> None:
    """A message that could not be delivered after all retries is surfaced, never dropped."""
    core.state.undelivered += 1
    core.log(
        now,
        f"delivery:{send.key}",
        send.rule,
        "delivery failed",
        template=send.template,
        to=send.to,
        error=error[:300],
    )
