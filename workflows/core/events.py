"""The inputs of a case: who acts, one typed model per event kind, and the answer.

An :class:`Event` is one of the kind models below, told apart by ``kind``.
Each kind carries only its own fields and says who may send it.  Histories
recorded before the kinds had models of their own carry every kind in one
shape (every field, with ``corrective_actions``, ``final_response`` and
``information`` always present): such a payload still decodes, to the fields
its kind reads.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, RootModel, model_validator

from ombuds.engine.policy import money

from .payload import Payload

ActorKind = Literal["customer", "system", "staff"]
#: Who may send an event of a kind: ``staff`` means any actor but the customer.
Sender = Literal["anyone", "staff", "customer"]


class Actor(Payload):
    """Who acts: the customer, the system, or a staff member at an authority level."""

    kind: ActorKind
    id: str | None = None
    level: str | None = Field(None, description="Authority level of a staff member.")

    def describe(self) -> str:
        if self.kind == "staff":
            return f"staff:{self.id or '?'}@{self.level or '?'}"
        return self.kind if not self.id else f"{self.kind}:{self.id}"


SYSTEM = Actor(kind="system")


class EventModel(Payload):
    """What every event has: its kind and who acts."""

    actor: Actor
    #: Who may send it.
    sender: ClassVar[Sender] = "staff"
    #: Whether it is taken once the case is over (refused, closed, withdrawn).
    after_end: ClassVar[bool] = False
    #: Fields the API and the CLI require (a payload without them still decodes, as recorded
    #: histories have them; the case decides what it does with one).
    required: ClassVar[tuple[str, ...]] = ()

    def missing(self) -> str | None:
        """What a person must write for this event to be taken (``messages-worth-reading``)."""
        return None


class CustomerMessage(EventModel):
    """The customer writes; with ``information`` it supplies what was asked for."""

    kind: Literal["customer_message"] = "customer_message"
    sender: ClassVar[Sender] = "anyone"
    text: str | None = None
    information: bool = Field(False, description="The customer's message supplies missing information.")


class AgentReply(EventModel):
    """Staff reply to the customer, who is sent ``text``; the first reply is the first response.
    With ``internal`` it is a note for staff only: not sent, and no response to the customer."""

    kind: Literal["agent_reply"] = "agent_reply"
    text: str | None = None
    internal: bool | None = Field(None, description="A note for staff: the customer is not sent it.")

    def missing(self) -> str | None:
        if self.internal or (self.text and self.text.strip()):
            return None
        return "a reply needs the text the customer is sent (text), or internal: true for a note"


class RequestInformation(EventModel):
    """Staff ask the customer for information, and the customer is sent the question; clocks
    that pause while waiting pause."""

    kind: Literal["request_information"] = "request_information"
    question: str | None = Field(None, description="What the customer is asked; they are sent it.")
    reason: str | None = Field(None, description="Before `question`: what was asked (still read).")

    def missing(self) -> str | None:
        asked = self.question or self.reason
        return None if asked and asked.strip() else "say what the customer is asked (question)"


class Acknowledge(EventModel):
    kind: Literal["acknowledge"] = "acknowledge"


class Assign(EventModel):
    kind: Literal["assign"] = "assign"
    required: ClassVar[tuple[str, ...]] = ("assignee",)
    assignee: str | None = None


class EnterStage(EventModel):
    kind: Literal["enter_stage"] = "enter_stage"
    required: ClassVar[tuple[str, ...]] = ("stage",)
    stage: str | None = None


class Escalate(EventModel):
    """An escalation request: by the customer, or by staff with a hand-off summary."""

    kind: Literal["escalate"] = "escalate"
    sender: ClassVar[Sender] = "anyone"
    summary: str | None = Field(None, description="Hand-off summary for an escalation.")
    reason: str | None = None


class AcceptEscalation(EventModel):
    kind: Literal["accept_escalation"] = "accept_escalation"


class ProposeCompensation(EventModel):
    kind: Literal["propose_compensation"] = "propose_compensation"
    required: ClassVar[tuple[str, ...]] = ("remedy",)
    remedy: str | None = None
    amount: Decimal | None = Field(
        None, ge=0, description='In major units, as text ("49.99") or a whole number.'
    )
    #: Why the amount as sent is not money (a float, an exponent, ``1_0``), or None.  The payload
    #: decodes as it always did, so every recorded history still replays; the case refuses such an
    #: amount (:mod:`.bounds`, the update validator and ``Interpreter.screen``).
    _amount_problem: str | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _amount_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[ProposeCompensation]) -> Any:
        problem = None
        if isinstance(data, dict) and data.get("amount") is not None:
            try:
                money.parse(data["amount"])
            except ValueError as exc:
                problem = str(exc)
        model = handler(data)
        if isinstance(model, ProposeCompensation):
            model._amount_problem = problem
        return model

    def amount_problem(self) -> str | None:
        return self._amount_problem

    discount_percent: float | None = Field(None, ge=0, le=100)
    coupons: int | None = Field(None, ge=0)


class DecideApproval(EventModel):
    kind: Literal["decide_approval"] = "decide_approval"
    required: ClassVar[tuple[str, ...]] = ("proposal", "approve")
    proposal: int | None = Field(None, description="Proposal number for approvals.")
    approve: bool | None = None
    reason: str | None = None


class OfferOptions(EventModel):
    kind: Literal["offer_options"] = "offer_options"


class ChooseOption(EventModel):
    kind: Literal["choose_option"] = "choose_option"
    sender: ClassVar[Sender] = "customer"
    option: str | None = None


class RequestCallback(EventModel):
    kind: Literal["request_callback"] = "request_callback"
    sender: ClassVar[Sender] = "anyone"
    at: str | None = Field(None, description="Requested callback time, ISO 8601 with offset.")


class CallbackOutcome(EventModel):
    kind: Literal["callback_outcome"] = "callback_outcome"
    required: ClassVar[tuple[str, ...]] = ("reached",)
    reached: bool | None = None


class Finding(EventModel):
    kind: Literal["finding"] = "finding"
    required: ClassVar[tuple[str, ...]] = ("justified",)
    justified: bool | None = None
    root_cause: str | None = None


class Resolve(EventModel):
    kind: Literal["resolve"] = "resolve"
    required: ClassVar[tuple[str, ...]] = ("justified",)
    text: str | None = None
    justified: bool | None = None
    root_cause: str | None = None
    corrective_actions: list[str] = Field(default_factory=list)
    final_response: bool = True


class SurveyAnswer(EventModel):
    kind: Literal["survey_answer"] = "survey_answer"
    sender: ClassVar[Sender] = "customer"
    after_end: ClassVar[bool] = True
    score: int | None = Field(
        None, description="The score compared with low_score.below; else read from `answers`."
    )
    answers: list[int] | None = Field(
        None,
        max_length=50,
        description="An answer per question of the survey, in its order; the one low_score.question "
        "names is the score.",
    )


class Reopen(EventModel):
    kind: Literal["reopen"] = "reopen"
    sender: ClassVar[Sender] = "anyone"


class Withdraw(EventModel):
    kind: Literal["withdraw"] = "withdraw"
    sender: ClassVar[Sender] = "customer"
    reason: str | None = None


class Extend(EventModel):
    kind: Literal["extend"] = "extend"
    required: ClassVar[tuple[str, ...]] = ("clock",)
    clock: str | None = None
    target: str | None = Field(None, description="Extended target, e.g. '35 business days'.")
    until: dt.date | None = Field(
        None, description="Or the date the holding reply names: due at the end of that (working) day."
    )
    reason: str | None = None


class ExplainDelay(EventModel):
    """Staff tell the customer why the case takes longer: the delay notice goes out now with
    ``reason``, and every later delay or progress notice gives it too."""

    kind: Literal["explain_delay"] = "explain_delay"
    required: ClassVar[tuple[str, ...]] = ("reason",)
    reason: str | None = Field(None, description="Why, as the customer reads it; required.")

    def missing(self) -> str | None:
        return None if self.reason and self.reason.strip() else "say why the case takes longer (reason)"


class Close(EventModel):
    kind: Literal["close"] = "close"


AnyEvent = Annotated[
    CustomerMessage
    | AgentReply
    | RequestInformation
    | Acknowledge
    | Assign
    | EnterStage
    | Escalate
    | AcceptEscalation
    | ProposeCompensation
    | DecideApproval
    | OfferOptions
    | ChooseOption
    | RequestCallback
    | CallbackOutcome
    | Finding
    | Resolve
    | SurveyAnswer
    | Reopen
    | Withdraw
    | Extend
    | ExplainDelay
    | Close,
    Field(discriminator="kind"),
]

#: Every kind's model, by kind.
KINDS: dict[str, type[EventModel]] = {
    model.model_fields["kind"].default: model
    for model in (
        CustomerMessage,
        AgentReply,
        RequestInformation,
        Acknowledge,
        Assign,
        EnterStage,
        Escalate,
        AcceptEscalation,
        ProposeCompensation,
        DecideApproval,
        OfferOptions,
        ChooseOption,
        RequestCallback,
        CallbackOutcome,
        Finding,
        Resolve,
        SurveyAnswer,
        Reopen,
        Withdraw,
        Extend,
        ExplainDelay,
        Close,
    )
}


def missing_fields(kind: str, fields: dict[str, Any]) -> list[str]:
    """The fields an event sent through the API or the CLI lacks: its kind's ``required``, an
    amount (or a discount or coupons) for a compensation proposal, a target or a date for an
    extension."""
    model = KINDS.get(kind)
    if model is None:
        return []
    missing = [name for name in model.required if fields.get(name) is None]
    if kind == "propose_compensation" and all(
        fields.get(f) is None for f in ("amount", "discount_percent", "coupons")
    ):
        missing.append("amount")
    if kind == "extend" and fields.get("target") is None and fields.get("until") is None:
        missing.append("target")
    return missing


#: Fields every payload of the single shape carried (they have defaults that are not empty).
_SINGLE_SHAPE = frozenset({"corrective_actions", "final_response", "information"})


class Event(RootModel[AnyEvent]):
    """One input to a case: ``Event(kind="resolve", actor=..., justified=True)``."""

    @model_validator(mode="before")
    @classmethod
    def _single_shape(cls, data: Any) -> Any:
        """A payload of the single shape keeps the fields its kind reads."""
        if isinstance(data, dict) and data.keys() >= _SINGLE_SHAPE:
            model = KINDS.get(data.get("kind", ""))
            if model is not None:
                return {k: v for k, v in data.items() if k in model.model_fields}
        return data

    @property
    def kind(self) -> str:
        return self.root.kind

    @property
    def actor(self) -> Actor:
        return self.root.actor


class Answer(Payload):
    """What an update answers: the decision taken and why."""

    status: str
    reason: str = ""
    seq: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
