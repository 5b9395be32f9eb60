"""The payloads of the complaint workflow itself: its input and its result.

One object per workflow input, so fields can be added without breaking
running histories.  The case's own payloads (events, state, answers, views)
live in :mod:`ombuds.workflows.core`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ombuds.engine.policy.model import Complaint

from .core.payload import Payload
from .core.state import CaseState, LogEntry


class ComplaintInput(Payload):
    """The workflow input: small, with the policy and calendar named by sha256."""

    complaint: Complaint
    policy_sha: str
    calendar_sha: str
    linked_to: str | None = Field(None, description="The complaint this one reopens.")
    complaint_sha256: str | None = Field(
        None,
        description="The digest of the complaint as intake received it (tamper-evident-records): the "
        "decision log's chain starts from it, and it outlives an erasure of what it digests.",
    )
    state: CaseState | None = Field(None, description="Carried over by continue-as-new.")
    sent: list[dict[str, Any]] | None = Field(
        None, description="Carried by continue-as-new: the latest messages sent and their outcome."
    )
    publishing: list[dict[str, Any]] | None = Field(
        None, description="Carried by continue-as-new: the decisions being published to webhooks."
    )
    search_attributes: bool = True
    history_limit: int = Field(2_000, ge=20, description="Continue as new past this many history events.")
    publish: list[str] = Field(
        default_factory=list,
        description="The event types published to webhooks (complaint.escalated, ...); none: nothing is.",
    )
    simulated: bool = Field(
        False,
        description=(
            "Run the case on its own clock: case time starts at received_at and runs with the "
            "workflow's time (policy tests, what-if, tests at fixed dates).  Otherwise (from "
            "cases-keep-moving on) case time is the real time."
        ),
    )


class CaseResult(Payload):
    complaint_id: str
    status: str
    policy_sha: str
    log: list[LogEntry]
