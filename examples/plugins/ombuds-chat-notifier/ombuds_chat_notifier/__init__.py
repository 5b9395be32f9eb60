"""An ombuds channel plugin: posts messages to a chat tool's incoming webhook.

A policy routes a staff notification to it with ``channels: [chat]``; the settings file
says where to post:

    [channels.chat]
    url = "https://chat.example.org/hooks/complaints"

The post is JSON ``{"text": ..., "key": ...}`` with the idempotency key also in an
``Idempotency-Key`` header, so a chat tool that honours it drops a retried post.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
from typing import ClassVar

from pydantic import BaseModel, Field

from ombuds.activities.plugin import DeliveryContext, PermanentFailure, Receipt, RenderedMessage, RetryLater


class ChatSettings(BaseModel):
    """``[channels.chat]`` in the settings file."""

    url: str | None = Field(None, description="The chat tool's incoming-webhook URL.")
    timeout: float = 10.0


class ChatNotifier:
    name: ClassVar[str] = "chat"
    channels: ClassVar[tuple[str, ...]] = ("chat",)
    Settings: ClassVar[type[BaseModel]] = ChatSettings

    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings

    def describe(self, context: DeliveryContext) -> str:
        return (
            f"posts to {self.settings.url}"
            if self.settings.url
            else "not configured: set [channels.chat] url"
        )

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt:
        if not self.settings.url:
            raise PermanentFailure("no [channels.chat] url is set")
        text = f"*{message.subject}*\n{message.body}" if message.subject else message.body
        body = json.dumps({"text": text, "key": message.key, "to": message.recipient}).encode()
        request = urllib.request.Request(
            self.settings.url,
            data=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": message.key},
            method="POST",
        )
        status = await asyncio.to_thread(self._post, request)
        return Receipt(key=message.key, channel="chat", status="sent", reference=f"HTTP {status}")

    def _post(self, request: urllib.request.Request) -> int:
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code == 429:  # the chat tool says how long to wait
                wait = exc.headers.get("Retry-After", "30")
                seconds = int(wait) if wait.isdigit() else 30
                raise RetryLater("the chat tool asks to wait", dt.timedelta(seconds=seconds)) from None
            if 400 <= exc.code < 500 and exc.code != 408:
                raise PermanentFailure(f"the chat tool refused the post: HTTP {exc.code}") from None
            raise  # a server error: tried again with backoff
