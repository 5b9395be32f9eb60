"""``stages``: where the case stands in the procedure, and the work staff record along the way
(replies, findings).  The customer is told on entering a stage (``notify``)."""

from __future__ import annotations

from ombuds.engine.policy.vocabulary import stage_event

from . import notifications
from .case import Case, Rejected, answer, event_first
from .clocks import running
from .events import Actor, AgentReply, Answer, EnterStage, Finding
from .patches import MESSAGES_WORTH_READING
from .state import LogEntry


def enter(case: Case, now: int, stage_id: str, trigger: str, actor: Actor) -> LogEntry:
    index = next((i for i, st in enumerate(case.policy.stages) if st.id == stage_id), None)
    if index is None:
        raise Rejected(f'unknown stage "{stage_id}"')
    stage = case.policy.stages[index]
    case.state.stage = stage.id
    entry = case.log(now, trigger, f"stages[{index}]", "stage entered", actor, stage=stage.id)
    event_first(
        case,
        lambda: running.process(case, now, stage_event(stage.id), actor),
        lambda: notifications.send(case, entry, stage.notify),
    )
    return entry


#: The events by which staff decide in a stage (``decided_apart_from``).
DECISIONS = frozenset({"finding", "resolve", "propose_compensation", "decide_approval"})


def check_apart(case: Case, kind: str, actor: Actor) -> None:
    """Separation of duties: in a stage ``decided_apart_from`` others, whoever decided in those
    may not decide here."""
    if kind not in DECISIONS or actor.kind != "staff" or not actor.id:
        return
    index = next((i for i, st in enumerate(case.policy.stages) if st.id == case.state.stage), None)
    if index is None:
        return
    for other in case.policy.stages[index].decided_apart_from:
        if actor.id in case.state.deciders.get(other, []):
            raise Rejected(
                f'{actor.id} decided in stage "{other}"; stage "{case.state.stage}" is decided by '
                f"someone else (stages[{index}].decided_apart_from)"
            )


def record_decider(case: Case, kind: str, actor: Actor, stage: str) -> None:
    """Who decided in a stage, for ``decided_apart_from``."""
    if kind in DECISIONS and actor.kind == "staff" and actor.id:
        deciders = case.state.deciders.setdefault(stage, [])
        if actor.id not in deciders:
            deciders.append(actor.id)


def check_enter_stage(case: Case, event: EnterStage) -> None:
    if event.stage not in [st.id for st in case.policy.stages]:
        raise Rejected(f'unknown stage "{event.stage}"')


def on_enter_stage(case: Case, event: EnterStage, now: int) -> Answer:
    enter(case, now, event.stage or "", "event:enter_stage", event.actor)
    return answer("entered", case.state.log[-1], stage=event.stage)


def on_agent_reply(case: Case, event: AgentReply, now: int) -> Answer:
    """Staff reply; the first reply is the case's first response.  With ``messages-worth-reading``
    the customer is sent it, and an internal note is neither sent nor a response."""
    if event.internal and not case.patched(MESSAGES_WORTH_READING):
        raise Rejected("this case started before internal notes: send the note elsewhere")
    if case.patched(MESSAGES_WORTH_READING) and event.internal:
        entry = case.log(now, "event:agent_reply", "stages", "internal note", event.actor, text=event.text)
        return answer("noted", entry)
    entry = case.log(now, "event:agent_reply", "stages", "agent replied", event.actor, text=event.text)
    first = "first_response" not in case.state.events

    def happened() -> None:
        running.process(case, now, "agent_reply", event.actor)
        if first:
            running.process(case, now, "first_response", event.actor)

    def told() -> None:
        if case.patched(MESSAGES_WORTH_READING):
            notifications.announce(case, entry, "agent_reply", reply=event.text)

    event_first(case, happened, told)
    return answer("recorded", entry)


def on_finding(case: Case, event: Finding, now: int) -> Answer:
    """The investigation's finding: justified or not, and the root cause."""
    s = case.state
    if event.justified is not None:
        s.justified = event.justified
    if event.root_cause:
        s.root_cause = event.root_cause
    entry = case.log(
        now,
        "event:finding",
        "stages",
        "finding recorded",
        event.actor,
        justified=event.justified,
        root_cause=event.root_cause,
    )
    return answer("recorded", entry)
