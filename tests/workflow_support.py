"""Helpers for workflow tests on the real Temporal servers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.policy.compile import CompiledPolicy
from ombuds.engine.policy.model import Complaint
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import binary, build_worker
from ombuds.workflows.model import Actor, Answer, CaseResult, Event, StatusView

ROOT = Path(__file__).resolve().parent.parent
_POLICIES: list[CompiledPolicy] | None = None


def shipped_policies() -> list[CompiledPolicy]:
    global _POLICIES
    if _POLICIES is None:
        _POLICIES, report = load_policies(ROOT / "policies")
        assert report.ok, report.render_text()
    return _POLICIES


@asynccontextmanager
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(binary("temporal-test-server"))
    )
    try:
        yield env
    finally:
        await env.shutdown()


class Case:
    """One complaint running on a test environment, driven like an agent would."""

    def __init__(self, env: WorkflowEnvironment, settings: Settings, intake: Intake) -> None:
        self.env = env
        self.settings = settings
        self.intake = intake
        self.handle: WorkflowHandle[Any, Any] | None = None
        self.complaint_id = ""

    @property
    def client(self) -> Client:
        return self.env.client

    async def submit(self, complaint: Complaint) -> str:
        submitted = await self.intake.submit(self.client, complaint, search_attributes=False)
        assert submitted.started, submitted.reason
        self.complaint_id = submitted.complaint_id
        self.handle = self.client.get_workflow_handle(submitted.complaint_id)
        return self.complaint_id

    async def act(self, kind: str, actor: Actor, **fields: Any) -> Answer:
        assert self.handle is not None
        answer: Answer = await self.handle.execute_update("act", Event(kind=kind, actor=actor, **fields), result_type=Answer)  # type: ignore[arg-type]
        return answer

    async def status(self) -> StatusView:
        assert self.handle is not None
        view: StatusView = await self.handle.query("status", result_type=StatusView)
        return view

    async def skip(self, delta: dt.timedelta) -> None:
        await self.env.sleep(delta)

    async def result(self) -> CaseResult:
        assert self.handle is not None
        handle = self.client.get_workflow_handle(self.complaint_id, result_type=CaseResult)
        result: CaseResult = await handle.result()
        return result

    def outbox(self) -> list[dict[str, Any]]:
        files = sorted(self.settings.outbox_dir.glob(f"{self.complaint_id}*.json"))
        return [json.loads(f.read_text("utf-8")) for f in files]


@asynccontextmanager
async def running_case(env: WorkflowEnvironment, home: Path) -> AsyncIterator[Case]:
    settings = Settings(home=home, policies=ROOT / "policies", task_queue=f"tq-{home.name}")
    intake = Intake(settings, shipped_policies())
    worker: Worker = build_worker(env.client, settings)
    async with worker:
        yield Case(env, settings, intake)


STAFF_AGENT = Actor(kind="staff", id="alice", level="agent")
SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
CUSTOMER = Actor(kind="customer")
