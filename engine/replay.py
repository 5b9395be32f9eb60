"""Replay for auditors: re-run a history through the current code, rebuild its decision log
and the answers its updates gave."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from ombuds.engine.policy.store import Store
from ombuds.workflows import capture, names
from ombuds.workflows.complaint import ComplaintWorkflow
from ombuds.workflows.core import LogEntry
from ombuds.workflows.core.patches import TAMPER_EVIDENT_RECORDS
from ombuds.workflows.core.state import REFERENCE, chain_start
from ombuds.workflows.ledger import CustomerAlias, CustomerLedger
from ombuds.workflows.model import CaseResult, ComplaintInput

from .codec import ERASED, ERASED_AS
from .runner import workflow_runner


@dataclass
class ReplayReport:
    workflow_id: str
    deterministic: bool
    failure: str | None
    rebuilt: list[LogEntry] = field(default_factory=list)
    recorded: list[LogEntry] | None = None
    #: Update id → the answer the update gave, as the history records it and as replay rebuilt it.
    answers_recorded: dict[str, Any] = field(default_factory=dict)
    answers_rebuilt: dict[str, Any] = field(default_factory=dict)
    #: The activities whose input, as the history records it, is not what the code asks of them
    #: (``<activity id> <type>``: a changed recipient, amount, template or key).
    inputs_differing: list[str] = field(default_factory=list)
    #: The texts the rebuilt log refers to by sha256 (an erased customer's open as placeholders).
    rebuilt_texts: dict[str, str] = field(default_factory=dict)

    @property
    def logs_match(self) -> bool | None:
        if self.recorded is None:
            return None
        rebuilt = [e.model_dump() for e in self.rebuilt]
        recorded = [e.model_dump() for e in self.recorded]
        if rebuilt == recorded:
            return True
        erased = {digest for digest, text in self.rebuilt_texts.items() if _erased(text)}
        if not erased or len(rebuilt) != len(recorded):
            return False
        # an erased customer's texts are unreadable: their digests (and so the chain's links) are
        # not derived again; every other part of every decision is, and the recorded chain holds
        return all(map(_same_but_erased, rebuilt, recorded, [erased] * len(rebuilt))) and chain_holds(
            self.recorded
        )

    @property
    def answers_match(self) -> bool | None:
        """Whether every completed update answers as it did (None: the history completed none)."""
        if not self.answers_recorded:
            return None
        return not self.answers_differing

    @property
    def answers_differing(self) -> list[str]:
        """The completed updates whose rebuilt answer (or refusal) differs from the recorded one."""
        return [
            i for i, value in sorted(self.answers_recorded.items()) if self.answers_rebuilt.get(i) != value
        ]

    @property
    def ok(self) -> bool:
        return (
            self.deterministic
            and self.logs_match is not False
            and self.answers_match is not False
            and not self.inputs_differing
        )


def recorded_log(history: WorkflowHistory) -> list[LogEntry] | None:
    """The decision log the workflow returned, as the history carries it."""
    for event in reversed(history.events):
        if event.HasField("workflow_execution_completed_event_attributes"):
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            (result,) = pydantic_data_converter.payload_converter.from_payloads(payloads, [CaseResult])
            return list(result.log)
    return None


def recorded_answers(history: WorkflowHistory) -> dict[str, Any]:
    """Update id → the answer each completed update gave, as plain JSON values; a refusal
    as ``{"refused": message}``."""
    found: dict[str, Any] = {}
    for event in history.events:
        if event.HasField("workflow_execution_update_completed_event_attributes"):
            done = event.workflow_execution_update_completed_event_attributes
            if done.outcome.HasField("success"):
                payloads = done.outcome.success.payloads
                found[done.meta.update_id] = _plain(payloads[0]) if payloads else None
            else:
                found[done.meta.update_id] = {"refused": done.outcome.failure.message}
    return found


def patches(history: WorkflowHistory) -> set[str]:
    """The change ids (``workflow.patched``) the history recorded."""
    found = set()
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            for payloads in event.marker_recorded_event_attributes.details.values():
                for payload in payloads.payloads:
                    data = _plain(payload) if payload.data else None
                    if isinstance(data, dict) and isinstance(data.get("id"), str):
                        found.add(data["id"])
    return found


def inputs_differing(history: WorkflowHistory, rebuilt: dict[str, tuple[str, list[Any]]]) -> list[str]:
    """The activities the history scheduled with another type or input than the code asks for
    (``<activity id> <type>``), each send's recipient, template and key and each reservation
    recomputed from the core."""
    out = []
    for event in history.events:
        if not event.HasField("activity_task_scheduled_event_attributes"):
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        kind = scheduled.activity_type.name
        recorded = [_plain(p) for p in scheduled.input.payloads]
        again = rebuilt.get(scheduled.activity_id)
        if again is None or again[0] != kind or not _same(recorded, again[1]):
            out.append(f"{scheduled.activity_id} {kind}")
    return out


def _same(recorded: Any, rebuilt: Any) -> bool:
    """Equal, but for fields the code now writes with an empty default that an older history
    does not have (a field added since: ``custom: {}``), and for personal data erased since
    (unreadable in the history, it cannot be compared)."""
    if _erased(recorded):
        return True
    if isinstance(recorded, dict) and isinstance(rebuilt, dict):
        if any(key not in rebuilt for key in recorded):
            return False
        return all(
            _same(recorded[key], value) if key in recorded else value in (None, {}, [], "", 0, False)
            for key, value in rebuilt.items()
        )
    if isinstance(recorded, list) and isinstance(rebuilt, list):
        return len(recorded) == len(rebuilt) and all(
            _same(a, b) for a, b in zip(recorded, rebuilt, strict=True)
        )
    return bool(recorded == rebuilt)


def _same_but_erased(rebuilt: dict[str, Any], recorded: dict[str, Any], erased: set[str]) -> bool:
    gone = {k for k, v in rebuilt["detail"].items() if k.endswith(REFERENCE) and v in erased}

    def kept(entry: dict[str, Any]) -> dict[str, Any]:
        detail = {k: v for k, v in entry["detail"].items() if k not in gone}
        return {**entry, "chain": None, "detail": detail}

    return kept(rebuilt) == kept(recorded)


def chain_holds(log: list[LogEntry]) -> bool:
    """Whether every entry of a recorded log links to the one before (from its policy and the
    complaint's digest at registration); a log from before the chain holds trivially."""
    if not log or log[0].chain is None:
        return True
    digest = str(log[0].detail.get("complaint_sha256", ""))
    previous = chain_start(log[0].policy_sha, digest)
    for entry in log:
        if entry.chained(previous).chain != entry.chain:
            return False
        previous = entry.chain or ""
    return True


def _erased(value: Any) -> bool:
    """Whether a value is what an erased customer's sealed field opens as."""
    return isinstance(value, str) and (
        value in ERASED_AS.values() or value.startswith(ERASED) or (value != "" and ERASED.startswith(value))
    )


def _as_json(value: Any) -> Any:
    """An answer as the data converter writes it into a history, read back as JSON."""
    (payload,) = pydantic_data_converter.payload_converter.to_payloads([value])
    return _plain(payload)


def _plain(payload: Payload) -> Any:
    """A payload's value as plain JSON values (an answer of None is written as ``binary/null``)."""
    if payload.metadata.get("encoding") == b"binary/null":
        return None
    return json.loads(payload.data)


class SnapshotsMissing(Exception):
    """The store lacks a snapshot the history names, so the history cannot be replayed here."""


def started_input(history: WorkflowHistory) -> ComplaintInput | None:
    """The workflow input of a complaint's history (None for any other history)."""
    if not history.events or not history.events[0].HasField("workflow_execution_started_event_attributes"):
        return None
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    try:
        (started,) = pydantic_data_converter.payload_converter.from_payloads(payloads, [ComplaintInput])
    except Exception:  # not a complaint's history: the replay itself will say so
        return None
    return started  # type: ignore[no-any-return]


def pinned_snapshots(history: WorkflowHistory) -> list[str]:
    """The policy and case-calendar sha256 the history names: in its input, and every
    longer case calendar an ``extend_calendar`` activity returned."""
    started = started_input(history)
    if started is None:
        return []
    found = [started.policy_sha, started.calendar_sha]
    extensions: set[int] = set()
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            if event.activity_task_scheduled_event_attributes.activity_type.name == names.EXTEND_CALENDAR:
                extensions.add(event.event_id)
        elif event.HasField("activity_task_completed_event_attributes"):
            done = event.activity_task_completed_event_attributes
            if done.scheduled_event_id in extensions:
                converter = pydantic_data_converter.payload_converter
                (sha,) = converter.from_payloads(done.result.payloads, [str])
                found.append(str(sha))
    return found


def with_own_id(history: WorkflowHistory) -> WorkflowHistory:
    """The history under the workflow id it ran with (recorded, else its complaint's id)."""
    first = history.events[0] if history.events else None
    recorded = ""
    if first is not None and first.HasField("workflow_execution_started_event_attributes"):
        recorded = first.workflow_execution_started_event_attributes.workflow_id
    if not recorded:
        started = started_input(history)
        recorded = (started.complaint.id or "") if started is not None else ""
    if recorded and recorded != history.workflow_id:
        return WorkflowHistory(recorded, history.events)
    return history


def check_snapshots(history: WorkflowHistory, store: Store) -> None:
    """Raise :class:`SnapshotsMissing` when the store lacks a snapshot the history names: a
    replay without them would fail in a way that looks like a changed history."""
    missing = [sha for sha in pinned_snapshots(history) if store.get(sha) is None]
    if missing:
        raise SnapshotsMissing(
            f"the store at {store.root} does not hold the snapshot(s) this history names "
            f"({', '.join(sha[:12] for sha in missing)}); use the home whose store holds them "
            "(OMBUDS_HOME), or copy the files named <sha>.json into this store"
        )


async def replay(history: WorkflowHistory, store: Store) -> ReplayReport:
    """Replay one history; the store supplies the pinned snapshots it names.

    Raises :class:`SnapshotsMissing` before replaying when the store lacks them.
    """
    check_snapshots(history, store)

    async def one() -> AsyncIterator[WorkflowHistory]:
        yield history

    (report,) = [report async for report in replay_many(one(), store)]
    return report


async def replay_many(histories: AsyncIterator[WorkflowHistory], store: Store) -> AsyncIterator[ReplayReport]:
    """Replay many histories with one replayer, a report for each as it is done (the caller
    checks their snapshots first, :func:`check_snapshots`)."""
    capture.start()
    try:
        replayer = Replayer(
            workflows=[ComplaintWorkflow, CustomerLedger, CustomerAlias],
            data_converter=pydantic_data_converter,
            workflow_runner=workflow_runner(store, contexts=False),
        )
        async with replayer.workflow_replay_iterator(histories) as results:
            async for result in results:
                history = result.history
                rebuilt = capture.logs(history.workflow_id)
                recorded = recorded_answers(history)
                answers = {
                    update: answer if isinstance(answer, dict) and "refused" in answer else _as_json(answer)
                    for update, answer in capture.answers().items()
                    if update in recorded
                }
                differing = inputs_differing(history, capture.activities(history.workflow_id))
                if TAMPER_EVIDENT_RECORDS not in patches(history):
                    # recorded before activity inputs were pinned: the code has worded some since
                    differing = []
                texts = capture.texts(history.workflow_id)
                capture.forget(history.workflow_id, list(recorded))
                failure = str(result.replay_failure) if result.replay_failure else None
                yield ReplayReport(
                    history.workflow_id,
                    failure is None,
                    failure,
                    rebuilt,
                    recorded_log(history),
                    recorded,
                    answers,
                    differing if failure is None else [],
                    texts,
                )
    finally:
        capture.stop()
