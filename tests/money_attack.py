"""Parallel grants for one customer from several processes, as an attacker would try them.

Each round has a new customer of the financial-services policy (per-complaint cap 50,000,
per-customer cap 60,000 over 12 months).  Every attacking process waits at a barrier,
then submits one complaint of that customer — each process names the customer
differently: id and email; the email alone, with spaces and capitals; the id in lower case
with a national phone number; that phone number in E.164 with an account number, received
four months ago.  No identifier is in every complaint: the customer's ledgers, made in
parallel, merge as the complaints link them.  Once every complaint is registered with the
ledger, each process proposes two grants of 30,000 for its complaint at once, at the
management level (limit 50,000), so each round asks for 240,000 with four processes.  :func:`outcome` then reads
what each complaint granted.  Used by ``tests/test_money_concurrency.py`` and
``bench/bench_money.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client

from ombuds.engine import temporal
from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.policy.model import Complaint
from ombuds.engine.settings import Settings
from ombuds.workflows.core import Actor, Answer, Event, LogEntry, StatusView

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")
GRANT = Decimal(30_000)
PER_COMPLAINT_CAP = Decimal(50_000)
PER_CUSTOMER_CAP = Decimal(60_000)


def customer(round_: int, rank: int) -> dict[str, Any]:
    """The customer of a round, as the attacking process ``rank`` names them."""
    email = f"ana.{round_}@example.org"
    spellings: list[dict[str, Any]] = [
        {"id": f"CUST-{round_}", "contacts": {"email": email}},
        {"contacts": {"email": f"  {email.title()} "}},
        {"id": f" cust-{round_}", "contacts": {"phone": f"020 7946 {round_:04d}"}, "region": "GB-ENG"},
        {"account_number": f"{round_:08d}", "contacts": {"phone": f"+44 20 7946 {round_:04d}"}},
    ]
    return {"name": "Ana Novak", "locale": "en", **spellings[rank % len(spellings)]}


def complaint(round_: int, rank: int, now: dt.datetime) -> Complaint:
    received = now - dt.timedelta(days=120 if rank % 4 == 3 else 0)
    return Complaint.model_validate(
        {
            "id": f"ATTACK-{round_}-{rank}",
            "received_at": received.isoformat(),
            "channel": "email",
            "customer": customer(round_, rank),
            "product": "current_account",
            "description": "I was charged an overdraft fee although my account was in credit.",
        }
    )


async def submit(client: Client, intake: Intake, queue: str, case: Complaint) -> None:
    case, _policy, workflow_input = intake.prepare(case, search_attributes=False)
    handle = await client.start_workflow("Complaint", workflow_input, id=case.id or "", task_queue=queue)
    for _ in range(400):  # intake runs in the workflow's first task
        view: StatusView = await handle.query("status", result_type=StatusView)
        if view.stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case.id} did not start")


async def registered(client: Client, complaint_id: str) -> None:
    """Wait until the customer's ledger has counted the complaint (and merged what it links)."""
    handle = client.get_workflow_handle(complaint_id)
    for _ in range(600):
        log: list[LogEntry] = await handle.query("log", result_type=list[LogEntry])
        if any(e.action == "earlier complaints counted" for e in log):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{complaint_id} was never registered with the customer's ledger")


async def propose_twice(client: Client, complaint_id: str, rank: int) -> list[Answer]:
    """Two grants of 30,000 for one complaint at once, by two managers."""
    handle = client.get_workflow_handle(complaint_id)

    async def propose(n: int) -> Answer:
        manager = Actor(kind="staff", id=f"manager-{rank}-{n}", level="management")
        event = Event(kind="propose_compensation", actor=manager, remedy="redress", amount=GRANT)
        answer: Answer = await handle.execute_update("act", event, result_type=Answer)  # type: ignore[arg-type]
        return answer

    return list(await asyncio.gather(propose(1), propose(2)))


async def attack(
    settings: Settings, rank: int, rounds: range, barrier: multiprocessing.synchronize.Barrier
) -> None:
    client = await temporal.connect(settings)  # sealed payloads, with the home's keys
    policies, report = load_policies(settings.policies)
    assert report.ok, report.render_text()
    intake = Intake(settings, policies)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for round_ in rounds:
        case = complaint(round_, rank, now)
        barrier.wait(timeout=120)  # every process submits at once
        await submit(client, intake, settings.task_queue, case)
        await registered(client, case.id or "")
        barrier.wait(timeout=120)  # and every process proposes at once
        await propose_twice(client, case.id or "", rank)


def attacker(
    settings: Settings, rank: int, rounds: range, barrier: multiprocessing.synchronize.Barrier
) -> None:
    """One attacking process.

    It exits without interpreter finalisation, as ``ombuds`` does (``engine/cli.py`` main): the
    Temporal core's threads can abort CPython's finalisation after the work is done."""
    try:
        asyncio.run(attack(settings, rank, rounds, barrier))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@dataclass
class Outcome:
    """What the complaints of the rounds granted, once their ledger had answered."""

    attempted: int = 0
    granted: int = 0
    refused: int = 0
    #: Per round: the customer's total granted over all their complaints.
    customer_totals: dict[int, Decimal] = field(default_factory=dict)
    #: Per complaint: its total granted.
    complaint_totals: dict[str, Decimal] = field(default_factory=dict)


async def outcome(client: Client, rounds: range, processes: int) -> Outcome:
    """Read every complaint's proposals, waiting until none is left for the ledger to answer."""
    result = Outcome()
    for round_ in rounds:
        total = Decimal(0)
        for rank in range(processes):
            complaint_id = f"ATTACK-{round_}-{rank}"
            handle = client.get_workflow_handle(complaint_id)
            for _ in range(600):
                view: StatusView = await handle.query("status", result_type=StatusView)
                if not any(p.status == "pending_cap_check" for p in view.proposals):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"{complaint_id}: the ledger never answered")
            granted = [p for p in view.proposals if p.status == "accepted"]
            result.attempted += len(view.proposals)
            result.granted += len(granted)
            result.refused += len(view.proposals) - len(granted)
            mine = sum((p.amount for p in granted), Decimal(0))
            result.complaint_totals[complaint_id] = mine
            total += mine
        result.customer_totals[round_] = total
    return result


def run_attack(settings: Settings, rounds: range, processes: int) -> None:
    """Start the attacking processes and wait for them (each with its own Temporal client)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    workers = [
        context.Process(target=attacker, args=(settings, rank, rounds, barrier)) for rank in range(processes)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=600)
    failed = [p.exitcode for p in workers if p.exitcode != 0]
    assert not failed, f"attacking processes failed: exit codes {failed}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(home: Path) -> Settings:
    return Settings(
        address=f"127.0.0.1:{free_port()}",
        home=home,
        policies=ROOT / "policies",
        ui_port=free_port(),
        task_queue="money",
    )


@contextmanager
def workers(settings: Settings, count: int, **more: str) -> Iterator[None]:
    """``ombuds worker`` processes sharing the home (and so the ledger key made there);
    ``more`` are more variables of their environment."""
    env = {
        **os.environ,
        "OMBUDS_ADDRESS": settings.address,
        "OMBUDS_HOME": str(settings.home),
        "OMBUDS_POLICIES": str(settings.policies),
        "OMBUDS_TASK_QUEUE": settings.task_queue,
        **more,
    }
    env.pop("OMBUDS_LEDGER_KEY", None)
    log = open(settings.home / "workers.log", "ab")  # noqa: SIM115 - closed below
    processes = [
        subprocess.Popen([OMBUDS, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


@asynccontextmanager
async def server_and_workers(home: Path, count: int = 2) -> AsyncIterator[tuple[Settings, Client]]:
    settings = settings_for(home)
    async with dev_server(settings, search_attributes=False) as client:
        with workers(settings, count):
            yield settings, client
