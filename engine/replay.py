"""Replay for auditors: re-run a history through the current code and rebuild its decision log."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from ombuds.engine.policy.store import Store
from ombuds.workflows import snapshots
from ombuds.workflows.complaint import ComplaintWorkflow
from ombuds.workflows.model import CaseResult, LogEntry

from .temporal import workflow_runner


@dataclass
class ReplayReport:
    workflow_id: str
    deterministic: bool
    failure: str | None
    rebuilt: list[LogEntry] = field(default_factory=list)
    recorded: list[LogEntry] | None = None

    @property
    def logs_match(self) -> bool | None:
        if self.recorded is None:
            return None
        return [e.model_dump() for e in self.rebuilt] == [e.model_dump() for e in self.recorded]

    @property
    def ok(self) -> bool:
        return self.deterministic and self.logs_match is not False


def recorded_log(history: WorkflowHistory) -> list[LogEntry] | None:
    """The decision log the workflow returned, as the history carries it."""
    for event in reversed(history.events):
        if event.HasField("workflow_execution_completed_event_attributes"):
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            (result,) = pydantic_data_converter.payload_converter.from_payloads(payloads, [CaseResult])
            return list(result.log)
    return None


async def replay(history: WorkflowHistory, store: Store) -> ReplayReport:
    """Replay one history; the store supplies the pinned snapshots it names."""
    snapshots.set_loader(store.get)
    snapshots.start_capture()
    try:
        replayer = Replayer(
            workflows=[ComplaintWorkflow],
            data_converter=pydantic_data_converter,
            workflow_runner=workflow_runner(),
        )
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        rebuilt = snapshots.captured(history.workflow_id)
    finally:
        snapshots.stop_capture()
    failure = str(result.replay_failure) if result.replay_failure else None
    return ReplayReport(history.workflow_id, failure is None, failure, rebuilt, recorded_log(history))
