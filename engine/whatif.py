"""What-if over past cases: every archived complaint's inputs run again under a new policy on the
pure core, side-effect free, compared with what it decided then.

A case's inputs are in its archived histories: the complaint as received (the first run's
input) and every event staff and the customer sent, at the case time it came (an update
``act`` or a signal ``event``).  They are applied, in order and at those times, to the
complaint under the new policy; the decisions it takes are compared with the decisions the
case recorded: breaches, escalations, compensation granted, messages, and the deadlines the
customer was told, each change with the rule (and line) of the new policy behind it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from ombuds.workflows import names
from ombuds.workflows.core import Event, LogEntry

from .archive import Archive, ArchiveError, Manifest
from .codec import CodecError, opened
from .intake import Intake, IntakeError
from .policy.snapshot import CompiledPolicy
from .replay import _plain, recorded_log, started_input
from .settings import Settings
from .simulation import Ledgers, Simulation


@dataclass
class Inputs:
    """What came into a case: the complaint and its events at their case times."""

    workflow_id: str
    complaint: Any
    events: list[tuple[int, dict[str, Any]]]
    log: list[LogEntry]
    closed: int
    #: ``to:template`` of every message the case handed to delivery.
    sent: Counter[str] = field(default_factory=Counter)
    #: When the complaint was entered (its first run started), and the customer's earlier
    #: complaints as their ledger counted them then.
    entered: int = 0
    previous: int | None = None


@dataclass
class Figures:
    """What a run of a case decided, in the terms the comparison uses."""

    breaches: set[str] = field(default_factory=set)
    escalations: list[str] = field(default_factory=list)
    granted: Decimal = Decimal(0)
    messages: Counter[str] = field(default_factory=Counter)
    deadlines: dict[str, str] = field(default_factory=dict)
    status: str = ""


@dataclass
class CaseChange:
    workflow_id: str
    changes: list[dict[str, str]]
    before: Figures
    after: Figures
    error: str = ""


@dataclass
class WhatIf:
    policy: CompiledPolicy
    cases: list[CaseChange]
    skipped: dict[str, str]

    def summary(self) -> dict[str, Any]:
        ran = [c for c in self.cases if not c.error]
        changed = [c for c in ran if c.changes]
        return {
            "policy": {"id": self.policy.id, "version": self.policy.version, "sha256": self.policy.sha256},
            "cases": len(ran),
            "changed": len(changed),
            "breach_rate_before": _rate(sum(bool(c.before.breaches) for c in ran), len(ran)),
            "breach_rate_after": _rate(sum(bool(c.after.breaches) for c in ran), len(ran)),
            "escalated_before": sum(bool(c.before.escalations) for c in ran),
            "escalated_after": sum(bool(c.after.escalations) for c in ran),
            "granted_before": str(sum((c.before.granted for c in ran), Decimal(0))),
            "granted_after": str(sum((c.after.granted for c in ran), Decimal(0))),
            "changes_by_kind": dict(Counter(ch["kind"] for c in changed for ch in c.changes)),
            "not_run": {**self.skipped, **{c.workflow_id: c.error for c in self.cases if c.error}},
        }


def _rate(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def inputs_of(workflow_id: str, histories: list[WorkflowHistory]) -> Inputs:
    """A case's inputs from its (opened) histories, oldest run first."""
    first = started_input(histories[0])
    if first is None:
        raise ArchiveError(f"{workflow_id} is not a complaint's history")
    received = int(first.complaint.received_at.timestamp())
    events: list[tuple[int, dict[str, Any]]] = []
    sent: Counter[str] = Counter()
    registrations: dict[int, bool] = {}
    previous: int | None = None
    for history in histories:
        started = started_input(history)
        start = _time(history.events[0])
        # case time: a simulated case runs on its own clock from receipt; else the real time
        offset = (
            received if started is None or started.state is None else (started.state.case_now or received)
        ) - start
        simulated = bool(started and started.simulated)
        for event in history.events:
            payload = None
            if event.HasField("workflow_execution_update_accepted_event_attributes"):
                request = event.workflow_execution_update_accepted_event_attributes.accepted_request
                if request.input.name == names.ACT_UPDATE and request.input.args.payloads:
                    payload = _plain(request.input.args.payloads[0])
            elif event.HasField("workflow_execution_signaled_event_attributes"):
                signaled = event.workflow_execution_signaled_event_attributes
                if signaled.signal_name == names.EVENT_SIGNAL and signaled.input.payloads:
                    payload = _plain(signaled.input.payloads[0])
            if isinstance(payload, dict):
                at = _time(event) + offset if simulated else _time(event)
                events.append((at, payload))
            elif event.HasField("activity_task_completed_event_attributes"):
                done = event.activity_task_completed_event_attributes
                if registrations.get(done.scheduled_event_id) and previous is None and done.result.payloads:
                    counted = _plain(done.result.payloads[0])
                    previous = counted if isinstance(counted, int) else None
            elif event.HasField("activity_task_scheduled_event_attributes"):
                scheduled = event.activity_task_scheduled_event_attributes
                registrations[event.event_id] = scheduled.activity_type.name == names.LEDGER_REGISTER
                if scheduled.activity_type.name == names.DELIVER and len(scheduled.input.payloads) > 1:
                    send = _plain(scheduled.input.payloads[1])
                    if isinstance(send, dict):
                        sent[f"{send.get('to')}:{send.get('template')}"] += 1
    log = recorded_log(histories[-1]) or []
    closed = max((_instant(e.at) for e in log), default=received)
    entered = _time(histories[0].events[0]) if not first.simulated else received
    return Inputs(workflow_id, first.complaint, events, log, closed, sent, entered, previous)


def _time(event: HistoryEvent) -> int:
    return int(event.event_time.ToDatetime(dt.UTC).timestamp())


def _instant(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def figures(log: list[LogEntry]) -> Figures:
    out = Figures()
    for entry in log:
        if entry.action == "breached":
            out.breaches.add(str(entry.detail.get("clock", "")))
        elif entry.action == "escalated":
            out.escalations.append(str(entry.detail.get("to_level", "")))
        elif entry.action == "compensation granted":
            with contextlib.suppress(InvalidOperation):
                out.granted += Decimal(str(entry.detail.get("amount", "0")))
        elif entry.action in ("clock started", "extended") and entry.detail.get("due"):
            out.deadlines[str(entry.detail.get("clock"))] = str(entry.detail["due"])
        if entry.action in ("closed", "refused", "withdrawn", "resolved"):
            out.status = entry.action
    return out


def compare(before: Figures, after: Figures, log: list[LogEntry]) -> list[dict[str, str]]:
    """Each change, with the rule (and line) of the new policy's log behind it."""

    def rule_of(action: str, **detail: str) -> str:
        for entry in log:
            if entry.action == action and all(str(entry.detail.get(k)) == v for k, v in detail.items()):
                return f"{entry.rule} ({entry.source})"
        return ""

    changes = []
    for clock in sorted(after.breaches - before.breaches):
        changes.append(
            {"kind": "breach", "what": f"{clock} would breach", "rule": rule_of("breached", clock=clock)}
        )
    for clock in sorted(before.breaches - after.breaches):
        changes.append(
            {
                "kind": "breach",
                "what": f"{clock} would no longer breach",
                "rule": rule_of("clock stopped", clock=clock),
            }
        )
    if before.escalations != after.escalations:
        changes.append(
            {
                "kind": "escalation",
                "what": f"escalations {' > '.join(before.escalations) or 'none'} would be {' > '.join(after.escalations) or 'none'}",
                "rule": rule_of("escalated", to_level=after.escalations[0]) if after.escalations else "",
            }
        )
    if before.granted != after.granted:
        changes.append(
            {
                "kind": "amount",
                "what": f"granted {before.granted} would be {after.granted}",
                "rule": rule_of("compensation granted"),
            }
        )
    for clock in sorted(set(before.deadlines) | set(after.deadlines)):
        a, b = before.deadlines.get(clock), after.deadlines.get(clock)
        if a != b:
            changes.append(
                {
                    "kind": "deadline",
                    "what": f"{clock} due {a or 'never'} would be {b or 'never'}",
                    "rule": rule_of("clock started", clock=clock),
                }
            )
    for message in sorted(set(before.messages) | set(after.messages)):
        count_a, count_b = before.messages.get(message, 0), after.messages.get(message, 0)
        if count_a != count_b:
            to, template = message.split(":", 1)
            changes.append(
                {
                    "kind": "message",
                    "what": f"{template} to {to}: sent {count_a} times, would be {count_b}",
                    "rule": "",
                }
            )
    if before.status != after.status:
        changes.append(
            {
                "kind": "outcome",
                "what": f"ended {before.status or 'open'}, would end {after.status or 'open'}",
                "rule": "",
            }
        )
    return changes


def run(
    policy_path: Path,
    settings: Settings,
    archive: Archive,
    since: dt.datetime | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> WhatIf:
    """Every archived closed case of the new policy's id (closed on or after ``since``) again."""
    from .policy.compile import compile_file
    from .policy.store import Store
    from .temporal import codec_of

    new = compile_file(policy_path)
    codec = codec_of(settings)
    manifests = [m for m, _ in archive.chain() if m.policy_id == new.id]
    manifests = [m for m in manifests if since is None or dt.datetime.fromisoformat(m.closed_at) >= since]
    skipped: dict[str, str] = {}
    cases: list[CaseChange] = []
    ledgers = Ledgers()
    with tempfile.TemporaryDirectory(prefix="ombuds-whatif-") as home:
        intake = Intake(Settings(home=Path(home), policies=policy_path.parent), [new])
        store = Store(settings.store_dir)
        for done, manifest in enumerate(sorted(manifests, key=lambda m: m.received_at), start=1):
            progress(done, len(manifests))
            if archive.reduced(manifest.workflow_id) is not None:
                skipped[manifest.workflow_id] = "reduced after its retention"
                continue
            try:
                inputs = _load(archive, manifest, codec, store)
            except (ArchiveError, CodecError, ValueError) as exc:
                skipped[manifest.workflow_id] = str(exc)[:300]
                continue
            cases.append(_again(intake, new, inputs, ledgers))
    return WhatIf(new, cases, skipped)


async def _opened_all(histories: list[WorkflowHistory], codec: Any) -> list[WorkflowHistory]:
    return [await opened(h, codec) for h in histories]


def _load(archive: Archive, manifest: Manifest, codec: Any, store: Any) -> Inputs:
    import asyncio

    raw = [
        WorkflowHistory.from_json(manifest.workflow_id, data.decode())
        for _, data in archive.histories(manifest)
    ]
    histories = asyncio.run(_opened_all(raw, codec)) if codec is not None else raw
    return inputs_of(manifest.workflow_id, histories)


def _again(intake: Intake, new: CompiledPolicy, inputs: Inputs, ledgers: Ledgers) -> CaseChange:
    before = figures(inputs.log)
    before.messages = inputs.sent
    sim = Simulation(intake.store, lambda c: intake.prepare(c, simulated=True, policy=new)[2], ledgers)
    try:
        sim.submit(inputs.complaint, at=inputs.entered, previous=inputs.previous)
        for at, payload in inputs.events:
            sim.advance(at)
            try:
                sim.apply(Event.model_validate(payload))
            except (ValidationError, ValueError):
                continue  # an event the new policy refuses here: its log says so
        sim.advance(max(inputs.closed, sim.now) + 90 * 86_400)
    except (IntakeError, ValueError) as exc:
        return CaseChange(inputs.workflow_id, [], before, Figures(), error=str(exc)[:300])
    log = sim.log()
    after = figures(log)
    after.messages = Counter(f"{s.send.to}:{s.send.template}" for s in sim.sent)
    return CaseChange(inputs.workflow_id, compare(before, after, log), before, after)
