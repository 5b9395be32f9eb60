"""A case run by the pure driver alone (``ombuds.engine.simulation``), with the workflow tests'
interface (``submit``, ``act``, ``skip``, ``result`` awaited), so a scenario written for the
workflow runs here unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ombuds.engine.simulation import Ledgers, Prepare, Simulation
from ombuds.workflows.core import Actor, Answer, LogEntry, StatusView
from ombuds.workflows.model import CaseResult

__all__ = ["DriverCase", "Ledgers", "Prepare"]


class DriverCase(Simulation):
    async def submit(self, complaint: Any) -> str:  # type: ignore[override]
        return Simulation.submit(self, complaint)

    async def act(self, kind: str, actor: Actor, **fields: Any) -> Answer:  # type: ignore[override]
        return Simulation.act(self, kind, actor, **fields)

    async def skip(self, delta: dt.timedelta) -> None:
        self.advance(self.now + int(delta.total_seconds()))

    async def result(self) -> CaseResult:  # type: ignore[override]
        return Simulation.result(self)

    async def log(self) -> list[LogEntry]:  # type: ignore[override]
        return Simulation.log(self)

    async def status(self) -> StatusView:  # type: ignore[override]
        return Simulation.status(self)
