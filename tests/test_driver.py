"""The pure driver runs a whole case without Temporal, as the workflow does.

Each golden scenario is run again here through the driver alone, its effects
(messages, the customer's ledger, a longer calendar) answered in memory, and
gives the decisions and messages its golden history recorded.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from ombuds.engine.policy.model import Complaint
from ombuds.engine.policy.store import Store
from ombuds.engine.replay import recorded_log, started_input
from ombuds.workflows.core import LogEntry

from .driver_support import DriverCase
from .golden import record

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Golden histories of the current behaviour, and the scenario that recorded each.
#: Golden histories and the scenario that recorded each; the driver takes the change ids each
#: history took (its markers), so the older ones show the behaviour before a change.
SCENARIOS: dict[str, Callable[[Any], Awaitable[None]]] = {
    f"{version}/{name}": scenario
    for version in ("v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12")
    for name, scenario in (
        ("financial-full-path", record.financial_full_path),
        ("financial-refused", record.refused),
        ("financial-breach-and-delay", record.breach_and_delay),
        ("retail-full-path", record.retail_full_path),
        ("b2b-full-path", record.b2b_full_path),
    )
}


def history(name: str) -> WorkflowHistory:
    path = GOLDEN / f"{name}.json"
    return WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))


def patches_taken(recorded: WorkflowHistory) -> set[str]:
    """The change ids whose new behaviour the history took (their markers)."""
    found = set()
    for event in recorded.events:
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "patch-data" in details:
                found.add(json.loads(details["patch-data"].payloads[0].data)["id"])
    return found


def decisions(log: list[LogEntry]) -> Counter[str]:
    """Each decision without its sequence number and its link in the log's chain (both depend on
    the order activities completed)."""
    return Counter(json.dumps(e.model_dump(exclude={"seq", "chain"}), sort_keys=True) for e in log)


def messages(recorded: WorkflowHistory) -> Counter[tuple[str, str, str]]:
    """(audience, template, rule) of every message the history handed to delivery."""
    found: Counter[tuple[str, str, str]] = Counter()
    for event in recorded.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == "deliver":
                send = json.loads(scheduled.input.payloads[1].data)
                found[(send["to"], send["template"], send["rule"])] += 1
    return found


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_the_driver_alone_takes_the_decisions_of_the_golden_history(name: str, tmp_path: Path) -> None:
    recorded = history(name)
    started = started_input(recorded)
    assert started is not None
    shutil.copytree(GOLDEN / "store", tmp_path / "store")
    store = Store(tmp_path / "store")

    def prepare(complaint: Complaint) -> Any:
        assert complaint.id == started.complaint.id
        return started

    taken = patches_taken(recorded)
    case = DriverCase(store, prepare, patched=lambda change: change in taken)
    await SCENARIOS[name](case)
    result = await case.result()
    golden_log = recorded_log(recorded)
    assert golden_log is not None
    assert decisions(result.log) == decisions(golden_log)
    assert [e.seq for e in result.log] == list(range(1, len(golden_log) + 1))
    sent = Counter((m.to, m.template, m.rule) for m in case.delivered)
    assert sent == messages(recorded)


def test_golden_payloads_decode_as_recorded() -> None:
    """The scenario's inputs in the goldens decode into the typed event kinds (sanity for the test above)."""
    data = json.loads((GOLDEN / "v2" / "retail-full-path.json").read_text("utf-8"))
    kinds = [
        json.loads(
            base64.b64decode(
                e["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]["input"]["args"][
                    "payloads"
                ][0]["data"]
            )
        )["kind"]
        for e in data["events"]
        if "workflowExecutionUpdateAcceptedEventAttributes" in e
    ]
    assert kinds[:3] == ["agent_reply", "assign", "enter_stage"]
