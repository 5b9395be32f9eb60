"""Money never exceeds a limit, four eyes on every approval, and who may act (change id
``money-within-limits``).  Each attack is run with the change and without it (as a history
recorded before it replays): without it, it succeeds."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ombuds.engine.policy import money
from ombuds.engine.policy.compile import instantiate
from ombuds.workflows import ledger
from ombuds.workflows.core import Actor, Event, Interpreter, Rejected, bounds
from ombuds.workflows.core.patches import MONEY_WITHIN_LIMITS

from .workflow_support import make_complaint, shipped_policies

YEAR = 365 * 86_400
ALICE_AGENT = Actor(kind="staff", id="alice", level="agent")
ALICE_SUPERVISOR = Actor(kind="staff", id="alice", level="supervisor")
BOB_SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
DAN_MANAGEMENT = Actor(kind="staff", id="dan", level="management")


def financial(changed: bool, **complaint: Any) -> tuple[Interpreter, int]:
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    case = make_complaint(**complaint)
    core = Interpreter(
        policy,
        instantiate(policy, case.received_at, case),
        case,
        case.id or "X",
        patched=lambda change: changed or change != MONEY_WITHIN_LIMITS,
    )
    t0 = int(case.received_at.timestamp())
    core.start(t0)
    return core, t0


def reservation(complaint: str, amount: int, at: int) -> ledger.Reservation:
    return ledger.Reservation(
        complaint_id=complaint, proposal=1, amount=Decimal(amount), at=at, period=YEAR, cap=Decimal(60_000)
    )


@pytest.mark.parametrize("changed", [True, False])
def test_a_complaint_entered_late_sees_every_reservation_of_the_period(changed: bool) -> None:
    """Received months ago, its case time lies before this year's grants: the ledger's own clock sees them."""
    state = ledger.LedgerState()
    now = 1_800_000_000
    assert ledger.reserve(state, reservation("C-1", 60_000, now), now if changed else None).granted
    late = reservation("C-2", 50_000, now - 120 * 86_400)  # stamped with its case time, months back
    answer = ledger.reserve(state, late, now + 60 if changed else None)
    assert answer.granted is not changed
    if changed:
        assert "would reach 110000, above the cap of 60000" in answer.reason


@pytest.mark.parametrize("changed", [True, False])
def test_reservations_answered_out_of_order_never_pass_the_cap_together(changed: bool) -> None:
    """Six complaints with slightly different case times, reserved in any order: at most the cap."""
    state = ledger.LedgerState()
    now = 1_800_000_000
    granted = Decimal(0)
    for n, offset in enumerate([0, 10, 20, 30, 40, 50]):  # earlier case times arrive later
        answer = ledger.reserve(
            state, reservation(f"C-{n}", 15_000, now - offset), now + n if changed else None
        )
        granted += Decimal(15_000) if answer.granted else 0
    assert (granted <= 60_000) is changed


@pytest.mark.parametrize("changed", [True, False])
def test_proposals_waiting_for_the_ledger_count_against_the_per_complaint_cap(changed: bool) -> None:
    core, t0 = financial(changed)
    first = core.act(
        Event(kind="propose_compensation", actor=DAN_MANAGEMENT, remedy="redress", amount=Decimal(30_000)),
        t0 + 60,
    )
    assert first.status == "pending_cap_check"  # the customer's ledger has not answered yet
    second = core.act(
        Event(kind="propose_compensation", actor=DAN_MANAGEMENT, remedy="redress", amount=Decimal(30_000)),
        t0 + 61,
    )
    if changed:
        assert second.status == "rejected"
        assert (
            "would exceed the per-complaint cap of 50000 (with 30000 proposed and not yet settled)"
            in second.reason
        )
    else:
        assert second.status == "pending_cap_check"  # both would be granted: 60,000 against 50,000


@pytest.mark.parametrize("changed", [True, False])
def test_the_approver_is_never_the_proposer(changed: bool) -> None:
    core, t0 = financial(changed)
    core.act(
        Event(kind="propose_compensation", actor=ALICE_AGENT, remedy="goodwill", amount=Decimal(120)), t0
    )
    answer = core.act(
        Event(kind="decide_approval", actor=ALICE_SUPERVISOR, proposal=1, approve=True), t0 + 60
    )
    if changed:
        assert answer.status == "not_authorised"
        assert answer.reason == "four eyes: the approver must not be the proposer (alice)"
        other = core.act(
            Event(kind="decide_approval", actor=BOB_SUPERVISOR, proposal=1, approve=True), t0 + 120
        )
        assert other.status in ("accepted", "pending_cap_check")
    else:
        assert answer.status in ("accepted", "pending_cap_check")


@pytest.mark.parametrize("spelled", ["Alice", " alice ", "ALICE"])
def test_the_proposer_spelled_otherwise_is_still_the_proposer(spelled: str) -> None:
    core, t0 = financial(True)
    core.act(
        Event(kind="propose_compensation", actor=ALICE_AGENT, remedy="goodwill", amount=Decimal(120)), t0
    )
    approver = Actor(kind="staff", id=spelled, level="supervisor")
    answer = core.act(Event(kind="decide_approval", actor=approver, proposal=1, approve=True), t0 + 60)
    assert answer.status == "not_authorised" and "four eyes" in answer.reason


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        (Actor(kind="system"), "system is the engine's own actor"),
        (Actor(kind="staff", level="supervisor"), "a staff actor needs an id"),
        (Actor(kind="staff", id=" ", level="supervisor"), "a staff actor needs an id"),
    ],
)
def test_who_may_act_is_screened(actor: Actor, refusal: str) -> None:
    core, t0 = financial(True)
    with pytest.raises(Rejected, match=refusal):
        core.act(Event(kind="close", actor=actor), t0)
    old, t0 = financial(False)
    assert old.act(Event(kind="close", actor=actor), t0).status == "closed"


def test_a_customer_withdraws_only_their_own_complaint() -> None:
    core, t0 = financial(True)  # the complaint of customer CUST-1
    with pytest.raises(Rejected, match="a customer acts on their own complaint only"):
        core.act(Event(kind="withdraw", actor=Actor(kind="customer", id="CUST-2")), t0)
    assert (
        core.act(Event(kind="withdraw", actor=Actor(kind="customer", id="CUST-1")), t0).status == "withdrawn"
    )


def test_a_signal_from_someone_who_may_not_act_is_logged_as_refused() -> None:
    core, t0 = financial(True)
    core.receive(Event(kind="close", actor=Actor(kind="system")), t0)
    refused = core.state.log[-1]
    assert (refused.action, refused.detail["reason"]) == (
        "input refused",
        "system is the engine's own actor: no client may act as it",
    )
    assert core.state.status == "open"


@pytest.mark.parametrize(
    ("amount", "refusal"),
    [
        ("0.001", "0.001 has 3 decimals; GBP amounts have at most 2 decimals"),
        ("50.999", "50.999 has 3 decimals"),
    ],
)
def test_an_amount_with_more_decimals_than_the_currency_is_refused(amount: str, refusal: str) -> None:
    core, t0 = financial(True)
    event = Event(kind="propose_compensation", actor=ALICE_AGENT, remedy="goodwill", amount=amount)
    with pytest.raises(Rejected, match=f"amount: {refusal}"):
        core.act(event, t0)


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        ("1_0", '"1_0" is not an amount'),
        ("1E-30", '"1E-30" is not an amount'),
        ("1E+2", '"1E+2" is not an amount'),
        (" 5", '" 5" is not an amount'),
        (49.9999999999999999, "write the amount as text"),
        (0.5, "write the amount as text"),
        ("1" * 16, "is not an amount"),
    ],
)
def test_an_amount_is_plain_digits_never_a_float(raw: object, refusal: str) -> None:
    """Such an amount still decodes, as it did before (so every recorded history replays),
    and the case refuses it: the client, the update validator and the case itself."""
    core, t0 = financial(True)
    event = Event(kind="propose_compensation", actor=DAN_MANAGEMENT, remedy="redress", amount=raw)
    for check in (bounds.check_event, core.screen):
        with pytest.raises(Rejected, match="amount: ") as caught:
            check(event)
        assert refusal in str(caught.value)
    with pytest.raises(Rejected, match=refusal.replace("+", r"\+")):
        core.act(event, t0 + 60)


@pytest.mark.parametrize(("raw", "refusal"), [("-5", "greater than or equal to 0"), (True, "amount")])
def test_an_amount_that_is_no_number_does_not_decode(raw: object, refusal: str) -> None:
    with pytest.raises(ValidationError, match=r"propose_compensation\.amount") as caught:
        Event(kind="propose_compensation", actor=ALICE_AGENT, remedy="goodwill", amount=raw)
    assert refusal in str(caught.value)


def test_more_decimals_than_money_has_are_named_by_the_decimals_rule() -> None:
    core, t0 = financial(True)
    event = Event(
        kind="propose_compensation",
        actor=DAN_MANAGEMENT,
        remedy="redress",
        amount=Decimal("49.9999999999999999"),
    )
    with pytest.raises(
        Rejected, match=re.escape("amount: 49.9999999999999999 has 16 decimals; GBP amounts have at most 2")
    ):
        core.act(event, t0 + 60)


def test_amounts_as_text_whole_numbers_and_decimals_are_kept_exactly() -> None:
    for raw, kept in [("49.99", Decimal("49.99")), (50, Decimal(50)), (Decimal("0.10"), Decimal("0.10"))]:
        event = Event(kind="propose_compensation", actor=ALICE_AGENT, remedy="goodwill", amount=raw)
        assert event.root.amount == kept  # type: ignore[union-attr]
    assert money.problem(Decimal("50.000"), "GBP") is None  # trailing zeros say nothing more
    assert money.problem(Decimal("5"), "JPY") is None and money.problem(Decimal("5.5"), "JPY")
    assert money.problem(Decimal("1.234"), "KWD") is None
