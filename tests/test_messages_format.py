"""Values in messages: instants, dates, money, labels and remedies print themselves in the
message's locale and the reader's timezone (Babel), at delivery and at validation alike."""

from __future__ import annotations

import hashlib
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ombuds.activities.deliveries import DeliveryLedger
from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import Activities
from ombuds.engine.policy.messages import Instant, Label, Money, Remedy, babel_locale, localise
from ombuds.engine.policy.model import Policy
from ombuds.engine.policy.store import Store
from ombuds.engine.policy.templates import render
from ombuds.engine.policy.validate import validate_file

from .conftest import POLICIES
from .smtp_server import smtp_server
from .test_email import activities, financial
from .workflow_support import shipped_policies

NBSP = "\xa0"


def instant(at: str, timezone: str = "Europe/London", *, end_of_day: bool = False) -> dict[str, Any]:
    return {"type": "instant", "at": at, "timezone": timezone, "end_of_day": end_of_day}


def money(amount: str, currency: str) -> dict[str, Any]:
    return {"type": "money", "amount": amount, "currency": currency}


def label(of: str, id: str) -> dict[str, Any]:
    return {"type": "label", "of": of, "id": id}


def policy(id: str = "financial-services") -> Policy:
    return next(p for p in shipped_policies() if p.id == id).policy


def printed(value: dict[str, Any], locale: str, *, to: str = "staff", **context: Any) -> str:
    return str(localise({"value": value, **context}, policy(), locale, to=to)["value"])


@pytest.mark.parametrize(
    ("value", "en", "de"),
    [
        (
            instant("2026-12-29T17:30:00Z"),
            "Tuesday, 29 December 2026, 17:30",
            "Dienstag, 29. Dezember 2026, 17:30",
        ),
        (
            instant("2026-12-30T00:00:00Z", end_of_day=True),
            "Tuesday, 29 December 2026",
            "Dienstag, 29. Dezember 2026",
        ),
        ({"type": "date", "date": "2027-02-23"}, "Tuesday, 23 February 2027", "Dienstag, 23. Februar 2027"),
        (money("120.00", "EUR"), "€120.00", f"120,00{NBSP}€"),
        (money("120", "GBP"), "£120.00", f"120,00{NBSP}£"),
        (label("level", "supervisor"), "Customer Support supervisor", "Teamleitung Kundenservice"),
        (label("remedy", "goodwill"), "Goodwill payment", "Kulanzzahlung"),
        (label("date", "ombudsman-referral"), "Refer to the Financial Ombudsman Service until", None),
        (
            label("question", "1"),
            "How satisfied are you with the outcome?",
            "Wie zufrieden sind Sie mit dem Ergebnis?",
        ),
        (label("clock", "final-response"), "Final response", "Abschließende Antwort"),
        (label("stage", "investigation"), "Under investigation", "In Prüfung"),
        (
            {"type": "remedy", "id": "fee-refund", "amount": money("120.00", "GBP")},
            "Refund of fees and charges (£120.00)",
            f"Erstattung von Gebühren und Entgelten (120,00{NBSP}£)",
        ),
        (
            {"type": "remedy", "id": "apology", "amount": None},
            "Written apology",
            "Schriftliche Entschuldigung",
        ),
    ],
    ids=lambda v: v.get("type") if isinstance(v, dict) else None,
)
def test_each_value_prints_in_english_and_german(value: dict[str, Any], en: str, de: str | None) -> None:
    assert printed(value, "en") == en
    if de is not None:
        assert printed(value, "de") == de


def test_an_instant_has_its_parts_in_the_locale() -> None:
    due = localise({"due": instant("2026-12-29T17:30:00Z")}, policy(), "de", to="staff")["due"]
    assert isinstance(due, Instant)
    assert (due.date, due.short_date, due.time, due.weekday) == (
        "Dienstag, 29. Dezember 2026",
        "29.12.26",
        "17:30",
        "Dienstag",
    )
    assert (due.end_of_day, due.iso, due.timezone) == (False, "2026-12-29T17:30+00:00", "Europe/London")


def test_a_day_ending_at_midnight_prints_as_the_day_itself() -> None:
    """A close at 24:00 is the next day's 00:00: the customer is told the day, with no time."""
    berlin = instant("2026-12-29T23:00:00Z", "Europe/Berlin", end_of_day=True)  # 24:00 in Berlin
    out = localise(
        {"customer": {"timezone": "America/New_York"}, "by": berlin}, policy(), "en", to="customer"
    )["by"]
    assert (str(out), out.time, out.iso, out.end_of_day) == (
        "Tuesday, 29 December 2026",
        "",
        "2026-12-29",
        True,
    )


@pytest.mark.parametrize(
    ("to", "timezone", "expected"),
    [
        ("customer", "America/New_York", "Tuesday, 29 December 2026, 12:30"),
        ("customer", "Asia/Tokyo", "Wednesday, 30 December 2026, 02:30"),
        ("customer", "Not/AZone", "Tuesday, 29 December 2026, 17:30"),  # the calendar's
        ("staff", "America/New_York", "Tuesday, 29 December 2026, 17:30"),  # staff read the calendar's
    ],
)
def test_a_customer_reads_times_in_their_own_timezone(to: str, timezone: str, expected: str) -> None:
    assert printed(instant("2026-12-29T17:30:00Z"), "en", to=to, customer={"timezone": timezone}) == expected


@pytest.mark.parametrize(
    ("policy_id", "locale", "expected"),
    [
        ("financial-services", "en", "en_GB"),  # Europe/London
        ("retail", "de", "de_DE"),  # Europe/Berlin
        ("retail", "en", "en_DE"),
        ("financial-services", "de", "de"),  # Babel has no de_GB: the language alone
        ("b2b-support", "fr", "fr"),
        ("financial-services", "en-GB", "en_GB"),
        ("retail", "de-AT", "de_AT"),  # a region given is kept
        ("retail", "xx", "de_DE"),  # unknown: the policy's default locale
    ],
)
def test_a_language_takes_the_region_of_the_default_calendar(
    policy_id: str, locale: str, expected: str
) -> None:
    assert str(babel_locale(locale, policy(policy_id))) == expected


def test_the_region_changes_how_money_is_written() -> None:
    value = {"price": money("1234.5", "EUR")}
    assert str(localise(value, policy("retail"), "en", to="staff")["price"]) == f"1.234,50{NBSP}€"
    assert str(localise(value, policy(), "en", to="staff")["price"]) == "€1,234.50"


def test_a_title_is_read_in_the_message_locale_else_the_default() -> None:
    base = policy()
    levels = [
        level.model_copy(update={"title": {"en": "Team lead", "de": "Teamleitung"}})
        for level in base.authority
    ]
    remedies = {
        name: remedy.model_copy(update={"title": {"en": f"{name} in English"}})
        for name, remedy in base.compensation.remedies.items()
    }
    edited = base.model_copy(
        update={
            "authority": levels,
            "compensation": base.compensation.model_copy(update={"remedies": remedies}),
        }
    )
    context = {
        "level": label("level", "agent"),
        "offer": {"type": "remedy", "id": "goodwill", "amount": None},
    }
    german = localise(context, edited, "de-AT", to="customer")
    assert (str(german["level"]), str(german["offer"])) == ("Teamleitung", "goodwill in English")
    unknown = localise(
        {"level": label("level", "nobody"), "q": label("question", "9")}, edited, "de", to="staff"
    )
    assert (str(unknown["level"]), str(unknown["q"])) == ("nobody", "9")


def test_typed_values_are_found_at_any_depth_and_the_rest_is_left_alone() -> None:
    context = {
        "handoff": {
            "summary": "Called twice",
            "trigger": "sla_breach",
            "clocks": [
                {
                    "clock": label("clock", "final-response"),
                    "status": "running",
                    "due": instant("2027-01-21T17:30:00Z"),
                }
            ],
            "compensation": money("50", "GBP"),
        },
        "case": {"type": "complaint", "score": 3, "open": True},
        "reason": "slow",
    }
    out = localise(context, policy(), "en", to="staff")
    clock = out["handoff"]["clocks"][0]
    assert (str(clock["clock"]), str(clock["due"]), clock["status"]) == (
        "Final response",
        "Thursday, 21 January 2027, 17:30",
        "running",
    )
    assert isinstance(out["handoff"]["compensation"], Money) and out["handoff"]["summary"] == "Called twice"
    assert out["case"] == {"type": "complaint", "score": 3, "open": True} and out["reason"] == "slow"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (instant("2026-12-29T17:30:00Z", "Mars/Olympus"), "2026-12-29T17:30:00Z"),
        (instant("yesterday"), "yesterday"),
        (instant("0001-01-01T00:00:00Z", end_of_day=True), "0001-01-01T00:00:00Z"),
        ({"type": "instant"}, "None"),
        ({"type": "date", "date": "2027-02-30"}, "2027-02-30"),
        (money("a lot", "EUR"), "a lot EUR"),
        (money("NaN", "EUR"), "NaN EUR"),
        (money("1e400", "EUR"), "1e400 EUR"),
        (money("12", "euro"), "12 euro"),
        ({"type": "money", "amount": 5}, "5"),
        (label("planet", "mars"), "mars"),
        (label("question", "²"), "²"),
        (label("question", "-1"), "-1"),
        ({"type": "remedy", "id": "unknown", "amount": money("x", "GBP")}, "unknown (x GBP)"),
    ],
)
def test_odd_data_prints_as_written_and_never_raises(value: dict[str, Any], shown: str) -> None:
    assert printed(value, "en", to="customer", customer={"timezone": 42}) == shown


def test_values_work_in_the_template_sandbox() -> None:
    values = localise(
        {
            "deadlines": {"final-response": instant("2026-12-29T17:30:00Z")},
            "clock": label("clock", "final-response"),
            "level": label("level", "supervisor"),
            "offer": {"type": "remedy", "id": "fee-refund", "amount": money("120.00", "GBP")},
            "options": [
                {"type": "remedy", "id": "apology", "amount": None},
                {"type": "remedy", "id": "goodwill", "amount": None},
            ],
        },
        policy(),
        "en",
        to="staff",
    )
    body = (
        "{{ deadlines[clock] }}|{{ deadlines[clock].weekday }} {{ deadlines[clock].time }}|{{ clock }}|"
        "{% if level == 'supervisor' %}by id{% endif %}|{{ level == 'Supervisor' }}|"
        "{{ deadlines['decision'] | default('soon') }}|{{ offer.amount.amount * 2 }} {{ offer.amount.currency }}|"
        "{{ options | join(', ') }}|{{ offer.title }}"
    )
    _, text = render("", body, values)
    assert text == (
        "Tuesday, 29 December 2026, 17:30|Tuesday 17:30|Final response|by id|False|soon|240.00 GBP|"
        "Written apology, Goodwill payment|Refund of fees and charges"
    )
    assert isinstance(values["offer"], Remedy) and values["offer"].amount is not None
    assert values["offer"].amount.amount == Decimal("120.00")
    assert isinstance(values["level"], Label) and hash(values["level"]) == hash("supervisor")


def acknowledgement(key: str, locale: str) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        to="customer",
        template="received",
        locale=locale,
        channels=["email"],
        context={
            "complaint": {"id": "C-7", "received_at": "2027-03-01T10:00:00Z"},
            "customer": {
                "name": "Ana Novak",
                "contacts": {"email": "ana@example.org"},
                "timezone": "Europe/Berlin",
            },
            "deadlines": {"final-response": instant("2027-03-22T17:30:00Z")},
        },
        rule="stages[0]",
    )


@pytest.mark.parametrize(
    ("locale", "line"),
    [
        ("en", "final response by Monday, 22 March 2027, 18:30."),
        ("de", "erhalten Sie bis Montag, 22. März 2027, 18:30."),
    ],
)
async def test_the_receipt_holds_the_sha256_of_the_text_the_channel_received(
    tmp_path: Path, locale: str, line: str
) -> None:
    compiled = financial()
    store = Store(tmp_path / "store")
    store.put_policy(compiled)
    work = Activities(
        store, Outbox(tmp_path / "outbox"), ledger=DeliveryLedger(tmp_path / "deliveries.sqlite")
    )
    receipt = await work.deliver(compiled.sha256, acknowledgement(f"C-7:{locale}", locale))
    sent = json.loads(Path(receipt.reference).read_text("utf-8"))
    assert receipt.status == "sent" and line in sent["body"]  # in the customer's timezone
    text = f"{sent['subject']}\n\n{sent['body']}"
    assert receipt.text_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    again = await work.deliver(compiled.sha256, acknowledgement(f"C-7:{locale}", locale))
    assert again.status == "already_sent"  # from the ledger, which keeps no text hash
    assert again.text_sha256 is None


async def test_an_undeliverable_message_keeps_the_sha256_of_its_text(tmp_path: Path) -> None:
    with smtp_server(refuse={"ana@example.org"}) as (_, port):
        refused = await activities(tmp_path, port).deliver(financial().sha256, acknowledgement("C-7:1", "en"))
    store = Store(tmp_path / "store")  # the same text, to a channel that takes it
    sent = await Activities(store, Outbox(tmp_path / "outbox")).deliver(
        financial().sha256, acknowledgement("C-7:2", "en")
    )
    assert refused.status == "undeliverable" and sent.status == "sent"
    assert refused.text_sha256 is not None and refused.text_sha256 == sent.text_sha256


def policy_copy(
    tmp_path: Path, edits: list[tuple[str, str]], templates: dict[str, str] | None = None
) -> tuple[Path, str]:
    """The financial policy and its templates in ``tmp_path``, with ``edits`` made."""
    shutil.copytree(POLICIES / "templates" / "financial", tmp_path / "templates" / "financial")
    text = (POLICIES / "financial-services.yaml").read_text("utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    for name, content in (templates or {}).items():
        (tmp_path / "templates" / "financial" / name).write_text(content, "utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    return path, text


def position(text: str, line_text: str, column_of: str) -> tuple[int, int]:
    """The line holding ``line_text`` and the column of ``column_of`` in it (1-based)."""
    start = text.index(line_text)
    line = text[:start].count("\n") + 1
    full = text.split("\n")[line - 1]
    return line, full.index(column_of) + 1


@pytest.mark.parametrize(
    ("template", "text", "failure"),
    [
        ("extension.en.txt", "Subject: Later\n\nBy {{ new_date[:10] }}.\n", "is not subscriptable"),
        (
            "escalated.en.txt",
            "Subject: Escalated\n\nNow with {{ level.upper() }}.\n",
            "has no attribute 'upper'",
        ),
    ],
)
def test_a_template_that_treats_a_value_as_text_fails_validation(
    tmp_path: Path, template: str, text: str, failure: str
) -> None:
    path, _ = policy_copy(tmp_path, [], {template: text})
    errors = validate_file(path).report.errors
    name = template.split(".")[0]
    found = [e.message for e in errors if f'template "{name}" (en) cannot be rendered' in e.message]
    assert found and all(failure in message for message in found), [e.message for e in errors]


def test_texts_per_locale_are_checked_where_they_are_written(tmp_path: Path) -> None:
    agent = "    title: {de: Kundenservice}\n"
    goodwill = "title: {en: Goodwill payment}}"
    question = 'weiterempfehlen?", fr: "Nous recommanderiez-vous ?"}'
    path, text = policy_copy(
        tmp_path,
        [
            ("    title: {en: Customer Support agent, de: Kundenservice}\n", agent),
            ("title: {en: Goodwill payment, de: Kulanzzahlung}}", goodwill),
            ('weiterempfehlen?"}', question),
        ],
    )
    problems = validate_file(path).report.sorted()
    assert [(p.line, p.col, p.severity, p.path, p.message) for p in problems] == sorted(
        [
            (
                *position(text, agent, "title"),
                "error",
                "authority[0].title",
                'title has no text in the default locale "en"',
            ),
            (
                *position(text, goodwill, "title"),
                "warning",
                "compensation.remedies.goodwill.title",
                'title has no "de" text; "en" is used',
            ),
            (
                *position(text, question, "fr:"),
                "warning",
                "follow_up.survey.questions[4].fr",
                'question has a "fr" text, which no message reads: "fr" is not in policy.locales',
            ),
        ]
    )


def test_a_plain_text_title_needs_no_locale(tmp_path: Path) -> None:
    path, _ = policy_copy(
        tmp_path, [("    title: {en: Customer Support agent, de: Kundenservice}\n", "    title: Support\n")]
    )
    assert validate_file(path).report.problems == []


def test_french_writes_the_first_of_the_month_1er() -> None:
    first = localise({"d": {"type": "date", "date": "2027-03-01"}}, None, "fr", to="customer")["d"]
    other = localise({"d": {"type": "date", "date": "2027-03-11"}}, None, "fr", to="customer")["d"]
    assert str(first) == "lundi 1er mars 2027" and str(other) == "jeudi 11 mars 2027"
