"""Customers' replies coming back in: a reply to the acknowledgement, sent by SMTP to the
receiving endpoint, resumes the clock paused while waiting on the customer; a wrong token, a
stranger's reply and a message to no reply address land in the staff Maildir."""

from __future__ import annotations

import asyncio
import email.message
import mailbox
import urllib.parse
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from ombuds.activities.email import EmailSettings
from ombuds.engine import plugins
from ombuds.engine.delivery_status import twilio_signature
from ombuds.engine.inbound import Replies, reply_text, serve

from .smtp_server import free_port
from .test_api import complaint
from .web_support import Web, web

pytestmark = pytest.mark.integration
REPLY_TO = "replies+{token}@ombuds.localhost"


async def case_view(site: Web, complaint_id: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
        answer = await http.get(f"/complaints/{complaint_id}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view


def reply(to: str, sender: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "Re: We have received your complaint"
    mail.set_content(
        f"{text}\n\nOn Mon, 1 Mar 2027 at 10:00, Complaints wrote:\n> Which account was charged?\n"
    )
    return mail


def kept(home: Path) -> list[str]:
    folder = home / "inbound"
    return (
        [str(m["X-Ombuds-Kept-Because"]) for m in mailbox.Maildir(folder, create=False)]
        if folder.exists()
        else []
    )


def test_the_customer_text_leaves_the_quoted_message_out() -> None:
    mail = reply("x@y", "a@b", "It was my current account, ending 1234.")
    assert reply_text(mail) == "It was my current account, ending 1234."


async def test_a_reply_resumes_the_case_and_what_cannot_be_matched_is_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with web(home, worker_env={"OMBUDS_CHANNELS__EMAIL__REPLY_TO": REPLY_TO}) as site:
        staff = site.token("bob", "supervisor")
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            made = await http.post(
                "/complaints", json=complaint(), headers={"Authorization": f"Bearer {staff}"}
            )
            assert made.status_code == 201, made.text
            complaint_id = made.json()["id"]
            ack = await site.mail("received")
            address = str(ack["Reply-To"])
            assert address.startswith("replies+") and complaint_id not in address
            asked = await http.post(
                f"/complaints/{complaint_id}/events/request_information",
                json={"question": "Which account was charged?"},
                headers={"Authorization": f"Bearer {staff}"},
            )
            assert asked.status_code == 200, asked.text
        paused = [
            c for c in (await case_view(site, complaint_id, staff))["clocks"] if c["status"] == "paused"
        ]
        assert paused, "no clock paused while waiting on the customer"

        settings = site.settings
        replies = Replies(site.client, EmailSettings(reply_to=REPLY_TO), plugins.delivery_context(settings))
        port = free_port()
        server = await serve(replies, "127.0.0.1", port)
        try:
            customer = str(ack["To"])
            sent = [
                (address, customer, "It was my current account, ending 1234."),
                (address.replace(address[8:12], "0000"), customer, "a token of no complaint"),
                (address, "mallory@example.net", "I am not the customer"),
                ("complaints@ombuds.localhost", customer, "to no reply address"),
            ]
            for n, (to, sender, text) in enumerate(sent):
                mail = reply(to, sender, text)
                if n == 0:  # the customer sends their statement, and a name meant to escape
                    mail.add_attachment(
                        b"%PDF-1.4 statement", maintype="application", subtype="pdf", filename="statement.pdf"
                    )
                    mail.add_attachment(b"x", maintype="text", subtype="plain", filename="../../etc/passwd")
                await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
        finally:
            server.close()
            await server.wait_closed()

        view = await case_view(site, complaint_id, staff)
        resumed = [c for c in view["clocks"] if c["id"] in {p["id"] for p in paused}]
        assert all(c["status"] == "running" for c in resumed), resumed
        (taken,) = [e for e in view["log"] if e["action"] == "customer message recorded"]
        assert view["texts"][taken["detail"]["text_sha256"]] == (
            "It was my current account, ending 1234.\n\n"
            "Attachments: statement.pdf (18 bytes), .._.._etc_passwd (1 bytes)"
        )
        assert sorted((a["name"], a["bytes"]) for a in view["attachments"]) == [
            (".._.._etc_passwd", 1),
            ("statement.pdf", 18),
        ]
        assert all(f.parent.name == complaint_id for f in (home / "attachments").rglob("*") if f.is_file())
        assert taken["actor"] == "customer"
        for _ in range(20):
            if len(kept(home)) == 3:
                break
            await asyncio.sleep(0.1)
        assert sorted(kept(home)) == sorted(
            [
                "the reply address matches no running complaint",
                f"the sender is not {complaint_id}'s customer",
                "sent to no reply address of a complaint",
            ]
        )


BOUNCE_TO = "bounces+{token}@ombuds.localhost"
CALLBACK = "https://complaints.example.com/deliveries/sms/twilio"


def dsn(to: str, returned: Message, action: str = "failed") -> EmailMessage:
    """A mail server's delivery status notification (RFC 3464) returning ``returned``'s headers."""
    mail = EmailMessage()
    mail["From"] = "MAILER-DAEMON@mx.example.org"
    mail["To"] = to
    mail["Subject"] = "Undelivered Mail Returned to Sender"
    mail.set_content("This is the mail system at host mx.example.org. I'm sorry...")
    report = email.message.Message()
    report.set_type("message/delivery-status")
    per_message = email.message.Message()
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_recipient = email.message.Message()
    per_recipient["Final-Recipient"] = "rfc822; ana@example.org"
    per_recipient["Action"] = action
    per_recipient["Status"] = "5.1.1"
    per_recipient["Diagnostic-Code"] = "smtp; 550 5.1.1 <ana@example.org>: Recipient address rejected"
    report.set_payload([per_message, per_recipient])
    headers = "".join(f"{name}: {value}\n" for name, value in returned.items())
    mail.make_mixed()
    mail.attach(report)
    returned_part = EmailMessage()
    returned_part.set_content(headers, subtype="rfc822-headers")
    mail.attach(returned_part)
    mail.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    mail.set_boundary("bounce-boundary")
    return mail


async def test_a_bounce_and_a_providers_receipts_reach_the_case(tmp_path: Path) -> None:
    home = tmp_path / "home"
    sms = {"provider": "twilio", "account_sid": "AC1", "auth_token": "tw-token", "status_callback": CALLBACK}
    sms_http = {**sms, "callback_secret": "cb-secret-0123456789"}
    env = {"OMBUDS_CHANNELS__EMAIL__REPLY_TO": REPLY_TO, "OMBUDS_CHANNELS__EMAIL__BOUNCE_TO": BOUNCE_TO}
    async with web(home, worker_env=env, channels={"sms": sms_http}) as site:
        staff = site.token("bob", "supervisor")
        bearer = {"Authorization": f"Bearer {staff}"}
        contacts = {"email": "ana@example.org", "postal_address": "1 High Street, Leeds LS1 1AA"}
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            made = await http.post(
                "/complaints", json=complaint(customer={"contacts": contacts}), headers=bearer
            )
            assert made.status_code == 201, made.text
            complaint_id = made.json()["id"]
            ack = await site.mail("acknowledgement")
            received = await site.mail("received")
            bounce_address = str(ack["Return-Path"]).strip("<>")
            assert bounce_address.startswith("bounces+") and complaint_id not in bounce_address

            # the provider's receipts: a bad signature is refused, a good one is taken
            key = str(received["X-Ombuds-Key"])
            fields = {"MessageSid": "SM1", "MessageStatus": "delivered"}
            where = f"/deliveries/sms/twilio?key={urllib.parse.quote(key)}"
            forged = await http.post(where, data=fields, headers={"X-Twilio-Signature": "AAAA"})
            assert forged.status_code == 403, forged.text
            signature = twilio_signature(
                "tw-token", f"{CALLBACK}?{urllib.parse.urlencode({'key': key})}", fields
            )
            taken = await http.post(where, data=fields, headers={"X-Twilio-Signature": signature})
            assert taken.status_code == 204, taken.text
            generic = f"/deliveries/sms/http?key={urllib.parse.quote(key)}"
            body = {"status": "failed", "reason": "handset unreachable"}
            wrong = await http.post(generic, json=body, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403
            for junk in ("../etc", "C-1", key + "\n"):
                refused = await http.post(
                    f"/deliveries/sms/http?key={urllib.parse.quote(junk)}",
                    json=body,
                    headers={"Authorization": "Bearer cb-secret-0123456789"},
                )
                assert refused.status_code == 422, (junk, refused.text)
            told = await http.post(
                generic, json=body, headers={"Authorization": "Bearer cb-secret-0123456789"}
            )
            assert told.status_code == 204, told.text

        replies = Replies(
            site.client,
            EmailSettings(reply_to=REPLY_TO, bounce_to=BOUNCE_TO),
            plugins.delivery_context(site.settings),
        )
        port = free_port()
        server = await serve(replies, "127.0.0.1", port)
        try:
            other = bounce_address.replace(bounce_address[8:14], "000000")  # a token made for no key
            for to, action in ((other, "failed"), (bounce_address, "delayed"), (bounce_address, "failed")):
                await aiosmtplib.send(
                    dsn(to, ack, action), sender="", recipients=[to], hostname="127.0.0.1", port=port
                )
        finally:
            server.close()
            await server.wait_closed()

        for _ in range(100):
            view = await case_view(site, complaint_id, staff)
            if any(e["action"] == "message bounced" for e in view["log"]):
                break
            await asyncio.sleep(0.1)
        (bounced,) = [e for e in view["log"] if e["action"] == "message bounced"]
        (lost,) = [e for e in view["log"] if e["action"] == "message not delivered"]
        assert (
            lost["trigger"] == f"delivery:{key.split(':', 1)[1]}"
            and lost["detail"]["reason"] == "handset unreachable"
        )
        assert bounced["detail"]["then"] == ["letter"]
        assert "550 5.1.1" in bounced["detail"]["reason"]
        assert sorted(kept(home)) == [
            "a bounce whose address was not made for the message it returns",
            "a delivery status notification that says delayed, not failed",
        ]
