"""Every message of each example complaint's full path, read as its reader reads it.

Each shipped policy runs a full path (intake, a question, a reply, an offer, a grant over a
limit and its approval, the customer's choice, an extension, an escalation, a resolution,
the survey, closing; and a path left to run late) on the pure driver, in the policy's two
languages.  Every message is rendered as the delivery renders it, and read: every date,
amount and decision is there in the reader's language, and no internal text is."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import compose
from ombuds.engine.intake import Intake
from ombuds.engine.settings import Settings
from ombuds.workflows.core import Actor, Send

from .driver_support import DriverCase
from .workflow_support import ROOT, b2b_complaint, make_complaint, retail_complaint, shipped_policies

DAY = dt.timedelta(days=1)
CUSTOMER = Actor(kind="customer")

#: Text no reader may see: a value not worded, a code, a rule path, a timestamp for machines.
INTERNAL = [
    re.compile(pattern)
    for pattern in (
        r"\{'type'",
        r"'type':",
        r"\d{4}-\d{2}-\d{2}T\d{2}",
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}",
        r"\((Europe|America)/",
        r"\b(event|deadline|delivery):",
        r"\b(escalation|clocks|authority|stages)\[",
        r"\b(sla_breach|sla_warning|customer_request|agent_request|not_upheld|compensation_above_authority)\b",
        r"\bNone\b",
        r"Undefined",
    )
]
#: Words of English that have no place in a German or French message.
ENGLISH = re.compile(r"\b(the|your|we have|please|complaint|Dear|by|until)\b")
#: Month names as each language writes them.
MONTHS = {
    "en": r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b",
    "de": r"\b(Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)\b",
    "fr": r"\b(janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\b",
}
#: An amount with its currency, as the reader's locale writes it (English in Germany: "49,99 €").
MONEY = {
    "en": r"(£|€|\$)\d|\d,\d\d\s(€|£)",
    "de": r"\d,\d\d\s(€|£|\$)",
    "fr": r"\d,\d\d\s(€|\$|£)",
}


async def full_path(case: DriverCase, policy: str, locale: str) -> None:
    if policy == "retail":
        agent, boss = (
            Actor(kind="staff", id="eva", level="agent"),
            Actor(kind="staff", id="bob", level="supervisor"),
        )
        manager = Actor(kind="staff", id="frank", level="store-manager")
        await case.submit(
            retail_complaint(
                id=f"RD-{locale}",
                amount=Decimal("49.99"),
                currency="EUR",
                customer={
                    "id": "RC-1",
                    "name": "Emma Schulz",
                    "contacts": {"email": "e@example.org"},
                    "locale": locale,
                },
            )
        )
        await case.act(
            "request_information",
            agent,
            question="Bitte senden Sie uns ein Foto." if locale == "de" else "Please send us a photo.",
        )
        await case.act("customer_message", CUSTOMER, text="photo", information=True)
        await case.act("agent_reply", agent, text="Danke." if locale == "de" else "Thank you.")
        await case.act("offer_options", agent)
        await case.act("propose_compensation", agent, remedy="refund", amount=Decimal("149.90"))
        await case.act("decide_approval", boss, proposal=1, approve=True)
        await case.act("choose_option", CUSTOMER, option="replacement")
        await case.act(
            "extend",
            boss,
            clock="resolution",
            target="20 days",
            reason="Lieferengpass" if locale == "de" else "a supplier delay",
        )
        await case.act("escalate", CUSTOMER, reason="manager")
        await case.skip(DAY)
        await case.act(
            "resolve",
            manager,
            justified=True,
            text="Neuer Kocher geliefert." if locale == "de" else "A new kettle was delivered.",
        )
        await case.skip(2 * DAY)
        await case.act("survey_answer", CUSTOMER, score=9)
        await case.skip(61 * DAY)
    elif policy == "financial-services":
        agent, boss = (
            Actor(kind="staff", id="amy", level="agent"),
            Actor(kind="staff", id="bob", level="supervisor"),
        )
        dept = Actor(kind="staff", id="cara", level="complaints-department")
        await case.submit(
            make_complaint(
                id=f"FD-{locale}",
                product="mortgage",
                amount=Decimal(2480),
                currency="GBP",
                customer={"locale": locale},
                description="You charged me an early repayment fee of 2,480 pounds in error.",
            )
        )
        await case.act(
            "request_information",
            agent,
            question="Welche Zahlung meinen Sie?" if locale == "de" else "Which payment do you mean?",
        )
        await case.act("customer_message", CUSTOMER, text="the one in May", information=True)
        await case.act("offer_options", agent)
        await case.act("propose_compensation", agent, remedy="goodwill", amount=Decimal(120))
        await case.act("decide_approval", boss, proposal=1, approve=True)
        await case.skip(30 * DAY)
        await case.act(
            "extend",
            boss,
            clock="final-response",
            target="35 business days",
            reason="Wir warten auf Kontoauszüge." if locale == "de" else "we are waiting for statements",
        )
        await case.act("escalate", CUSTOMER, reason="unhappy")
        await case.act(
            "resolve",
            dept,
            justified=True,
            text="Die Gebühr wurde erstattet." if locale == "de" else "The fee was refunded.",
        )
        await case.skip(3 * DAY)
        await case.act("survey_answer", CUSTOMER, score=4)
    else:
        engineer, duty = (
            Actor(kind="staff", id="grace", level="agent"),
            Actor(kind="staff", id="heidi", level="duty-manager"),
        )
        lead = Actor(kind="staff", id="ivan", level="engineering")
        await case.submit(b2b_complaint(locale, id=f"BD-{locale}"))
        await case.act(
            "agent_reply",
            engineer,
            text="Nous examinons le service." if locale == "fr" else "We are looking at the export service.",
        )
        await case.act(
            "request_information",
            engineer,
            question="Quels exports ?" if locale == "fr" else "Which exports failed?",
        )
        await case.act("customer_message", CUSTOMER, text="EXP-1", information=True)
        await case.act("propose_compensation", engineer, remedy="credit-5", amount=Decimal(400))
        await case.act("decide_approval", duty, proposal=1, approve=True)
        await case.act("offer_options", engineer)
        await case.act("choose_option", CUSTOMER, option="extended-support")
        await case.act(
            "extend",
            duty,
            clock="resolution",
            target="15 business days",
            reason="un correctif du fournisseur" if locale == "fr" else "a vendor fix",
        )
        await case.act(
            "escalate",
            duty,
            summary="Le correctif demande l'ingénierie."
            if locale == "fr"
            else "The vendor fix needs engineering.",
        )
        await case.act(
            "resolve",
            lead,
            justified=True,
            text="Le délai est augmenté." if locale == "fr" else "The timeout is raised.",
        )
        await case.skip(3 * DAY)
        await case.act("survey_answer", CUSTOMER, score=5)
        await case.skip(30 * DAY)


async def late_path(case: DriverCase, policy: str, locale: str) -> None:
    """Nobody acts: warnings, breaches, escalations, delay notices, the hard limit."""
    if policy == "retail":
        await case.submit(
            retail_complaint(
                id=f"RL-{locale}",
                customer={
                    "id": "RC-2",
                    "name": "Emma Schulz",
                    "contacts": {"email": "e@example.org"},
                    "locale": locale,
                },
            )
        )
    elif policy == "financial-services":
        await case.submit(make_complaint(id=f"FL-{locale}", customer={"locale": locale}))
    else:
        await case.submit(
            make_complaint(
                id=f"BL-{locale}",
                product="platform",
                customer={"id": "ACME-8", "name": "Ana Novak", "segment": "enterprise", "locale": locale},
                custom={"impact": "outage"},
                description="The whole platform has been down for every user since this morning.",
            )
        )
    await case.skip(100 * DAY)


def driver(tmp_path: Path) -> DriverCase:
    settings = Settings(home=tmp_path, policies=ROOT / "policies")
    intake = Intake(settings, shipped_policies())
    return DriverCase(intake.store, lambda complaint: intake.prepare(complaint, simulated=True)[2])


def read(case: DriverCase) -> list[tuple[Send, str, str]]:
    out = []
    for send in case.delivered:
        message = OutboundMessage.model_validate(send.model_dump())
        subject, body = compose(case.case.compiled, message)
        out.append((send, subject, body))
    return out


LANGUAGES = [
    ("retail", "de"),
    ("retail", "en"),
    ("financial-services", "en"),
    ("financial-services", "de"),
    ("b2b-support", "en"),
    ("b2b-support", "fr"),
]


@pytest.mark.parametrize(("policy", "locale"), LANGUAGES)
@pytest.mark.parametrize("path", [full_path, late_path])
async def test_every_message_reads_plainly_in_the_readers_language(
    policy: str, locale: str, path: Any, tmp_path: Path
) -> None:
    case = driver(tmp_path)
    await path(case, policy, locale)
    assert case.case.policy.policy.id == policy
    messages = read(case)
    assert len(messages) >= 5
    for send, subject, body in messages:
        text = f"{subject}\n{body}"
        where = f"{send.template} ({send.to}, {send.locale})"
        for pattern in INTERNAL:
            assert not pattern.search(text), f"{where} shows {pattern.pattern!r}:\n{text}"
        if send.locale != "en":
            english = ENGLISH.findall(
                text.replace(str(send.context.get("complaint", {}).get("subject", "")), "")
            )
            assert not english, f"{where} has English words {english}:\n{text}"
    customer = "\n".join(f"{s}\n{b}" for send, s, b in messages if send.to == "customer")
    assert re.search(MONTHS[locale], customer), "dates are written with the month's name"
    amounts = [
        v
        for send, _, _ in messages
        if send.to == "customer"
        for key in ("options", "granted")
        for v in send.context.get(key) or []
        if v.get("amount")
    ]
    if amounts:
        assert re.search(MONEY[locale], customer), "amounts are written with their currency"
    if path is full_path:
        resolution = next(b for send, _, b in messages if send.template in ("resolved", "final-response"))
        said = next(
            str(case.case.logged_text(e.detail, "text"))
            for e in case.case.state.log
            if e.action == "resolved"
        )
        assert said in resolution, "the resolution says what was done"


@pytest.mark.parametrize(("policy", "locale"), LANGUAGES)
async def test_the_offer_lists_every_option_with_how_and_by_when(
    policy: str, locale: str, tmp_path: Path
) -> None:
    case = driver(tmp_path)
    await full_path(case, policy, locale)
    offers = [(s, b) for s, _, b in read(case) if s.context.get("options")]
    assert len(offers) == 1, [s.template for s, _ in offers]
    send, body = offers[0]
    titles = [o["id"] for o in send.context["options"]]
    assert len(titles) >= 2
    compiled = case.case.compiled.policy
    for remedy in titles:
        title = compiled.compensation.remedies[remedy].title
        text = title if isinstance(title, str) else title.get(locale) or title[compiled.policy.locale]
        assert text in body, f"{text} missing from the offer:\n{body}"
    assert re.search(MONTHS[locale], body), "the offer says by when"
