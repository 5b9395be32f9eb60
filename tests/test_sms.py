"""SMS: numbers to E.164, segments counted as networks count them, a Twilio-style provider and a
generic HTTP one played by a local server that records, checks, fails and refuses, and the
embedded JSONL file written once per key."""

from __future__ import annotations

import base64
import http.server
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ombuds.activities.deliveries import DeliveryLedger
from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import DeliveryContext, OutboundMessage, PermanentFailure, RenderedMessage
from ombuds.activities.sms import Sms, SmsSettings, e164, segments
from ombuds.engine.activities import Activities
from ombuds.engine.policy.store import Store

from .http_server import serving
from .workflow_support import shipped_policies

CONTEXT = DeliveryContext(home=Path("/nonexistent"), secret=b"s" * 32)


@dataclass
class Provider:
    """A local SMS provider: Twilio's path and form, or a JSON endpoint."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    seen_keys: set[str] = field(default_factory=set)


@contextmanager
def provider(fail_first: int = 0) -> Iterator[Provider]:
    state = Provider(fail_first=fail_first)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length).decode()
            kind = self.headers.get("Content-Type", "")
            body = json.loads(raw) if "json" in kind else dict(urllib.parse.parse_qsl(raw))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if state.fail_first > 0:
                state.fail_first -= 1
                return self.answer(503, {"message": "try again"})
            to = body.get("To") or body.get("to")
            if to == "+447700900999":  # a number the provider will never reach
                return self.answer(400, {"code": 21211, "message": "The 'To' number is not valid"})
            key = self.headers.get("I-Twilio-Idempotency-Token") or self.headers.get("Idempotency-Key") or ""
            if self.path.endswith("/Messages.json"):
                user, _, password = (
                    base64.b64decode(self.headers["Authorization"].split()[1]).decode().partition(":")
                )
                if (user, password) != ("AC123", "secret-token"):
                    return self.answer(401, {"message": "bad credentials"})
            state.seen_keys.add(key)
            return self.answer(201, {"sid": f"SM{len(state.requests)}", "id": f"m-{len(state.requests)}"})

        def answer(self, status: int, body: dict[str, Any]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        state.url = url
        yield state


def rendered(
    to: str = "07700 900123", body: str = "We will call you at 10:00.", key: str = "C-1:4:0"
) -> RenderedMessage:
    return RenderedMessage(
        key=key,
        to="customer",
        channel="sms",
        recipient=to,
        subject="Your callback",
        body=body,
        template="callback",
        template_sha256="0" * 64,
        locale="en",
        policy_sha256="0" * 64,
        complaint_id="C-1",
        rule="callbacks",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("€" * 80, ("GSM-7", 1)),  # an extension character counts twice
        ("€" * 81, ("GSM-7", 2)),
        ("Grüße aus Köln", ("GSM-7", 1)),  # ü and ö are in the GSM alphabet
        ("ç" * 70, ("UCS-2", 1)),  # but not ç in lower case
        ("ç" * 71, ("UCS-2", 2)),
        ("😀" * 35, ("UCS-2", 1)),  # two UTF-16 units each
        ("😀" * 36, ("UCS-2", 2)),
    ],
)
def test_segments_are_counted_as_networks_count_them(text: str, expected: tuple[str, int]) -> None:
    assert segments(text) == expected


def test_numbers_are_written_in_e164_or_refused_with_the_reason() -> None:
    assert e164("07700 900123", "GB") == "+447700900123"
    assert e164("+49 30 901820", None) == "+4930901820"
    for bad in ("12", "not a number", "+44 12", "+1 555"):
        with pytest.raises(PermanentFailure, match="phone number"):
            e164(bad, "GB")


async def test_the_embedded_default_writes_each_message_once(tmp_path: Path) -> None:
    sms = Sms(SmsSettings())
    context = DeliveryContext(home=tmp_path, secret=b"s" * 32)
    first = await sms.send(rendered(), context)
    again = await sms.send(rendered(), context)
    other = await sms.send(rendered(key="C-1:5:0", body="Grüße"), context)
    lines = [json.loads(line) for line in (tmp_path / "sms" / "messages.jsonl").read_text().splitlines()]
    assert (first.status, again.status, other.status) == ("sent", "already_sent", "sent")
    assert [line["key"] for line in lines] == ["C-1:4:0", "C-1:5:0"]
    assert lines[0]["to"] == "+447700900123" and lines[0]["segments"] == 1 and lines[0]["encoding"] == "GSM-7"
    with pytest.raises(PermanentFailure, match="segments"):
        await sms.send(rendered(key="C-1:6:0", body="x" * 1000), context)


async def test_a_twilio_style_provider_gets_the_form_the_credentials_and_the_idempotency_key() -> None:
    with provider() as remote:
        settings = SmsSettings(
            provider="twilio",
            account_sid="AC123",
            auth_token="secret-token",  # type: ignore[arg-type]
            base_url=remote.url,
            sender="+447700900000",
            status_callback="https://complaints.example.com/deliveries/sms/twilio",
        )
        receipt = await Sms(settings).send(rendered(), CONTEXT)
    (request,) = remote.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["body"] == {
        "To": "+447700900123",
        "From": "+447700900000",
        "Body": "We will call you at 10:00.",
        "StatusCallback": "https://complaints.example.com/deliveries/sms/twilio?key=C-1%3A4%3A0",
    }
    assert request["headers"]["I-Twilio-Idempotency-Token"] == "C-1:4:0"
    assert receipt.status == "sent" and receipt.reference == "SM1"


async def test_a_refused_number_is_permanent_and_a_failing_provider_is_tried_again() -> None:
    with provider(fail_first=1) as remote:
        sms = Sms(
            SmsSettings(provider="http", url=remote.url + "/send", headers={"Authorization": "Bearer t"})
        )
        with pytest.raises(RuntimeError, match="503"):
            await sms.send(rendered(), CONTEXT)  # Temporal tries the activity again
        receipt = await sms.send(rendered(), CONTEXT)
        with pytest.raises(PermanentFailure, match="not valid"):
            await sms.send(rendered(to="+447700900999", key="C-1:9:0"), CONTEXT)
    assert receipt.status == "sent" and receipt.reference == "m-2"
    sent = remote.requests[1]
    assert sent["body"] == {
        "to": "+447700900123",
        "from": "ombuds",
        "text": "We will call you at 10:00.",
        "reference": "C-1:4:0",
    }
    assert sent["headers"]["Authorization"] == "Bearer t" and sent["headers"]["Idempotency-Key"] == "C-1:4:0"


async def test_a_number_no_network_takes_falls_back_to_the_next_channel(tmp_path: Path) -> None:
    """Through the delivery activity: the SMS is refused for good, the letter goes."""
    policy = next(p for p in shipped_policies() if p.id == "retail")
    store = Store(tmp_path / "store")
    store.put_policy(policy)
    work = Activities(
        store,
        Outbox(tmp_path / "outbox"),
        {"sms": Sms(SmsSettings())},  # type: ignore[dict-item]
        ledger=DeliveryLedger(tmp_path / "deliveries.sqlite"),
        context=DeliveryContext(home=tmp_path, secret=b"s" * 32),
    )
    message = OutboundMessage(
        key="R-1:3:0",
        to="customer",
        template="callback",
        locale="en",
        channels=["sms", "letter"],
        context={
            "complaint": {"id": "R-1"},
            "customer": {"name": "Ana", "contacts": {"phone": "12", "postal_address": "1 High St"}},
            "callback": {
                "type": "instant",
                "at": "2027-03-01T10:00:00Z",
                "timezone": "Europe/Berlin",
                "end_of_day": False,
            },
        },
        rule="callbacks",
    )
    receipt = await work.deliver(policy.sha256, message)
    assert receipt.status == "sent" and receipt.channel == "letter"
    assert receipt.refused == ["sms"]  # the reason is in the worker's log


def test_plain_spaces_and_quotes_keep_a_text_in_gsm() -> None:
    from ombuds.activities.sms import plain

    said = "Your callback: Friday, 4 December 2026, 10:00\u202fAM \u2013 \u201cthanks\u201d\u2026"
    assert segments(said)[0] == "UCS-2"
    assert plain(said) == 'Your callback: Friday, 4 December 2026, 10:00 AM - "thanks"...'
    assert segments(plain(said)) == ("GSM-7", 1)


def test_validation_warns_at_a_template_sent_by_sms_first_that_is_too_long() -> None:
    import os
    import subprocess
    import sys

    from .workflow_support import ROOT

    ombuds = str(Path(sys.executable).parent / "ombuds")
    policy = str(ROOT / "policies" / "retail.yaml")
    shipped = subprocess.run([ombuds, "validate", policy], capture_output=True, text=True)
    assert shipped.returncode == 0 and "SMS segments" not in shipped.stdout
    strict = {**os.environ, "OMBUDS_CHANNELS__SMS__MAX_SEGMENTS": "1"}
    warned = subprocess.run([ombuds, "validate", policy], capture_output=True, text=True, env=strict)
    assert warned.returncode == 0, warned.stdout  # a warning: the message still goes, by email
    assert (
        'retail.yaml:342:36: warning: notifications.events.callback_scheduled.template: template "callback" (en) takes 2 GSM-7 SMS segments'
        in warned.stdout
    )


async def test_a_retail_customer_reached_by_phone_gets_an_sms_line(tmp_path: Path) -> None:
    """The embedded default end to end: a worker with the built-in plugins writes the callback
    offer to <home>/sms/messages.jsonl, the number in E.164, once."""
    import asyncio
    import datetime as dt

    import httpx

    from .test_api import complaint as api_complaint
    from .web_support import web

    now = dt.datetime.now(dt.UTC)
    # a timezone where it is midday now: outside the policy's quiet hours for SMS
    offset = (12 - now.hour + 12) % 24 - 12
    zone = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"
    async with web(tmp_path) as site:
        body = api_complaint()
        body.update(
            channel="phone",
            product="household",
            description="The electric kettle I ordered stopped working after one week.",
            customer={
                "name": "Emma Schulz",
                "contacts": {"phone": "+49 30 901820"},
                "locale": "en",
                "timezone": zone,
            },
        )
        body.pop("amount", None)
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            made = await http.post(
                "/complaints",
                json=body,
                headers={"Authorization": f"Bearer {site.token('sam', 'store-manager')}"},
            )
            assert made.status_code == 201, made.text
            assert made.json()["policy"] == "retail"
        file = site.settings.home / "sms" / "messages.jsonl"
        for _ in range(150):
            if file.exists() and file.read_text().strip():
                break
            await asyncio.sleep(0.2)
        lines = [json.loads(line) for line in file.read_text().splitlines()]
    assert lines, "no SMS written"
    assert {line["to"] for line in lines} == {"+4930901820"}
    assert len({line["key"] for line in lines}) == len(lines)
    assert all(line["segments"] <= 3 for line in lines)
