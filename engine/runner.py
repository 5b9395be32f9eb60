"""The workflow runner: Temporal's sandbox, with every snapshot a workflow task names loaded first.

A complaint's history names its policy snapshot and case calendar by sha256:
in its input (each run's, continue-as-new included) and in the result of every
``extend_calendar`` activity.  Before an activation reaches the workflow code,
this runner reads those shas from the activation, reads the bytes from the
store, verifies them against their sha256 and puts them in the registry the
workflow code looks them up in (``ombuds.workflows.snapshots``).  So workflow
code never reads a file, and a worker that lacks a snapshot fails the task
(retried by Temporal) instead of deciding on something else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import temporalio.workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ombuds.engine.policy.snapshot import CompiledPolicy, Instance
from ombuds.engine.policy.store import Store
from ombuds.workflows import capture, names, snapshots

#: Modules imported once, outside the sandbox: pure code, or the snapshot registry itself.
PASSTHROUGH = ("ombuds", "cel", "pydantic", "pydantic_core", "annotated_types", "typing_extensions")


def sandbox() -> SandboxedWorkflowRunner:
    """Temporal's workflow sandbox, passing the pure modules through."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def workflow_runner(store: Store, *, contexts: bool = True) -> WorkflowRunner:
    """The sandbox behind the snapshot loader: what complaint workers and replay run.

    ``contexts``: payloads are converted with their serialization context (the workflow id the
    codec seals for); a replay reads payloads already opened, so it asks for none."""
    return SnapshotLoadingRunner(sandbox(), store, contexts=contexts)


class SnapshotLoadingRunner(WorkflowRunner):
    """Wraps a runner: each activation's snapshots are loaded before its workflow code runs."""

    def __init__(self, inner: WorkflowRunner, store: Store, *, contexts: bool = True) -> None:
        self.inner = inner
        self.store = store
        self.contexts = contexts

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Loading(self.inner.create_instance(det), self.store, self.contexts)

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _Loading(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, store: Store, contexts: bool = True) -> None:
        self.inner = inner
        self.store = store
        self.contexts = contexts
        #: Activity type by the sequence number the workflow scheduled it with.
        self.activities: dict[int, str] = {}
        self.workflow_id = ""

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        for sha, kind in self.named(act):
            if not snapshots.loaded(sha):
                self.load(sha, kind)
        completion = self.inner.activate(act)
        if completion.HasField("successful"):
            for command in completion.successful.commands:
                if command.HasField("schedule_activity"):
                    scheduled = command.schedule_activity
                    self.activities[scheduled.seq] = scheduled.activity_type
                    if capture.active():  # replaying: what the code asks each activity to do
                        capture.activity(
                            self.workflow_id,
                            scheduled.activity_id,
                            scheduled.activity_type,
                            [_json(p.data) for p in scheduled.arguments],
                        )
        return completion

    def load(self, sha: str, kind: type[CompiledPolicy] | type[Instance]) -> None:
        """Read and verify one snapshot; a failure is left for the workflow's look-up to report."""
        try:
            data = self.store.get(sha)
            if data is not None:
                snapshots.load(sha, data, kind)
        except (OSError, ValueError) as exc:  # unreadable, or content that does not parse
            snapshots.refuse(sha, f"the store's snapshot {sha} cannot be read: {str(exc)[:200]}")

    def named(self, act: WorkflowActivation) -> list[tuple[str, type[CompiledPolicy] | type[Instance]]]:
        """The snapshots an activation names: a complaint's input, an extended calendar."""
        found: list[tuple[str, type[CompiledPolicy] | type[Instance]]] = []
        for job in act.jobs:
            if job.HasField("initialize_workflow"):
                start = job.initialize_workflow
                self.workflow_id = start.workflow_id
                if start.workflow_type == names.COMPLAINT_WORKFLOW and start.arguments:
                    data = _json(start.arguments[0].data)
                    if isinstance(data, dict):
                        found.append((str(data.get("policy_sha", "")), CompiledPolicy))
                        found.append((str(data.get("calendar_sha", "")), Instance))
            elif job.HasField("resolve_activity"):
                resolved = job.resolve_activity
                if self.activities.get(resolved.seq) == names.EXTEND_CALENDAR and resolved.result.HasField(
                    "completed"
                ):
                    sha = _json(resolved.result.completed.result.data)
                    if isinstance(sha, str):
                        found.append((sha, Instance))
        return [(sha, kind) for sha, kind in found if sha]

    def get_serialization_context(self, command_info: Any) -> Any:
        return self.inner.get_serialization_context(command_info) if self.contexts else None

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> temporalio.workflow.Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None
