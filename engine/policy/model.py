"""The policy language and the complaint, as frozen pydantic models.

These models are the one source of truth: ``schemas/policy.schema.json`` and
``schemas/complaint.schema.json`` are generated from them, and a validated
policy is an instance of :class:`Policy`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .durations import DURATION_PATTERN, PERCENT_PATTERN
from .vocabulary import ANCHOR_HELP, ANCHOR_PATTERN, CLOCK_EVENT_HELP, CLOCK_EVENT_PATTERN

Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=64),
    Field(description="A lower-case name: letters, digits, '_' and '-'.", examples=["supervisor"]),
]
DurationText = Annotated[
    str,
    StringConstraints(pattern=DURATION_PATTERN, max_length=64),
    Field(
        description=(
            "A whole number and a unit: minutes, hours, days, weeks, months, years, "
            "business minutes, business hours or business days."
        ),
        examples=["5 business days", "10 hours", "2 months"],
    ),
]
PercentText = Annotated[
    str,
    StringConstraints(pattern=PERCENT_PATTERN, max_length=16),
    Field(description='A share of the clock\'s target, e.g. "75%".', examples=["50%", "75%"]),
]
Cel = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000),
    Field(
        description=(
            "A CEL expression over `complaint` (the complaint as submitted) and `case` "
            "(the case state); see docs/policy-language.md."
        ),
        examples=['complaint.channel == "phone"'],
    ),
]
TimeRange = Annotated[
    str,
    StringConstraints(pattern=r"^\s*([01][0-9]|2[0-3]):[0-5][0-9]\s*-\s*([01][0-9]|2[0-4]):[0-5][0-9]\s*$"),
    Field(description="Local working time, HH:MM-HH:MM.", examples=["09:00-17:30"]),
]
ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="A local time of day, HH:MM.", examples=["21:00"]),
]
Money = Annotated[Decimal, Field(ge=0, description="An amount in the policy's currency.", examples=[50])]
CurrencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code.", examples=["EUR"])
]
LocaleCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$"),
    Field(description="A language code, optionally with a region.", examples=["en", "de", "en-GB"]),
]
#: A text people read (a level's title, a remedy, a survey question): one text in the policy's
#: default locale, or one per locale (``{en: Supervisor, de: Teamleitung}``), read like templates:
#: the reader's locale, else the policy's default.
LocalText = Annotated[
    str | dict[LocaleCode, Annotated[str, StringConstraints(min_length=1, max_length=500)]],
    Field(
        description="A text, or one text per locale ({en: ..., de: ...}); the policy's default locale is required.",
        examples=["Supervisor", {"en": "Supervisor", "de": "Teamleitung"}],
    ),
]


def text_in(value: str | dict[str, str] | None, locale: str | None, default: str) -> str | None:
    """A :data:`LocalText` in ``locale`` (``de-AT`` falls back to ``de``), else in ``default``,
    else its first text."""
    if value is None or isinstance(value, str):
        return value
    for wanted in (locale, (locale or "").split("-")[0], default, default.split("-")[0]):
        if wanted and wanted in value:
            return value[wanted]
    return next(iter(value.values()), None)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Channel = Literal["phone", "email", "chat", "web", "messenger", "social", "letter", "in_person", "sms"]
#: A channel a message is sent on: a name an installed channel plugin serves (the built-ins
#: serve email, letter, sms, phone and messenger; a plugin may add its own, such as webhook).
SendChannel = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=64),
    Field(
        description="A channel an installed plugin serves: email, sms, letter, phone, messenger, or a plugin's own.",
        examples=["email", "sms", "letter"],
    ),
]

#: Which contact of the customer each send channel needs.
CONTACT_FOR_CHANNEL: dict[str, str] = {
    "email": "email",
    "sms": "phone",
    "phone": "phone",
    "messenger": "messenger",
    "letter": "postal_address",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- complaint


class Contacts(_Model):
    """How the customer can be reached; one of them is enough to identify them."""

    email: str | None = Field(None, examples=["ana@example.org"])
    phone: str | None = Field(None, examples=["+44 20 7946 0000"])
    messenger: str | None = Field(None, description="A messenger handle.")
    social: str | None = Field(None, description="A social-network handle.")
    postal_address: str | None = None


class Customer(_Model):
    """Who complains."""

    id: str | None = Field(None, description="The customer's id in the firm's systems.")
    name: str | None = Field(None, examples=["Ana Novak"])
    contacts: Contacts = Field(default_factory=Contacts)
    account_number: str | None = None
    locale: LocaleCode | None = Field(None, description="Preferred language for messages.")
    timezone: str | None = Field(None, examples=["Europe/London"], description="IANA timezone.")
    segment: str | None = Field(None, examples=["retail", "premium", "enterprise"])
    region: str | None = Field(None, examples=["GB-SCT", "GB-ENG"])


class Complaint(_Model):
    """A complaint as an intake channel submits it."""

    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$",
        description="The complaint id from the intake channel; generated at intake when absent.",
    )
    received_at: AwareDatetime = Field(description="When it was received, with a UTC offset.")
    channel: Channel
    customer: Customer = Field(default_factory=Customer)
    product: str | None = None
    order_ids: list[str] = Field(default_factory=list)
    amount: Decimal | None = Field(None, ge=0, description="The amount in dispute.")
    currency: CurrencyCode | None = None
    subject: str | None = None
    description: str = Field("", max_length=100_000)
    incident_date: dt.date | None = Field(None, description="When the problem happened.")
    custom: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, description="Fields the firm adds; CEL sees them as complaint.custom."
    )


# --------------------------------------------------------------------------- metadata


class Metadata(_Model):
    """Who owns the policy and when it applies."""

    id: Name
    version: str = Field(min_length=1, max_length=32, examples=["2026.1"])
    title: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=200, examples=["Head of Complaints"])
    effective: dt.date = Field(description="First day new complaints may use this version.")
    review_by: dt.date = Field(description="The procedure must be reviewed by this date (annual review).")
    locale: LocaleCode = Field("en", description="Default message locale.")
    locales: list[LocaleCode] = Field(
        default_factory=list, description="Every locale the templates are written in."
    )
    currency: CurrencyCode = "EUR"
    description: str | None = None


class AppliesTo(_Model):
    """Which new complaints this policy handles."""

    when: Cel | None = Field(None, description="Selector; absent means every complaint.")
    priority: int = Field(0, description="Higher wins when several policies match.")
    default: bool = Field(False, description="Use this policy when no selector matches.")


# --------------------------------------------------------------------------- calendars


class HolidaySource(_Model):
    """Public holidays from the `holidays` package."""

    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["GB"])
    subdivision: str | None = Field(None, examples=["SCT", "ENG"], description="Region code.")
    categories: list[str] = Field(default_factory=list, description="Extra holiday categories.")


class ExtraOpenDay(_Model):
    """A date that is worked although the weekly hours or a holiday say otherwise."""

    date: dt.date
    hours: list[TimeRange] = Field(min_length=1)


class Calendar(_Model):
    """Working time of a team or region: local wall-clock hours in its timezone."""

    timezone: str = Field(examples=["Europe/London"], description="IANA timezone.")
    hours: dict[Weekday, list[TimeRange]] = Field(
        description="Working hours per weekday; several ranges make a split shift.",
        examples=[{"mon": ["09:00-12:30", "13:30-17:30"]}],
    )
    holidays: list[HolidaySource] = Field(default_factory=list)
    closed: list[dt.date] = Field(default_factory=list, description="The firm's own closed days.")
    open: list[ExtraOpenDay] = Field(default_factory=list, description="Extra open days.")
    business_day_hours: float | None = Field(
        None,
        gt=0,
        le=24,
        description="Length of a working day when a clock counts business days as hours.",
    )


class CalendarChoice(_Model):
    """One rule of a calendar selector."""

    when: Cel | None = Field(None, description="Absent: the fallback choice.")
    calendar: Name


# --------------------------------------------------------------------------- intake


class Refusal(_Model):
    """A reason a complaint is not considered; the customer is told why."""

    id: Name
    reason: Literal[
        "incomplete", "unidentifiable", "abusive", "out_of_scope", "out_of_time", "duplicate", "other"
    ]
    when: Cel
    template: Name = Field(description="Message telling the customer why.")


class Intake(_Model):
    """Which complaints are accepted."""

    channels: list[Channel] = Field(min_length=1)
    required: list[str] = Field(
        default_factory=list,
        description="Complaint field paths that must be present, e.g. customer.name.",
        examples=[["customer.name", "description"]],
    )
    missing_information: Name | None = Field(
        None, description="Refusal used when a required field is missing."
    )
    refusals: list[Refusal] = Field(default_factory=list)
    primary_response: Name | None = Field(
        None, description="Template of the immediate reply that names the planned resolution date."
    )
    acknowledge: Literal["at_intake", "by_staff"] = Field(
        "at_intake",
        description="Send the `acknowledged` message at intake, or when staff acknowledge (event `acknowledge`).",
    )


# --------------------------------------------------------------------------- classification


class ClassificationSet(_Model):
    severity: Literal["low", "medium", "high", "critical"] | None = None
    priority: str | None = Field(None, examples=["P1"])
    category: str | None = None
    queue: str | None = None


class ClassificationRule(_Model):
    """Ordered: the first matching rule sets each attribute it names."""

    id: Name | None = None
    when: Cel | None = Field(None, description="Absent: always matches (a catch-all).")
    set: ClassificationSet


# --------------------------------------------------------------------------- stages


class Stage(_Model):
    """A stage of the procedure; the customer is told on entering it."""

    id: Name
    title: LocalText | None = None
    notify: Name | None = Field(None, description="Template sent to the customer on entering.")
    final: bool = False
    decided_apart_from: list[Name] = Field(
        default_factory=list,
        description="Stages whose deciders may not decide in this one (a review decided by "
        "someone other than who decided the first stage): findings, resolutions, compensations "
        "and approvals.",
    )


# --------------------------------------------------------------------------- clocks

ClockEvent = Annotated[
    str,
    StringConstraints(pattern=CLOCK_EVENT_PATTERN),
    Field(description=CLOCK_EVENT_HELP, examples=["acknowledged", "stage:investigation"]),
]
#: What a clock starts on or a date counts from: a case event, or a date the complaint supplies.
Anchor = Annotated[
    str,
    StringConstraints(pattern=ANCHOR_PATTERN),
    Field(description=ANCHOR_HELP, examples=["acknowledged", "complaint.incident_date"]),
]


class Counting(_Model):
    """How a clock counts; every field has the default real procedures use."""

    receipt_day: Literal["excluded", "included"] = Field(
        "excluded", description="Whether the day of receipt counts as day one."
    )
    business_days: Literal["close_of_business", "working_hours"] = Field(
        "close_of_business",
        description="Business days end at close of business on the Nth day, "
        "or count N x the working-day length in business hours.",
    )
    out_of_hours: Literal["next_opening", "as_received", "receipt_date"] | None = Field(
        None,
        description="Received out of working hours: count from the next opening (the default for "
        "business units), from the instant of receipt (`as_received`, the default for days to "
        "years), or keep the date of receipt as the day of receipt for business days even when "
        "it was not a working day (`receipt_date`: a Saturday receipt makes Monday day one).",
    )
    end_of_day: bool = Field(
        True, description="Day, week, month and year deadlines end at the end of that local day."
    )


class ClockWarning(_Model):
    """A warning before breach: at a share of the target or a time before the deadline."""

    at: PercentText | None = None
    before: DurationText | None = None
    notify: list[Name] = Field(default_factory=list, description="Templates sent to staff.")
    id: Name | None = None


class Extension(_Model):
    """When and how far a clock may be extended."""

    when: Cel | None = Field(None, description="Condition for allowing an extension.")
    max_total: DurationText | None = Field(
        None,
        description="The extended target may not exceed this; without it, no cap (where the rule has none).",
    )
    notice: Name = Field(description="Template of the notice: reason and new date.")
    notice_before_deadline: bool = Field(True, description="Notice must go out before the deadline.")


class WhenDue(_Model):
    """What a clock does when it falls due instead of breaching: close the case, resolve it or
    move it to a stage (e.g. no answer from the customer within 8 weeks closes the case)."""

    action: Literal["close", "resolve", "enter_stage"]
    stage: Name | None = Field(None, description="The stage, for `action: enter_stage`.")
    notify: Name | None = Field(None, description="Template sent to the customer first.")


class Clock(_Model):
    """An SLA clock: target, calendar, counting, anchors, pause, warnings and breach."""

    id: Name
    kind: Literal[
        "acknowledge",
        "first_response",
        "periodic_update",
        "resolution",
        "extension_notice",
        "delay_notice",
        "hard_limit",
        "decision",
        "custom",
    ]
    title: LocalText | None = None
    calendar: Name | None = Field(None, description="Calendar or calendar selector; default: the first.")
    target: DurationText
    by_priority: dict[str, DurationText] = Field(
        default_factory=dict, description="Targets per priority, overriding `target`."
    )
    applies_when: Cel | None = None
    counting: Counting = Field(default_factory=Counting)
    starts: Anchor = "submitted"
    stops: list[ClockEvent] = Field(default_factory=lambda: ["resolved"])
    on_reopen: Literal["restart", "resume", "none"] = "restart"
    pause_while_waiting_on_customer: bool = False
    repeat: bool = Field(False, description="Restart after each stop (periodic updates).")
    warnings: list[ClockWarning] = Field(default_factory=list)
    notify_on_breach: list[Name] = Field(default_factory=list)
    notify_customer: Name | None = Field(
        None, description="Template sent to the customer when this clock falls due (delay notices)."
    )
    extension: Extension | None = None
    when_due: WhenDue | None = Field(
        None,
        description="Act when the clock falls due (close, resolve, enter a stage) instead of breaching.",
    )
    at_latest: Name | None = Field(
        None,
        description="A date of `dates`: the clock is due by then at the latest (the earlier of its "
        "target and that date), once the date is known when the clock starts.",
    )
    at_earliest: Name | None = Field(
        None, description="A date of `dates`: the clock is not due before it (the later of the two)."
    )


class DateTerm(_Model):
    """One of the dates a later-of or earlier-of date compares: a period from an event or a
    date the complaint gives, or a fixed date."""

    from_event: Anchor = Field("submitted", alias="from")
    offset: DurationText | None = Field(None, description="The period from `from`.")
    on: dt.date | None = Field(None, description="A fixed date (the end of that day).")
    counting: Counting | None = Field(None, description="How the period counts; default: the date's.")


class DerivedDate(_Model):
    """A date the customer must be told, e.g. the ombudsman referral deadline: a period from an
    event (`from`, `offset`), a fixed date (`on`), or the later or earlier of several."""

    id: Name
    title: LocalText
    from_event: Anchor = Field("submitted", alias="from")
    offset: DurationText | None = Field(None, description="The period from `from`.")
    on: dt.date | None = Field(None, description="A fixed date: the end of that day.")
    later_of: list[DateTerm] = Field(
        default_factory=list, description="The latest of these dates (known once all of them are)."
    )
    earlier_of: list[DateTerm] = Field(
        default_factory=list, description="The earliest of these dates (known once all of them are)."
    )
    calendar: Name | None = None
    counting: Counting = Field(default_factory=Counting)


# --------------------------------------------------------------------------- authority

RemedyKind = Literal[
    "apology",
    "refund",
    "discount",
    "coupon",
    "replacement",
    "repair",
    "bonus",
    "upgrade",
    "free_service",
    "goodwill",
]


class Limits(_Model):
    """How far a level may go without approval."""

    max_amount: Money = Field(Decimal(0))
    max_discount_percent: float = Field(0, ge=0, le=100)
    max_coupons: int = Field(0, ge=0)
    remedies: list[Name] = Field(default_factory=list, description="Remedies this level may grant.")


class AuthorityLevel(_Model):
    """A level of escalation authority, lowest first."""

    id: Name
    title: LocalText
    limits: Limits = Field(default_factory=Limits)
    decision_within: DurationText | None = Field(
        None, description='Promise made when a case reaches this level (e.g. "5 business days").'
    )
    calendar: Name | None = None
    handoff_template: Name | None = None


# --------------------------------------------------------------------------- escalation


class Trigger(_Model):
    on: Literal[
        "sla_warning",
        "sla_breach",
        "customer_request",
        "agent_request",
        "compensation_above_authority",
        "low_survey_score",
        "missed_callback",
        "repeat_complaint",
        "classification",
    ]
    clock: Name | None = Field(None, description="For sla_warning / sla_breach: which clock.")
    warning: Name | None = Field(
        None, description="For sla_warning: only this warning (its id) of the clock."
    )
    when: Cel | None = None


class EscalationRule(_Model):
    """Moves the case to another authority level with a warm hand-off."""

    id: Name
    trigger: Trigger
    to: Name = Field(description="A level id, or `next`.", examples=["next", "supervisor"])
    notify_customer: Name | None = None
    notify_staff: list[Name] = Field(default_factory=list)
    handoff_summary: bool = Field(True, description="The escalation must carry a hand-off summary.")
    reason: LocalText | None = Field(None, description="Why, as the next level reads it in its hand-off.")


# --------------------------------------------------------------------------- compensation


class RemedyAmount(_Model):
    """One row of a remedy's amount table: the first whose `when` holds gives the amount."""

    when: Cel | None = None
    amount: Money | Cel = Field(
        description="An amount, or a CEL expression giving a number (e.g. complaint.amount * 0.1)."
    )


class Remedy(_Model):
    kind: RemedyKind
    title: LocalText
    value: Money | None = Field(None, description="Face value of one coupon, bonus or service.")
    amounts: list[RemedyAmount] = Field(
        default_factory=list,
        description="The amount computed from the complaint: the first row whose `when` holds "
        "(a table by distance and delay, a share of the order, a fee).",
    )


class Bundle(_Model):
    """Remedies given together (care and compensation), offered as one option."""

    title: LocalText
    remedies: list[Name] = Field(min_length=2)


class OptionSet(_Model):
    """Remedies offered together; the customer chooses one."""

    id: Name
    when: Cel | None = None
    options: list[Name] = Field(min_length=1, description="Remedies or bundles; the customer chooses one.")
    template: Name | None = None
    answer_within: DurationText = Field(
        "14 days", description="How long the customer has to choose; the offer tells them by when."
    )


class PerCustomerCap(_Model):
    amount: Money
    period: DurationText
    max_compensated_complaints: int | None = Field(None, ge=1)


class Caps(_Model):
    per_complaint: Money | None = None
    per_customer: PerCustomerCap | None = None


class Compensation(_Model):
    remedies: dict[Name, Remedy] = Field(default_factory=dict)
    bundles: dict[Name, Bundle] = Field(
        default_factory=dict, description="Remedies given together, offered as one option of an option set."
    )
    other_currency: Literal["refuse", "convert"] = Field(
        "refuse",
        description="A computed amount from a complaint in another currency than the policy's: "
        "refused (staff give the amount), or converted at `exchange_rates`.",
    )
    exchange_rates: dict[CurrencyCode, Decimal] = Field(
        default_factory=dict,
        description="Units of the policy's currency per unit of another, e.g. USD: 0.92.",
    )
    option_sets: list[OptionSet] = Field(default_factory=list)
    caps: Caps = Field(default_factory=Caps)
    approval_from: Literal["next", "any_higher"] = Field(
        "next",
        description="Who approves a proposal above the proposer's limits: `next`, the level right "
        "above the proposer's (a proposal above its limits too is rejected: that level may propose "
        "it to the one above); `any_higher`, the lowest higher level whose limits allow it.",
    )


# --------------------------------------------------------------------------- callbacks


class Callbacks(_Model):
    """Callback offers: an owner calls at the agreed time, inside working hours."""

    offer_when: Cel | None = None
    within: DurationText = Field(description="Latest callback time after the offer.")
    calendar: Name | None = None
    owner: Literal["assigned_agent", "level"] = "assigned_agent"
    remind_owner_before: DurationText | None = None
    attempts: int = Field(3, ge=1, le=10)
    spacing: DurationText = "30 minutes"
    template: Name | None = Field(None, description="Confirmation sent to the customer.")
    reminder: Name | None = Field(
        None,
        description="Sent to the callback's owner at `remind_owner_before` and when the slot comes; "
        "gets `callback` and `owner`.",
    )
    offer: Name | None = Field(
        None, description="Sent to the customer at intake when `offer_when` holds: a callback is available."
    )


# --------------------------------------------------------------------------- notifications

NotificationEvent = Literal[
    "received",
    "acknowledged",
    "refused",
    "escalated",
    "compensation_offered",
    "resolution_proposed",
    "resolved",
    "closed",
    "reopened",
    "withdrawn",
    "extension",
    "delay",
    "callback_scheduled",
    "survey",
    "survey_reminder",
    "thank_you",
    "information_requested",
    "agent_reply",
    "compensation_granted",
]


class Notification(_Model):
    template: Name
    channels: list[SendChannel] = Field(default_factory=list, description="Empty: the preferred channel.")
    to: Literal["customer", "staff"] = "customer"


class QuietHours(_Model):
    channels: list[SendChannel] = Field(default_factory=lambda: ["sms"])
    start: ClockTime = "21:00"
    end: ClockTime = "08:00"
    timezone: Literal["customer", "calendar"] = "customer"


class Notifications(_Model):
    preferred: SendChannel = "email"
    fallback: list[SendChannel] = Field(default_factory=list)
    locale_fallback: list[LocaleCode] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    events: dict[NotificationEvent, Notification] = Field(default_factory=dict)
    times_outside_hours: Literal["last_close", "as_counted"] = Field(
        "last_close",
        description="A time promised to a customer that falls outside its calendar's working hours: "
        "`last_close` tells the last close of work before it (a reply due Sunday 04:45 is promised "
        "by Saturday's close); `as_counted` tells it as counted.",
    )
    combine_within: DurationText | None = Field(
        None,
        description="Messages to the customer decided within this long of each other go out as one "
        "(the first waits this long for the others); none: each goes out at once.",
    )


# --------------------------------------------------------------------------- follow-up


class LowScore(_Model):
    below: int = Field(description="Scores below this are low.")
    question: int = Field(
        1,
        ge=1,
        description="Which question's answer is the score compared with `below` (1 is the first).",
    )
    action: Literal["reopen", "escalate", "notify"]
    notify: list[Name] = Field(default_factory=list)


class Survey(_Model):
    after: DurationText
    channel: SendChannel = "email"
    template: Name
    scale: tuple[int, int] = Field((1, 5), description="Lowest and highest score.")
    questions: list[LocalText] = Field(min_length=1)
    reminder_after: DurationText | None = None
    expires_after: DurationText = "14 days"
    low_score: LowScore | None = None


class Delayed(_Model):
    after: DurationText
    template: Name
    channel: SendChannel = "email"


class CheckIn(_Model):
    after: DurationText
    owner: Literal["assigned_agent", "level"] = "assigned_agent"


class FollowUp(_Model):
    survey: Survey | None = None
    thank_you: Delayed | None = None
    check_in_call: CheckIn | None = None


class Records(_Model):
    retention_years: int = Field(5, ge=1, le=100)
    review_every: DurationText = "12 months"
    report: Literal["monthly", "quarterly"] = "monthly"


#: A phrase for the tone check: words, where `...` stands for one to five words.
TonePhrase = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120),
    Field(
        description="A phrase, matched case-insensitively as whole words whatever the apostrophe "
        "and spacing; `...` stands for one to five words of the same sentence.",
        examples=["no can do", "you forgot to ..."],
    ),
]


class Tone(_Model):
    """Phrases that lose customers, looked for in the text of the templates: each one found is a warning."""

    builtin: bool = Field(
        True,
        description="Look for the built-in phrases (English, German and French; a template in de-AT "
        "is read with the German ones).",
    )
    avoid: dict[LocaleCode, Annotated[list[TonePhrase], Field(max_length=100)]] = Field(
        default_factory=dict,
        max_length=20,
        description="More phrases to avoid, per locale of the templates (`de` also covers `de-AT`).",
        examples=[{"en": ["no can do"], "de": ["das müssen Sie selbst klären"]}],
    )
    allow: list[TonePhrase] = Field(
        default_factory=list,
        max_length=100,
        description="Built-in phrases not to look for, written as the documentation lists them.",
        examples=[["obviously"]],
    )


class Templates(_Model):
    dir: str = Field(description="Folder of `<name>.<locale>.txt` files, relative to the policy file.")
    tone: Tone = Field(
        default_factory=Tone,
        description="The tone check: phrases to avoid in the templates, reported as warnings.",
    )


# --------------------------------------------------------------------------- policy


class Policy(_Model):
    """A complaint-handling procedure."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        title="ombuds complaint-handling policy",
        json_schema_extra={"$id": "https://ombuds.dev/schemas/policy.schema.json"},
    )

    ombuds: Literal[1] = Field(description="Policy language version.")
    policy: Metadata
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    calendars: dict[Name, Calendar] = Field(min_length=1)
    calendar_selectors: dict[Name, list[CalendarChoice]] = Field(default_factory=dict)
    intake: Intake
    classification: list[ClassificationRule] = Field(default_factory=list)
    stages: list[Stage] = Field(min_length=1)
    clocks: list[Clock] = Field(default_factory=list)
    dates: list[DerivedDate] = Field(default_factory=list, description="Dates the customer is told.")
    authority: list[AuthorityLevel] = Field(min_length=1, description="Levels, lowest first.")
    escalation: list[EscalationRule] = Field(default_factory=list)
    compensation: Compensation = Field(default_factory=Compensation)
    callbacks: Callbacks | None = None
    notifications: Notifications = Field(default_factory=Notifications)
    follow_up: FollowUp = Field(default_factory=FollowUp)
    records: Records = Field(default_factory=Records)
    templates: Templates


def complaint_json_schema() -> dict[str, Any]:
    schema = Complaint.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def policy_json_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
