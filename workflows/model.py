"""Payloads of the complaint workflow: inputs, events, state, decisions.

Plain pydantic models, one object per workflow input, signal and update, so
fields can be added without breaking running histories.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from ombuds.engine.policy.model import Complaint

ActorKind = Literal["customer", "system", "staff"]

EventKind = Literal[
    "customer_message",
    "agent_reply",
    "request_information",
    "acknowledge",
    "assign",
    "enter_stage",
    "escalate",
    "accept_escalation",
    "propose_compensation",
    "decide_approval",
    "offer_options",
    "choose_option",
    "request_callback",
    "callback_outcome",
    "finding",
    "resolve",
    "survey_answer",
    "reopen",
    "withdraw",
    "extend",
    "close",
]


class _Payload(BaseModel):
    """A payload that leaves out empty optional fields, so histories stay small."""

    model_config = ConfigDict(extra="forbid")

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class Actor(_Payload):
    """Who acts: the customer, the system, or a staff member at an authority level."""

    kind: ActorKind
    id: str | None = None
    level: str | None = Field(None, description="Authority level of a staff member.")

    def describe(self) -> str:
        if self.kind == "staff":
            return f"staff:{self.id or '?'}@{self.level or '?'}"
        return self.kind if not self.id else f"{self.kind}:{self.id}"


SYSTEM = Actor(kind="system")


class Event(_Payload):
    """One input to a case. Which fields matter depends on ``kind``."""

    kind: EventKind
    actor: Actor
    text: str | None = None
    reason: str | None = None
    summary: str | None = Field(None, description="Hand-off summary for an escalation.")
    stage: str | None = None
    level: str | None = None
    assignee: str | None = None
    remedy: str | None = None
    amount: Decimal | None = Field(None, ge=0)
    discount_percent: float | None = Field(None, ge=0, le=100)
    coupons: int | None = Field(None, ge=0)
    proposal: int | None = Field(None, description="Proposal number for approvals.")
    approve: bool | None = None
    option: str | None = None
    reached: bool | None = None
    at: str | None = Field(None, description="Requested callback time, ISO 8601 with offset.")
    justified: bool | None = None
    root_cause: str | None = None
    corrective_actions: list[str] = Field(default_factory=list)
    final_response: bool = True
    score: int | None = None
    clock: str | None = None
    target: str | None = Field(None, description="Extended target, e.g. '35 business days'.")
    information: bool = Field(False, description="The customer's message supplies missing information.")


class ClockState(_Payload):
    id: str
    status: Literal["waiting", "running", "paused", "stopped", "breached", "off"] = "waiting"
    target: str = ""
    target_rule: str = ""
    started_at: int | None = None
    due: int | None = None
    original_due: int | None = None
    remaining: int | None = Field(
        None, description="Working (or elapsed) seconds left when paused or stopped."
    )
    warnings_at: list[int] = Field(default_factory=list)
    warnings_fired: list[int] = Field(default_factory=list)
    breached_at: int | None = None
    stopped_at: int | None = None
    extended: bool = False
    cycles: int = 0


class Proposal(_Payload):
    number: int
    by: str
    level: str
    remedy: str
    amount: Decimal = Decimal(0)
    discount_percent: float = 0
    coupons: int = 0
    status: Literal["accepted", "needs_approval", "pending_cap_check", "rejected"]
    reason: str = ""
    approval_level: str | None = None
    approved_by: str | None = None


class Promise(_Payload):
    """A date told to the customer or owed by staff; missing it is a breach."""

    kind: str
    due: int
    text: str
    rule: str
    kept: bool | None = None


class Callback(_Payload):
    number: int
    due: int
    owner: str
    attempts: int = 0
    reminded: bool = False
    status: Literal["scheduled", "done", "missed"] = "scheduled"


class Scheduled(_Payload):
    """A timed follow-up action (survey, reminder, thank-you, check-in)."""

    kind: str
    at: int
    rule: str
    done: bool = False


class LogEntry(_Payload):
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


class ConditionError(_Payload):
    """A condition that could not be evaluated for this case, and so counted as false."""

    rules: list[str] = Field(description="Rule paths with this condition text.")
    condition: str
    error: str
    first_at: str
    count: int = 1


class CaseState(_Payload):
    """Everything a case knows; carried across continue-as-new."""

    complaint_id: str
    policy_sha: str
    received: int
    status: Literal["open", "refused", "resolved", "closed", "withdrawn"] = "open"
    stage: str = ""
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
    condition_errors: list[ConditionError] = Field(
        default_factory=list, description="Conditions that failed to evaluate (counted as false)."
    )

    @property
    def finished(self) -> bool:
        """Nothing is left to do: the case is over and no follow-up or held message is pending."""
        over = self.status in ("refused", "closed", "withdrawn")
        return over and not any(not s.done for s in self.scheduled) and not self.deferred


class Deferred(_Payload):
    """A message held back by quiet hours until ``at``."""

    at: int
    send: Send


class Send(_Payload):
    """A message to send through an activity; ``key`` makes the send idempotent."""

    key: str
    to: Literal["customer", "staff"]
    template: str
    locale: str
    channels: list[str]
    context: dict[str, Any]
    rule: str


class CapCheck(_Payload):
    """A compensation to reserve against the customer's per-period cap (ledger workflow)."""

    proposal: int
    amount: Decimal
    at: int
    period: int
    cap: Decimal
    max_compensated: int | None = None


class ComplaintInput(_Payload):
    """The workflow input: small, with the policy and calendar named by sha256."""

    complaint: Complaint
    policy_sha: str
    calendar_sha: str
    linked_to: str | None = Field(None, description="The complaint this one reopens.")
    state: CaseState | None = Field(None, description="Carried over by continue-as-new.")
    search_attributes: bool = True
    history_limit: int = Field(2_000, ge=20, description="Continue as new past this many history events.")


class CaseResult(_Payload):
    complaint_id: str
    status: str
    policy_sha: str
    log: list[LogEntry]


class Answer(_Payload):
    """What an update answers: the decision taken and why."""

    status: str
    reason: str = ""
    seq: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ClockView(_Payload):
    id: str
    kind: str
    status: str
    target: str
    due: str | None = None
    due_local: str | None = None
    remaining: str | None = Field(None, description="Working (or elapsed) time left, e.g. 12h30m.")
    extended: bool = False


class StatusView(_Payload):
    """What ``ombuds status`` shows."""

    complaint_id: str
    policy_id: str
    policy_version: str
    policy_sha: str
    now: str
    status: str
    stage: str
    level: str
    severity: str
    priority: str
    category: str
    queue: str
    assignee: str | None = None
    sla_breached: bool
    undelivered: int = 0
    next_deadline: str | None = None
    next_deadline_what: str | None = Field(
        None, description="What falls due then, e.g. `final-response due`."
    )
    clocks: list[ClockView]
    promises: list[Promise]
    proposals: list[Proposal]
    compensation_total: Decimal
    offered: list[str]
    chosen: str | None = None
    callbacks: list[Callback]
    dates: dict[str, str]
    log_entries: int
    condition_errors: list[ConditionError] = Field(default_factory=list)


Deferred.model_rebuild()
CaseState.model_rebuild()
