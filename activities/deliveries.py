"""The delivery ledger: what was sent under which idempotency key, shared by every worker.

Checked before a send and written after it (``design.md``, invariant 4): a retried activity,
or another worker taking it over, finds the key and does not send again.  The one window
left is a crash between the channel's acceptance and the ledger write; a channel that can
make its own write idempotent (the outbox folder, the Maildir) closes it too.

The embedded default is a SQLite file in the home (WAL, so workers on one machine share it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

from .plugin import Receipt

_SCHEMA = """
create table if not exists deliveries (
    key text primary key,
    channel text not null,
    status text not null,
    reference text not null,
    at text not null
)
"""


class DeliveryLedger:
    """Receipts by idempotency key in a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("pragma journal_mode=wal")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def _get(self, key: str) -> Receipt | None:
        with self._connect() as db:
            row = db.execute(
                "select channel, status, reference from deliveries where key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        channel, status, reference = row
        return Receipt(key=key, channel=channel, status=status, reference=reference)

    def _record(self, receipt: Receipt) -> None:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            # the first word stays: a second sender of the same key does not overwrite it
            db.execute(
                "insert or ignore into deliveries (key, channel, status, reference, at) values (?, ?, ?, ?, ?)",
                (receipt.key, receipt.channel, receipt.status, receipt.reference, at),
            )

    async def get(self, key: str) -> Receipt | None:
        """The receipt of a message sent under ``key``, or None."""
        return await asyncio.to_thread(self._get, key)

    async def record(self, receipt: Receipt) -> None:
        """Write that a message was sent (only a sent one: a failure may be tried again)."""
        if receipt.status == "sent":
            await asyncio.to_thread(self._record, receipt)
