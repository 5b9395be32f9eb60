"""The engine's activities: delivering messages through the channel plugins and extending a
case calendar (a customer's ledger is reached by :mod:`ombuds.engine.customers`).

These are the effects the interpreter core asks for (``ombuds.workflows.core.driver``);
the channels themselves are plugins (``ombuds.activities``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ombuds.activities.outbox import Outbox
from ombuds.activities.plugin import ChannelPlugin, OutboundMessage, Receipt, RenderedMessage
from ombuds.workflows import names

from .policy.compile import extended
from .policy.model import CONTACT_FOR_CHANNEL
from .policy.store import Store, StoreError
from .policy.templates import MissingValue, TooCostly, render

log = structlog.get_logger("ombuds.delivery")


def recipient(message: OutboundMessage) -> tuple[str, str] | None:
    """The first of the message's channels the customer can be reached on, or None."""
    if message.to == "staff":
        level = message.context.get("case", {}).get("level", "staff")
        return "staff", f"queue:{level}"
    contacts = message.context.get("customer", {}).get("contacts", {}) or {}
    for channel in message.channels:
        value = contacts.get(CONTACT_FOR_CHANNEL.get(channel, channel))
        if value:
            return channel, str(value)
    return None


class Activities:
    """Activities bound to a store and the channels a worker has."""

    def __init__(self, store: Store, outbox: Outbox, plugins: dict[str, ChannelPlugin] | None = None) -> None:
        self.store = store
        self.outbox = outbox
        self.plugins = plugins or {}

    def channel_for(self, channel: str) -> ChannelPlugin:
        for plugin in self.plugins.values():
            if channel in plugin.channels:
                return plugin
        return self.outbox

    @activity.defn(name=names.DELIVER)
    async def deliver(self, policy_sha: str, message: OutboundMessage) -> Receipt:
        """Render a message from the pinned policy's template and send it once."""
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
        found = recipient(message)
        if found is None:
            # not a failure to retry: the complaint records it as undelivered, with the reason
            reason = f"the customer has no contact for {', '.join(message.channels)}"
            said.warning("message undeliverable", reason=reason)
            return Receipt(key=message.key, channel="none", status="undeliverable", reference=reason)
        channel, address = found
        plugin = self.channel_for(channel)
        locale, template = policy.template(message.template, message.locale)
        try:
            # off the event loop: a slow template holds no other activity or workflow back
            subject, body = await asyncio.to_thread(render, template.subject, template.body, message.context)
        except MissingValue as exc:
            # the same text would fail again: recorded as undelivered, never sent with a blank
            reason = f'template "{message.template}" ({locale}) prints a value this message lacks: {exc}'
            said.warning("message undeliverable", reason=reason)
            return Receipt(key=message.key, channel=channel, status="undeliverable", reference=reason)
        except TooCostly as exc:
            reason = f'template "{message.template}" ({locale}) cannot be rendered: {exc}'
            said.warning("message undeliverable", reason=reason)
            return Receipt(key=message.key, channel=channel, status="undeliverable", reference=reason)
        rendered = RenderedMessage(
            key=message.key,
            to=message.to,
            channel=channel,
            recipient=address,
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
            receipt = await plugin.send(rendered)
        except Exception as exc:  # retried by Temporal; each failed attempt is worth a line
            said.warning("message not sent", channel=channel, error=str(exc)[:300])
            raise
        event = (
            "message delivered" if receipt.status == "sent" else f"message {receipt.status.replace('_', ' ')}"
        )
        said.info(event, to=message.to, channel=channel, locale=locale, status=receipt.status)
        return receipt

    @activity.defn(name=names.EXTEND_CALENDAR)
    async def extend_calendar(self, policy_sha: str, calendar_sha: str, now: int) -> str:
        """A longer case calendar for a case that outlives its horizon; returns its sha."""
        longer = extended(self.store.policy(policy_sha), self.store.instance(calendar_sha), now)
        return self.store.put_instance(longer)

    def all(self) -> list[Callable[..., Any]]:
        return [self.deliver, self.extend_calendar]
