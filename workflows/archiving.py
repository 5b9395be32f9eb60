"""The workflow the schedule ``ombuds-archive`` starts: one activity archives every closed
complaint not yet archived and applies the retention periods (``ombuds.engine.archive``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from . import names


@workflow.defn(name=names.ARCHIVE_WORKFLOW)
class ArchiveSweep:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            names.ARCHIVE_SWEEP,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(minutes=1)),
        )
        return result
