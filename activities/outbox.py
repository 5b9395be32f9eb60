"""The outbox: one JSON file per message in a folder, for channels without a provider here.

Real storage, not a stand-in: the file name is the idempotency key, so a retried send finds
the file and does not write again.  The name encodes the key injectively (``INJ:1`` and
``INJ_1`` are two files): a letter, digit, ``.`` or ``-`` stands for itself, any other
character is ``_`` and its UTF-8 bytes in hex.  A file written under the earlier, lossy
naming (``_`` for any other character) still counts for its own key, which it holds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from .plugin import DeliveryContext, Receipt, RenderedMessage


def file_stem(key: str) -> str:
    """An injective, portable file name for an idempotency key."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "_" + c.encode().hex() for c in key)


def write_once(target: Path, data: bytes, scratch: Path | None = None) -> bool:
    """Write ``target`` whole, unless it exists: through a temporary file in ``scratch`` (by
    default its folder) hard-linked to its name, which fails if another attempt won the race.
    True when this call wrote it."""
    fd, tmp = tempfile.mkstemp(dir=scratch or target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def _legacy_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in key) + ".json"


class OutboxSettings(BaseModel):
    """``[channels.outbox]``."""

    folder: Path | None = Field(None, description="Where the files go; default <home>/outbox.")


class Outbox:
    """Writes each message to ``<folder>/<key>.json``, at most once per key.

    Serves the channels without a provider here (messenger, phone call tasks) and, when a
    route names it, any other (a route of ``sms`` to ``outbox`` keeps SMS in files)."""

    name: ClassVar[str] = "outbox"
    channels: ClassVar[tuple[str, ...]] = ("messenger", "phone")
    Settings: ClassVar[type[BaseModel]] = OutboxSettings

    def __init__(self, folder: str | Path | OutboxSettings | None = None) -> None:
        self.folder = Path(folder) if isinstance(folder, str | Path) else None
        if isinstance(folder, OutboxSettings) and folder.folder is not None:
            self.folder = folder.folder

    def where(self, context: DeliveryContext | None) -> Path:
        if self.folder is not None:
            return self.folder
        assert context is not None, "an outbox without a folder needs the worker's home"
        return context.home / "outbox"

    def describe(self, context: DeliveryContext) -> str:
        return f"files in {self.where(context)}"

    def path(self, key: str, context: DeliveryContext | None = None) -> Path:
        return self.where(context) / f"{file_stem(key)}.json"

    def _sent_before(self, key: str, folder: Path) -> Path | None:
        target = folder / f"{file_stem(key)}.json"
        if target.exists():
            return target
        legacy = folder / _legacy_name(key)
        try:
            if legacy.exists() and json.loads(legacy.read_text("utf-8")).get("key") == key:
                return legacy
        except (OSError, ValueError):
            pass
        return None

    async def send(self, message: RenderedMessage, context: DeliveryContext | None = None) -> Receipt:
        folder = self.where(context)
        target = folder / f"{file_stem(message.key)}.json"
        before = self._sent_before(message.key, folder)
        if before is not None:
            return Receipt(
                key=message.key, channel=message.channel, status="already_sent", reference=str(before)
            )
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(message.model_dump(), ensure_ascii=False, indent=2)
        status = "sent" if write_once(target, text.encode()) else "already_sent"
        return Receipt(key=message.key, channel=message.channel, status=status, reference=str(target))
