"""The activity plugin API: what a channel plugin implements and receives.

A plugin is a class with a ``name``, a pydantic ``Settings`` model and one
async ``send`` method, registered under the ``ombuds.activities`` entry-point
group — the built-in channels register the same way third-party ones do.
"""

from __future__ import annotations

import importlib.metadata
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


class RenderedMessage(BaseModel):
    """A message ready for a channel: rendered text, recipient and provenance."""

    key: str
    to: Literal["customer", "staff"]
    channel: str
    recipient: str
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


class ChannelPlugin(Protocol):
    """A delivery channel."""

    name: ClassVar[str]
    channels: ClassVar[tuple[str, ...]]

    async def send(self, message: RenderedMessage) -> Receipt: ...


def discover() -> dict[str, type[Any]]:
    """Plugin classes by name from the ``ombuds.activities`` entry points."""
    found: dict[str, type[Any]] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[entry.name] = entry.load()
    return found
