"""What a case tells the team's other systems (a helpdesk, a chat tool) as it happens: its
decisions of interest as events, published to the webhooks of the settings file.

An event is one decision of the log, named by a type (``complaint.escalated``), with the
case as it stands after it (status, stage, level, assignee) and, for an escalation, the
hand-off the next level reads.  Its id, ``<complaint>:<seq>``, is the same on every retry,
so a receiver drops duplicates by it.  Typed values (a level's label, an instant) are left
for the delivery to word, as in messages.
"""

from __future__ import annotations

from typing import Any

from .case import Case
from .escalation import handoff_values
from .state import LogEntry

#: The decisions published, by log action, and the event type each is published as.
EVENT_TYPES: dict[str, str] = {
    "registered": "complaint.received",
    "refused": "complaint.refused",
    "assigned": "complaint.assigned",
    "escalated": "complaint.escalated",
    "warning": "clock.warning",
    "breached": "clock.breached",
    "resolved": "complaint.resolved",
    "reopened": "complaint.reopened",
    "withdrawn": "complaint.withdrawn",
    "closed": "complaint.closed",
    "delivery failed": "message.undeliverable",
}


def events(case: Case, entries: list[LogEntry], subscribed: list[str]) -> list[dict[str, Any]]:
    """The events of ``entries`` whose type is ``subscribed``, oldest first."""
    wanted = set(subscribed)
    return [event(case, entry) for entry in entries if EVENT_TYPES.get(entry.action) in wanted]


def event(case: Case, entry: LogEntry) -> dict[str, Any]:
    """One decision as an event (the Standard Webhooks shape: ``type``, ``timestamp``, ``data``)."""
    s = case.state
    levels = case.policy.authority
    data: dict[str, Any] = {
        "complaint_id": case.complaint_id,
        "policy": {
            "id": case.policy.policy.id,
            "version": case.policy.policy.version,
            "sha256": s.policy_sha,
        },
        "decision": entry.model_dump(mode="json"),
        "case": {
            "status": s.status,
            "stage": s.stage or None,
            "level": levels[s.level].id if levels else None,
            "assignee": s.assignee,
            "category": s.category or None,
            "severity": s.severity or None,
            "sla_breached": s.sla_breached,
        },
    }
    if entry.action == "escalated":
        data["handoff"] = _handoff(case, entry)
    return {
        "id": f"{case.complaint_id}:{entry.seq}",
        "type": EVENT_TYPES[entry.action],
        "timestamp": entry.at,
        "data": data,
    }


def failed(case: Case, now: int, event: dict[str, Any], error: str) -> None:
    """A decision the webhooks did not take after every retry: kept in the log (by its
    sequence number: the log names no complaint id)."""
    case.log(
        now,
        f"publish:{str(event.get('id', '')).rsplit(':', 1)[-1]}",
        "webhooks",
        "publication failed",
        type=event.get("type"),
        error=error[:300],
    )


def _handoff(case: Case, entry: LogEntry) -> dict[str, Any] | None:
    """What the next level needs to know, from the escalation rule the entry names."""
    index = entry.rule.removeprefix("escalation[").removesuffix("]")
    if not index.isdigit() or int(index) >= len(case.policy.escalation):
        return None
    summary = case.logged_text(entry.detail, "handoff")
    written = summary if summary and summary != "built from the case" else None
    return handoff_values(case, case.policy.escalation[int(index)], written)
