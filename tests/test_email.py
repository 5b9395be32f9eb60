"""Email that really reaches people: a real SMTP server (aiosmtpd) receives what the delivery activity sends."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from ombuds.activities.deliveries import DeliveryLedger
from ombuds.activities.email import Email, EmailSettings
from ombuds.activities.letter import Letters, LetterSettings
from ombuds.activities.outbox import Outbox, _legacy_name
from ombuds.activities.plugin import DeliveryContext, OutboundMessage, Receipt, RenderedMessage, RetryLater
from ombuds.engine.activities import Activities
from ombuds.engine.cli import app
from ombuds.engine.policy.store import Store
from ombuds.engine.settings import Directory, Settings, StaffMember, Team
from ombuds.workflows.core import Answer, Event
from ombuds.workflows.model import CaseResult

from .conftest import POLICIES
from .smtp_server import smtp_server
from .workflow_support import (
    CUSTOMER,
    STAFF_AGENT,
    make_complaint,
    shipped_policies,
    time_skipping,
)

SECRET = b"k" * 32
DIRECTORY = Directory(
    staff=[
        StaffMember(id="bob", name="Bob Stone", email="bob@bank.example", levels=["supervisor"]),
        StaffMember(id="eve", name="Eve Ray", email="eve@bank.example", levels=["supervisor", "agent"]),
        StaffMember(
            id="dan", name="Dan Ode", email="dan@bank.example", levels=["management"], queues=["complaints"]
        ),
    ],
    levels={"supervisor": Team(name="Supervisors", email="supervisors@bank.example")},
    queues={"complaints": Team(name="Complaints team", email="complaints@bank.example")},
)


def financial() -> Any:
    return next(p for p in shipped_policies() if p.id == "financial-services")


def activities(tmp_path: Path, port: int | None = None, *, ledger: bool = True) -> Activities:
    policy = financial()
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    settings = (
        EmailSettings(host="127.0.0.1", port=port, security="none", reply_to="replies+{token}@bank.example")
        if port
        else EmailSettings()
    )
    return Activities(
        store,
        Outbox(tmp_path / "outbox"),
        {"email": Email(settings), "letter": Letters(LetterSettings())},  # type: ignore[dict-item]
        ledger=DeliveryLedger(tmp_path / "deliveries.sqlite") if ledger else None,
        directory=DIRECTORY,
        context=DeliveryContext(home=tmp_path, secret=SECRET),
    )


def acknowledgement(key: str = "C-1:7:0", complaint: str = "C-1", **customer: Any) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        to="customer",
        template="received",
        locale="en",
        channels=["email", "letter"],
        context={
            "complaint": {"id": complaint, "received_at": "2027-03-01T10:00:00Z"},
            "customer": {
                "name": "Ana Novak",
                "contacts": {"email": "ana@example.org", "postal_address": "1 High St\nLondon"},
                **customer,
            },
            "deadlines": {"final-response": "2027-03-22 17:30"},
        },
        rule="stages[0]",
    )


async def test_an_acknowledgement_arrives_with_both_parts_threaded(tmp_path: Path) -> None:
    with smtp_server() as (server, port):
        work = activities(tmp_path, port)
        receipt = await work.deliver(financial().sha256, acknowledgement())
        await work.deliver(financial().sha256, acknowledgement("C-1:9:0"))
        other = await work.deliver(financial().sha256, acknowledgement("C-2:7:0", "C-2"))
    assert (receipt.status, receipt.channel) == ("sent", "email")
    first, again, elsewhere = server.received
    assert first["To"] == "Ana Novak <ana@example.org>" and server.envelopes[0] == ["ana@example.org"]
    assert first["From"] == "Complaints <complaints@ombuds.localhost>"
    assert first["Subject"] == "We have received your complaint C-1"
    assert receipt.reference == first["Message-ID"]
    assert first["Message-ID"].startswith("<") and first["Message-ID"].endswith("@ombuds.localhost>")
    assert "C-1" not in first["Message-ID"]  # a keyed hash: not guessable from the key
    assert first["In-Reply-To"] == first["References"] == again["In-Reply-To"]
    assert elsewhere["In-Reply-To"] != first["In-Reply-To"]
    assert first["Reply-To"].startswith("replies+") and first["Reply-To"].endswith("@bank.example")
    assert first["Reply-To"] == again["Reply-To"] != elsewhere["Reply-To"]
    assert first["X-Ombuds-Key"] == "C-1:7:0" and first["X-Ombuds-Template"].startswith("received.en ")
    text = first.get_body(("plain",))
    html = first.get_body(("html",))
    assert text is not None and html is not None
    assert "final response by 2027-03-22 17:30" in text.get_content()
    assert "<p>Dear Ana Novak,</p>" in html.get_content()
    assert other.status == "sent" and len({m["Message-ID"] for m in server.received}) == 3


async def test_what_a_customer_wrote_is_no_markup_and_no_header(tmp_path: Path) -> None:
    with smtp_server() as (server, port):
        message = acknowledgement(name='<script>alert("x")</script> Ana\r\nBcc: evil@example.org')
        await activities(tmp_path, port).deliver(financial().sha256, message)
    (mail,) = server.received
    assert server.envelopes == [["ana@example.org"]]  # no Bcc added
    html = mail.get_body(("html",))
    assert html is not None and "<script>" not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()


async def test_a_retry_sends_nothing_again_and_a_resend_keeps_its_message_id(tmp_path: Path) -> None:
    with smtp_server() as (server, port):
        work = activities(tmp_path, port)
        first = await work.deliver(financial().sha256, acknowledgement())
        again = await work.deliver(financial().sha256, acknowledgement())
        # another worker of the same home: the shared ledger says it went already
        other = activities(tmp_path, port)
        third = await other.deliver(financial().sha256, acknowledgement())
        assert len(server.received) == 1
        assert (first.status, again.status, third.status) == ("sent", "already_sent", "already_sent")
        # a crash between the server's acceptance and the ledger's write: sent again, same id
        lost = activities(tmp_path / "crashed", port, ledger=False)
        lost.store = other.store
        await lost.deliver(financial().sha256, acknowledgement())
    assert len(server.received) == 2
    assert server.message_ids()[0] == server.message_ids()[1]


async def test_a_server_that_fails_twice_is_tried_again_and_sends_once(tmp_path: Path) -> None:
    with smtp_server(fail_first=2) as (server, port):
        work = activities(tmp_path, port)
        for _ in range(2):  # what Temporal's retry policy does with the raised error
            with pytest.raises(aiosmtplib.SMTPResponseException):
                await work.deliver(financial().sha256, acknowledgement())
        receipt = await work.deliver(financial().sha256, acknowledgement())
        assert receipt.status == "sent" and server.attempts == 3 and len(server.received) == 1


async def test_a_refused_address_falls_back_to_the_next_channel(tmp_path: Path) -> None:
    with smtp_server(refuse={"ana@example.org"}) as (server, port):
        receipt = await activities(tmp_path, port).deliver(financial().sha256, acknowledgement())
    assert server.received == []
    assert (receipt.status, receipt.channel) == ("sent", "letter")
    letter = Path(receipt.reference).read_text("utf-8")
    assert letter.startswith("1 High St\nLondon\n") and "We have received your complaint C-1" in letter


async def test_when_every_channel_refuses_the_message_is_undeliverable_with_the_reasons(
    tmp_path: Path,
) -> None:
    message = acknowledgement()
    message.context["customer"]["contacts"].pop("postal_address")
    with smtp_server(refuse={"ana@example.org"}) as (_, port):
        receipt = await activities(tmp_path, port).deliver(financial().sha256, message)
    assert receipt.status == "undeliverable"
    assert "every channel refused it: email: the mail server refused ana@example.org" in receipt.reference


async def test_without_a_server_mail_goes_to_a_maildir_once(tmp_path: Path) -> None:
    work = activities(tmp_path, ledger=False)
    first = await work.deliver(financial().sha256, acknowledgement())
    again = await work.deliver(financial().sha256, acknowledgement())
    assert first.status == again.status == "sent"
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    (mail,) = list(box)
    assert mail["Subject"] == "We have received your complaint C-1"
    assert mail["Message-ID"] == first.reference == again.reference


async def test_a_handoff_reaches_the_people_of_the_receiving_level(tmp_path: Path) -> None:
    handoff = OutboundMessage(
        key="C-1:12:0",
        to="staff",
        template="handoff",
        locale="en",
        channels=["email"],
        context={
            "complaint": {"id": "C-1"},
            "customer": {"name": "Ana Novak"},
            "case": {"level": "supervisor"},
            "level": "Customer Support supervisor",
            "handoff": "A fee refund above the agent's limit.",
        },
        rule="escalation[2]",
    )
    with smtp_server() as (server, port):
        receipt = await activities(tmp_path, port).deliver(financial().sha256, handoff)
    assert receipt.status == "sent"
    (mail,) = server.received
    assert sorted(server.envelopes[0]) == ["bob@bank.example", "eve@bank.example", "supervisors@bank.example"]
    assert (
        "Bob Stone <bob@bank.example>" in mail["To"]
        and "Supervisors <supervisors@bank.example>" in mail["To"]
    )
    assert mail["Reply-To"] is None  # reply tokens are for customers


async def test_outbox_file_names_are_injective(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)

    def message(key: str) -> RenderedMessage:
        return RenderedMessage(
            key=key,
            to="customer",
            channel="sms",
            recipient="+442079460000",
            subject="",
            body=key,
            template="received",
            template_sha256="",
            locale="en",
            policy_sha256="",
            complaint_id=key.split(":")[0],
            rule="stages[0]",
        )

    first = await outbox.send(message("INJ:1:0"))
    second = await outbox.send(message("INJ_1:0"))
    assert (first.status, second.status) == ("sent", "sent") and first.reference != second.reference
    # a file of the earlier naming counts for its own key only
    legacy = tmp_path / _legacy_name("OLD:1:0")
    legacy.write_text(json.dumps({"key": "OLD:1:0"}), "utf-8")
    assert (await outbox.send(message("OLD:1:0"))).status == "already_sent"
    assert (await outbox.send(message("OLD_1:0"))).status == "sent"


def test_the_settings_file_holds_channels_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.toml").write_text(
        """
[channels.email]
host = "smtp.bank.example"
password = "hunter2"

[[directory.staff]]
id = "bob"
name = "Bob Stone"
email = "bob@bank.example"
levels = ["supervisor"]

[directory.levels.supervisor]
email = "supervisors@bank.example"
""",
        "utf-8",
    )
    monkeypatch.setenv("OMBUDS_HOME", str(tmp_path))
    monkeypatch.setenv("OMBUDS_CHANNELS__EMAIL__PORT", "2525")
    settings = Settings()
    assert settings.channels["email"] == {"host": "smtp.bank.example", "password": "hunter2", "port": "2525"}
    assert settings.directory.level_addresses("supervisor") == [
        "supervisor <supervisors@bank.example>",
        "Bob Stone <bob@bank.example>",
    ]
    result = CliRunner().invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0, result.output
    email = next(p for p in json.loads(result.output)["plugins"] if p["plugin"] == "email")
    assert email["configured"] and email["settings"]["password"] == "********"
    assert email["delivers"] == "SMTP smtp.bank.example:2525 (starttls)" and "hunter2" not in result.output


def test_a_settings_section_that_does_not_fit_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.toml").write_text('[channels.email]\nport = "many"\n', "utf-8")
    monkeypatch.setenv("OMBUDS_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "[channels.email]" in result.output and "port" in result.output


def test_validate_warns_at_a_channel_no_installed_plugin_serves(tmp_path: Path) -> None:
    text = (
        (POLICIES / "financial-services.yaml")
        .read_text("utf-8")
        .replace("  fallback: [letter]", "  fallback: [letter, webhook]")
    )
    path = tmp_path / "policy.yaml"
    path.write_text(
        text.replace("  dir: templates/financial", f"  dir: {POLICIES / 'templates' / 'financial'}")
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert ":278:22: warning: notifications.fallback[1]: no channel plugin installed in" in result.output
    assert 'serves "webhook"' in result.output


async def test_a_running_complaint_mails_the_customer_and_the_supervisor(tmp_path: Path) -> None:
    """The worker ombuds runs, configured with an SMTP server and a directory."""
    from ombuds.engine.intake import Intake
    from ombuds.engine.temporal import build_worker

    with smtp_server() as (server, port):
        settings = Settings(
            home=tmp_path,
            policies=POLICIES,
            task_queue="mail",
            channels={"email": {"host": "127.0.0.1", "port": port, "security": "none"}},
            directory=DIRECTORY,
        )
        async with time_skipping() as env, build_worker(env.client, settings):
            intake = Intake(settings, shipped_policies())
            submitted = await intake.submit(
                env.client, make_complaint(id="M-1"), search_attributes=False, simulated=True
            )
            handle = env.client.get_workflow_handle(submitted.complaint_id)
            event = Event(
                kind="propose_compensation", actor=STAFF_AGENT, remedy="goodwill", amount=Decimal(100)
            )
            await handle.execute_update("act", event, result_type=Answer)
            await handle.execute_update(
                "act", Event(kind="withdraw", actor=CUSTOMER, reason="sorted"), result_type=Answer
            )
            await handle.result()
    subjects = [m["Subject"] for m in server.received]
    assert any("M-1" in s and "received" in s.lower() for s in subjects), subjects
    customer = [i for i, m in enumerate(server.received) if m["To"] == "Ana Novak <ana@example.org>"]
    staff = [i for i, envelope in enumerate(server.envelopes) if "bob@bank.example" in envelope]
    assert customer and staff, (subjects, server.envelopes)
    assert len({m["In-Reply-To"] for m in server.received}) == 1  # one thread per complaint
    assert len(set(server.message_ids())) == len(server.received)


async def test_a_message_sent_on_its_fallback_channel_is_in_the_decision_log(tmp_path: Path) -> None:
    from ombuds.engine.intake import Intake
    from ombuds.engine.temporal import build_worker

    with smtp_server(refuse={"ana@example.org"}) as (server, port):
        settings = Settings(
            home=tmp_path,
            policies=POLICIES,
            task_queue="fallback",
            channels={"email": {"host": "127.0.0.1", "port": port, "security": "none"}},
        )
        async with time_skipping() as env, build_worker(env.client, settings):
            intake = Intake(settings, shipped_policies())
            complaint = make_complaint(
                id="F-1",
                customer={"contacts": {"email": "ana@example.org", "postal_address": "1 High St\nLondon"}},
            )
            await intake.submit(env.client, complaint, search_attributes=False, simulated=True)
            handle = env.client.get_workflow_handle("F-1")
            await handle.execute_update(
                "act", Event(kind="withdraw", actor=CUSTOMER, reason="sorted"), result_type=Answer
            )
            result = CaseResult.model_validate(await handle.result())
    assert server.received == [] and server.attempts == 0  # the address was refused
    fallen = [e for e in result.log if e.action == "delivered on a fallback channel"]
    assert fallen and all(
        e.detail["channel"] == "letter" and e.detail["refused"] == ["email"] for e in fallen
    )
    letters = sorted((tmp_path / "letters").glob("*.txt"))
    assert len(letters) == len(fallen) and letters[0].read_text("utf-8").startswith("1 High St\nLondon")


def test_a_staff_message_goes_to_whom_it_names(tmp_path: Path) -> None:
    work = activities(tmp_path)
    reminder = OutboundMessage(
        key="C-1:20:0",
        to="staff",
        template="handoff",
        locale="en",
        channels=["email", "letter"],
        context={"case": {"level": "supervisor"}},
        rule="callbacks.remind_owner_before",
        recipient="staff:dan",
    )
    assert work.addressed(reminder) == [("email", ["Dan Ode <dan@bank.example>"])]  # no letter to staff
    unknown = reminder.model_copy(update={"recipient": "staff:zoe"})
    assert work.addressed(unknown) == [("email", ["zoe@staff.ombuds.localhost"])]
    queue = reminder.model_copy(update={"recipient": "queue:complaints"})
    assert work.addressed(queue) == [
        ("email", ["Complaints team <complaints@bank.example>", "Dan Ode <dan@bank.example>"])
    ]
    before = reminder.model_copy(update={"recipient": None})  # decided before the change: the level
    assert work.addressed(before)[0][1][0] == "Supervisors <supervisors@bank.example>"


async def test_status_says_a_message_is_delayed_while_the_mail_server_is_down(tmp_path: Path) -> None:
    import asyncio

    from ombuds.engine.intake import Intake
    from ombuds.engine.temporal import build_worker, delayed_messages

    with smtp_server(fail_first=1000) as (server, port):
        settings = Settings(
            home=tmp_path,
            policies=POLICIES,
            task_queue="down",
            channels={"email": {"host": "127.0.0.1", "port": port, "security": "none"}},
        )
        async with time_skipping() as env, build_worker(env.client, settings):
            intake = Intake(settings, shipped_policies())
            await intake.submit(env.client, make_complaint(id="D-1"), search_attributes=False, simulated=True)
            handle = env.client.get_workflow_handle("D-1")
            delayed: list[dict[str, Any]] = []
            for _ in range(100):
                delayed = await delayed_messages(handle)
                if delayed:
                    break
                await asyncio.sleep(0.2)
            server.fail_first = 0  # the server is back: the retries go through
            for _ in range(100):
                if len(server.received) >= 2 and not await delayed_messages(handle):
                    break
                await asyncio.sleep(0.2)
    assert delayed and delayed[0]["attempt"] >= 2 and "451" in delayed[0]["last_error"], delayed
    assert len(server.received) == len(set(server.message_ids())) >= 2


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_with_a_login(tmp_path: Path, security: str) -> None:
    with smtp_server(tls=security, folder=tmp_path, login=("complaints", "s3cret")) as (server, port):  # type: ignore[arg-type]
        work = activities(tmp_path)
        settings = EmailSettings(
            host="127.0.0.1",
            port=port,
            security=security,  # type: ignore[arg-type]
            username="complaints",
            password="s3cret",  # type: ignore[arg-type]
            ca_file=tmp_path / "cert.pem",
        )
        work.plugins["email"] = Email(settings)  # type: ignore[assignment]
        receipt = await work.deliver(financial().sha256, acknowledgement())
        assert receipt.status == "sent" and len(server.received) == 1
        assert server.received[0]["Subject"] == "We have received your complaint C-1"


class RateLimited:
    """A plugin whose provider asks to wait a while, then takes the message."""

    name = "limited"
    channels = ("email",)
    Settings = EmailSettings

    def __init__(self) -> None:
        self.calls = 0

    def describe(self, context: DeliveryContext) -> str:
        return "rate limited"

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt:
        self.calls += 1
        if self.calls == 1:
            raise RetryLater("429 Too Many Requests", dt.timedelta(seconds=7))
        return Receipt(key=message.key, channel="email", status="sent", reference="ok")


async def test_a_plugin_sets_the_wait_before_the_next_attempt(tmp_path: Path) -> None:
    work = activities(tmp_path)
    work.plugins = {"limited": RateLimited()}  # type: ignore[dict-item]
    with pytest.raises(ApplicationError) as raised:
        await work.deliver(financial().sha256, acknowledgement())
    assert raised.value.next_retry_delay == dt.timedelta(seconds=7) and raised.value.type == "RetryLater"
    assert (await work.deliver(financial().sha256, acknowledgement())).status == "sent"


def test_a_misspelt_setting_is_named_with_the_right_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "settings.toml").write_text('[channels.email]\nhots = "smtp.bank.example"\n', "utf-8")
    monkeypatch.setenv("OMBUDS_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unknown setting hots (did you mean host?)" in result.output
