"""The life of a case: resolved (with the finding, root cause and corrective actions), reopened,
withdrawn by the customer, closed (with the ``records`` retention).

A resolved case closes by itself once its survey is answered or expires.  A
low survey score reopens a case through :func:`reopen` here (``follow_up`` calls
it as ``case.reopen``).
"""

from __future__ import annotations

from . import callbacks, follow_up, notifications, promises, stages, values
from .case import Case, Rejected, answer, event_first
from .clocks import running
from .events import SYSTEM, Actor, Answer, Close, Reopen, Resolve, Withdraw
from .patches import MESSAGES_WORTH_READING, SETTINGS_ACT_AS_WRITTEN


def check_resolve(case: Case, event: Resolve) -> None:
    if case.state.status != "open":
        raise Rejected(f"the case is already {case.state.status}")


def on_resolve(case: Case, event: Resolve, now: int) -> Answer:
    s = case.state
    if event.justified is not None:
        s.justified = event.justified
    s.root_cause = event.root_cause or s.root_cause
    s.corrective_actions = event.corrective_actions or s.corrective_actions
    s.status = "resolved"
    promises.keep_decisions(case)
    entry = case.log(
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
        case.record_event(now, "final_response")
    decision = None if s.justified is None else ("upheld" if s.justified else "not_upheld")
    worded = case.patched(MESSAGES_WORTH_READING)
    if worded:
        # a callback not yet made is not made; an escalation notice not yet sent is no news
        s.resolution = event.text or s.resolution
        callbacks.cancel_open(case, now, "event:resolve")
        notifications.replace_topic(case, entry, "escalated", "the case was resolved before it was sent")
    else:
        notifications.announce(case, entry, "resolved", reason=event.text, decision=decision)
    if event.final_response:
        running.process(case, now, "final_response", event.actor)
    running.process(case, now, "resolved", event.actor)
    if worded:  # told once the dates the resolution starts are known (a referral date, a claim date)
        notifications.announce(case, entry, "resolved", **outcome(case))
    follow_up.schedule(case, now)
    return answer("resolved", entry)


def check_reopen(case: Case, event: Reopen) -> None:
    if case.state.status not in ("resolved",):
        raise Rejected(
            "only a resolved case can be reopened here; a closed case reopens as a new linked complaint"
        )


def on_reopen(case: Case, event: Reopen, now: int) -> Answer:
    reopen(case, now, event.actor, "event:reopen")
    return answer("reopened", case.state.log[-1])


def reopen(case: Case, now: int, actor: Actor, trigger: str) -> None:
    """The case is open again: pending follow-ups drop, clocks restart or resume."""
    s = case.state
    s.status = "open"
    s.reopened += 1
    follow_up.keep_after_reopen(case)
    entry = case.log(now, trigger, "clocks", "reopened", actor, times=s.reopened)
    # the customer is told once the clocks run again, so the message can name their new deadlines
    told_first = not case.patched(SETTINGS_ACT_AS_WRITTEN)
    if told_first:
        notifications.announce(case, entry, "reopened")
    running.reopen(case, now, actor, trigger)
    running.process(case, now, "reopened", actor)
    if not told_first:
        notifications.announce(case, entry, "reopened")


def on_withdraw(case: Case, event: Withdraw, now: int) -> Answer:
    case.state.status = "withdrawn"
    entry = case.log(
        now,
        "event:withdraw",
        "notifications.events.withdrawn",
        "withdrawn",
        event.actor,
        reason=event.reason,
    )
    event_first(
        case,
        lambda: running.process(case, now, "withdrawn", event.actor),
        lambda: notifications.announce(case, entry, "withdrawn"),
    )
    follow_up.cancel(case)
    return answer("withdrawn", entry)


def on_close(case: Case, event: Close, now: int) -> Answer:
    close(case, now, event.actor, "event:close")
    return answer("closed", case.state.log[-1])


def close(case: Case, now: int, actor: Actor, trigger: str) -> None:
    """Close the case: the final stage, every clock stopped, every promise settled."""
    s = case.state
    s.status = "closed"
    final = next((st for st in case.policy.stages if st.final), None)
    if final is not None and s.stage != final.id:
        stages.enter(case, now, final.id, trigger, actor)
    unanswered = _unanswered(case)
    closed = case.log(
        now,
        trigger,
        "records",
        "closed",
        actor,
        retention_years=case.policy.records.retention_years,
        final_response=False if unanswered else None,
    )
    told = outcome(case) if case.patched(MESSAGES_WORTH_READING) else {}

    def happened() -> None:
        running.process(case, now, "closed", actor)
        running.stop_all(case, now, actor, "closed", unmet=unanswered)

    event_first(case, happened, lambda: notifications.announce(case, closed, "closed", **told))
    for promise in s.promises:
        if promise.kept is None:
            promise.kept = True
    follow_up.keep_after_close(case)


def outcome(case: Case) -> dict[str, object]:
    """What a resolution or closing letter says was decided: the resolution as staff wrote it,
    what was granted, and whether the complaint was upheld."""
    s = case.state
    decision = None if s.justified is None else ("upheld" if s.justified else "not_upheld")
    return {"resolution": s.resolution, "granted": values.granted(case), "decision": decision}


def _unanswered(case: Case) -> bool:
    """A case closed before its final response, where a clock waits for one (and the change applies)."""
    waits = any("final_response" in clock.stops for clock in case.policy.clocks)
    return waits and "final_response" not in case.state.events and case.patched(SETTINGS_ACT_AS_WRITTEN)


def close_when_done(case: Case, now: int) -> None:
    """A resolved case closes by itself once its survey is answered or expired."""
    if case.state.status == "resolved" and not follow_up.survey_pending(case):
        close(case, now, SYSTEM, "deadline:follow_up")
