"""A complaint workflow written by hand, the baseline of ``bench_workflow.py``.

The same path as the policy-driven workflow, with the rules coded in Python:
acknowledgement, a limit check that escalates with a hand-off, approval,
resolution, survey, close.  Like any complaint workflow the operations team
can find in the Temporal UI, it keeps its status, stage, level and deadline in
the same search attributes (given at the start, upserted when they change),
unless the bench runs both workflows without them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from ombuds.workflows import search


@dataclass
class HandInput:
    complaint_id: str
    email: str
    search_attributes: bool = True


DEADLINE = timedelta(days=21)


def first_attributes(received: datetime) -> TypedSearchAttributes:
    """What the hand-written intake sets with the start."""
    values: list[SearchAttributePair[Any]] = [
        SearchAttributePair(search.STATUS, "open"),
        SearchAttributePair(search.STAGE, "investigation"),
        SearchAttributePair(search.LEVEL, "agent"),
        SearchAttributePair(search.SEVERITY, "none"),
        SearchAttributePair(search.CATEGORY, "none"),
        SearchAttributePair(search.CHANNEL, "email"),
        SearchAttributePair(search.POLICY_ID, "hand-written"),
        SearchAttributePair(search.POLICY_SHA, "-"),
        SearchAttributePair(search.SLA_BREACHED, False),
        SearchAttributePair(search.NEXT_DEADLINE, received + DEADLINE),
    ]
    return TypedSearchAttributes(values)


@dataclass
class HandEvent:
    kind: str
    level: str = ""
    amount: str = "0"
    score: int = 0


SEND = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=20)


@workflow.defn(name="HandWrittenComplaint")
class HandWrittenComplaint:
    """The same path coded by hand: limits, escalation and deadlines written in Python."""

    @workflow.init
    def __init__(self, data: HandInput) -> None:
        self.id = data.complaint_id
        self.indexed = data.search_attributes
        self.level = "agent"
        self.status = "open"
        self.seq = 0
        self.pending: Decimal | None = None
        self.survey_answered = False
        self.changed = False

    async def send(self, complaint_id: str, template: str, to: str = "customer") -> None:
        self.seq += 1
        await workflow.execute_activity(
            "hand_deliver",
            args=[f"{complaint_id}:{self.seq}", template, to],
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=SEND,
        )

    @workflow.run
    async def run(self, data: HandInput) -> str:
        await asyncio.gather(self.send(self.id, "received"), self.send(self.id, "acknowledgement"))
        while self.status != "closed":
            self.changed = False
            try:
                await workflow.wait_condition(lambda: self.changed, timeout=DEADLINE)
            except TimeoutError:
                self.index(search.SLA_BREACHED.value_set(True))
                await self.send(self.id, "sla-breach", "staff")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status

    def index(self, *updates: Any) -> None:
        if self.indexed:
            workflow.upsert_search_attributes(list(updates))

    @workflow.update
    async def act(self, event: HandEvent) -> str:
        self.changed = True
        if event.kind == "propose":
            amount = Decimal(event.amount)
            if amount > Decimal(50):
                self.pending = amount
                self.level = "supervisor"
                self.index(search.LEVEL.value_set(self.level))
                await asyncio.gather(self.send(self.id, "handoff", "staff"), self.send(self.id, "escalated"))
                return "needs_approval"
            return "accepted"
        if event.kind == "approve":
            self.pending = None
            await self.send(self.id, "options")
            return "accepted"
        if event.kind == "resolve":
            self.status = "resolved"
            self.index(search.STATUS.value_set(self.status))
            await self.send(self.id, "final-response")
            await self.send(self.id, "survey")
            return "resolved"
        if event.kind == "survey":
            self.status = "closed"
            self.index(
                search.STATUS.value_set(self.status),
                search.STAGE.value_set("closed"),
                search.NEXT_DEADLINE.value_unset(),
            )
            await self.send(self.id, "closed")
            return "closed"
        raise ValueError(event.kind)
