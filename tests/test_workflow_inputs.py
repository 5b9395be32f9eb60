"""Inputs against a running workflow (the time-skipping server): random payloads of every event
kind never fail a workflow task, a signal is read at once, and an input that needs a longer
case calendar gets one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowHandle

from ombuds.workflows.core import Event, LogEntry, StatusView
from ombuds.workflows.core.events import KINDS

from .workflow_support import (
    CUSTOMER,
    MANAGEMENT,
    Case,
    make_complaint,
    retail_complaint,
    running_case,
    time_skipping,
)

_T = TypeVar("_T")


class Background:
    """A time-skipping server and a worker on an event loop of their own, for sync tests."""

    def __init__(self, home: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.home = home
        self.stop = asyncio.Event()
        self.case: Case | None = None
        self.started = self.run(self._ready())

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 120) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _ready(self) -> None:
        ready = asyncio.Event()

        async def hold() -> None:
            async with time_skipping() as env, running_case(env, self.home) as case:
                self.case = case
                ready.set()
                await self.stop.wait()

        self.task = asyncio.ensure_future(hold())
        await ready.wait()

    def close(self) -> None:
        async def finish() -> None:
            self.stop.set()
            await self.task

        self.run(finish())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    running = Background(tmp_path_factory.mktemp("inputs"))
    yield running
    running.close()


texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "x" * 60_000, "2031-01-01T10:00:00+00:00", "9999-12-31T23:59:59+00:00"]),
    st.sampled_from(["2027-03-01T10:00", "999999 business days", "35 business days", "final-response"]),
)
values = st.one_of(
    texts,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(texts, max_size=3),
    st.sampled_from([["fix"] * 30_000, {"nested": [1, 2]}, "1E-30", "0.001", "1_0"]),
)
SENSIBLE_ACTORS = [
    {"kind": "customer"},
    {"kind": "staff", "id": "frank", "level": "store-manager"},
    {"kind": "staff", "id": "eva", "level": "agent"},
]
actors = st.one_of(
    st.sampled_from(
        [
            *SENSIBLE_ACTORS,
            {"kind": "customer", "id": "someone-else"},
            {"kind": "staff", "id": "", "level": "agent"},
            {"kind": "staff", "id": "eve", "level": "nobody"},
            {"kind": "system"},
        ]
    ),
    st.dictionaries(st.sampled_from(["kind", "id", "level"]), values, max_size=3),
    values,
)


#: Values aimed at each field: its sense, its edges and its nonsense.
AIMED: dict[str, Any] = {
    "at": st.sampled_from(
        ["2031-01-01T10:00:00+00:00", "9999-12-31T23:59:59+00:00", "2027-02-24T10:00", "1999-01-01T00:00:00Z"]
    ),
    "text": st.sampled_from(["", "ok", "x" * 1_500_000]),
    "corrective_actions": st.sampled_from([["fix"] * 30_000, ["y" * 10_000], [], ["a", "b"]]),
    "target": st.sampled_from(["999999 business days", "400 business days", "35 business days", "-1 days"]),
    "clock": st.sampled_from(["resolution", "acknowledge", "nope"]),
    "amount": st.sampled_from(["1E-30", "0.001", "1_0", "49.9999999999999999", "1e400", "-5", 10**30]),
    "proposal": st.integers(min_value=-(10**30), max_value=10**30),
    "score": st.integers(min_value=-(10**30), max_value=10**30),
}


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    """A payload of some event kind, its fields drawn from sense and nonsense alike."""
    kind = draw(st.one_of(st.sampled_from(sorted(KINDS)), texts)) if draw(st.integers(0, 9)) else "x"
    fields = sorted(KINDS[kind].model_fields) if kind in KINDS else ["text", "at"]
    actor = (
        draw(st.one_of(st.sampled_from(SENSIBLE_ACTORS), actors)) if draw(st.integers(0, 4)) else draw(actors)
    )
    payload: dict[str, Any] = {"kind": kind, "actor": actor}
    for name in draw(st.lists(st.sampled_from([f for f in fields if f not in ("kind", "actor")] or ["x"]))):
        payload[name] = draw(st.one_of(AIMED.get(name, values), values))
    return draw(st.one_of(st.just(payload), values)) if draw(st.integers(0, 19)) == 0 else payload


STORE_MANAGER = {"actor": SENSIBLE_ACTORS[1]}
_ids = itertools.count(1)


async def _start(case: Case) -> WorkflowHandle[Any, Any]:
    await case.submit(retail_complaint(id=f"FUZZ-{next(_ids)}"))
    assert case.handle is not None
    return case.handle


async def _send(client: Client, handle: WorkflowHandle[Any, Any], payload: Any) -> None:
    """The payload as an update and as a signal, raw, as a hand-made client would send them."""
    with contextlib.suppress(Exception):
        await handle.execute_update("act", payload)
    with contextlib.suppress(Exception):
        await handle.signal("event", payload)


async def _health(handle: WorkflowHandle[Any, Any]) -> tuple[list[str], StatusView]:
    """Workflow task failures in the history, and the status (which a failing case cannot answer)."""
    await asyncio.sleep(0.2)
    history = await handle.fetch_history()
    failures = [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.HasField("workflow_task_failed_event_attributes")
    ]
    view: StatusView = await handle.query("status", result_type=StatusView)
    return failures, view


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(payloads(), min_size=1, max_size=3))
@example([{"kind": "request_callback", "actor": {"kind": "customer"}, "at": "2031-01-01T10:00:00+00:00"}])
@example([{"kind": "request_callback", "actor": {"kind": "customer"}, "at": "9999-12-31T23:59:59+00:00"}])
@example([{"kind": "customer_message", "actor": {"kind": "customer"}, "text": "x" * 1_500_000}])
@example([{**STORE_MANAGER, "kind": "resolve", "justified": True, "corrective_actions": ["fix"] * 30_000}])
@example(
    [
        {
            **STORE_MANAGER,
            "kind": "extend",
            "clock": "resolution",
            "target": "999999 business days",
            "reason": "r",
        }
    ]
)
def test_random_payloads_of_every_kind_never_fail_a_workflow_task(
    background: Background, sent: list[Any]
) -> None:
    case = background.case
    assert case is not None

    async def scenario() -> tuple[list[str], StatusView, list[LogEntry]]:
        handle = await _start(case)
        for payload in sent:
            await _send(case.client, handle, payload)
        failures, view = await _health(handle)
        if view.status == "open":  # still moving: a proper input is taken
            event = Event(kind="customer_message", actor=CUSTOMER, text="still there?")
            await handle.signal("event", event)
        return failures, view, await case.log()

    failures, view, log = background.run(scenario())
    assert failures == [], failures
    assert view.status in ("open", "closed", "withdrawn", "refused")
    if view.status == "open":
        assert log  # the case answers queries and keeps its log


async def test_a_signal_taken_while_an_activity_runs_is_read_at_once(tmp_path: Path) -> None:
    """Observed: a signal that came while the workflow waited on an activity was read only at
    the next timer (two minutes late)."""
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        complaint = make_complaint(id="PROMPT-1")
        _complaint, _policy, workflow_input = case.intake.prepare(
            complaint, search_attributes=False, simulated=True
        )
        handle = await case.client.start_workflow(
            "Complaint", workflow_input, id="PROMPT-1", task_queue=case.settings.task_queue
        )
        # intake's messages are being delivered (activities) when this arrives
        await handle.signal("event", Event(kind="customer_message", actor=CUSTOMER, text="one more thing"))
        for _ in range(100):
            log: list[LogEntry] = await handle.query("log", result_type=list[LogEntry])
            if any(e.action == "customer message recorded" for e in log):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the signal waited for the next timer")


async def test_an_extension_past_the_case_calendar_extends_the_calendar(tmp_path: Path) -> None:
    """An input within bounds that needs the calendar past its horizon gets a longer calendar
    (an activity) and is applied, instead of failing the case."""
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(id="LONG-1"))
        answer = await case.act(
            "extend", MANAGEMENT, clock="final-response", target="400 business days", reason="a long inquiry"
        )
        log = await case.log()
        assert answer.status == "rejected"  # above the policy's cap of 35 business days
        assert "case calendar extended" in [e.action for e in log]
        failures, _view = await _health(case.handle)  # type: ignore[arg-type]
        assert failures == []


def test_bounds_are_documented_as_the_code_has_them() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "architecture.md").read_text("utf-8")
    from ombuds.workflows.core import bounds

    for figure in (bounds.TEXT, bounds.NOTE, bounds.NAME, bounds.ITEMS):
        assert f"{figure:,}" in text, figure
