"""The case state: everything a case knows, carried across continue-as-new, and what it emits.

Its JSON is part of every history that continued as new: a field is added with
a default, never renamed or removed without a decoder for the old form.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from .events import Actor
from .payload import Payload

#: Clock fields earlier versions wrote and nothing read.
RETIRED_CLOCK_FIELDS = frozenset({"original_due", "breached_at", "stopped_at", "cycles"})


class ClockState(Payload):
    id: str
    status: Literal["waiting", "running", "paused", "stopped", "breached", "off"] = "waiting"
    target: str = ""
    target_rule: str = ""
    started_at: int | None = None
    due: int | None = None
    remaining: int | None = Field(
        None, description="Working (or elapsed) seconds left when paused or stopped."
    )
    warnings_at: list[int] = Field(default_factory=list)
    warnings_fired: list[int] = Field(default_factory=list)
    extended: bool = False
    #: Whether the clock's last run was met (stopped by its deadline); None while it runs.
    met: bool | None = None
    #: When the clock's first period started, and how many periods it has counted since (a
    #: repeating clock counts on from its deadlines; months from the first start).
    first_start: int | None = None
    periods: int = 0

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        """A state carried over by continue-as-new may hold fields nothing reads any more."""
        if isinstance(data, dict) and RETIRED_CLOCK_FIELDS & data.keys():
            return {k: v for k, v in data.items() if k not in RETIRED_CLOCK_FIELDS}
        return data


ProposalStatus = Literal["accepted", "needs_approval", "pending_cap_check", "rejected", "declined"]


class Proposal(Payload):
    number: int
    by: str
    level: str
    remedy: str
    amount: Decimal = Decimal(0)
    discount_percent: float = 0
    coupons: int = 0
    status: ProposalStatus
    reason: str = ""
    approval_level: str | None = None
    approved_by: str | None = None
    approver: Actor | None = Field(None, description="Who approved it, for the grant's log entry.")
    approval_reason: str | None = None


class Promise(Payload):
    """A date told to the customer or owed by staff; missing it is a breach."""

    kind: str
    due: int
    text: str
    rule: str
    kept: bool | None = None
    #: Handed over: the case moved to a higher level before this level decided (no breach).
    superseded: bool = False


class Callback(Payload):
    number: int
    due: int
    owner: str
    attempts: int = 0
    reminded: bool = False
    status: Literal["scheduled", "done", "missed", "cancelled"] = "scheduled"


class Scheduled(Payload):
    """A timed follow-up action (survey, reminder, thank-you, check-in)."""

    kind: str
    at: int
    rule: str
    done: bool = False


class LogEntry(Payload):
    """One decision: what happened, when, why (the rule), and who acted."""

    seq: int
    at: str
    trigger: str
    rule: str
    source: str
    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
    policy_sha: str
    chain: str | None = Field(
        None,
        description="sha256 of the entry before's chain and this entry: the last one stands for the "
        "whole log (tamper-evident-records).",
    )

    def chained(self, previous: str) -> LogEntry:
        """This entry with its link in the chain after ``previous``."""
        body = json.dumps(
            self.model_dump(mode="json", exclude={"chain"}),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return self.model_copy(update={"chain": hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()})


#: Decision details that are free text about the customer, whoever wrote them.
LOG_TEXTS = frozenset({"text", "question", "root_cause", "resolution", "summary", "comment", "handoff"})


#: The suffix of a detail that refers to a text by its sha256 (``text_sha256``).
REFERENCE = "_sha256"
#: The suffix of a detail that refers to a text by its sha256 (``text_sha256``).
REFERENCE = "_sha256"
#: The triggers whose ``reason`` is the customer's own words (their withdrawal).
CUSTOMER_REASONS = frozenset({"event:withdraw"})


def by_reference(detail: dict[str, Any], trigger: str, texts: dict[str, str]) -> dict[str, Any]:
    """The detail with each free text (and a reason the customer gave) replaced by its sha256,
    under ``<field>_sha256`` (a name no seal takes: the digest outlives an erasure); the texts go
    to ``texts`` by their sha256."""
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if (
            isinstance(value, str)
            and value
            and (key in LOG_TEXTS or (key == "reason" and trigger in CUSTOMER_REASONS))
        ):
            digest = hashlib.sha256(value.encode()).hexdigest()
            texts[digest] = value
            out[key + REFERENCE] = digest
        else:
            out[key] = value
    return out


def complaint_digest(complaint: Any) -> str:
    """sha256 of a complaint's canonical JSON."""
    body = json.dumps(
        complaint.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def chain_start(policy_sha: str, complaint_sha256: str) -> str:
    """Where a case's decision-log chain starts: its policy and its complaint as received."""
    return hashlib.sha256(f"ombuds-log/1\n{policy_sha}\n{complaint_sha256}".encode()).hexdigest()


class ConditionError(Payload):
    """A condition that could not be evaluated for this case, and so counted as false."""

    rules: list[str] = Field(description="Rule paths with this condition text.")
    condition: str
    error: str
    first_at: str
    count: int = 1


class CaseState(Payload):
    """Everything a case knows; carried across continue-as-new."""

    complaint_id: str
    policy_sha: str
    received: int
    status: Literal["open", "refused", "resolved", "closed", "withdrawn"] = "open"
    stage: str = ""
    #: Stage → the staff ids who decided in it (a finding, resolution, compensation, approval).
    deciders: dict[str, list[str]] = Field(default_factory=dict)
    level: int = 0
    severity: str = ""
    priority: str = ""
    category: str = ""
    queue: str = ""
    assignee: str | None = None
    acknowledged: bool = False
    waiting_on_customer: bool = False
    escalations: int = 0
    reopened: int = 0
    customer_requested_escalation: bool = False
    justified: bool | None = None
    root_cause: str | None = None
    resolution: str | None = Field(None, description="What was done, as staff wrote it at resolution.")
    delay_reason: str | None = Field(None, description="Why the case takes longer, as staff explained it.")
    corrective_actions: list[str] = Field(default_factory=list)
    survey_score: int | None = None
    previous_complaints: int = 0
    events: dict[str, int] = Field(default_factory=dict, description="First time each case event happened.")
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    promises: list[Promise] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    compensation_total: Decimal = Decimal(0)
    offered: list[str] = Field(default_factory=list)
    chosen: str | None = None
    callbacks: list[Callback] = Field(default_factory=list)
    scheduled: list[Scheduled] = Field(default_factory=list)
    sla_breached: bool = False
    undelivered: int = Field(0, description="Messages that could not be delivered (logged with the reason).")
    deferred: list[Deferred] = Field(default_factory=list)
    case_now: int | None = Field(None, description="Case time when the run continued as new.")
    seq: int = 0
    log: list[LogEntry] = Field(default_factory=list)
    texts: dict[str, str] = Field(
        default_factory=dict,
        description="The free texts the log refers to, by sha256 (personal-data-by-reference).",
    )
    condition_errors: list[ConditionError] = Field(
        default_factory=list, description="Conditions that failed to evaluate (counted as false)."
    )

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the case is over and no follow-up or held message is pending."""
        over = self.status in ("refused", "closed", "withdrawn")
        return over and not any(not s.done for s in self.scheduled) and not self.deferred


class Deferred(Payload):
    """A message held back by quiet hours until ``at``."""

    at: int
    send: Send
    #: Held to go out with the customer's other messages (``notifications.combine_within``).
    combine: bool = False


class Send(Payload):
    """A message to send through an activity; ``key`` makes the send idempotent."""

    key: str
    to: Literal["customer", "staff"]
    template: str
    locale: str
    channels: list[str]
    context: dict[str, Any]
    rule: str
    #: Whom a staff message is for, ``level:<level>`` or ``staff:<id>``, never an address: the
    #: delivery looks it up in the staff directory (``messages-reach-people``).
    recipient: str | None = None
    #: What the message is about where a newer one replaces it unsent (``escalated``).
    topic: str | None = None
    #: Messages combined into this one, in the order they were decided (``combine_within``).
    also: list[Send] | None = None


class CapCheck(Payload):
    """A compensation to reserve against the customer's per-period cap (ledger workflow)."""

    proposal: int
    amount: Decimal
    at: int
    period: int
    cap: Decimal
    max_compensated: int | None = None


Deferred.model_rebuild()
CaseState.model_rebuild()
