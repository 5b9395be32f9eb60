"""The pure driver: ``(state, event, now) → (state, decisions, effects)`` for one case.

Everything a host does beyond its own calls goes through here: intake, events
(validated, then dispatched through one table from kind to handler), firing
what falls due, and the effects a case asks of the world — messages to
deliver, a longer case calendar, the customer's ledger — each answered back
into the case.  The Temporal workflow turns signals, updates and timers into
these calls and the effects into activities; a simulation can answer the same
effects itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ombuds.engine.policy import money
from ombuds.engine.policy.business_time import HorizonExceeded
from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.snapshot import Instance

from . import (
    bounds,
    callbacks,
    dates,
    escalation,
    follow_up,
    intake,
    lifecycle,
    notifications,
    promises,
    stages,
)
from .case import Case, Rejected
from .clocks import deadlines, extension, running
from .compensation import customer as ledger
from .compensation import option_sets, proposals
from .effects import ExtendCalendar, NeedsLongerCalendar, RegisterComplaint, ReserveCompensation
from .events import SYSTEM, Actor, Answer, Event, EventModel, ProposeCompensation
from .patches import CASES_KEEP_MOVING, MESSAGES_WORTH_READING, MONEY_WITHIN_LIMITS
from .state import CapCheck, CaseState, Send

#: ``check(case, event)`` raises :class:`Rejected`; ``apply(case, event, now)`` decides.
Check = Callable[[Case, Any], None]
Apply = Callable[[Case, Any, int], Answer]


@dataclass(frozen=True)
class Handler:
    apply: Apply
    check: Check | None = None


#: Event kind → its handler: the one place that says who handles what.
HANDLERS: dict[str, Handler] = {
    "customer_message": Handler(intake.on_customer_message),
    "acknowledge": Handler(intake.on_acknowledge),
    "agent_reply": Handler(stages.on_agent_reply),
    "enter_stage": Handler(stages.on_enter_stage, stages.check_enter_stage),
    "finding": Handler(stages.on_finding),
    "request_information": Handler(running.on_request_information),
    "extend": Handler(extension.on_extend, extension.check),
    "explain_delay": Handler(deadlines.on_explain_delay, deadlines.check_explain_delay),
    "assign": Handler(escalation.on_assign),
    "escalate": Handler(escalation.on_escalate, escalation.check_escalate),
    "accept_escalation": Handler(escalation.on_accept_escalation),
    "propose_compensation": Handler(proposals.on_propose, proposals.check_propose),
    "decide_approval": Handler(proposals.on_approval, proposals.check_approval),
    "offer_options": Handler(option_sets.on_offer_options),
    "choose_option": Handler(option_sets.on_choose_option, option_sets.check_choice),
    "request_callback": Handler(callbacks.on_request, callbacks.check_request),
    "callback_outcome": Handler(callbacks.on_outcome, callbacks.check_outcome),
    "resolve": Handler(lifecycle.on_resolve, lifecycle.check_resolve),
    "reopen": Handler(lifecycle.on_reopen, lifecycle.check_reopen),
    "withdraw": Handler(lifecycle.on_withdraw),
    "close": Handler(lifecycle.on_close),
    "survey_answer": Handler(follow_up.on_survey_answer, follow_up.check_survey_answer),
}

#: The sources of what falls due: each yields (instant, when to wake, what).
UPCOMING = (
    deadlines.upcoming,
    promises.upcoming,
    follow_up.upcoming,
    callbacks.upcoming,
    notifications.upcoming,
)


#: The longest reason an input the core could not apply is logged with.
FAILURE_REASON = 300

#: Count earlier complaints over this period when the policy has no per-customer cap.
DEFAULT_REPEAT_WINDOW = parse_duration("12 months")


class Interpreter(Case):
    """Interprets one compiled policy for one complaint, and tells its host what to do."""

    # ------------------------------------------------------------------ decisions

    def start(self, now: int, linked_to: str | None = None) -> CaseState:
        """Intake: register, refuse or accept, classify, start clocks, first messages; a clock
        past the case calendar hands the case back unchanged, as an event does (``NeedsLongerCalendar``)."""
        saved = self.saved()
        try:
            intake.start(self, now)
            if linked_to:
                self.log(now, "intake", "policy", "reopens an earlier complaint", original=linked_to)
        except HorizonExceeded as exc:
            if not self.patched(CASES_KEEP_MOVING):
                raise
            self.restore(saved)
            raise NeedsLongerCalendar(exc.needed) from None
        finally:
            self.note_condition_errors(now)
        return self.state

    def reopen(self, now: int, actor: Actor, trigger: str) -> None:
        lifecycle.reopen(self, now, actor, trigger)

    def date_values(self) -> dict[str, Any]:
        """``dates`` for conditions, counted again when a case event happened, the case calendar
        grew or the state was put back (an input the core could not apply)."""
        key = len(self.state.events)
        if self.dates_seen is None or self.dates_seen[0] != key:
            self.dates_seen = (key, dates.condition_values(self))
        return self.dates_seen[1]

    def validate(self, event: Event) -> None:
        """Refuse malformed input or an impossible state; raises :class:`Rejected`."""
        s = self.state
        model: EventModel = event.root
        actor = model.actor
        if actor.kind == "staff" and (actor.level is None or self.level_index(actor.level) is None):
            raise Rejected(f'staff actor needs a known authority level, got "{actor.level}"')
        kind = event.kind
        if s.status in ("refused", "closed", "withdrawn") and not model.after_end:
            raise Rejected(f"the case is {s.status}")
        if model.sender == "staff" and actor.kind == "customer":
            raise Rejected(f"{kind} is for staff, not the customer")
        if model.sender == "customer" and actor.kind != "customer":
            raise Rejected(f"{kind} is for the customer")
        check = HANDLERS[kind].check
        if check is not None:
            check(self, model)
        stages.check_apart(self, kind, actor)

    def apply(self, event: Event, now: int) -> Answer:
        """Validate and apply one event; returns the decision taken.

        An event the core cannot apply (``cases-keep-moving``) leaves the case as it was: it is
        refused with what went wrong, or, when it needs the case calendar past its horizon,
        handed back to the host as :class:`NeedsLongerCalendar`."""
        self.validate(event)
        if not self.patched(CASES_KEEP_MOVING):
            try:
                decided = HANDLERS[event.kind].apply(self, event.root, now)
                lifecycle.close_when_done(self, now)
            finally:
                self.note_condition_errors(now)
            return decided
        saved = self.saved()
        stage = self.state.stage
        try:
            decided = HANDLERS[event.kind].apply(self, event.root, now)
            stages.record_decider(self, event.kind, event.actor, stage)
            lifecycle.close_when_done(self, now)
        except Rejected:
            self.restore(saved)
            raise
        except HorizonExceeded as exc:
            self.restore(saved)
            raise NeedsLongerCalendar(exc.needed) from None
        except Exception as exc:  # a fault of the core: the input is refused, the case goes on
            self.restore(saved)
            reason = f"{event.kind} could not be applied: {type(exc).__name__}: {exc}"
            raise Rejected(reason[:FAILURE_REASON]) from None
        finally:
            self.note_condition_errors(now)
        return decided

    def saved(self) -> tuple[CaseState, list[Send], list[CapCheck], int]:
        """What an event may change, to put back when it cannot be applied."""
        return self.state.model_copy(deep=True), list(self.sends), list(self.cap_checks), self.depth

    def restore(self, saved: tuple[CaseState, list[Send], list[CapCheck], int]) -> None:
        self.state, sends, checks, self.depth = saved
        self.dates_seen = None
        self.sends[:], self.cap_checks[:] = sends, checks

    def screen(self, event: Event) -> None:
        """Who may act, and in what: raises :class:`Rejected`.

        Staff act under their own id, the system actor is the engine's alone, a customer acts on
        their own complaint, and an amount has at most the policy currency's decimals.  The
        workflow screens an update in its validator (never run on replay), a signal as it takes it.
        The bounds of an input are :meth:`bounded`."""
        actor = event.actor
        if actor.kind == "system":
            raise Rejected("system is the engine's own actor: no client may act as it")
        if actor.kind == "staff" and not (actor.id and actor.id.strip()):
            raise Rejected("a staff actor needs an id (staff:ID@LEVEL)")
        owner = self.complaint.customer.id
        if actor.kind == "customer" and actor.id and owner and actor.id != owner:
            raise Rejected("a customer acts on their own complaint only")
        if isinstance(event.root, ProposeCompensation) and event.root.amount_problem():
            raise Rejected(f"amount: {event.root.amount_problem()}")
        amount = getattr(event.root, "amount", None)
        if amount is not None:
            wrong = money.problem(amount, self.policy.policy.currency)
            if wrong:
                raise Rejected(f"amount: {wrong}")

    def written(self, event: Event) -> None:
        """What a person must write for the event is there (the question asked, the reply
        sent): raises :class:`Rejected`.  The workflow asks it in its validator and, for a
        signal, as it takes one (``messages-worth-reading``)."""
        missing = event.root.missing()
        if missing:
            raise Rejected(missing)

    def bounded(self, event: Event, now: int) -> None:
        """Sizes, counts and instants within bounds (:mod:`.bounds`): raises :class:`Rejected`."""
        bounds.check_event(event)
        bounds.check_in_case(self, event, now)

    def act(self, event: Event, now: int) -> Answer:
        """An event that wants an answer; what falls due at once goes out with it."""
        if self.patched(MONEY_WITHIN_LIMITS):
            self.screen(event)
        if self.patched(CASES_KEEP_MOVING):
            self.bounded(event, now)
        if self.patched(MESSAGES_WORTH_READING):
            self.written(event)
        decided = self.apply(event, now)
        with contextlib.suppress(NeedsLongerCalendar):  # applied; the host's next turn extends
            self.tick(now)  # the calendar and fires what falls due
        return decided

    def receive(self, event: Event | Any, now: int) -> None:
        """An event that wants no answer: one the case refuses is logged as refused.

        It may come as sent (a signal's payload): one that is no event at all is refused too
        (``cases-keep-moving``; before, the host dropped it unseen)."""
        if not isinstance(event, Event):
            try:
                event = Event.model_validate(event)
            except ValidationError as exc:
                if self.patched(CASES_KEEP_MOVING):
                    self.refuse_unreadable(event, exc, now)
                return
        try:
            if self.patched(MONEY_WITHIN_LIMITS):
                self.screen(event)
            if self.patched(CASES_KEEP_MOVING):
                self.bounded(event, now)
            if self.patched(MESSAGES_WORTH_READING):
                self.written(event)
            self.apply(event, now)
        except Rejected as exc:
            self.log(now, f"event:{event.kind}", "input", "input refused", event.actor, reason=str(exc))

    def refuse_unreadable(self, payload: Any, error: ValidationError, now: int) -> None:
        """Log a signal that is no event: what kind it claimed, and the first problem."""
        claimed = payload.get("kind") if isinstance(payload, dict) else None
        kind = claimed if isinstance(claimed, str) and len(claimed) <= bounds.NAME else "unknown"
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "not an event"}
        where = ".".join(str(part) for part in first["loc"][1:] or first["loc"]) or "event"
        reason = f"not an event: {where}: {first['msg']}"[:FAILURE_REASON]
        try:
            actor = Actor.model_validate(payload.get("actor") if isinstance(payload, dict) else None)
            bounds.check_event(Event(kind="close", actor=actor))
        except (ValidationError, Rejected):
            self.log(
                now, f"event:{kind}", "input", "input refused", SYSTEM, reason=reason, sender="unreadable"
            )
            return
        self.log(now, f"event:{kind}", "input", "input refused", actor, reason=reason)

    def tick(self, now: int) -> CaseState:
        """Fire everything due at or before ``now``: warnings, breaches, promises, follow-ups.

        When that needs the case calendar past its horizon (``cases-keep-moving``), nothing is
        fired and the host is asked for a longer calendar (:class:`NeedsLongerCalendar`)."""
        saved = self.saved() if self.patched(CASES_KEEP_MOVING) else None
        try:
            deadlines.fire(self, now)
            promises.miss(self, now)
            follow_up.fire(self, now)
            callbacks.fire(self, now)
            notifications.release_held(self, now)
            lifecycle.close_when_done(self, now)
        except HorizonExceeded as exc:
            if saved is None:
                raise
            self.restore(saved)
            raise NeedsLongerCalendar(exc.needed) from None
        finally:
            self.note_condition_errors(now)
        return self.state

    # ------------------------------------------------------------------ time

    def upcoming(self) -> Iterator[tuple[int, int, str]]:
        for source in UPCOMING:
            yield from source(self)

    def next_wake(self) -> int | None:
        """The next instant at which something falls due, or None."""
        return min((wake for _, wake, _ in self.upcoming()), default=None)

    def next_due(self) -> tuple[int, str] | None:
        """What falls due next and when, as people read it (a deadline at its own instant).

        :meth:`next_wake` wakes one second after a deadline, when it has passed;
        this names the deadline itself, for ``ombuds status``.
        """
        return min(((at, what) for at, _, what in self.upcoming()), default=None)

    # ------------------------------------------------------------------ effects

    def take_sends(self) -> list[Send]:
        """Messages decided since the last call, for delivery."""
        sends, self.sends = self.sends, []
        return sends

    def delivery_failed(self, now: int, message: Send, error: str) -> None:
        notifications.delivery_failed(self, now, message, error)

    def delivered_elsewhere(self, now: int, message: Send, channel: str, refused: list[str]) -> None:
        notifications.delivered_elsewhere(self, now, message, channel, refused)

    def delivery_reported(
        self, now: int, message: Send, channel: str, status: str, reason: str, rest: list[str]
    ) -> None:
        notifications.delivery_reported(self, now, message, channel, status, reason, rest)

    def calendar_extension(self, now: int) -> ExtendCalendar | None:
        """A longer case calendar, once less than half of the calendar's horizon is left."""
        instance = self.instance
        horizon_end = instance.horizon_end()
        margin = instance.horizon_days * 86_400 // 2
        if now + margin < horizon_end:
            return None
        return ExtendCalendar(self.state.policy_sha, self.calendar_sha, now)

    def calendar_to(self, needed: int) -> ExtendCalendar:
        """Effect: a case calendar that reaches ``needed`` (after :class:`NeedsLongerCalendar`)."""
        return ExtendCalendar(self.state.policy_sha, self.calendar_sha, needed)

    def calendar_extended(self, now: int, sha: str, instance: Instance) -> None:
        self.calendar_sha = sha
        self.instance = instance
        self.dates_seen = None
        self.log(now, "deadline:calendar-horizon", "calendars", "case calendar extended", calendar_sha=sha)

    def ledger_registration(self, now: int) -> RegisterComplaint | None:
        """The customer's ledger counts this complaint (the repeat-complaint trigger)."""
        if not ledger.uses_ledger(self) or self.state.status != "open":
            return None
        customer = ledger.ledger_customer(self)
        if customer is None:
            return None
        period = self.plan.cap_period or DEFAULT_REPEAT_WINDOW
        registration: dict[str, Any] = {
            "complaint_id": self.complaint_id,
            "at": now,
            "window": period.approx_minutes() * 60,
        }
        if isinstance(customer, dict):
            registration["policy"] = self.policy.policy.id
        return RegisterComplaint(customer, registration)

    def ledger_registered(self, now: int, previous: int) -> None:
        intake.earlier_complaints(self, now, previous)

    def next_reservation(self) -> ReserveCompensation | None:
        """The next compensation waiting for the customer's ledger, in the order decided."""
        if not self.cap_checks:
            return None
        customer = ledger.ledger_customer(self)
        if customer is None:
            return None
        policy = self.policy.policy.id if isinstance(customer, dict) else None
        return ReserveCompensation(customer, self.cap_checks.pop(0), policy)

    def reserved(self, now: int, reservation: ReserveCompensation, result: dict[str, Any]) -> Answer:
        """The ledger's answer: the compensation is granted or rejected."""
        return proposals.settle_cap_check(
            self, now, reservation.check, bool(result.get("granted")), str(result.get("reason", ""))
        )
