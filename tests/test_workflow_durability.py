"""Continue-as-new keeps all state; a worker restart mid-case sends nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import Activities
from ombuds.engine.intake import Intake
from ombuds.engine.logs import configure as configure_logs
from ombuds.engine.policy.store import Store
from ombuds.engine.replay import SnapshotsMissing, pinned_snapshots, replay
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import build_worker

from .workflow_support import (
    CUSTOMER,
    RECORDED,
    ROOT,
    STAFF_AGENT,
    SUPERVISOR,
    Case,
    make_complaint,
    running_case,
    shipped_policies,
    time_skipping,
)

pytestmark = pytest.mark.workflow
DAY = dt.timedelta(days=1)


async def test_continue_as_new_keeps_state_and_log(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(), history_limit=20)
        first_run = (await case.handle.describe()).run_id  # type: ignore[union-attr]
        await case.act("propose_compensation", STAFF_AGENT, remedy="goodwill", amount=Decimal(100))
        await case.skip(2 * DAY)
        await case.act("decide_approval", SUPERVISOR, proposal=1, approve=True)
        await case.skip(2 * DAY)
        view = await case.status()
        latest_run = (await case.client.get_workflow_handle(case.complaint_id).describe()).run_id
        assert latest_run != first_run
        first = case.client.get_workflow_handle(case.complaint_id, run_id=first_run)
        history = await first.fetch_history()
        assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
        # state from before the continuation survived it
        assert view.level == "supervisor"
        assert view.compensation_total == Decimal(100)
        log = await case.log()
        assert log[0].action == "registered"
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        await case.act("resolve", SUPERVISOR, justified=True)
        await case.skip(3 * DAY)
        await case.act("survey_answer", CUSTOMER, score=5)
        result = await case.result()
        assert result.status == "closed"
        assert result.log[0].action == "registered"


async def test_worker_restart_mid_case_sends_each_message_once(tmp_path: Path) -> None:
    async with time_skipping() as env:
        settings = Settings(home=tmp_path, policies=ROOT / "policies", task_queue="restart", routes=RECORDED)
        intake = Intake(settings, shipped_policies())
        case = Case(env, settings, intake)
        # no sticky cache on the first worker: the test server would route its next task to it
        async with build_worker(env.client, settings, max_cached_workflows=0):
            await case.submit(make_complaint())
            await case.act("propose_compensation", STAFF_AGENT, remedy="goodwill", amount=Decimal(100))
        # the worker is gone; time passes; a new worker process takes over from the history
        async with build_worker(env.client, settings):
            await case.skip(30 * DAY)
            await case.act("resolve", SUPERVISOR, justified=True)
            await case.skip(3 * DAY)
            await case.act("survey_answer", CUSTOMER, score=5)
            result = await case.result()
        assert result.status == "closed"
        messages = case.outbox()
        keys = [m["key"] for m in messages]
        assert len(keys) == len(set(keys))
        templates = [m["template"] for m in messages]
        assert templates.count("received") == 1
        assert templates.count("acknowledgement") == 1
        assert templates.count("final-response") == 1


async def test_delivering_the_same_key_twice_writes_one_message(tmp_path: Path) -> None:
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    activities = Activities(store, Outbox(tmp_path / "outbox"))
    message = OutboundMessage(
        key="C-1:7:0",
        to="customer",
        template="received",
        locale="de",
        channels=["email"],
        context={
            "complaint": {"id": "C-1", "received_at": "2027-03-01T10:00:00Z"},
            "customer": {"name": "Ana", "contacts": {"email": "ana@example.org"}},
            "deadlines": {"final-response": "2027-03-22 17:30"},
        },
        rule="stages[0]",
    )
    first = await activities.deliver(policy.sha256, message)
    second = await activities.deliver(policy.sha256, message)
    assert (first.status, second.status) == ("sent", "already_sent")
    files = list((tmp_path / "outbox").glob("*.json"))
    assert len(files) == 1
    body = files[0].read_text("utf-8")
    assert "2027-03-22 17:30" in body and "Guten Tag" in body


async def test_a_closed_complaint_reopens_as_a_new_linked_run(tmp_path: Path) -> None:
    import datetime as dt

    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(id="W-1"))
        await case.act("withdraw", CUSTOMER, reason="solved in branch")
        assert (await case.result()).status == "withdrawn"
        reopened = await case.intake.reopen(
            case.client, "W-1", dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.UTC), search_attributes=False
        )
        assert reopened.started and reopened.complaint_id == "W-1-R1"
        case.complaint_id = "W-1-R1"
        case.handle = case.client.get_workflow_handle("W-1-R1")
        link = await case.log_entry("reopens an earlier complaint")
        assert link.detail["original"] == "W-1"
        assert (await case.status()).status == "open"
        assert all(m["key"].startswith("W-1-R1:") for m in case.outbox())


async def test_a_case_that_outlives_its_calendar_gets_it_extended_by_an_activity(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(230 * DAY)
        await case.act("agent_reply", STAFF_AGENT, text="still on it")
        extended = await case.log_entry("case calendar extended")
        new_sha = extended.detail["calendar_sha"]
        assert (tmp_path / "store" / new_sha[:2] / f"{new_sha}.json").exists()
        answer = await case.act(
            "extend", SUPERVISOR, clock="final-response", target="35 business days", reason="x"
        )
        assert answer.status == "rejected"  # long past the deadline; computed on the longer calendar
        view = await case.status()
        assert view.status == "open"
        # an auditor's store must hold the longer calendar too: replay names it when it lacks it
        assert case.handle is not None
        history = await case.handle.fetch_history()
        assert new_sha in pinned_snapshots(history)
        (tmp_path / "store" / new_sha[:2] / f"{new_sha}.json").unlink()
        with pytest.raises(SnapshotsMissing, match=new_sha[:12]):
            await replay(history, Store(tmp_path / "store"))


async def test_each_delivery_is_logged_as_a_json_line(tmp_path: Path) -> None:
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    stream = io.StringIO()
    configure_logs("json", stream)
    try:
        message = OutboundMessage(
            key="C-9:3:0",
            to="customer",
            template="received",
            locale="en",
            channels=["sms", "email"],
            context={
                "complaint": {"id": "C-9", "received_at": "2027-03-01T10:00:00Z"},
                "customer": {"name": "Ana", "contacts": {"email": "ana@example.org"}},
                "deadlines": {"final-response": "2027-03-22 17:30"},
            },
            rule="stages[0]",
        )
        await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, message)
        await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, message)
        nowhere = message.model_copy(update={"key": "C-9:4:0", "channels": ["sms"]})
        await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, nowhere)
    finally:
        configure_logs("console")
    first, again, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (again["event"], again["status"]) == ("message already sent", "already_sent")
    assert first["event"] == "message delivered" and first["level"] == "info"
    assert (first["key"], first["complaint"], first["channel"], first["template"], first["status"]) == (
        "C-9:3:0",
        "C-9",
        "email",
        "received",
        "sent",
    )
    assert second["event"] == "message undeliverable" and second["level"] == "warning"
    assert "sms" in second["reason"] and first["timestamp"].endswith("Z")


async def test_submitting_a_complaint_intake_refuses_says_why(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        abusive = make_complaint(id="R-1", description="You idiots took my money again, fix it now please.")
        submitted = await case.intake.submit(case.client, abusive, search_attributes=False, simulated=True)
        assert submitted.started and "abusive" in submitted.refused.lower()
        fine = await case.intake.submit(
            case.client, make_complaint(id="R-2"), search_attributes=False, simulated=True
        )
        assert fine.started and fine.refused == ""
        assert (await case.client.get_workflow_handle("R-1").result())["status"] == "refused"


async def test_a_case_waits_for_a_snapshot_its_worker_lacks_and_runs_once_the_store_has_it(
    tmp_path: Path,
) -> None:
    """Workflow code reads no file: the worker loads what a task names, and a missing one fails the task."""
    intake = Intake(Settings(home=tmp_path / "intake", policies=ROOT / "policies"), shipped_policies())
    # a day no other test uses, so no worker in this process has loaded its calendar
    complaint = make_complaint(id="T-LATE-STORE", received_at="2031-05-06T10:00:00+00:00")
    complaint, _policy, workflow_input = intake.prepare(complaint, search_attributes=False, simulated=True)
    worker_settings = Settings(
        home=tmp_path / "worker", policies=ROOT / "policies", task_queue="tq-late", routes=RECORDED
    )
    Store(worker_settings.store_dir).put_policy(_policy)
    async with time_skipping() as env, build_worker(env.client, worker_settings):
        handle = await env.client.start_workflow(
            "Complaint", workflow_input, id="T-LATE-STORE", task_queue="tq-late"
        )
        failed = []
        for _ in range(200):
            events = (await handle.fetch_history()).events
            failed = [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
            if failed:
                break
            await asyncio.sleep(0.05)
        assert failed, "the first workflow task should fail without the calendar"
        assert "no case calendar" in failed[0].workflow_task_failed_event_attributes.failure.message
        source = intake.store.path(workflow_input.calendar_sha)
        target = Store(worker_settings.store_dir).path(workflow_input.calendar_sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        case = Case(env, worker_settings, intake)
        case.handle, case.complaint_id = handle, "T-LATE-STORE"
        registered = await case.log_entry("registered", attempts=400)
        assert registered.at == "2031-05-06T10:00:00Z"


async def test_a_message_missing_a_value_its_template_prints_is_undeliverable_not_blank(
    tmp_path: Path,
) -> None:
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    message = OutboundMessage(
        key="C-9:5:0",
        to="customer",
        template="extension",
        locale="en",
        channels=["email"],
        context={
            "complaint": {"id": "C-9"},
            "customer": {"name": "Ana", "contacts": {"email": "ana@example.org"}},
            "reason": "we are waiting for records",
        },
        rule="clocks[1].extension",
    )
    receipt = await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, message)
    assert receipt.status == "undeliverable"
    assert 'template "extension" (en) prints a value this message lacks' in receipt.reference
    assert "new_date" in receipt.reference
    assert not list((tmp_path / "outbox").glob("*.json"))
    whole = message.model_copy(update={"context": {**message.context, "new_date": "2027-04-30 17:30"}})
    sent = await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, whole)
    assert sent.status == "sent"
    body = json.loads(next((tmp_path / "outbox").glob("*.json")).read_text("utf-8"))["body"]
    assert "2027-04-30 17:30" in body and "we are waiting for records" in body
