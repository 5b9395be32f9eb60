"""``CustomerLedger``: one workflow per customer that complaint workflows reserve against.

It answers two questions atomically across all of a customer's complaints:
how many earlier complaints fall inside a period (the repeat-complaint
trigger), and whether a compensation fits the per-customer cap for a period.
Updates on one workflow run one at a time, so two complaints can never both
spend the same headroom.  The answers are the pure functions :func:`register`
and :func:`reserve` over a :class:`LedgerState`; the workflow hosts them.

A customer has one ledger whatever identifier a complaint names them by: each
identifier (its keyed hash) has a :class:`CustomerAlias` workflow pointing at
the ledger.  When a complaint shows that two ledgers are one customer, the one
with the larger id hands its state over to the other and forwards to it from
then on (a ledger only ever forwards to a smaller id, so forwarding never loops),
and the merged total is what the cap sees.  A merge is three steps: the ledger
that stays first *expects* the other (it answers no registration or reservation
until the other's state is in), the other *hands over* (and forwards from then
on), and the one that stays *absorbs* it.  Every step can be repeated, so whoever
finds a merge half done finishes it.  Between the first two steps the ledger
being merged away still answers on its own total: one round trip normally, longer
only when the merging activity fails there, until its retry or the next request
to the ledger that stays finishes the merge.  A ledger holds the customer's
complaints under every policy; a cap counts the reservations of its own policy
(its amount is in that policy's currency), and the repeat count the complaints
of the same policy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from . import capture, names
    from .core.patches import MONEY_WITHIN_LIMITS
    from .core.payload import Payload as _Payload

_T = TypeVar("_T")
HISTORY_LIMIT = 5_000


class Registration(_Payload):
    complaint_id: str
    at: int = Field(description="Case time of receipt, UTC seconds.")
    window: int = Field(description="Count earlier complaints within this many seconds.")
    policy: str | None = Field(None, description="Count only the complaints of this policy.")


class Reservation(_Payload):
    complaint_id: str
    proposal: int
    amount: Decimal
    at: int
    period: int = Field(description="Cap period in seconds.")
    cap: Decimal
    max_compensated: int | None = None
    policy: str | None = Field(None, description="Count only the reservations of this policy.")


class ReservationAnswer(_Payload):
    granted: bool
    total_in_period: Decimal
    reason: str = ""


class Entry(_Payload):
    complaint_id: str
    proposal: int
    amount: Decimal
    at: int
    policy: str | None = None


class LedgerState(_Payload):
    complaints: dict[str, int] = Field(default_factory=dict)
    entries: list[Entry] = Field(default_factory=list)
    #: The policy of each complaint registered under one.
    policies: dict[str, str] = Field(default_factory=dict)
    #: The ledger this one was merged into; it answers nothing itself any more.
    forward_to: str | None = None
    #: Ledgers being merged into this one: it answers nothing until their state is in.
    expecting: list[str] = Field(default_factory=list)


class Moved(_Payload):
    """The answer of a ledger that was merged into another: ask that one."""

    moved_to: str


class Merging(_Payload):
    """The answer of a ledger still taking in others: finish merging them in, then ask again."""

    merging: list[str]


class Absorption(_Payload):
    """The state a ledger handed over, for the ledger it merges into."""

    source: str
    state: LedgerState


async def continue_when_long(state: _Payload) -> None:
    """Serve updates until the history grows long, then continue as new with ``state``."""
    await workflow.wait_condition(
        lambda: (
            workflow.info().is_continue_as_new_suggested()
            or workflow.info().get_current_history_length() > HISTORY_LIMIT
        )
    )
    await workflow.wait_condition(workflow.all_handlers_finished)
    workflow.continue_as_new(state)


@workflow.defn(name=names.LEDGER_WORKFLOW)
class CustomerLedger:
    @workflow.init
    def __init__(self, state: LedgerState | None = None) -> None:
        self.state = state or LedgerState()

    @workflow.run
    async def run(self, state: LedgerState | None = None) -> None:
        await continue_when_long(self.state)

    @workflow.update(name=names.REGISTER_UPDATE)
    def register(self, registration: Registration) -> int | Moved | Merging:
        """Record a complaint; answer how many earlier ones fall inside the window."""
        elsewhere = self._elsewhere()
        if elsewhere is not None:
            return _answered(elsewhere)
        return _answered(register(self.state, registration))

    @workflow.update(name=names.RESERVE_UPDATE)
    def reserve(self, request: Reservation) -> ReservationAnswer | Moved | Merging:
        """Spend headroom under the per-customer cap, or refuse with the reason."""
        elsewhere = self._elsewhere()
        if elsewhere is not None:
            return _answered(elsewhere)
        # a request naming its policy comes from a complaint with the change: the ledger's clock,
        # even in a run that began before it (where ``patched`` keeps answering False)
        clocked = workflow.patched(MONEY_WITHIN_LIMITS) or request.policy is not None
        now = int(workflow.now().timestamp()) if clocked else None
        return _answered(reserve(self.state, request, now))

    def _elsewhere(self) -> Moved | Merging | None:
        """Why this ledger cannot answer now: it was merged away, or is taking others in."""
        if self.state.forward_to is not None:
            return Moved(moved_to=self.state.forward_to)
        if self.state.expecting:
            return Merging(merging=list(self.state.expecting))
        return None

    @workflow.update(name=names.EXPECT_UPDATE)
    def expect(self, source: str) -> Moved | None:
        """First step of merging ``source`` (a larger id) into this ledger: answer nothing until it is in."""
        if self.state.forward_to is not None:
            return _answered(Moved(moved_to=self.state.forward_to))
        if source not in self.state.expecting:
            self.state.expecting.append(source)
        return _answered(None)

    @expect.validator
    def _expects_larger(self, source: str) -> None:
        if source <= workflow.info().workflow_id:
            raise ValueError(f"a ledger takes in only ledgers of a larger id, not {source}")

    @workflow.update(name=names.HANDOVER_UPDATE)
    def handover(self, to: str) -> LedgerState | Moved | Merging:
        """Second step: hand the state over to ``to`` (a smaller id) and forward there from now on.
        Asked again, it hands the same state over (it never changes once forwarded)."""
        if self.state.forward_to is not None and self.state.forward_to != to:
            return _answered(Moved(moved_to=self.state.forward_to))
        if self.state.expecting:
            return _answered(Merging(merging=list(self.state.expecting)))
        self.state.forward_to = to
        return _answered(self.state)

    @handover.validator
    def _merges_down(self, to: str) -> None:
        if to >= workflow.info().workflow_id:
            raise ValueError(f"a ledger merges only into a smaller id, not {to}")

    @workflow.update(name=names.ABSORB_UPDATE)
    def absorb(self, absorption: Absorption) -> None:
        """Last step: take in the state a ledger handed over (or, without one, stop expecting it)."""
        merge(self.state, absorption.state)
        if absorption.source in self.state.expecting:
            self.state.expecting.remove(absorption.source)
        _answered(None)

    @workflow.update(name=names.WHEREABOUTS_UPDATE)
    def whereabouts(self) -> Moved | Merging | None:
        """Where this ledger's customer is kept: here (None), the ledger it was merged into, or
        here once the merges under way are finished."""
        return _answered(self._elsewhere())

    @workflow.query(name=names.LEDGER_STATE_QUERY)
    def current(self) -> LedgerState:
        return self.state


def register(state: LedgerState, registration: Registration) -> int:
    """Record a complaint in a ledger; how many of the customer's other complaints (of the same
    policy, when the registration names one) fall in the window."""
    complaints = state.complaints
    complaints.setdefault(registration.complaint_id, registration.at)
    if registration.policy is not None:
        state.policies.setdefault(registration.complaint_id, registration.policy)
    start = registration.at - registration.window
    return sum(
        1
        for cid, at in complaints.items()
        if cid != registration.complaint_id
        and start <= at <= registration.at
        and (
            registration.policy is None or state.policies.get(cid, registration.policy) == registration.policy
        )
    )


def merge(state: LedgerState, other: LedgerState) -> None:
    """Take in another ledger's complaints and reservations (a reservation counted once)."""
    for cid, at in other.complaints.items():
        state.complaints.setdefault(cid, at)
    for cid, policy in other.policies.items():
        state.policies.setdefault(cid, policy)
    known = {(e.complaint_id, e.proposal) for e in state.entries}
    state.entries += [e for e in other.entries if (e.complaint_id, e.proposal) not in known]


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
        Entry(
            complaint_id=request.complaint_id,
            proposal=request.proposal,
            amount=request.amount,
            at=at,
            policy=request.policy,
        )
    )
    return ReservationAnswer(granted=True, total_in_period=total + request.amount)


def _in_period(state: LedgerState, request: Reservation, now: int | None) -> list[Entry]:
    """The reservations inside the period that ends now (or, before the change, at the request),
    of the request's policy when it names one (a reservation recorded without one counts for all)."""
    mine = [e for e in state.entries if request.policy is None or e.policy in (None, request.policy)]
    if now is not None:
        return [e for e in mine if e.at >= now - request.period]
    return [e for e in mine if request.at - request.period <= e.at <= request.at]


def _total(state: LedgerState, request: Reservation, now: int | None = None) -> Decimal:
    return sum((e.amount for e in _in_period(state, request, now)), Decimal(0))


def _answered(answer: _T) -> _T:
    """While an auditor replays a ledger's history, hand each answer to the replayer."""
    info = workflow.current_update_info()
    if workflow.unsafe.is_replaying() and info is not None:
        capture.answer(info.id, answer)
    return answer


class AliasState(_Payload):
    ledger: str | None = None


@workflow.defn(name=names.ALIAS_WORKFLOW)
class CustomerAlias:
    """One identifier of a customer (its keyed hash): which ledger keeps that customer."""

    @workflow.init
    def __init__(self, state: AliasState | None = None) -> None:
        self.state = state or AliasState()

    @workflow.run
    async def run(self, state: AliasState | None = None) -> None:
        await continue_when_long(self.state)

    @workflow.update(name=names.CLAIM_UPDATE)
    def claim(self, candidate: str) -> str:
        """The ledger of this identifier: the one it names, or ``candidate`` for a new one."""
        if self.state.ledger is None:
            self.state.ledger = candidate
        return _answered(self.state.ledger)

    @workflow.update(name=names.REPOINT_UPDATE)
    def repoint(self, ledger: str) -> str:
        """Point at the ledger this identifier's ledger was merged into (only ever a smaller id)."""
        if self.state.ledger is None or ledger < self.state.ledger:
            self.state.ledger = ledger
        return _answered(self.state.ledger)
