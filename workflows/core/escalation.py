"""``escalation`` and ``authority``: who handles the case, when it moves up, and what a level owes.

A trigger (a warning, a breach, a request, a compensation above authority, a
low survey score, a missed callback, a repeat complaint, the classification)
fires the first escalation rule that matches.  Escalating moves the case to a
higher level with a warm hand-off, and a level with ``decision_within``
promises a decision by a date.
"""

from __future__ import annotations

from typing import Any

from ombuds.engine.policy.model import EscalationRule, text_in

from . import notifications, promises, values
from .case import Case, Rejected, answer, iso
from .clocks import running
from .events import AcceptEscalation, Actor, Answer, Assign, Escalate
from .patches import HANDOFF_SUMMARY_OPTIONAL, MESSAGES_WORTH_READING, SETTINGS_ACT_AS_WRITTEN
from .state import LogEntry, Promise


def trigger(
    case: Case,
    now: int,
    on: str,
    trigger: str,
    actor: Actor,
    clock: str | None = None,
    summary: str | None = None,
    warning: str | None = None,
) -> EscalationRule | None:
    """Fire the first escalation rule for this trigger whose condition holds."""
    for i, rule in enumerate(case.policy.escalation):
        t = rule.trigger
        if t.on != on or (t.clock is not None and t.clock != clock):
            continue
        if t.warning is not None and t.warning != warning:
            continue
        if not case.when(t.when):
            continue
        escalate(case, now, i, rule, trigger, actor, summary, clock=clock)
        return rule
    return None


def escalate(
    case: Case,
    now: int,
    index: int,
    rule: EscalationRule,
    trigger: str,
    actor: Actor,
    summary: str | None,
    to_level: int | None = None,
    clock: str | None = None,
) -> bool:
    """Move the case up to a level (the rule's, or ``to_level``); False when it cannot move.

    ``clock``: the clock whose warning or breach fired the rule; its messages name it."""
    s = case.state
    levels = case.policy.authority
    if to_level is None:
        to_level = s.level + 1 if rule.to == "next" else case.level_index(rule.to)
    if to_level is None or to_level >= len(levels):
        case.log(
            now,
            trigger,
            f"escalation[{index}]",
            "escalation not possible",
            actor,
            reason="already at the highest level",
        )
        return False
    if to_level <= s.level:
        case.log(
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
    worded = case.patched(MESSAGES_WORTH_READING)
    handoff = summary
    if worded:  # the hand-off goes with the messages, as values (handoff_values)
        logged = summary or ("built from the case" if rule.handoff_summary else None)
    else:
        if not handoff and (rule.handoff_summary or not case.patched(HANDOFF_SUMMARY_OPTIONAL)):
            handoff = handoff_summary(case, rule, trigger)
        logged = handoff
    entry = case.log(
        now,
        trigger,
        f"escalation[{index}]",
        "escalated",
        actor,
        from_level=previous,
        to_level=levels[to_level].id,
        handoff=logged,
        # a text as written (one in several locales: the default's)
        reason=text_in(rule.reason, None, case.policy.policy.locale),
    )
    if worded:
        return escalate_worded(case, now, entry, rule, summary, clock)
    level = levels[to_level]
    named = clock if clock is not None and case.patched(SETTINGS_ACT_AS_WRITTEN) else None
    notifications.send(case, entry, rule.notify_customer, level=case.text(level.title), clock=named)
    for template in rule.notify_staff:
        notifications.send(
            case, entry, template, to="staff", handoff=handoff, level=case.text(level.title), clock=named
        )
    if level.handoff_template and level.handoff_template not in rule.notify_staff:
        notifications.send(
            case,
            entry,
            level.handoff_template,
            to="staff",
            handoff=handoff,
            level=case.text(level.title),
            clock=named,
        )
    promise_decision(case, now, to_level, worded=False)
    notifications.announce(case, entry, "escalated", level=case.text(level.title))
    return True


#: Escalations the customer is not told of by the ``escalated`` notification: a step taken to have
#: a compensation approved, and one a deadline's warning took before anything went wrong.
INTERNAL = frozenset({"compensation_above_authority", "sla_warning"})


def escalate_worded(
    case: Case, now: int, entry: LogEntry, rule: EscalationRule, summary: str | None, clock: str | None
) -> bool:
    """The escalation's decision and messages as values (``messages-worth-reading``).

    A step taken for an approval (``compensation_above_authority``) or on a deadline's warning is
    internal: staff are told, the customer is not (a warning's rule may still send its own
    ``notify_customer``).  The customer's notice tells the new level's decision date, and
    replaces one not yet sent; the level left behind owes no decision any more."""
    s = case.state
    level = case.policy.authority[s.level]
    # the new level's promise first, so that the messages tell its date; a level it leaves owes
    # no decision any more (a new level without a promise of its own keeps the date told)
    if case.plan.decision_within[s.level] is not None:
        for promise in s.promises:
            if promise.kind == "decision" and promise.kept is None:
                promise.superseded = True
    promise_decision(case, now, s.level, worded=True)
    named = values.label("clock", clock) if clock is not None else None
    titled = values.label("level", level.id)
    approval = rule.trigger.on == "compensation_above_authority"  # the approver must see what
    handoff = handoff_values(case, rule, summary) if summary or rule.handoff_summary or approval else None
    # an approval step is internal, and so is a warning's: the customer hears of neither
    internal = rule.trigger.on in INTERNAL
    if rule.trigger.on != "compensation_above_authority":  # a rule's own notice goes, as it says
        notifications.send(case, entry, rule.notify_customer, level=titled, clock=named, topic="escalated")
    for template in dict.fromkeys([*rule.notify_staff, level.handoff_template]):
        if template:
            notifications.send(case, entry, template, to="staff", handoff=handoff, level=titled, clock=named)
    if not internal:
        notifications.announce(case, entry, "escalated", level=titled)
    return True


def promise_decision(case: Case, now: int, to_level: int, *, worded: bool) -> None:
    """A level with ``decision_within`` promises a decision by a date (``worded``: the promise's
    text names the instant in UTC, which no reader is shown; before, the local time)."""
    level = case.policy.authority[to_level]
    within = case.plan.decision_within[to_level]
    if within is None:
        return
    due = case.calendar(level.calendar).due(now, within)
    when = iso(due) if worded else case.local(due, level.calendar)
    case.state.promises.append(
        Promise(
            kind="decision",
            due=due,
            text=f"{case.text(level.title)} decides by {when}",
            rule=f"authority[{to_level}].decision_within",
        )
    )


def handoff_values(case: Case, rule: EscalationRule, summary: str | None) -> dict[str, Any]:
    """What the next level needs to know, as values its hand-off template words."""
    s = case.state
    clocks = [
        {
            "clock": values.label("clock", cid),
            "status": c.status,
            "due": values.instant(case, c.due, case.clock_def(cid).calendar, due=True),
        }
        for cid, c in s.clocks.items()
        if c.due is not None and c.status in ("running", "paused", "breached")
    ]
    return {
        "summary": summary,
        "reason": values.label("reason", rule.id) if rule.reason else None,
        "trigger": rule.trigger.on,
        "subject": case.complaint.subject,
        "category": s.category or None,
        "severity": s.severity or None,
        "stage": values.label("stage", s.stage) if s.stage else None,
        "clocks": clocks,
        "compensation": values.money(case, s.compensation_total),
        "approval": approval_values(case) if rule.trigger.on == "compensation_above_authority" else None,
    }


def approval_values(case: Case) -> dict[str, Any] | None:
    """The proposal an approval step is for: its number, the remedy and amount, who proposed it."""
    waiting = [p for p in case.state.proposals if p.status == "needs_approval"]
    if not waiting:
        return None
    p = waiting[-1]
    return {
        "number": p.number,
        "remedy": values.remedy(case, p.remedy, p.amount),
        "proposed_at": values.label("level", p.level),
        "approver": values.label("level", p.approval_level or ""),
    }


def handoff_summary(case: Case, rule: EscalationRule, trigger: str) -> str:
    """What the next level needs to know, built from the case."""
    s = case.state
    complaint = case.complaint
    subject = complaint.subject or (complaint.description[:120] if complaint.description else "")
    clocks = ", ".join(
        f"{cid} {c.status} (due {iso(c.due)})"
        for cid, c in s.clocks.items()
        if c.due is not None and c.status in ("running", "paused", "breached")
    )
    return (
        f"{case.text(rule.reason) or 'Escalated on ' + rule.trigger.on.replace('_', ' ')} ({trigger}). "
        f"Complaint: {subject}. Category {s.category or '-'}, severity {s.severity or '-'}, stage {s.stage}. "
        f"Clocks: {clocks or 'none running'}. Compensation so far: {s.compensation_total}."
    )


def check_escalate(case: Case, event: Escalate) -> None:
    if event.actor.kind == "staff" and not (event.summary and event.summary.strip()):
        raise Rejected("an escalation by staff needs a hand-off summary (summary)")


def on_escalate(case: Case, event: Escalate, now: int) -> Answer:
    """A request to escalate, by the customer or by staff."""
    on = "customer_request" if event.actor.kind == "customer" else "agent_request"
    if on == "customer_request":
        case.state.customer_requested_escalation = True
    before = case.state.level
    summary = event.summary
    if not summary and on == "customer_request" and case.patched(MESSAGES_WORTH_READING):
        summary = event.reason  # the customer's own words reach the level that takes the case over
    rule = trigger(case, now, on, "event:escalate", event.actor, summary=summary)
    if rule is None:
        entry = case.log(
            now,
            "event:escalate",
            "escalation",
            "escalation request recorded",
            event.actor,
            reason="no escalation rule matches",
        )
        return answer("no_rule", entry, "no escalation rule matches this request")
    moved = case.state.level != before
    return answer("escalated" if moved else "not_escalated", case.state.log[-1], level=case.level_id)


def on_accept_escalation(case: Case, event: AcceptEscalation, now: int) -> Answer:
    """The level the case reached takes it over: its decision promise is kept."""
    entry = case.log(
        now,
        "event:accept_escalation",
        f"authority[{case.state.level}]",
        "escalation accepted",
        event.actor,
    )
    promises.keep_decisions(case)
    running.process(case, now, "escalation_accepted", event.actor)
    return answer("accepted", entry)


def on_assign(case: Case, event: Assign, now: int) -> Answer:
    case.state.assignee = event.assignee
    entry = case.log(now, "event:assign", "authority", "assigned", event.actor, assignee=event.assignee)
    return answer("assigned", entry)
