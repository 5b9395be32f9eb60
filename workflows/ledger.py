"""``CustomerLedger``: one workflow per customer that complaint workflows reserve against.

It answers two questions atomically across all of a customer's complaints:
how many earlier complaints fall inside a period (the repeat-complaint
trigger), and whether a compensation fits the per-customer cap for a period.
Updates on one workflow run one at a time, so two complaints can never both
spend the same headroom.  The answers are the pure functions :func:`register`
and :func:`reserve` over a :class:`LedgerState`; the workflow hosts them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field

    from . import capture, names
    from .core.patches import MONEY_WITHIN_LIMITS

_T = TypeVar("_T")
HISTORY_LIMIT = 5_000


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(_Payload):
    complaint_id: str
    at: int = Field(description="Case time of receipt, UTC seconds.")
    window: int = Field(description="Count earlier complaints within this many seconds.")


class Reservation(_Payload):
    complaint_id: str
    proposal: int
    amount: Decimal
    at: int
    period: int = Field(description="Cap period in seconds.")
    cap: Decimal
    max_compensated: int | None = None


class ReservationAnswer(_Payload):
    granted: bool
    total_in_period: Decimal
    reason: str = ""


class Entry(_Payload):
    complaint_id: str
    proposal: int
    amount: Decimal
    at: int


class LedgerState(_Payload):
    complaints: dict[str, int] = Field(default_factory=dict)
    entries: list[Entry] = Field(default_factory=list)


@workflow.defn(name=names.LEDGER_WORKFLOW)
class CustomerLedger:
    @workflow.init
    def __init__(self, state: LedgerState | None = None) -> None:
        self.state = state or LedgerState()

    @workflow.run
    async def run(self, state: LedgerState | None = None) -> None:
        await workflow.wait_condition(
            lambda: (
                workflow.info().is_continue_as_new_suggested()
                or workflow.info().get_current_history_length() > HISTORY_LIMIT
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self.state)

    @workflow.update(name=names.REGISTER_UPDATE)
    def register(self, registration: Registration) -> int:
        """Record a complaint; answer how many earlier ones fall inside the window."""
        return _answered(register(self.state, registration))

    @workflow.update(name=names.RESERVE_UPDATE)
    def reserve(self, request: Reservation) -> ReservationAnswer:
        """Spend headroom under the per-customer cap, or refuse with the reason."""
        now = int(workflow.now().timestamp()) if workflow.patched(MONEY_WITHIN_LIMITS) else None
        return _answered(reserve(self.state, request, now))

    @workflow.query(name=names.LEDGER_STATE_QUERY)
    def current(self) -> LedgerState:
        return self.state


def register(state: LedgerState, registration: Registration) -> int:
    """Record a complaint in a ledger; how many of the customer's other complaints fall in the window."""
    complaints = state.complaints
    complaints.setdefault(registration.complaint_id, registration.at)
    start = registration.at - registration.window
    return sum(
        1
        for cid, at in complaints.items()
        if cid != registration.complaint_id and start <= at <= registration.at
    )


def reserve(state: LedgerState, request: Reservation, now: int | None = None) -> ReservationAnswer:
    """Spend headroom under the per-customer cap in a ledger, or refuse with the reason.

    ``now`` is the ledger's own clock: every reservation is stamped with it and the period ends
    at it, so a complaint entered late, or answered out of order, sees every reservation of the
    period.  (Without it, as before ``money-within-limits``: the complaint's case time.)"""
    at = now if now is not None else request.at
    for entry in state.entries:
        if entry.complaint_id == request.complaint_id and entry.proposal == request.proposal:
            return ReservationAnswer(granted=True, total_in_period=_total(state, request, now))
    in_period = _in_period(state, request, now)
    total = sum((e.amount for e in in_period), Decimal(0))
    if total + request.amount > request.cap:
        return ReservationAnswer(
            granted=False,
            total_in_period=total,
            reason=f"the customer's compensation in the period would reach {total + request.amount}, above the cap of {request.cap}",
        )
    compensated = {e.complaint_id for e in in_period} | {request.complaint_id}
    if request.max_compensated is not None and len(compensated) > request.max_compensated:
        return ReservationAnswer(
            granted=False,
            total_in_period=total,
            reason=f"the customer already had {len(compensated) - 1} compensated complaints in the period (at most {request.max_compensated})",
        )
    state.entries.append(
        Entry(complaint_id=request.complaint_id, proposal=request.proposal, amount=request.amount, at=at)
    )
    return ReservationAnswer(granted=True, total_in_period=total + request.amount)


def _in_period(state: LedgerState, request: Reservation, now: int | None) -> list[Entry]:
    """The reservations inside the period that ends now (or, before the change, at the request)."""
    if now is not None:
        return [e for e in state.entries if e.at >= now - request.period]
    return [e for e in state.entries if request.at - request.period <= e.at <= request.at]


def _total(state: LedgerState, request: Reservation, now: int | None = None) -> Decimal:
    return sum((e.amount for e in _in_period(state, request, now)), Decimal(0))


def _answered(answer: _T) -> _T:
    """While an auditor replays a ledger's history, hand each answer to the replayer."""
    info = workflow.current_update_info()
    if workflow.unsafe.is_replaying() and info is not None:
        capture.answer(info.id, answer)
    return answer
