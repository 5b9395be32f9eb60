"""The activity plugin API: what a channel plugin implements and receives.

A plugin is a class registered under the ``ombuds.activities`` entry-point group (the
built-in channels register the same way third-party ones do) with:

* ``name``: the plugin's name, and its settings section (``[channels.<name>]``);
* ``channels``: the channel names it serves (a policy routes messages to these);
* ``Settings``: a pydantic model of its settings, filled from that section;
* ``__init__(self, settings)`` and ``async send(self, message, context) -> Receipt``.

``send`` gets the message rendered and addressed (:class:`RenderedMessage`) and a
:class:`DeliveryContext`.  A failure that will pass (a server down) is raised as any
exception: the engine retries it with backoff.  A failure that will not (an address the
provider refuses) is :class:`PermanentFailure`: the engine does not retry it and goes on to
the policy's next channel for that message.  :class:`RetryLater` sets the wait before the
next attempt (a provider's rate limit); otherwise Temporal's backoff applies (1 s, doubling,
at most 10 minutes apart).  The engine keeps the delivery ledger: a
plugin is not asked to send a key twice, except after a crash between its acceptance and
the ledger's write, which ``RenderedMessage.key`` lets it detect (an email Message-ID, a
provider's idempotency header).  See docs/plugins.md.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

ENTRY_POINT_GROUP = "ombuds.activities"


class OutboundMessage(BaseModel):
    """A message the workflow asks to send; ``key`` is its idempotency key."""

    model_config = ConfigDict(extra="ignore")

    key: str
    to: Literal["customer", "staff"]
    template: str
    locale: str
    channels: list[str]
    context: dict[str, Any]
    rule: str
    #: Whom a staff message is for: ``level:<level>`` or ``staff:<id>`` (the directory says how
    #: they are reached); None in messages decided before this was said, for the case's level.
    recipient: str | None = None
    #: Messages to the same customer combined into this one, in the order they were decided
    #: (``notifications.combine_within``): each is rendered from its own template and follows.
    also: list[OutboundMessage] = Field(default_factory=list)


class RenderedMessage(BaseModel):
    """A message ready for a channel: rendered text, recipient and provenance."""

    key: str
    to: Literal["customer", "staff"]
    channel: str
    recipient: str = Field(description="The first address (an email address, a phone number, a file).")
    recipients: list[str] = Field(
        default_factory=list, description="Every address, for a message to several staff members."
    )
    subject: str
    body: str
    template: str
    template_sha256: str
    locale: str
    policy_sha256: str
    complaint_id: str
    rule: str


class Receipt(BaseModel):
    key: str
    channel: str
    status: Literal["sent", "already_sent", "undeliverable"]
    reference: str = Field(description="Where the channel put it (file, message id).")
    refused: list[str] = Field(
        default_factory=list, description="Earlier channels of the message that refused it for good."
    )
    text_sha256: str | None = Field(
        None,
        description="sha256 of the rendered text (subject, a blank line, body; UTF-8), set by the engine "
        "for the audit; None when nothing was rendered, or for a receipt the ledger kept from before.",
    )


class PermanentFailure(Exception):
    """A message this channel will never deliver (an address refused): not retried."""


class RetryLater(Exception):
    """A failure that will pass, with the wait the provider asks for (a rate limit's
    ``Retry-After``): the engine tries again after ``after`` instead of its own backoff."""

    def __init__(self, message: str, after: dt.timedelta) -> None:
        super().__init__(message)
        self.after = after


@dataclass(frozen=True)
class DeliveryContext:
    """What a plugin may use beside its settings."""

    #: The worker's home folder (``OMBUDS_HOME``): a place for files of the embedded defaults.
    home: Path
    #: A secret for keyed hashes (message ids, reply tokens), the same on every worker of the home.
    secret: bytes


class ChannelPlugin(Protocol):
    """A delivery channel."""

    name: ClassVar[str]
    channels: ClassVar[tuple[str, ...]]
    Settings: ClassVar[type[BaseModel]]

    def describe(self, context: DeliveryContext) -> str: ...

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt: ...


def discover() -> dict[str, type[Any]]:
    """Plugin classes by name from the ``ombuds.activities`` entry points."""
    found: dict[str, type[Any]] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[entry.name] = entry.load()
    return found
