"""Activities that reach a customer's ledger workflow (per-customer caps, repeat complaints)."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

LEDGER_WORKFLOW = "CustomerLedger"


class LedgerActivities:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def _handle(self, customer_key: str) -> Any:
        workflow_id = f"ledger-{customer_key}"
        return await self.client.start_workflow(
            LEDGER_WORKFLOW,
            None,
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    @activity.defn(name="ledger_register")
    async def register(self, customer_key: str, registration: dict[str, Any]) -> int:
        handle = await self._handle(customer_key)
        count: int = await handle.execute_update("register", registration, result_type=int)
        return count

    @activity.defn(name="ledger_reserve")
    async def reserve(self, customer_key: str, reservation: dict[str, Any]) -> dict[str, Any]:
        handle = await self._handle(customer_key)
        answer: dict[str, Any] = await handle.execute_update("reserve", reservation, result_type=dict)
        return answer
