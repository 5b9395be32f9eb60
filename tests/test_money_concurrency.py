"""Caps under attack: parallel grants for one customer from several processes, on a real dev
server with two worker processes; one customer's ledgers by every identifier, merged."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from ombuds.engine import identity
from ombuds.engine.intake import Intake
from ombuds.engine.settings import Settings
from ombuds.workflows import names
from ombuds.workflows.core import Actor, Answer, Event, StatusView

from . import money_attack
from .workflow_support import make_complaint, shipped_policies

pytestmark = pytest.mark.integration
ROUNDS = 20
PROCESSES = 4


async def test_parallel_grants_from_several_processes_never_pass_either_cap(tmp_path: Path) -> None:
    """20 rounds; in each, four processes grant 30,000 twice each for one customer named four ways."""
    rounds = range(ROUNDS)
    async with money_attack.server_and_workers(tmp_path) as (settings, client):
        await asyncio.to_thread(money_attack.run_attack, settings, rounds, PROCESSES)
        outcome = await money_attack.outcome(client, rounds, PROCESSES)
    assert outcome.attempted == 2 * PROCESSES * ROUNDS
    over_complaint = {c: t for c, t in outcome.complaint_totals.items() if t > money_attack.PER_COMPLAINT_CAP}
    over_customer = {r: t for r, t in outcome.customer_totals.items() if t > money_attack.PER_CUSTOMER_CAP}
    assert not over_complaint, f"above the per-complaint cap: {over_complaint}"
    assert not over_customer, f"above the per-customer cap: {over_customer}"
    # the caps were reached, not merely refused wholesale: each customer got exactly two grants
    assert set(outcome.customer_totals.values()) == {money_attack.PER_CUSTOMER_CAP}


async def _case(
    client: Client, intake: Intake, settings: Settings, complaint_id: str, **customer: Any
) -> str:
    case = make_complaint(
        id=complaint_id,
        received_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        customer={"name": "Ana Novak", "locale": "en", **customer},
    )
    await money_attack.submit(client, intake, settings.task_queue, case)
    return complaint_id


async def _grant(client: Client, complaint_id: str, amount: int) -> StatusView:
    handle = client.get_workflow_handle(complaint_id)
    manager = Actor(kind="staff", id="dan", level="management")
    event = Event(kind="propose_compensation", actor=manager, remedy="redress", amount=Decimal(amount))
    await handle.execute_update("act", event, result_type=Answer)  # type: ignore[arg-type]
    for _ in range(400):
        view: StatusView = await handle.query("status", result_type=StatusView)
        if view.proposals and view.proposals[-1].status != "pending_cap_check":
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{complaint_id}: the ledger never answered")


async def _ledger_state(
    client: Client, ledger: str, complaints: int = 0, follow: bool = False
) -> dict[str, Any]:
    """The ledger's state once it counts ``complaints`` complaints: each registers itself with an
    activity of its own, retried with backoff, which may land after its compensation's check.
    With ``follow``, the state of the ledger it was merged into, if it was: which of two
    ledgers of one customer is kept depends on which complaint registered first."""
    for _ in range(600):
        state: dict[str, Any] = await client.get_workflow_handle(ledger).query(names.LEDGER_STATE_QUERY)
        if follow and state.get("forward_to"):
            ledger = state["forward_to"]
            continue
        if len(state.get("complaints", [])) >= complaints:
            return state
        await asyncio.sleep(0.1)
    return state


async def test_one_customer_by_id_email_and_capitals_has_one_ledger(tmp_path: Path) -> None:
    """Observed: by id, by email alone and by the email in capitals, three ledgers granted 90,000."""
    no_ids = {"id": None, "account_number": None}
    async with money_attack.server_and_workers(tmp_path, count=1) as (settings, client):
        intake = Intake(settings, shipped_policies())
        first = await _case(
            client, intake, settings, "ONE-1", id="CUST-9", contacts={"email": "ana@example.org"}
        )
        by_email = await _case(
            client, intake, settings, "ONE-2", **no_ids, contacts={"email": "ana@example.org"}
        )
        shouting = await _case(
            client, intake, settings, "ONE-3", **no_ids, contacts={"email": "  ANA@Example.ORG "}
        )
        views = [await _grant(client, cid, 30_000) for cid in (first, by_email, shouting)]
        key = identity.ledger_key(None, settings.home)
        ledger = names.ledger_id(identity.keys(key, {"id": "CUST-9"})[0])
        state = await _ledger_state(client, ledger, complaints=3, follow=True)
    assert [v.proposals[-1].status for v in views] == ["accepted", "accepted", "rejected"]
    assert "would reach 90000, above the cap of 60000" in views[2].proposals[-1].reason
    assert sorted(state["complaints"]) == ["ONE-1", "ONE-2", "ONE-3"]
    assert "ana" not in ledger and "example" not in ledger  # the ledger id names no email


async def test_two_ledgers_found_to_be_one_customer_merge_and_the_cap_sees_the_sum(tmp_path: Path) -> None:
    """By id (and phone) and by email alone: two customers, as far as anyone can tell.  A complaint
    naming both shows they are one; their ledgers merge and the cap counts both grants."""
    async with money_attack.server_and_workers(tmp_path, count=1) as (settings, client):
        intake = Intake(settings, shipped_policies())
        by_id = await _case(
            client,
            intake,
            settings,
            "TWO-1",
            id="CUST-7",
            account_number=None,
            contacts={"phone": "+44 20 7946 0777"},
        )
        by_email = await _case(
            client,
            intake,
            settings,
            "TWO-2",
            id=None,
            account_number=None,
            contacts={"email": "bo@example.org"},
        )
        first = await _grant(client, by_id, 40_000)
        second = await _grant(client, by_email, 15_000)
        both = await _case(
            client, intake, settings, "TWO-3", id="cust-7 ", contacts={"email": "BO@example.org"}
        )
        third = await _grant(client, both, 10_000)
        key = identity.ledger_key(None, settings.home)
        by_id_ledger = names.ledger_id(identity.keys(key, {"id": "CUST-7"})[0])
        by_email_ledger = names.ledger_id(identity.keys(key, {"email": "bo@example.org"})[0])
        kept, merged = sorted([by_id_ledger, by_email_ledger])
        kept_state = await _ledger_state(client, kept)
        merged_state = await _ledger_state(client, merged)
        # and later, the email alone finds the merged ledger
        later = await _case(
            client,
            intake,
            settings,
            "TWO-4",
            id=None,
            account_number=None,
            contacts={"email": "bo@example.org"},
        )
        fourth = await _grant(client, later, 6_000)
    assert first.proposals[-1].status == second.proposals[-1].status == "accepted"
    assert third.proposals[-1].status == "rejected"
    assert "would reach 65000, above the cap of 60000" in third.proposals[-1].reason
    assert merged_state["forward_to"] == kept
    assert sorted(kept_state["complaints"]) == ["TWO-1", "TWO-2", "TWO-3"]
    assert fourth.proposals[-1].status == "rejected"
    assert "would reach 61000" in fourth.proposals[-1].reason


async def test_a_ledger_from_before_the_change_is_taken_in(tmp_path: Path) -> None:
    """A customer's per-policy ledger of before (an unkeyed hash of the first identifier) still
    counts: the customer's one ledger takes it in the first time it is found."""
    import hashlib

    async with money_attack.server_and_workers(tmp_path, count=1) as (settings, client):
        now = int(dt.datetime.now(dt.UTC).timestamp())
        # one complaint named the customer by id, another by email alone: two old ledgers
        for n, (raw, amount) in enumerate([(b"CUST-5", "30000"), (b"cy@example.org", "25000")], start=1):
            legacy = names.ledger_id(hashlib.sha256(b"financial-services|" + raw).hexdigest()[:24])
            handle = await client.start_workflow(
                names.LEDGER_WORKFLOW, None, id=legacy, task_queue=settings.task_queue
            )
            old = {
                "complaint_id": f"OLD-{n}",
                "proposal": 1,
                "amount": amount,
                "at": now,
                "period": 365 * 86_400,
                "cap": "60000",
            }
            answer = await handle.execute_update(names.RESERVE_UPDATE, old)
            assert answer["granted"]
        intake = Intake(settings, shipped_policies())
        case = await _case(
            client, intake, settings, "NEW-1", id="CUST-5", contacts={"email": "cy@example.org"}
        )
        view = await _grant(client, case, 10_000)
    assert view.proposals[-1].status == "rejected"
    assert "would reach 65000" in view.proposals[-1].reason
