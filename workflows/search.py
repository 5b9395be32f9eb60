"""Search attributes of a complaint: what ``temporal workflow list --query`` and the UI filter on.

No personal data goes here; ids, statuses and dates only.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from temporalio.common import SearchAttributeKey

if TYPE_CHECKING:
    from .core import Interpreter

STATUS = SearchAttributeKey.for_keyword("OmbudsStatus")
STAGE = SearchAttributeKey.for_keyword("OmbudsStage")
LEVEL = SearchAttributeKey.for_keyword("OmbudsLevel")
SEVERITY = SearchAttributeKey.for_keyword("OmbudsSeverity")
CATEGORY = SearchAttributeKey.for_keyword("OmbudsCategory")
CHANNEL = SearchAttributeKey.for_keyword("OmbudsChannel")
POLICY_ID = SearchAttributeKey.for_keyword("OmbudsPolicyId")
POLICY_SHA = SearchAttributeKey.for_keyword("OmbudsPolicySha")
SLA_BREACHED = SearchAttributeKey.for_bool("OmbudsSlaBreached")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("OmbudsNextDeadline")
#: The staff id the case is assigned to.
ASSIGNEE = SearchAttributeKey.for_keyword("OmbudsAssignee")
#: What a work queue filters on, as words: ``queue:<id>``, ``awaiting:<level>`` (a compensation
#: proposal awaits that level's approval), ``undelivered`` (a message could not be delivered).
#: One KeywordList, so the attributes stay within what every Temporal server accepts (the dev
#: server takes at most 10 Keyword attributes).
FLAGS = SearchAttributeKey.for_keyword_list("OmbudsFlags")

ALL = (
    STATUS,
    STAGE,
    LEVEL,
    SEVERITY,
    CATEGORY,
    CHANNEL,
    POLICY_ID,
    POLICY_SHA,
    SLA_BREACHED,
    NEXT_DEADLINE,
    ASSIGNEE,
    FLAGS,
)

#: Name → Temporal type, as `temporal server start-dev --search-attribute` takes them.
TYPES = {
    key.name: {"KEYWORD": "Keyword", "BOOL": "Bool", "DATETIME": "Datetime", "KEYWORD_LIST": "KeywordList"}[
        key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    ]
    for key in ALL
}


def case_attributes(
    core: Interpreter, channel: str, *, queues: bool = True
) -> dict[SearchAttributeKey[Any], Any]:
    """The search attributes of a case as the core sees it (None: unset); ``queues``: with the
    assignee and the flags (cases started before ``staff-work-through-the-api`` have neither)."""
    s = core.state
    wake = core.next_wake()
    more: dict[SearchAttributeKey[Any], Any] = (
        {ASSIGNEE: s.assignee, FLAGS: flags(core) or None} if queues else {}
    )
    return {
        STATUS: s.status,
        STAGE: s.stage,
        LEVEL: core.level_id,
        SEVERITY: s.severity or "none",
        CATEGORY: s.category or "none",
        CHANNEL: channel,
        POLICY_ID: core.policy.policy.id,
        POLICY_SHA: s.policy_sha,
        SLA_BREACHED: s.sla_breached,
        NEXT_DEADLINE: dt.datetime.fromtimestamp(wake, dt.UTC) if wake is not None else None,
        **more,
    }


def flags(core: Interpreter) -> list[str]:
    """The case's flags (:data:`FLAGS`), sorted."""
    s = core.state
    found = {f"queue:{s.queue}"} if s.queue else set()
    found |= {
        f"awaiting:{p.approval_level}"
        for p in s.proposals
        if p.status == "needs_approval" and p.approval_level
    }
    if s.undelivered:
        found.add("undelivered")
    return sorted(found)
