"""Bad input is refused where it enters: what validates also runs, text arrives clean, templates are bounded."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import Activities
from ombuds.engine.cli import app
from ombuds.engine.intake import Intake, IntakeError
from ombuds.engine.policy import hygiene
from ombuds.engine.policy.compile import compile_file
from ombuds.engine.policy.store import Store
from ombuds.engine.policy.templates import TooCostly, render
from ombuds.engine.policy.validate import validate_file
from ombuds.engine.settings import Settings

from .conftest import POLICIES
from .workflow_support import make_complaint, shipped_policies

runner = CliRunner()
FS = POLICIES / "financial-services.yaml"


def policy_copy(folder: Path, *changes: tuple[str, str]) -> Path:
    """financial-services, changed, beside a copy of the shipped templates."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "templates").exists():
        shutil.copytree(POLICIES / "templates", folder / "templates")
    text = FS.read_text("utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / "policy.yaml"
    path.write_text(text, "utf-8")
    return path


def problems(path: Path) -> list[str]:
    return [p.render() for p in validate_file(path).report.errors]


def no_traceback(result: Any) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- 1. what validates also runs


def test_a_duration_longer_than_ten_years_is_a_located_error(tmp_path: Path) -> None:
    path = policy_copy(tmp_path, ("    target: 3 months\n", "    target: 100000 months\n"))
    found = problems(path)
    assert len(found) == 1, found
    assert ':165:13: error: clocks[4].target: "100000 months" is longer than a policy may write' in found[0]
    assert "at most 120 months" in found[0]
    result = runner.invoke(app, ["deadline", str(path), "--received", "2026-12-01T10:00:00+00:00"])
    no_traceback(result)
    assert result.exit_code == 1 and "100000 months" in result.output


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("follow_up.survey.expires_after", "    expires_after: 14 days\n", "    expires_after: 4000 days\n"),
        ("dates[0].offset", "    offset: 6 months\n", "    offset: 11 years\n"),
        ("clocks[1].by_priority.P1", "      P1: 5 business days\n", "      P1: 2611 business days\n"),
    ],
)
def test_every_duration_has_the_bound(tmp_path: Path, key: str, old: str, new: str) -> None:
    found = problems(policy_copy(tmp_path, (old, new)))
    assert len(found) == 1 and f"{key}: " in found[0] and "longer than a policy may write" in found[0], found


def test_a_six_year_limitation_date_and_a_ten_year_clock_are_computed(tmp_path: Path) -> None:
    path = policy_copy(
        tmp_path,
        ("    target: 3 months\n", "    target: 10 years\n"),
        ("    offset: 6 months\n", "    offset: 6 years\n"),
    )
    assert problems(path) == []
    result = runner.invoke(
        app, ["deadline", str(path), "--received", "2099-12-31T10:00:00+00:00", "--format", "json"]
    )
    no_traceback(result)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    hard = next(c for c in payload["clocks"] if c["clock"] == "hard-limit")
    # received Thu 31 Dec 2099; ten years on is 31 Dec 2109, to the end of that day
    assert hard["due_local"] == "2109-12-31T23:59:59+00:00"
    referral = next(d for d in payload["dates"] if d["date"] == "ombudsman-referral")
    # from the final response (shown as if at receipt): six years on, 31 Dec 2105, end of day
    assert referral["local"] == "2105-12-31T23:59:59+00:00", referral


def test_a_receipt_out_of_range_is_refused_by_deadline() -> None:
    result = runner.invoke(app, ["deadline", str(FS), "--received", "9999-12-31T10:00:00+00:00"])
    no_traceback(result)
    assert result.exit_code == 2 and "out of range" in result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_a_complaint_with_an_unknown_timezone_or_far_receipt_is_located(tmp_path: Path) -> None:
    complaint = write(
        tmp_path / "c.yaml",
        "id: T-1\nreceived_at: 9999-12-31T23:00:00+00:00\nchannel: email\n"
        "customer: {name: Ana, contacts: {email: ana@example.org}, timezone: Mars/Base}\n",
    )
    result = runner.invoke(app, ["validate", str(complaint)])
    assert result.exit_code == 1
    assert f"{complaint}:2:14: error: received_at: 9999-12-31T23:00:00+00:00 is out of range" in result.output
    assert f'{complaint}:4:69: error: customer.timezone: "Mars/Base" is not a timezone' in result.output
    for command in (["deadline", str(FS), "--complaint", str(complaint)], ["submit", str(complaint)]):
        result = runner.invoke(app, command)
        no_traceback(result)
        assert result.exit_code == 1 and "is out of range" in result.output, result.output


def test_intake_refuses_what_validation_refuses(tmp_path: Path) -> None:
    intake = Intake(Settings(home=tmp_path, policies=POLICIES), shipped_policies())
    bad = make_complaint(received_at="2150-01-01T10:00:00+00:00", customer={"timezone": "Europe/Nowhere"})
    with pytest.raises(IntakeError) as refused:
        intake.prepare(bad, simulated=True)
    assert "received_at: 2150-01-01T10:00:00+00:00 is out of range" in str(refused.value)
    assert 'customer.timezone: "Europe/Nowhere" is not a timezone' in str(refused.value)


async def test_a_body_nested_fifty_thousand_deep_is_refused_cleanly(tmp_path: Path) -> None:
    """The API's body parser refuses it (400) or the body model does (422): never a 500."""
    import httpx

    from ombuds.engine import tokens
    from ombuds.engine.api import create_app

    async def unreachable() -> Any:
        raise ConnectionRefusedError

    key = b"k" * 32
    app = create_app(Settings(home=tmp_path, policies=POLICIES), connect=unreachable, key=key)
    headers = {
        "Authorization": f"Bearer {tokens.create(key, 'a', 'agent')}",
        "Content-Type": "application/json",
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        for body in (
            '{"reason": ' + "[" * 50_000 + "]" * 50_000 + "}",
            '{"reason": ' + "[" * 20 + "]" * 20 + "}",
        ):
            for path in ("/complaints/X-1/events/escalate", "/complaints"):
                answer = await http.post(path, content=body, headers=headers)
                assert answer.status_code in (400, 422), (path, answer.status_code, answer.text[:200])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]',
            "  when: null",
            ":24:3: error: applies_to.when: `when` is empty, which would make the rule apply always",
        ),
        (
            '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]',
            "  when: complaint.product",
            ":24:9: error: applies_to.when: condition gives a string, not true or false",
        ),
        (
            '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]',
            "  when: complaint.amount + 1.0",
            ":24:9: error: applies_to.when: condition gives a double, not true or false",
        ),
        (
            "    title: {en: Written acknowledgement, de: Schriftliche Eingangsbestätigung}\n",
            '    title: "Written\\0 acknowledgement"\n',
            ":114:12: error: clocks[0].title: text has the control character U+0000",
        ),
        (
            "    title: {en: Written acknowledgement, de: Schriftliche Eingangsbestätigung}\n",
            '    title: "Written \\u202Eacknowledgement"\n',
            "clocks[0].title: text has the control character U+202E (RIGHT-TO-LEFT OVERRIDE)",
        ),
        (
            "    title: {en: Written acknowledgement, de: Schriftliche Eingangsbestätigung}\n",
            '    title: "\\e[31mWritten acknowledgement"\n',
            "clocks[0].title: text has the control character U+001B",
        ),
    ],
)
def test_what_would_silently_change_a_rule_is_an_error(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    found = problems(policy_copy(tmp_path, (old, new)))
    assert any(expected in p for p in found), found


# --------------------------------------------------------------------------- 2. clean text, reachable contacts


def test_control_characters_never_reach_a_name_or_subject() -> None:
    complaint = make_complaint(
        subject="Fee\r\nBcc: evil@example.org",
        description="Line one\r\nLine two\x00\x1b[31m red\u202e",
        customer={"name": "Ana\r\nBcc: evil@example.org \u202eNovak\x1b[0m\x85", "id": "C\t1"},
    )
    cleaned, found = hygiene.inspect(complaint)
    assert found == []
    assert cleaned.customer.name == "Ana Bcc: evil@example.org Novak[0m"
    assert cleaned.subject == "Fee Bcc: evil@example.org"
    assert cleaned.customer.id == "C 1"
    assert cleaned.description == "Line one\nLine two[31m red"  # free text keeps its line breaks
    for text in (cleaned.customer.name, cleaned.subject, cleaned.description):
        assert not any(c in text for c in "\r\x00\x1b\u202e\x85")


def test_text_is_normalised_to_nfc() -> None:
    cleaned, _ = hygiene.inspect(make_complaint(customer={"name": "Zoe\u0301 Mu\u0308ller"}))
    assert cleaned.customer.name == "Zoé Müller"


@pytest.mark.parametrize(
    ("contacts", "field", "message"),
    [
        (
            {"email": "ana@example.org\r\nBcc: evil@example.org"},
            "customer.contacts.email",
            "is not an email address",
        ),
        ({"email": "ana@@example.org"}, "customer.contacts.email", "is not an email address"),
        ({"email": "ana example.org"}, "customer.contacts.email", "is not an email address"),
        ({"email": "ana@example"}, "customer.contacts.email", "is not an email address"),
        ({"phone": "hello"}, "customer.contacts.phone", "is not a phone number"),
        ({"phone": "+44 20\r\n7946"}, "customer.contacts.phone", "is not a phone number"),
    ],
)
def test_a_contact_that_cannot_be_reached_is_refused_naming_it(
    tmp_path: Path, contacts: dict[str, str], field: str, message: str
) -> None:
    complaint = make_complaint(customer={"contacts": contacts})
    _, found = hygiene.inspect(complaint)
    assert [p.field for p in found] == [field] and message in found[0].message
    intake = Intake(Settings(home=tmp_path, policies=POLICIES), shipped_policies())
    with pytest.raises(IntakeError, match=field.replace(".", r"\.")):
        intake.prepare(complaint, simulated=True)


def test_phone_numbers_are_kept_in_e164_and_emails_may_be_international() -> None:
    national = make_complaint(customer={"contacts": {"phone": "020 7946 0018"}, "region": "GB-ENG"})
    cleaned, found = hygiene.inspect(national)
    assert found == [] and cleaned.customer.contacts.phone == "+442079460018"
    cleaned, found = hygiene.inspect(make_complaint(customer={"contacts": {"email": "zoë@bücher.example"}}))
    assert found == [] and cleaned.customer.contacts.email == "zoë@bücher.example"


def test_validate_locates_a_header_injection_in_a_complaint_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.json",
        json.dumps(
            {
                "id": "T-1",
                "received_at": "2026-12-01T10:00:00+00:00",
                "channel": "email",
                "customer": {
                    "name": "Ana",
                    "contacts": {"email": "ana@example.org\r\nBcc: evil@example.org"},
                },
            }
        ),
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert (
        "customer.contacts.email: 'ana@example.org\\r\\nBcc: evil@example.org' is not an email address"
        in (result.output)
    )


# --------------------------------------------------------------------------- 3. bounded templates

NESTED_LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def test_a_template_that_loops_for_ever_stops_after_its_time() -> None:
    started = time.monotonic()
    with pytest.raises(TooCostly, match=r"longer than 0\.3 s"):
        render("Subject", NESTED_LOOP, {}, seconds=0.3)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "body",
    [
        '{{ "x" * 1000000000 }}',
        '{{ "x"|center(1000000000) }}',
        '{{ "%1000000000s"|format(1) }}',
        '{{ "{:>1000000000}".format(1) }}',
        "{{ 9 ** 99999999 }}",
        "{% for i in range(100000) %}{% for j in range(1000) %}many{% endfor %}{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{{ complaint.update({'id': 'X'}) }}",
        # found by review: refused before they run
        '{{ (customer.name * 50000)|replace("A", customer.name * 40000) }}',
        '{{ (customer.name * 20000).replace("A", customer.name * 20000) }}',
        '{{ ("%*s" * 400) % ((customer.name|length * 3000000, "x") * 400) }}',
        '{% set s = "x" * 200000 %}{{ ([s] * 15000)|join }}',
        '{{ range(30000)|join("x" * 100000) }}',
        '{{ ("\t" * 100000).expandtabs(30000) }}',
        "{{ ((((2 ** 64) ** 64) ** 64) ** 64) ** 64 }}",
        "{{ (((customer.name|length) ** 64) ** 64) ** 64 }}",
        "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}",
    ],
)
def test_a_template_cannot_take_the_memory_or_escape_the_sandbox(body: str) -> None:
    started = time.monotonic()
    with pytest.raises(TooCostly):
        render("Subject", body, {"complaint": {"id": "C-1"}, "customer": {"name": "Ana Novak"}})
    assert time.monotonic() - started < 3


def template_folder(tmp_path: Path, body: str) -> Path:
    path = policy_copy(tmp_path)
    (tmp_path / "templates" / "financial" / "acknowledgement.en.txt").write_text(
        "Subject: We have your complaint\n\n" + body, "utf-8"
    )
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{% include "handoff.en.txt" %}\n', "{% include %} is not allowed in a template"),
        ('{% import "macros.txt" as m %}\n', "{% import %} is not allowed in a template"),
        ('{% from "macros.txt" import x %}\n', "{% from ... import %} is not allowed in a template"),
        ('{% extends "base.txt" %}\n', "{% extends %} is not allowed in a template"),
        (NESTED_LOOP + "\n", "took longer than 1 s to render"),
        ("{{ customer.name.__class__ }}\n", "the sandbox refused it"),
    ],
)
def test_validation_refuses_what_cannot_render_in_the_sandbox(
    tmp_path: Path, body: str, expected: str
) -> None:
    found = problems(template_folder(tmp_path, body))
    assert any(expected in p for p in found), found


async def test_a_slow_template_holds_no_other_work_back(tmp_path: Path) -> None:
    """A template that validation cannot catch (slow only for some cases) renders off the event loop."""
    slow = "{% if case.survey_score == 4 %}" + NESTED_LOOP + "{% endif %}Dear {{ customer.name }}\n"
    policy = compile_file(template_folder(tmp_path, slow))
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    activities = Activities(store, Outbox(tmp_path / "outbox"))
    message = OutboundMessage(
        key="C-1:1:0",
        to="customer",
        template="acknowledgement",
        locale="en",
        channels=["email"],
        context={
            "complaint": {"id": "C-1"},
            "customer": {"name": "Ana", "contacts": {"email": "ana@example.org"}},
            "case": {"survey_score": 4},
        },
        rule="stages[0]",
    )
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    beside = asyncio.create_task(other_work())
    receipt = await activities.deliver(policy.sha256, message)
    beside.cancel()
    assert receipt.status == "undeliverable"
    assert "took longer than 1 s to render" in receipt.reference
    assert ticks >= 20, f"the event loop ran {ticks} times while the template rendered"
    fine = message.model_copy(
        update={"key": "C-1:2:0", "context": {**message.context, "case": {"survey_score": 5}}}
    )
    assert (await activities.deliver(policy.sha256, fine)).status == "sent"


# --------------------------------------------------------------------------- found by the fuzzing


def test_a_warning_as_long_as_its_target_is_an_error(tmp_path: Path) -> None:
    found = problems(
        policy_copy(tmp_path, ("      - before: 1 business day\n", "      - before: 8 business days\n"))
    )
    assert len(found) == 1, found
    assert (
        "clocks[0].warnings[1].before: a warning 8 business days before a deadline of 5 business days"
        in found[0]
    )
    assert "falls before the clock starts" in found[0]


def test_a_warning_before_the_calendar_begins_falls_due_as_the_clock_starts(tmp_path: Path) -> None:
    """Units of different kinds validation cannot compare: the case still starts."""
    path = policy_copy(
        tmp_path,
        ("    target: 5 business days\n    starts: submitted", "    target: 2 days\n    starts: submitted"),
        ("      - before: 1 business day\n", "      - before: 20 business days\n"),
    )
    assert problems(path) == []
    policy = compile_file(path)
    intake = Intake(Settings(home=tmp_path / "home", policies=tmp_path), [policy])
    _, chosen, workflow_input = intake.prepare(make_complaint(), simulated=True)
    core = intake.preview(chosen, workflow_input)  # raised HorizonExceeded before
    started = next(
        e for e in core.state.log if e.action == "clock started" and e.detail["clock"] == "acknowledge"
    )
    assert started.detail["target"] == "2 days"


def test_a_clock_longer_than_three_years_starts_at_intake(tmp_path: Path) -> None:
    """Found by the fuzzing: the case calendar covered three years, and intake failed past them."""
    path = policy_copy(
        tmp_path,
        (
            "    target: 5 business days\n    starts: submitted",
            "    target: 758 business days\n    starts: submitted",
        ),
    )
    assert problems(path) == []
    intake = Intake(Settings(home=tmp_path / "home", policies=tmp_path), [compile_file(path)])
    _, chosen, workflow_input = intake.prepare(make_complaint(), simulated=True)
    core = intake.preview(chosen, workflow_input)  # raised HorizonExceeded before
    started = next(
        e for e in core.state.log if e.action == "clock started" and e.detail["clock"] == "acknowledge"
    )
    # received Mon 1 Mar 2027 10:00; 758 business days of the england calendar later
    assert started.detail["due"].startswith("2030-")


# --------------------------------------------------------------------------- found by review


def test_an_ordinary_template_still_renders() -> None:
    body = '{{ "%5s"|format(customer.name) }}|{{ "a b"|replace("a", "b") }}|{{ [1, 2]|join(", ") }}|{{ "%s!" % customer.name }}'
    assert render("S", body, {"customer": {"name": "Ana"}})[1] == "  Ana|b b|1, 2|Ana!"


@pytest.mark.parametrize(
    "body", ['{{ "x" * 1500000000 }}', "{{ 9 ** 99999999 }}", '{{ "x"|center(1500000000) }}']
)
def test_validation_never_folds_a_huge_constant(tmp_path: Path, body: str) -> None:
    started = time.monotonic()
    found = problems(template_folder(tmp_path, body + "\n"))
    assert time.monotonic() - started < 10
    assert any('"acknowledgement" (en) cannot be rendered' in p for p in found), found


def test_a_control_character_in_a_template_file_is_located(tmp_path: Path) -> None:
    found = problems(template_folder(tmp_path, "Dear {{ customer.name }}\x1b[2J\n"))
    assert any("acknowledgement.en.txt:3:25: error:" in p and "U+001B" in p for p in found), found


async def test_a_template_that_fails_any_other_way_is_undeliverable_not_retried(tmp_path: Path) -> None:
    body = "{% if case.survey_score == 4 %}{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}{% endif %}Hi\n"
    policy = compile_file(template_folder(tmp_path, body))
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    message = OutboundMessage(
        key="C-1:1:0",
        to="customer",
        template="acknowledgement",
        locale="en",
        channels=["email"],
        context={
            "complaint": {"id": "C-1"},
            "customer": {"contacts": {"email": "a@example.org"}},
            "case": {"survey_score": 4},
        },
        rule="stages[0]",
    )
    receipt = await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, message)
    assert receipt.status == "undeliverable" and "RecursionError" in receipt.reference


async def test_what_an_event_carried_reaches_no_reader_with_an_escape(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    store.put_policy(policy)
    handoff = OutboundMessage(
        key="C-1:12:0",
        to="staff",
        template="handoff",
        locale="en",
        channels=["email"],
        context={
            "complaint": {"id": "C-1"},
            "customer": {"name": "Ana"},
            "case": {"level": "supervisor"},
            "level": "Supervisor",
            "handoff": "\x1b[2J\x1b[31mURGENT\u202egnp.exe\x00 x\r\nBcc: a@b",
        },
        rule="escalation[0]",
    )
    receipt = await Activities(store, Outbox(tmp_path / "outbox")).deliver(policy.sha256, handoff)
    body = json.loads(Path(receipt.reference).read_text("utf-8"))["body"]
    assert "URGENT" in body and not any(c in body for c in "\x1b\u202e\x00\r")


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["propose_compensation", "--coupons", "1" + "0" * 4400], "--coupons"),
        (["propose_compensation", "--remedy", "goodwill", "--amount", "1e99999999"], "is not an amount"),
        (["propose_compensation", "--remedy", "goodwill", "--amount", "12." + "0" * 50], "amount"),
        (["escalate", "--summary", "\ud800"], "not text"),
    ],
)
def test_event_options_that_would_cost_or_not_encode_are_refused(options: list[str], said: str) -> None:
    result = runner.invoke(app, ["event", "C-1", *options])
    no_traceback(result)
    assert result.exit_code == 2 and said in result.output


def test_a_sparse_calendar_still_gives_every_deadline(tmp_path: Path) -> None:
    """A store open on Saturdays only: 2,000 business days are 38 years of Saturdays."""
    (tmp_path / "templates").mkdir()
    shutil.copytree(POLICIES / "templates" / "retail", tmp_path / "templates" / "retail")
    text = (POLICIES / "retail.yaml").read_text("utf-8")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        text = text.replace(f'      {day}: ["09:00-20:00"]\n', "", 1)
    start = text.index("  - id: hard-limit")
    end = text.index("    target:", start)
    line_end = text.index("\n", end)
    text = text[:end] + "    target: 2000 business days" + text[line_end:]
    path = tmp_path / "retail.yaml"
    path.write_text(text, "utf-8")
    assert problems(path) == []
    result = runner.invoke(
        app, ["deadline", str(path), "--received", "2027-01-04T10:00:00+01:00", "--format", "json"]
    )
    no_traceback(result)
    assert result.exit_code == 0, result.output
    hard = next(c for c in json.loads(result.output)["clocks"] if c["clock"] == "hard-limit")
    assert hard["due_local"].startswith("2066-")
    intake = Intake(Settings(home=tmp_path / "home", policies=tmp_path), [compile_file(path)])
    _, chosen, workflow_input = intake.prepare(make_complaint(product="sofa"), simulated=True)
    intake.preview(chosen, workflow_input)  # the case calendar is extended as the workflow extends it


def test_an_empty_condition_is_one_problem(tmp_path: Path) -> None:
    old = '  when: complaint.product in ["current_account", "savings", "card", "loan", "mortgage"]'
    found = problems(policy_copy(tmp_path, (old, '  when: ""')))
    assert len(found) == 1 and "applies_to.when: must not be empty" in found[0], found


async def test_a_running_case_extends_a_calendar_its_intake_outruns(tmp_path: Path) -> None:
    """The workflow's intake, not only ombuds submit's preview: no failed workflow task."""
    from .workflow_support import policy_variant, retail_complaint, running_case, time_skipping

    saturdays_only = [(f'      {day}: ["09:00-20:00"]\n', "") for day in ("mon", "tue", "wed", "thu", "fri")]
    policies = policy_variant(
        tmp_path / "policies",
        "retail.yaml",
        [
            *saturdays_only,
            (
                "    calendar: stores\n    target: 3 months\n",
                "    calendar: stores\n    target: 2000 business days\n",
            ),
        ],
    )
    async with time_skipping() as env, running_case(env, tmp_path / "home", policies) as case:
        await case.submit(retail_complaint(id="SAT-1"))
        extended = await case.log_entry("case calendar extended")
        started = await case.log_entry("clock started")
        view = await case.status()
    hard = next(c for c in view.clocks if c.id == "hard-limit")
    assert extended.action == "case calendar extended" and started.seq > extended.seq
    # about 38 years of Saturdays after a receipt in 2027
    assert hard.due is not None and hard.due.startswith(("2064", "2065", "2066"))
