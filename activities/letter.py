"""Letters: a print-ready text file per letter, in a folder the post room watches.

The file starts with the postal address as the envelope window shows it, then the subject
and the text.  Its name is the idempotency key (encoded as the outbox does), so a letter is
written once however often its send is tried.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from .outbox import file_stem, write_once
from .plugin import DeliveryContext, Receipt, RenderedMessage


class LetterSettings(BaseModel):
    """``[channels.letter]``."""

    folder: Path | None = Field(None, description="Where letters go to be printed; default <home>/letters.")


class Letters:
    """The built-in letter channel."""

    name: ClassVar[str] = "letter"
    channels: ClassVar[tuple[str, ...]] = ("letter",)
    Settings: ClassVar[type[BaseModel]] = LetterSettings

    def __init__(self, settings: LetterSettings) -> None:
        self.settings = settings

    def folder(self, context: DeliveryContext) -> Path:
        return self.settings.folder or context.home / "letters"

    def describe(self, context: DeliveryContext) -> str:
        return f"print-ready files in {self.folder(context)}"

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt:
        folder = self.folder(context)
        target = folder / f"{file_stem(message.key)}.txt"
        if target.exists():
            return Receipt(key=message.key, channel="letter", status="already_sent", reference=str(target))
        folder.mkdir(parents=True, exist_ok=True)
        text = f"{message.recipient}\n\n\n{message.subject}\n\n{message.body}"
        status = "sent" if write_once(target, text.encode()) else "already_sent"
        return Receipt(key=message.key, channel="letter", status=status, reference=str(target))
