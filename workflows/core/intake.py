"""``intake``: a complaint is registered, refused with its reason or accepted, classified, its
clocks armed, the customer told; then what the customer writes, and the acknowledgement
(at intake or by staff, as ``intake.acknowledge`` says).
"""

from __future__ import annotations

from ombuds.engine.policy.rules import intake_refusal

from . import callbacks, classification, escalation, notifications, stages
from .case import Case, answer, event_first
from .clocks import deadlines, running
from .events import SYSTEM, Acknowledge, Actor, Answer, CustomerMessage
from .patches import CASES_KEEP_MOVING, TAMPER_EVIDENT_RECORDS


def start(case: Case, now: int) -> None:
    """Register the complaint, then refuse it, or accept it: classify, arm clocks, first messages."""
    policy = case.policy
    digest = case.complaint_sha256() if case.patched(TAMPER_EVIDENT_RECORDS) else None
    case.log(
        now,
        "intake",
        "policy",
        "registered",
        policy=policy.policy.id,
        version=policy.policy.version,
        complaint_sha256=digest,
    )
    # the clocks count from receipt, also for a complaint entered late (``cases-keep-moving``);
    # what fell due before it was entered is handled at the first tick, in order
    received = min(case.state.received, now) if case.patched(CASES_KEEP_MOVING) else now
    case.record_event(received, "submitted")
    refused = intake_refusal(policy, case.complaint, case.variables(), case.evaluator)
    if refused is not None:
        refuse(case, now, refused.template, refused.reason, refused.rule)
        return
    classification.apply(case, now)
    running.arm(case)
    running.process(case, received, "submitted", SYSTEM)
    running.start_from_complaint_dates(case, received)
    if received < now:  # entered late: what fell due since receipt comes first, in order
        deadlines.fire(case, now)
    entered = stages.enter(case, now, policy.stages[0].id, "intake", SYSTEM)
    notifications.announce(case, entered, "received")
    primary = policy.intake.primary_response
    if primary and primary != policy.stages[0].notify:
        entry = case.log(now, "intake", "intake.primary_response", "primary response sent")
        notifications.send(case, entry, primary)
    if "acknowledged" in policy.notifications.events and policy.intake.acknowledge == "at_intake":
        entry = case.log(now, "intake", "notifications.events.acknowledged", "acknowledgement sent")
        event_first(
            case,
            lambda: mark_acknowledged(case, now, SYSTEM),
            lambda: notifications.announce(case, entry, "acknowledged"),
        )
    callbacks.offer(case, now)
    escalation.trigger(case, now, "classification", "intake", SYSTEM)


def refuse(case: Case, now: int, template: str | None, reason: str, rule: str) -> None:
    """The complaint is not considered; the customer is told why."""
    case.state.status = "refused"
    entry = case.log(now, "intake", rule, "refused", reason=reason)
    notifications.send(case, entry, template, reason=reason)
    if template is None:
        notifications.announce(case, entry, "refused", reason=reason)


def earlier_complaints(case: Case, now: int, previous: int) -> None:
    """The ledger's count of the customer's earlier complaints; fires ``repeat_complaint``."""
    case.state.previous_complaints = previous
    case.log(now, "intake", "compensation.caps.per_customer", "earlier complaints counted", previous=previous)
    if previous:
        escalation.trigger(case, now, "repeat_complaint", "intake", SYSTEM)


def mark_acknowledged(case: Case, now: int, actor: Actor) -> None:
    if not case.state.acknowledged:
        case.state.acknowledged = True
        running.process(case, now, "acknowledged", actor)


def on_acknowledge(case: Case, event: Acknowledge, now: int) -> Answer:
    """Staff acknowledge the complaint (``intake.acknowledge: by_staff``)."""
    if case.state.acknowledged:
        return answer("already_acknowledged", None)
    entry = case.log(
        now, "event:acknowledge", "notifications.events.acknowledged", "acknowledgement sent", event.actor
    )
    event_first(
        case,
        lambda: mark_acknowledged(case, now, event.actor),
        lambda: notifications.announce(case, entry, "acknowledged"),
    )
    return answer("acknowledged", entry)


def on_customer_message(case: Case, event: CustomerMessage, now: int) -> Answer:
    """The customer writes; a message that brings the missing information says so."""
    entry = case.log(
        now, "event:customer_message", "intake", "customer message recorded", event.actor, text=event.text
    )
    running.process(case, now, "customer_reply", event.actor)
    if event.information:
        running.process(case, now, "information_received", event.actor)
    running.stop_waiting(case, now, event.actor, "event:customer_message")
    return answer("recorded", entry)
