"""The engine's activities: delivering messages through the channel plugins and extending a
case calendar (a customer's ledger is reached by :mod:`ombuds.engine.customers`).

These are the effects the interpreter core asks for (``ombuds.workflows.core.driver``);
the channels themselves are plugins (``ombuds.activities``).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ombuds.activities.deliveries import Ledger
from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import (
    ChannelPlugin,
    DeliveryContext,
    OutboundMessage,
    PermanentFailure,
    Receipt,
    RenderedMessage,
    RetryLater,
)
from ombuds.workflows import names

from .policy.compile import extended
from .policy.hygiene import cleaned
from .policy.messages import localise
from .policy.model import CONTACT_FOR_CHANNEL
from .policy.snapshot import CompiledPolicy
from .policy.store import Store, StoreError
from .policy.templates import MissingValue, TooCostly, render
from .settings import Directory
from .web.links import Links

log = structlog.get_logger("ombuds.delivery")


#: The domain of the addresses a level without directory entries is written to (the Maildir shows them).
STAFF_DOMAIN = "staff.ombuds.localhost"


_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\d[\d ().-]{6,}\d")


def redacted(error: str) -> str:
    """An error as the worker's log keeps it: no email address or phone number of a customer
    (a channel's refusal may quote the address it refused)."""

    def number(found: re.Match[str]) -> str:  # a phone number has 8 digits or more; "550 5.1.1" stays
        return "<number>" if sum(c.isdigit() for c in found[0]) >= 8 else found[0]

    return _NUMBER.sub(number, _ADDRESS.sub("<address>", error))[:300]


def printable(value: Any) -> Any:
    """A template's values with their texts cleaned as intake cleans a complaint's free text
    (Unicode NFC, no control character but the line break, no bidirectional override): a
    summary or a reason an event carried reaches no reader with an escape in it."""
    return cleaned(value, lambda loc: True)


def customer_addresses(message: OutboundMessage) -> list[tuple[str, str]]:
    """The message's channels in order, each with the customer's contact for it."""
    customer = message.context.get("customer", {}) or {}
    contacts = customer.get("contacts", {}) or {}
    found = []
    for channel in message.channels:
        value = contacts.get(CONTACT_FOR_CHANNEL.get(channel, channel))
        if value:
            name = customer.get("name")
            address = (
                email.utils.formataddr((name, str(value))) if channel == "email" and name else str(value)
            )
            found.append((channel, address))
    return found


def recipient(message: OutboundMessage) -> tuple[str, str] | None:
    """The first of the message's channels the customer can be reached on, or None."""
    if message.to == "staff":
        level = message.context.get("case", {}).get("level", "staff")
        return "email", f"{level}@{STAFF_DOMAIN}"
    found = customer_addresses(message)
    return found[0] if found else None


def compose(policy: CompiledPolicy, message: OutboundMessage, links: Links | None = None) -> tuple[str, str]:
    """A message's subject and body as its reader gets them: each template rendered in its
    locale, with the values worded in it (:func:`~.policy.messages.localise`).  Messages
    combined into one follow the first, each from its own template, under the first's subject.

    Raises what :func:`~.policy.templates.render` raises.  Blocking: run it off an event loop."""
    rendered = [_render_one(policy, part, links) for part in (message, *message.also)]
    if len(rendered) == 1:  # one message, as its template writes it
        return rendered[0]
    return rendered[0][0], "\n\n---\n\n".join(body.strip("\n") for _, body in rendered) + "\n"


def _render_one(policy: CompiledPolicy, message: OutboundMessage, links: Links | None) -> tuple[str, str]:
    locale, template = policy.template(message.template, message.locale)
    values = printable(message.context)  # whatever an event carried in: no escape, no NUL
    if links is not None:
        values = with_links(values, message.to, links)
    return render(template.subject, template.body, localise(values, policy.policy, locale, to=message.to))


def with_links(values: dict[str, Any], to: str, links: Links) -> dict[str, Any]:
    """The message's values with its links: the customer's signed ``status_url`` (and
    ``survey_url`` when the message has one), or for staff the case's page in the console."""
    complaint_id = str(values.get("complaint", {}).get("id", ""))
    if not complaint_id:
        return values
    if to == "staff":
        return {**values, "status_url": links.console_url(complaint_id)}
    linked = {**values, "status_url": links.url(complaint_id, "status")}
    if "survey_url" in values:
        linked["survey_url"] = links.url(complaint_id, "survey")
    return linked


class Activities:
    """Activities bound to a store, the channel plugins a worker has, and the delivery ledger."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        plugins: dict[str, ChannelPlugin] | None = None,
        *,
        ledger: Ledger | None = None,
        directory: Directory | None = None,
        context: DeliveryContext | None = None,
        routes: dict[str, str] | None = None,
        links: Callable[[], Links] | None = None,
    ) -> None:
        self.store = store
        self.links = links
        self.outbox = outbox
        self.plugins = plugins or {}
        self.ledger = ledger
        self.directory = directory or Directory()
        self.context = context or DeliveryContext(home=outbox.where(None).parent, secret=b"ombuds")
        self.routes = routes or {}

    def channel_for(self, channel: str) -> ChannelPlugin:
        """The plugin a route names for the channel, else the first that serves it, else the outbox."""
        named = self.plugins.get(self.routes.get(channel, ""))
        if named is not None:
            return named
        for plugin in self.plugins.values():
            if channel in plugin.channels:
                return plugin
        return self.outbox  # nothing is lost: validation warned that no plugin serves it

    def addressed(self, message: OutboundMessage) -> list[tuple[str, list[str]]]:
        """Where the message can go, in the policy's order: (channel, addresses) pairs.

        A staff message goes by email to the people and team address the directory has for
        the case's level (or, with no directory entry, to ``<level>@staff.ombuds.localhost``);
        on a channel of a plugin's own (``chat``), to ``level:<level>``, for the plugin to
        route.  Customer channels (letter, SMS) do not reach staff."""
        if message.to == "staff":
            level = str(message.context.get("case", {}).get("level", "staff"))
            whom = message.recipient or f"level:{level}"
            emails = self.staff_addresses(whom)
            routes: list[tuple[str, list[str]]] = []
            for channel in message.channels:
                if channel == "email":
                    routes.append(("email", emails))
                elif channel not in CONTACT_FOR_CHANNEL:
                    routes.append((channel, [whom]))
            return routes or [("email", emails)]
        return [(channel, [address]) for channel, address in customer_addresses(message)]

    def staff_addresses(self, whom: str) -> list[str]:
        """The email addresses of ``level:<level>``, ``queue:<queue>`` or ``staff:<id>``; one the
        directory does not have is written to ``<name>@staff.ombuds.localhost``."""
        kind, _, name = whom.partition(":")
        if kind == "staff":
            person = self.directory.person(name)
            if person is not None and person.address:
                return [person.address]
            return [f"{name}@{STAFF_DOMAIN}"]
        if kind == "queue":
            return self.directory.queue_addresses(name) or [f"{name}@{STAFF_DOMAIN}"]
        return self.directory.level_addresses(name) or [f"{name}@{STAFF_DOMAIN}"]

    @activity.defn(name=names.DELIVER)
    async def deliver(self, policy_sha: str, message: OutboundMessage) -> Receipt:
        """Render a message from the pinned policy's template and send it once.

        The first of its channels the recipient can be reached on is tried; a channel that
        refuses it for good (:class:`PermanentFailure`) gives way to the next, and when none is
        left the message is undeliverable, with every reason.  A failure that may pass is
        raised, and Temporal tries the activity again with backoff."""
        try:
            policy = self.store.policy(policy_sha)
        except StoreError as exc:
            raise ApplicationError(str(exc), type="StoreError") from None
        said = log.bind(
            key=message.key,
            complaint=str(message.context.get("complaint", {}).get("id", "")),
            rule=message.rule,
            template=message.template,
            policy_sha=policy_sha[:12],
        )
        if self.ledger is not None:
            known = await self.ledger.get(message.key)
            if known is not None:
                said.info("message already sent", channel=known.channel, status="already_sent")
                return known.model_copy(update={"status": "already_sent"})
        routes = self.addressed(message)
        if not routes:
            # not a failure to retry: the complaint records it as undelivered, with the reason
            reason = f"the customer has no contact for {', '.join(message.channels)}"
            said.warning("message undeliverable", reason=reason)
            return Receipt(key=message.key, channel="none", status="undeliverable", reference=reason)
        locale, template = policy.template(message.template, message.locale)
        try:
            # off the event loop: a slow template holds no other activity or workflow back
            # the links' keys as they are now: a rotation takes effect without a restart
            links = self.links() if self.links is not None else None
            subject, body = await asyncio.to_thread(compose, policy, message, links)
        except (MissingValue, TooCostly) as exc:
            # the same text would fail again: recorded as undelivered, never sent with a blank
            what = (
                "prints a value this message lacks" if isinstance(exc, MissingValue) else "cannot be rendered"
            )
            reason = f'template "{message.template}" ({locale}) {what}: {exc}'
            said.warning("message undeliverable", reason=reason)
            return Receipt(key=message.key, channel=routes[0][0], status="undeliverable", reference=reason)
        text_sha256 = hashlib.sha256(f"{subject}\n\n{body}".encode()).hexdigest()
        refused: list[str] = []
        for channel, addresses in routes:
            plugin = self.channel_for(channel)
            rendered = RenderedMessage(
                key=message.key,
                to=message.to,
                channel=channel,
                recipient=addresses[0],
                recipients=addresses,
                subject=subject,
                body=body,
                template=message.template,
                template_sha256=template.sha256,
                locale=locale,
                policy_sha256=policy_sha,
                complaint_id=str(message.context.get("complaint", {}).get("id", "")),
                rule=message.rule,
            )
            try:
                receipt = await plugin.send(rendered, self.context)
            except PermanentFailure as exc:
                said.warning("message refused by channel", channel=channel, error=redacted(str(exc)))
                refused.append(f"{channel}: {exc}")
                continue
            except RetryLater as exc:  # the plugin says when to try again
                said.warning(
                    "message not sent", channel=channel, error=redacted(str(exc)), retry_after=str(exc.after)
                )
                raise ApplicationError(str(exc), type="RetryLater", next_retry_delay=exc.after) from None
            except Exception as exc:  # retried by Temporal; each failed attempt is worth a line
                said.warning("message not sent", channel=channel, error=redacted(str(exc)))
                raise
            kept: dict[str, Any] = {"text_sha256": text_sha256}  # what the channel got, for the audit
            if refused:
                kept["refused"] = [r.split(":")[0] for r in refused]
            receipt = receipt.model_copy(update=kept)
            if self.ledger is not None:
                await self.ledger.record(receipt)
            event = (
                "message delivered"
                if receipt.status == "sent"
                else f"message {receipt.status.replace('_', ' ')}"
            )
            said.info(
                event,
                to=message.to,
                channel=channel,
                locale=locale,
                status=receipt.status,
                refused=refused or None,
                text_sha256=text_sha256,
            )
            return receipt
        reason = "every channel refused it: " + "; ".join(refused)
        said.warning("message undeliverable", reason=reason)
        return Receipt(
            key=message.key,
            channel=routes[-1][0],
            status="undeliverable",
            reference=reason,
            text_sha256=text_sha256,
        )

    @activity.defn(name=names.EXTEND_CALENDAR)
    async def extend_calendar(self, policy_sha: str, calendar_sha: str, now: int) -> str:
        """A longer case calendar for a case that outlives its horizon; returns its sha."""
        longer = extended(self.store.policy(policy_sha), self.store.instance(calendar_sha), now)
        return self.store.put_instance(longer)

    def all(self) -> list[Callable[..., Any]]:
        return [self.deliver, self.extend_calendar]
