"""The words a policy, the interpreter, ``explain`` and the docs share, each declared once.

- **case events**: what a clock starts or stops on and a derived date counts from;
- **case fields**: what conditions read as ``case.<name>``;
- **template variables**: what a message template may read.

The policy model builds its patterns from these tables, validation and the CEL
name checks read them, the interpreter core records and fills them, and a test
holds docs/policy-language.md to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Case events, in plain words (``ombuds explain`` and ``ombuds deadline`` print these).
CASE_EVENTS: dict[str, str] = {
    "submitted": "the complaint is received",
    "acknowledged": "the acknowledgement is sent",
    "first_response": "the first response is sent",
    "information_requested": "staff ask the customer for information",
    "information_received": "the missing information arrives",
    "resolved": "the complaint is resolved",
    "final_response": "the final response is sent",
    "closed": "the case is closed",
    "withdrawn": "the customer withdraws",
    "reopened": "the case is reopened",
    "escalation_accepted": "an escalation is accepted",
    "option_chosen": "the customer chooses an offered option",
    "customer_reply": "the customer replies",
    "agent_reply": "an agent replies",
    "extension_granted": "an extension is granted",
}
#: Events named after a stage or a clock: ``stage:<id>``, ``clock:<id>:started|stopped|breached``.
STAGE_EVENT = "stage:"
CLOCK_EVENT = "clock:"
CLOCK_TRANSITIONS = ("started", "stopped", "breached")
#: Case events that happen once in a case: a clock stopped by them does not restart on reopen.
ONCE_ONLY = frozenset({"acknowledged", "first_response", "submitted"})
#: Case events that end the work on a case: a repeating clock stopped by one does not start again.
ENDING = frozenset({"resolved", "final_response", "withdrawn", "closed"})

_NAME = "[a-z][a-z0-9_\\-]*"
CLOCK_EVENT_PATTERN = (
    "^("
    + "|".join(CASE_EVENTS)
    + f"|{STAGE_EVENT}{_NAME}|{CLOCK_EVENT}{_NAME}:({'|'.join(CLOCK_TRANSITIONS)}))$"
)
CLOCK_EVENT_HELP = (
    "An event of the case: "
    + ", ".join(CASE_EVENTS)
    + ", stage:<id>, clock:<id>:"
    + "|".join(CLOCK_TRANSITIONS)
    + "."
)


#: A date the complaint supplies, which a derived date or a clock may count from: the
#: ``incident_date`` field or a ``custom`` field holding an ISO date (``2026-10-01``) or time.
COMPLAINT_DATE = "complaint."
COMPLAINT_DATE_PATTERN = r"complaint\.(incident_date|custom\.[A-Za-z0-9_]+)"
ANCHOR_PATTERN = CLOCK_EVENT_PATTERN[:-2] + "|" + COMPLAINT_DATE_PATTERN + ")$"
ANCHOR_HELP = (
    CLOCK_EVENT_HELP + " Or a date of the complaint: complaint.incident_date, complaint.custom.<field>."
)


def stage_event(stage: str) -> str:
    return f"{STAGE_EVENT}{stage}"


def clock_event(clock: str, transition: str) -> str:
    return f"{CLOCK_EVENT}{clock}:{transition}"


def event_words(event: str) -> str:
    """A case event in plain words."""
    if event.startswith(STAGE_EVENT):
        return f'the case enters stage "{event[len(STAGE_EVENT) :]}"'
    if event.startswith(CLOCK_EVENT):
        _, name, what = event.split(":")
        return f'clock "{name}" {what}'
    if event.startswith(COMPLAINT_DATE):
        return f"the date the complaint gives as {event[len(COMPLAINT_DATE) :]}"
    return CASE_EVENTS.get(event, event)


@dataclass(frozen=True)
class CaseField:
    """A field of the case state as conditions see it."""

    type: str
    default: Any
    description: str


#: ``case.<name>`` in conditions: its CEL type, its value before anything happened, what it is.
CASE_FIELDS: dict[str, CaseField] = {
    "status": CaseField("string", "open", "open, refused, resolved, closed, withdrawn"),
    "stage": CaseField("string", "", "id of the current stage"),
    "level": CaseField("string", "", "id of the current authority level"),
    "level_rank": CaseField("int", 0, "0 for the lowest level"),
    "severity": CaseField("string", "", "set by classification"),
    "priority": CaseField("string", "", "set by classification"),
    "category": CaseField("string", "", "set by classification"),
    "queue": CaseField("string", "", "set by classification"),
    "acknowledged": CaseField("bool", False, ""),
    "waiting_on_customer": CaseField("bool", False, ""),
    "escalations": CaseField("int", 0, "how many times the case was escalated"),
    "reopened": CaseField("int", 0, "how many times the case was reopened"),
    "compensation_total": CaseField("double", 0.0, "compensation granted on this case"),
    "survey_score": CaseField("int", 0, "last satisfaction score, 0 when none"),
    "previous_complaints": CaseField("int", 0, "the customer's earlier complaints within the cap period"),
    "customer_requested_escalation": CaseField("bool", False, ""),
    "justified": CaseField("bool", False, "investigation finding (false until found)"),
}

#: What a message template may read, and what each holds.
TEMPLATE_VARIABLES: dict[str, str] = {
    "complaint": "the complaint as submitted, without its free-text description, with its id",
    "customer": "the customer: name, contacts, locale, ...",
    "case": "status, stage, level, severity, priority, category, survey_score",
    "policy": "id, version, title",
    "deadlines": "each running clock and open promise: its due time in local time",
    "dates": "the derived dates the customer is told (e.g. the ombudsman referral date)",
    "level": "the title of the current authority level (escalation: the new level)",
    "received": "the receipt, in local time",
    "reason": "why: a refusal, an extension, a delay",
    "new_date": "the new expected date (extension, delay notice)",
    "handoff": "the hand-off summary of an escalation (staff messages)",
    "options": "the remedies offered, by title",
    "offer": "the remedy granted, by title",
    "callback": "the agreed callback time, local",
    "owner": "who makes the callback: the assigned agent, else the level (staff messages)",
    "survey_url": "the survey's signed link (one answer per link)",
    "status_url": "the case's page: for the customer, their signed status link (stage, dates, reply, "
    "escalate, choose, withdraw); for staff, the case in the console",
    "questions": "the survey questions",
    "clock": "the clock a warning or breach is about (staff messages)",
    "decision": "upheld or not_upheld, once a finding is recorded",
    "resolution": "what was done, as staff wrote it at resolution",
    "granted": "the remedies granted, each with its amount",
    "answer_by": "when the customer should answer an offer by",
    "question": "what staff ask the customer (request_information)",
    "reply": "a staff member's reply to the customer",
}
#: Template variables the core computes only when a template reads them.
COMPUTED_TEMPLATE_VARIABLES = ("policy", "deadlines", "dates", "level", "received")
#: What every message carries.
EVERY_MESSAGE = frozenset({"complaint", "customer", "case", "status_url", *COMPUTED_TEMPLATE_VARIABLES})

_NONE: frozenset[str] = frozenset()
#: Each setting that names a template (``[]`` for any index), and what the message it sends
#: carries beyond :data:`EVERY_MESSAGE`.  ``compensation_offered`` carries ``offer`` only when
#: a compensation is granted, not when an option set without a template of its own is offered.
SENT_WITH: dict[str, frozenset[str]] = {
    "intake.refusals[].template": frozenset({"reason"}),
    "intake.primary_response": _NONE,
    "stages[].notify": _NONE,
    "clocks[].warnings[].notify[]": frozenset({"clock"}),
    "clocks[].notify_on_breach[]": frozenset({"clock"}),
    "clocks[].notify_customer": frozenset({"reason", "new_date"}),
    "clocks[].extension.notice": frozenset({"reason", "new_date"}),
    "clocks[].when_due.notify": frozenset({"clock"}),
    "authority[].handoff_template": frozenset({"handoff"}),
    "escalation[].notify_customer": _NONE,
    "escalation[].notify_staff[]": frozenset({"handoff"}),
    "compensation.option_sets[].template": frozenset({"options", "answer_by"}),
    "callbacks.template": frozenset({"callback"}),
    "callbacks.reminder": frozenset({"callback", "owner"}),
    "callbacks.offer": _NONE,
    "follow_up.survey.template": frozenset({"survey_url", "questions"}),
    "follow_up.survey.low_score.notify[]": _NONE,
    "follow_up.thank_you.template": _NONE,
    "notifications.events.received": _NONE,
    "notifications.events.acknowledged": _NONE,
    "notifications.events.refused": frozenset({"reason"}),
    "notifications.events.escalated": _NONE,
    "notifications.events.compensation_offered": frozenset({"options", "answer_by"}),
    "notifications.events.resolution_proposed": _NONE,
    "notifications.events.resolved": frozenset({"reason", "decision", "resolution", "granted"}),
    "notifications.events.closed": frozenset({"resolution", "granted", "decision"}),
    "notifications.events.reopened": _NONE,
    "notifications.events.withdrawn": _NONE,
    "notifications.events.extension": frozenset({"reason", "new_date"}),
    "notifications.events.delay": frozenset({"reason", "new_date"}),
    "notifications.events.callback_scheduled": frozenset({"callback"}),
    "notifications.events.survey": frozenset({"survey_url", "questions"}),
    "notifications.events.survey_reminder": frozenset({"survey_url"}),
    "notifications.events.thank_you": _NONE,
    "notifications.events.information_requested": frozenset({"question"}),
    "notifications.events.agent_reply": frozenset({"reply"}),
    "notifications.events.compensation_granted": frozenset({"offer", "granted"}),
}
