"""The embedded default channel: one file per message in an outbox folder.

Real storage, not a stand-in: the file name is the idempotency key, so a
retried send finds the file and does not write again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import ClassVar

from .plugin import Receipt, RenderedMessage


def _file_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in key) + ".json"


class Outbox:
    """Writes each message to ``<folder>/<key>.json``, at most once per key."""

    name: ClassVar[str] = "outbox"
    channels: ClassVar[tuple[str, ...]] = ("email", "sms", "letter", "phone", "messenger", "staff")

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / _file_name(key)

    async def send(self, message: RenderedMessage) -> Receipt:
        target = self.path(message.key)
        if target.exists():
            return Receipt(
                key=message.key, channel=message.channel, status="already_sent", reference=str(target)
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(message.model_dump(), handle, ensure_ascii=False, indent=2)
        try:
            # link() fails if another attempt won the race: the message exists once.
            os.link(tmp, target)
        except FileExistsError:
            return Receipt(
                key=message.key, channel=message.channel, status="already_sent", reference=str(target)
            )
        finally:
            os.unlink(tmp)
        return Receipt(key=message.key, channel=message.channel, status="sent", reference=str(target))
