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

import base64
import contextlib
import datetime as dt
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from ombuds.workflows import names
from ombuds.workflows.core import Event, LogEntry
from ombuds.workflows.model import CaseResult, ComplaintInput

from .archive import Archive, ArchiveError, Manifest
from .codec import CodecError
from .intake import Intake, IntakeError
from .policy.snapshot import CompiledPolicy
from .replay import _plain
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


async def inputs_of(workflow_id: str, runs: list[dict[str, Any]], codec: Any = None) -> Inputs:
    """A case's inputs from its histories as archived (JSON, as ``temporal workflow show -o json``
    writes them), oldest run first; only the payloads needed are opened."""

    async def value(payload: dict[str, Any] | None) -> Any:
        if payload is None:
            return None
        proto = Payload(
            metadata={k: base64.b64decode(v) for k, v in payload.get("metadata", {}).items()},
            data=base64.b64decode(payload.get("data", "")),
        )
        if codec is not None:
            (proto,) = await codec.decode([proto])
        return _plain(proto)

    def first(holder: dict[str, Any], *path: str) -> dict[str, Any] | None:
        node: Any = holder
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        payloads = node.get("payloads") if isinstance(node, dict) else None
        return payloads[0] if payloads else None

    def nth(holder: dict[str, Any], n: int, *path: str) -> dict[str, Any] | None:
        node: Any = holder
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        payloads = node.get("payloads") if isinstance(node, dict) else None
        return payloads[n] if payloads and len(payloads) > n else None

    inputs = []
    for run in runs:
        started = run["events"][0].get("workflowExecutionStartedEventAttributes", {})
        inputs.append(ComplaintInput.model_validate(await value(first(started, "input"))))
    first_input = inputs[0]
    received = int(first_input.complaint.received_at.timestamp())
    events: list[tuple[int, dict[str, Any]]] = []
    sent: Counter[str] = Counter()
    registrations: dict[str, bool] = {}
    previous: int | None = None
    log: list[LogEntry] = []
    for run, started_input_ in zip(runs, inputs, strict=True):
        start = _instant(run["events"][0]["eventTime"])
        # case time: a simulated case runs on its own clock from receipt; else the real time
        offset = (started_input_.state.case_now or received if started_input_.state else received) - start
        for event in run["events"]:
            payload = None
            if "workflowExecutionUpdateAcceptedEventAttributes" in event:
                request = event["workflowExecutionUpdateAcceptedEventAttributes"].get("acceptedRequest", {})
                if request.get("input", {}).get("name") == names.ACT_UPDATE:
                    payload = await value(first(request, "input", "args"))
            elif "workflowExecutionSignaledEventAttributes" in event:
                signaled = event["workflowExecutionSignaledEventAttributes"]
                if signaled.get("signalName") == names.EVENT_SIGNAL:
                    payload = await value(first(signaled, "input"))
            elif "activityTaskScheduledEventAttributes" in event:
                scheduled = event["activityTaskScheduledEventAttributes"]
                kind = scheduled.get("activityType", {}).get("name")
                registrations[str(event.get("eventId"))] = kind == names.LEDGER_REGISTER
                if kind == names.DELIVER:
                    send = await value(nth(scheduled, 1, "input"))
                    if isinstance(send, dict):
                        sent[f"{send.get('to')}:{send.get('template')}"] += 1
            elif "activityTaskCompletedEventAttributes" in event:
                done = event["activityTaskCompletedEventAttributes"]
                if registrations.get(str(done.get("scheduledEventId"))) and previous is None:
                    counted = await value(first(done, "result"))
                    previous = counted if isinstance(counted, int) else None
            elif "workflowExecutionCompletedEventAttributes" in event:
                result = await value(first(event["workflowExecutionCompletedEventAttributes"], "result"))
                if isinstance(result, dict):
                    log = CaseResult.model_validate(result).log
            if isinstance(payload, dict):
                at = _instant(event["eventTime"])
                events.append((at + offset if started_input_.simulated else at, payload))
    closed = max((_instant(e.at) for e in log), default=received)
    entered = _instant(runs[0]["events"][0]["eventTime"]) if not first_input.simulated else received
    return Inputs(workflow_id, first_input.complaint, events, log, closed, sent, entered, previous)


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


def _load(archive: Archive, manifest: Manifest, codec: Any, store: Any) -> Inputs:
    import asyncio

    runs = [json.loads(data) for _, data in archive.histories(manifest)]
    return asyncio.run(inputs_of(manifest.workflow_id, runs, codec))


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
