"""The delivery ledger every worker shares: SQLite in the home, PostgreSQL by URL at scale."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ombuds.activities.deliveries import DeliveryLedger, PostgresLedger, open_ledger
from ombuds.activities.plugin import Receipt

from .postgres_server import Postgres, postgres_server
from .smtp_server import smtp_server
from .test_email import acknowledgement, activities, financial


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


def receipt(key: str, reference: str) -> Receipt:
    return Receipt(key=key, channel="email", status="sent", reference=reference)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_what_one_worker_sent_another_finds(kind: str, tmp_path: Path, postgres: Postgres) -> None:
    where = postgres.url if kind == "postgresql" else str(tmp_path / "deliveries.sqlite")
    one, other = open_ledger(where), open_ledger(where)
    assert isinstance(one, PostgresLedger if kind == "postgresql" else DeliveryLedger)
    key = f"{kind}-C-1:7:0"
    assert await other.get(key) is None
    await one.record(receipt(key, "<first@x>"))
    await other.record(receipt(key, "<second@x>"))  # the first word stays
    found = await other.get(key)
    assert found is not None and found.reference == "<first@x>"
    # a failure is not recorded: the message may be tried again
    await one.record(Receipt(key=f"{kind}-C-1:8:0", channel="email", status="undeliverable", reference="no"))
    assert await other.get(f"{kind}-C-1:8:0") is None


async def test_workers_on_two_machines_send_a_message_once(tmp_path: Path, postgres: Postgres) -> None:
    """Two workers with their own homes (two machines) share the PostgreSQL ledger."""
    with smtp_server() as (server, port):
        first = activities(tmp_path / "one", port)
        second = activities(tmp_path / "two", port)
        first.ledger = second.ledger = None
        first.ledger, second.ledger = PostgresLedger(postgres.url), PostgresLedger(postgres.url)
        sent = await first.deliver(financial().sha256, acknowledgement("M2-1:7:0", "M2-1"))
        again = await second.deliver(financial().sha256, acknowledgement("M2-1:7:0", "M2-1"))
    assert (sent.status, again.status) == ("sent", "already_sent")
    assert len(server.received) == 1


async def test_the_ledger_reconnects_after_the_database_restarts(postgres: Postgres) -> None:
    ledger = PostgresLedger(postgres.url)
    await ledger.record(receipt("R-1:1:0", "<r1@x>"))
    postgres.stop()
    postgres.start()
    found = await ledger.get("R-1:1:0")  # the broken connection is opened again
    assert found is not None and found.reference == "<r1@x>"
