"""Customers' replies coming back in: an SMTP endpoint that makes a reply to a message of a
complaint that complaint's ``customer_message`` event.

The email channel writes ``Reply-To: replies+<token>@<domain>`` (``[channels.email]
reply_to``), the token a keyed hash of the complaint id that nobody can guess or make from
another complaint's.  A reply is matched by that token among the running complaints (never
by a header a sender could set), and taken only from the complaint's customer (the address
the complaint gives).  Its text (the quoted message left out, bounded) becomes the event,
which resumes the clocks paused while waiting on the customer.

Nothing is lost: a message whose token matches no running complaint, whose sender is not
the customer, or that the case refuses is kept, whole, in the staff Maildir
(``<home>/inbound``) with the reason in ``X-Ombuds-Kept-Because``.  When Temporal cannot be
reached the endpoint answers ``451``, and the sending relay tries again later.

``ombuds dev`` starts it on ``127.0.0.1:<inbound_port>``; in production ``ombuds receive``
runs it behind the team's mail relay, which forwards the reply addresses to it.
"""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import email.utils
import functools
import hashlib
import hmac
import mailbox
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from ombuds.activities.email import Email, EmailSettings
from ombuds.activities.plugin import DeliveryContext
from ombuds.workflows import names
from ombuds.workflows.core import Actor, Answer, Event, Rejected, bounds

from .delivery_status import report
from .intake import IntakeError, original_input

log = structlog.get_logger("ombuds.inbound")

#: The largest message taken, in bytes (a reply with attachments).
MAX_MESSAGE = 10_000_000
#: The longest text taken from a reply, in characters (the rest is in the staff Maildir).
MAX_TEXT = 20_000
#: Attachments kept with the case from one reply, and the largest, in bytes.
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT = 5_000_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


def attachments_of(home: Path, complaint_id: str) -> list[dict[str, Any]]:
    """The files customers sent with their replies to a complaint: name, size, when."""
    folder = home / "attachments" / complaint_id
    if not folder.is_dir():
        return []
    return [
        {"name": f.name.split("-", 1)[1], "bytes": f.stat().st_size, "received": _iso(f.stat().st_mtime)}
        for f in sorted(folder.iterdir())
        if f.is_file() and "-" in f.name
    ]


def _iso(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


#: A line that starts the quoted message in a reply ("On Mon, 1 Mar 2027, X wrote:").
_QUOTE_HEADER = re.compile(r"^(On .{3,200} wrote:|Am .{3,200} schrieb .{0,200}:|Le .{3,200} a écrit\s?:)\s*$")


def reply_pattern(settings: EmailSettings) -> re.Pattern[str] | None:
    """The reply addresses the email channel writes, with the token as the one group."""
    return _token_pattern(settings.reply_to)


def bounce_pattern(settings: EmailSettings) -> re.Pattern[str] | None:
    """The bounce addresses (envelope senders) the email channel writes, the token the group."""
    return _token_pattern(settings.bounce_to)


def _token_pattern(address: str | None) -> re.Pattern[str] | None:
    if not address or "{token}" not in address:
        return None
    before, _, after = address.partition("{token}")
    return re.compile(f"^{re.escape(before)}([0-9a-f]{{32}}){re.escape(after)}$", re.IGNORECASE)


def returned_key(message: EmailMessage) -> str | None:
    """The key of our message a bounce returns (``X-Ombuds-Key`` of the returned message or
    its headers, RFC 3464), or None."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            returned = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(returned, email.message.Message) and returned.get("X-Ombuds-Key"):
                return str(returned["X-Ombuds-Key"]).strip()
        elif kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
            found = email.parser.HeaderParser(policy=email.policy.default).parsestr(text).get("X-Ombuds-Key")
            if found:
                return str(found).strip()
    return None


def bounce_reason(message: EmailMessage) -> tuple[str, str]:
    """What a delivery status notification says: its action (failed, delayed, ...) and why."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, email.message.Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            if action:
                said = block.get("Diagnostic-Code") or block.get("Status") or action
                return action, " ".join(str(said).split())[:300]
    return "failed", " ".join(str(message.get("Subject", "returned mail")).split())[:300]


def reply_text(message: EmailMessage) -> str:
    """What the customer wrote: the plain text (or the HTML's text), without the quoted message."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):
        return ""
    if part.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    kept = []
    for line in str(text).splitlines():
        if _QUOTE_HEADER.match(line.strip()) or line.strip() == "-----Original Message-----":
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()[:MAX_TEXT]


class Replies:
    """The SMTP handler (aiosmtpd): each message delivered to a reply address."""

    def __init__(self, client: Client, email_settings: EmailSettings, context: DeliveryContext) -> None:
        self.client = client
        self.email = Email(email_settings)
        self.context = context
        self.pattern = reply_pattern(email_settings)
        self.bounces = bounce_pattern(email_settings)
        self.kept = context.home / "inbound"
        #: Tokens found before, and their complaints (a token names one complaint for good).
        self.known: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        try:
            why = await self.take(message, [str(r) for r in envelope.rcpt_tos])
        except (RPCError, TemporalError, OSError) as exc:
            log.warning("reply not taken now", error=type(exc).__name__)
            return "451 4.3.0 the complaints service cannot take it now; try again later"
        if why is not None:
            await asyncio.to_thread(self.keep, raw, why)
            log.info("reply kept for staff", reason=why)
        return "250 OK"

    async def take(self, message: EmailMessage, recipients: list[str]) -> str | None:
        """Send the reply to its complaint; None when taken, else why it is kept for staff."""
        bounced = [
            m[1].lower() for r in recipients if self.bounces and (m := self.bounces.match(r.strip("<>")))
        ]
        if bounced:
            return await self.bounce(message, bounced[0])
        tokens = [
            m[1].lower() for r in recipients if self.pattern and (m := self.pattern.match(r.strip("<>")))
        ]
        if not tokens:
            return "sent to no reply address of a complaint"
        complaint_id = await self.complaint_of(tokens[0])
        if complaint_id is None:
            return "the reply address matches no running complaint"
        try:
            started = await original_input(self.client, complaint_id)
        except IntakeError:
            return "the reply address matches no running complaint"
        expected = (started.complaint.customer.contacts.email or "").strip().lower()
        sender = email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()
        if not expected or sender != expected:
            return f"the sender is not {complaint_id}'s customer"
        text = reply_text(message)
        saved = await asyncio.to_thread(self.save_attachments, message, complaint_id)
        if saved:
            text = (text + "\n\n" if text else "") + "Attachments: " + ", ".join(saved)
        if not text:
            return "the reply has no text"
        try:
            event = Event.model_validate(
                {"kind": "customer_message", "actor": Actor(kind="customer").model_dump(), "text": text}
            )
            bounds.check_event(event)
        except (ValueError, Rejected) as exc:
            return f"the reply cannot be taken: {str(exc).splitlines()[0][:200]}"
        handle = self.client.get_workflow_handle(complaint_id)
        try:
            await handle.execute_update(names.ACT_UPDATE, event, result_type=Answer)
        except WorkflowUpdateFailedError as exc:
            return f"{complaint_id} refused it: {getattr(exc.cause, 'message', None) or exc.cause}"
        log.info("reply taken", complaint=complaint_id)
        return None

    async def bounce(self, message: EmailMessage, token: str) -> str | None:
        """A mail server returned one of our messages: the case marks it bounced and sends it on
        the policy's next channel.  Taken only when the returned message's key is the one the
        bounce address was made for; a delay notice is no bounce (kept for staff)."""
        key = returned_key(message)
        if key is None:
            return "a bounce that returns no message of ours"
        if not hmac.compare_digest(self.email.bounce_token(self.context, key), token):
            return "a bounce whose address was not made for the message it returns"
        action, reason = bounce_reason(message)
        if action != "failed":
            return f"a delivery status notification that says {action}, not failed"
        if not await report(self.client, key, "bounced", reason):
            return "the bounced message's complaint is not running"
        log.info("bounce taken", key=key)
        return None

    async def complaint_of(self, token: str) -> str | None:
        """The running complaint whose reply token this is."""
        if token in self.known:
            return self.known[token]
        query = f"WorkflowType = '{names.COMPLAINT_WORKFLOW}' AND ExecutionStatus = 'Running'"
        async for execution in self.client.list_workflows(query):
            mine = self.email.reply_token(self.context, execution.id)
            if mine == token:
                self.known[token] = execution.id
                return execution.id
        return None

    def save_attachments(self, message: EmailMessage, complaint_id: str) -> list[str]:
        """The reply's attachments, kept with the case (each at most MAX_ATTACHMENT bytes, at
        most MAX_ATTACHMENTS a reply); what each became, as the reply's text names it."""
        folder = self.context.home / "attachments" / complaint_id
        said = []
        for i, part in enumerate(message.iter_attachments()):
            name = (
                _UNSAFE.sub("_", part.get_filename() or f"attachment-{i + 1}")[:100] or f"attachment-{i + 1}"
            )
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if i >= MAX_ATTACHMENTS:
                said.append(f"{name} (not kept: at most {MAX_ATTACHMENTS} a reply)")
            elif len(data) > MAX_ATTACHMENT:
                said.append(f"{name} (not kept: larger than {MAX_ATTACHMENT // 1_000_000} MB)")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256(data).hexdigest()[:16]
                (folder / f"{digest}-{name}").write_bytes(data)
                said.append(f"{name} ({len(data):,} bytes)")
        return said

    def keep(self, raw: bytes, why: str) -> None:
        """The message, whole, in the staff Maildir with why it was not taken."""
        box = mailbox.Maildir(self.kept, create=True)
        kept = email.message_from_bytes(raw, policy=email.policy.compat32)
        kept["X-Ombuds-Kept-Because"] = why
        box.add(kept)


async def serve(replies: Replies, host: str, port: int) -> asyncio.base_events.Server:
    """The SMTP endpoint on this event loop (the Temporal client's)."""
    loop = asyncio.get_running_loop()
    factory = functools.partial(SMTP, replies, data_size_limit=MAX_MESSAGE, hostname="ombuds", ident="ombuds")
    return await loop.create_server(factory, host, port)
