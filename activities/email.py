"""Email: SMTP when a server is configured, else a Maildir in the home that any mail client opens.

Every message of one complaint is one thread: its ``Message-ID`` is a keyed hash of the
idempotency key (a resent message carries the same id, and nobody can guess another
message's id), and ``In-Reply-To`` and ``References`` name the complaint's thread id.
``Reply-To`` carries an unguessable reply token of the complaint, for replies to come back
in.  The body is the template's text as written; an HTML part is the same text read as
Markdown (CommonMark, raw HTML off, so nothing a customer wrote becomes markup).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import ClassVar, Literal

import aiosmtplib
from markdown_it import MarkdownIt
from pydantic import BaseModel, Field, SecretStr

from .outbox import write_once
from .plugin import DeliveryContext, PermanentFailure, Receipt, RenderedMessage


def _one_line(text: str) -> str:
    """A header value on one line: intake already cleans what customers write; this holds
    for any other source too (no header can be added through a name or a subject)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})


class EmailSettings(BaseModel):
    """``[channels.email]`` in the settings file (``OMBUDS_CHANNELS__EMAIL__HOST`` and so on)."""

    host: str | None = Field(None, description="SMTP server; without one, mail goes to the Maildir.")
    port: int | None = Field(
        None, description="Default: 465 with security = tls, 587 with starttls, else 25."
    )
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field("Complaints <complaints@ombuds.localhost>", description="From: address.")
    domain: str = Field("ombuds.localhost", description="Right-hand side of Message-IDs and reply addresses.")
    reply_to: str | None = Field(
        None,
        description="Reply address with {token} for the complaint's reply token, e.g. replies+{token}@example.org",
    )
    bounce_to: str | None = Field(
        None,
        description="Envelope sender with {token} for the message's bounce token, e.g. bounces+{token}@example.org: "
        "a bounce sent there marks the message undelivered (ombuds receive takes it).",
    )
    ca_file: Path | None = Field(
        None, description="Certificates to trust for the server (a private CA); default the system's."
    )
    maildir: Path | None = Field(None, description="Maildir for the embedded default; default <home>/mail.")
    timeout: float = 30.0


class Email:
    """The built-in email channel."""

    name: ClassVar[str] = "email"
    channels: ClassVar[tuple[str, ...]] = ("email",)
    Settings: ClassVar[type[BaseModel]] = EmailSettings

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def describe(self, context: DeliveryContext) -> str:
        s = self.settings
        if s.host:
            return f"SMTP {s.host}:{self._port()} ({s.security})"
        return f"Maildir {self.maildir(context)}"

    def maildir(self, context: DeliveryContext) -> Path:
        return self.settings.maildir or context.home / "mail"

    def _port(self) -> int:
        s = self.settings
        return s.port or {"tls": 465, "starttls": 587, "none": 25}[s.security]

    def _id(self, context: DeliveryContext, kind: str, value: str) -> str:
        digest = hmac.new(context.secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:40]
        return f"<{digest}@{self.settings.domain}>"

    def reply_token(self, context: DeliveryContext, complaint_id: str) -> str:
        return hmac.new(context.secret, f"reply:{complaint_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def bounce_token(self, context: DeliveryContext, key: str) -> str:
        """The token of one message's bounce address: only we can make it for a key."""
        return hmac.new(context.secret, f"bounce:{key}".encode(), hashlib.sha256).hexdigest()[:32]

    def envelope_sender(self, message: RenderedMessage, context: DeliveryContext) -> str | None:
        """Where the mail servers return the message if they cannot deliver it (VERP)."""
        if not self.settings.bounce_to:
            return None
        return self.settings.bounce_to.format(token=self.bounce_token(context, message.key))

    def compose(self, message: RenderedMessage, context: DeliveryContext) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = ", ".join(_one_line(r) for r in message.recipients or [message.recipient])
        mail["Subject"] = _one_line(message.subject)
        mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = self._id(context, "message", message.key)
        thread = self._id(context, "thread", message.complaint_id)
        mail["In-Reply-To"] = thread
        mail["References"] = thread
        if self.settings.reply_to and message.to == "customer":
            mail["Reply-To"] = self.settings.reply_to.format(
                token=self.reply_token(context, message.complaint_id)
            )
        mail["X-Ombuds-Complaint"] = message.complaint_id
        mail["X-Ombuds-Key"] = message.key
        mail["X-Ombuds-Template"] = f"{message.template}.{message.locale} {message.template_sha256[:12]}"
        mail["X-Ombuds-Rule"] = message.rule
        mail.set_content(message.body)
        mail.add_alternative(_MARKDOWN.render(message.body), subtype="html")
        return mail

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt:
        mail = self.compose(message, context)
        bounces = self.envelope_sender(message, context)
        if self.settings.host:
            await self._smtp(mail, bounces)
            reference = str(mail["Message-ID"])
        else:
            if bounces:  # what a receiving server would add from the envelope
                mail["Return-Path"] = f"<{bounces}>"
            reference = await asyncio.to_thread(self._deliver_to_maildir, mail, message.key, context)
        return Receipt(key=message.key, channel=message.channel, status="sent", reference=reference)

    async def _smtp(self, mail: EmailMessage, bounces: str | None) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                mail,
                sender=bounces,
                hostname=s.host,
                port=self._port(),
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
                cert_bundle=str(s.ca_file) if s.ca_file else None,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(
                    f"the mail server refused {', '.join(r.recipient for r in exc.recipients)}: {exc.recipients[0].message}"
                ) from None
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in (521, 530, 535):
                raise PermanentFailure(f"the mail server answered {exc.code}: {exc.message}") from None
            raise

    def _deliver_to_maildir(self, mail: EmailMessage, key: str, context: DeliveryContext) -> str:
        """One file per idempotency key in ``new/`` (a resend finds it), written via ``tmp/``."""
        root = self.maildir(context)
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        name = hmac.new(context.secret, f"file:{key}".encode(), hashlib.sha256).hexdigest()[:32]
        target = root / "new" / f"{name}.{socket.gethostname().replace('/', '_')}"
        if target.exists() or any((root / "cur").glob(f"{name}.*")):
            return str(mail["Message-ID"])
        write_once(target, mail.as_bytes(), root / "tmp")  # False: another attempt wrote it first
        return str(mail["Message-ID"])
