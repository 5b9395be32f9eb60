"""The delivery ledger: what was sent under which idempotency key, shared by every worker.

Checked before a send and written after it (``design.md``, invariant 4): a retried activity,
or another worker taking it over, finds the key and does not send again.  The one window
left is a crash between the channel's acceptance and the ledger write; a channel that can
make its own write idempotent (the outbox folder, the Maildir) closes it too.

The embedded default is a SQLite file in the home (WAL, so workers on one machine share it);
at scale, a PostgreSQL database by URL (``OMBUDS_DELIVERIES=postgresql://...``), which workers
on every machine share.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any, Protocol

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


class Ledger(Protocol):
    """What the delivery activity asks of a ledger."""

    async def get(self, key: str) -> Receipt | None: ...

    async def record(self, receipt: Receipt) -> None: ...


def open_ledger(where: str | Path) -> Ledger:
    """The ledger at a ``postgresql://`` URL, or in a SQLite file at a path."""
    text = str(where)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(text)
    return DeliveryLedger(where)


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


class PostgresLedger:
    """Receipts by idempotency key in a PostgreSQL table, shared by workers on every machine.

    One connection per worker, opened on first use and again after it breaks; the table is
    made if it is missing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: Any = None
        self._lock = asyncio.Lock()

    async def _execute(self, sql: str, args: tuple[Any, ...]) -> Any:
        import psycopg

        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None or self._connection.closed:
                        self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                        await self._connection.execute(_SCHEMA)
                    cursor = await self._connection.execute(sql, args)
                    return await cursor.fetchone() if cursor.description else None
                except psycopg.OperationalError:
                    self._connection = None
                    if attempt == 2:
                        raise  # the activity is tried again by Temporal
        return None

    async def get(self, key: str) -> Receipt | None:
        row = await self._execute("select channel, status, reference from deliveries where key = %s", (key,))
        if row is None:
            return None
        channel, status, reference = row
        return Receipt(key=key, channel=channel, status=status, reference=reference)

    async def record(self, receipt: Receipt) -> None:
        if receipt.status != "sent":
            return
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        await self._execute(
            "insert into deliveries (key, channel, status, reference, at) values (%s, %s, %s, %s, %s)"
            " on conflict (key) do nothing",
            (receipt.key, receipt.channel, receipt.status, receipt.reference, at),
        )
