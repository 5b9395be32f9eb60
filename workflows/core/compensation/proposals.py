"""``compensation`` and each level's ``limits``: proposals, approval, caps and the customer's choice.

A proposal within the proposer's limits is granted; above them it needs the
approval of the lowest higher level whose limits allow it (the case escalates
there by the ``compensation_above_authority`` trigger), or is rejected when no
level may grant it.  Nothing is granted above the per-complaint cap; a grant
under a per-customer cap waits for the customer's ledger (a cap check the
driver hands to the host).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ombuds.engine.policy import amounts

from .. import escalation, notifications, promises, values
from ..case import Case, Rejected, answer
from ..events import SYSTEM, Actor, Answer, DecideApproval, ProposeCompensation
from ..patches import MESSAGES_WORTH_READING, MONEY_WITHIN_LIMITS, SETTINGS_ACT_AS_WRITTEN
from ..state import CapCheck, Proposal, ProposalStatus
from .customer import customer_key

#: Proposals that count against the per-complaint cap before they are settled.
PENDING = ("needs_approval", "pending_cap_check")


def limit_problem(
    case: Case, level_index: int, remedy: str, amount: Decimal, discount: float, coupons: int
) -> str | None:
    """Why a level may not grant this, or None when it may."""
    level = case.policy.authority[level_index]
    lim = level.limits
    if remedy not in lim.remedies:
        return f'{level.id} may not grant "{remedy}"'
    if amount > lim.max_amount:
        return f"{amount} is above {level.id}'s limit of {lim.max_amount} {case.policy.policy.currency}"
    if discount > lim.max_discount_percent:
        return f"{discount:g}% is above {level.id}'s discount limit of {lim.max_discount_percent:g}%"
    if coupons > lim.max_coupons:
        return f"{coupons} coupons is above {level.id}'s limit of {lim.max_coupons}"
    return None


def check_propose(case: Case, event: ProposeCompensation) -> None:
    if event.remedy not in case.policy.compensation.remedies:
        raise Rejected(f'unknown remedy "{event.remedy}"')
    if case.state.status != "open":
        raise Rejected(f"compensation cannot be proposed on a {case.state.status} case")


def on_propose(case: Case, event: ProposeCompensation, now: int) -> Answer:
    s = case.state
    actor_level = case.level_index(event.actor.level) or 0
    remedy = event.remedy or ""
    amount = event.amount or Decimal(0)
    remedy_def = case.policy.compensation.remedies[remedy]
    computed_problem = None
    if event.amount is None and remedy_def.amounts:  # the amount the policy computes
        found, computed_problem = amounts.computed(
            case.policy, remedy, case.complaint, case.variables(), case.evaluator
        )
        amount = found if found is not None else amount
    if remedy_def.value is not None and event.coupons:
        amount = max(amount, remedy_def.value * event.coupons)
    discount = event.discount_percent or 0.0
    coupons = event.coupons or 0
    number = len(s.proposals) + 1
    base = {
        "proposal": number,
        "remedy": remedy,
        "amount": str(amount),
        "discount_percent": discount,
        "coupons": coupons,
    }
    draft = Proposal(
        number=number,
        by=event.actor.describe(),
        level=case.policy.authority[actor_level].id,
        remedy=remedy,
        amount=amount,
        discount_percent=discount,
        coupons=coupons,
        status="rejected",
    )

    def decide(status: ProposalStatus, rule: str, reason: str, **detail: Any) -> Answer:
        s.proposals.append(draft.model_copy(update={"status": status, "reason": reason, **detail}))
        action = "compensation rejected" if status == "rejected" else "compensation needs approval"
        entry = case.log(
            now, "event:propose_compensation", rule, action, event.actor, reason=reason, **detail, **base
        )
        return answer(status, entry, reason, **detail, **base)

    if computed_problem is not None:
        return decide("rejected", f"compensation.remedies.{remedy}.amounts", computed_problem)
    cap = case.policy.compensation.caps.per_complaint
    committed = s.compensation_total + _pending(case)
    if cap is not None and committed + amount > cap:
        reason = f"the total {committed + amount} would exceed the per-complaint cap of {cap}"
        if committed != s.compensation_total:
            reason += f" (with {committed - s.compensation_total} proposed and not yet settled)"
        return decide("rejected", "compensation.caps.per_complaint", reason)
    limits = f"authority[{actor_level}].limits"
    problem = limit_problem(case, actor_level, remedy, amount, discount, coupons)
    if problem is None:
        return grant(case, now, event.actor, number, remedy, amount, discount, coupons, limits, base)
    higher = range(actor_level + 1, len(case.policy.authority))
    approver = next(
        (i for i in higher if limit_problem(case, i, remedy, amount, discount, coupons) is None), None
    )
    if approver is None:
        return decide("rejected", limits, f"{problem}, and no level may grant it")
    nearest = actor_level + 1
    if (
        approver != nearest
        and case.policy.compensation.approval_from == "next"
        and case.patched(SETTINGS_ACT_AS_WRITTEN)
    ):
        above = case.policy.authority[nearest].id
        reason = (
            f"{problem}, and above what {above} may approve (approval_from: next): "
            f"{above} may propose it to the level above"
        )
        return decide("rejected", "compensation.approval_from", reason)
    decided = decide("needs_approval", limits, problem, approval_level=case.policy.authority[approver].id)
    for i, rule in enumerate(case.policy.escalation):
        if rule.trigger.on == "compensation_above_authority" and case.when(rule.trigger.when):
            target = approver if rule.to == "next" else case.level_index(rule.to)
            if rule.to == "next" and approver != s.level + 1 and case.patched(SETTINGS_ACT_AS_WRITTEN):
                target = None  # the next level of the case, as everywhere
            summary = (
                None  # the hand-off says it in the reader's language (escalation.handoff_values)
                if case.patched(MESSAGES_WORTH_READING)
                else f"Approval needed for proposal {number}: {remedy} {amount}. {problem}."
            )
            escalation.escalate(
                case, now, i, rule, "event:propose_compensation", event.actor, summary, to_level=target
            )
            break
    return decided


def _pending(case: Case, but: int | None = None) -> Decimal:
    """Proposed and not yet settled (waiting for approval or for the ledger): it counts against the
    per-complaint cap, so proposals made in parallel cannot pass it together."""
    waiting = sum(
        (p.amount for p in case.state.proposals if p.status in PENDING and p.number != but), Decimal(0)
    )
    return waiting if waiting and case.patched(MONEY_WITHIN_LIMITS) else Decimal(0)


def _staff_id(by: str) -> str | None:
    """The id of the staff member a proposal's ``by`` names (``staff:alice@agent``)."""
    if not by.startswith("staff:"):
        return None
    who = by.removeprefix("staff:").rpartition("@")[0]
    return who if who and who != "?" else None


def record_proposal(
    case: Case,
    number: int,
    actor: Actor,
    remedy: str,
    amount: Decimal,
    discount: float,
    coupons: int,
    status: ProposalStatus,
) -> bool:
    """Set a proposal's status (a new one is recorded as the actor's); True if it existed."""
    for proposal in case.state.proposals:
        if proposal.number == number:
            proposal.status = status
            if status == "pending_cap_check":
                proposal.approved_by = actor.describe()
            return True
    case.state.proposals.append(
        Proposal(
            number=number,
            by=actor.describe(),
            level=actor.level or "",
            remedy=remedy,
            amount=amount,
            discount_percent=discount,
            coupons=coupons,
            status=status,
        )
    )
    return False


def grant(
    case: Case,
    now: int,
    actor: Actor,
    number: int,
    remedy: str,
    amount: Decimal,
    discount: float,
    coupons: int,
    rule: str,
    base: dict[str, Any],
    checked: bool = False,
    reason: str | None = None,
) -> Answer:
    """Grant a compensation, or hold it for the customer's ledger when a per-customer cap applies.

    ``actor`` is who grants it (the proposer within their limits, else the approver), ``reason``
    the approver's."""
    s = case.state
    per_customer = case.policy.compensation.caps.per_customer
    if per_customer is not None and amount > 0 and not checked and customer_key(case) is not None:
        record_proposal(case, number, actor, remedy, amount, discount, coupons, "pending_cap_check")
        held = next(p for p in s.proposals if p.number == number)
        held.approver, held.approval_reason = actor, reason
        assert case.plan.cap_period is not None
        case.cap_checks.append(
            CapCheck(
                proposal=number,
                amount=amount,
                at=now,
                period=case.plan.cap_period.approx_minutes() * 60,
                cap=per_customer.amount,
                max_compensated=per_customer.max_compensated_complaints,
            )
        )
        return answer("pending_cap_check", None, **base)
    s.compensation_total += amount
    existing = record_proposal(case, number, actor, remedy, amount, discount, coupons, "accepted")
    trigger = (
        "event:cap_check"
        if checked
        else "event:propose_compensation"
        if not existing
        else "event:decide_approval"
    )
    said = {"approval_reason": reason} if reason and case.patched(SETTINGS_ACT_AS_WRITTEN) else {}
    entry = case.log(
        now, trigger, rule, "compensation granted", actor, total=str(s.compensation_total), **said, **base
    )
    if case.patched(MESSAGES_WORTH_READING):  # a grant is told as what it is, with its amount
        notifications.announce(
            case,
            entry,
            "compensation_granted",
            offer=values.remedy(case, remedy, amount),
            granted=values.granted(case),
        )
        return answer("accepted", entry, **base)
    title = case.text(case.policy.compensation.remedies[remedy].title)
    notifications.announce(case, entry, "compensation_offered", options=[title], offer=title)
    return answer("accepted", entry, **base)


def settle_cap_check(case: Case, now: int, check: CapCheck, granted: bool, reason: str) -> Answer:
    """The ledger's answer to a per-customer cap check: grant, or reject with its reason."""
    proposal = next(p for p in case.state.proposals if p.number == check.proposal)
    base = {"proposal": proposal.number, "remedy": proposal.remedy, "amount": str(proposal.amount)}
    if granted:
        approver = (
            proposal.approver if proposal.approver and case.patched(SETTINGS_ACT_AS_WRITTEN) else SYSTEM
        )
        return grant(
            case,
            now,
            approver,
            proposal.number,
            proposal.remedy,
            proposal.amount,
            proposal.discount_percent,
            proposal.coupons,
            "compensation.caps.per_customer",
            base,
            checked=True,
            reason=proposal.approval_reason if approver is not SYSTEM else None,
        )
    proposal.status = "rejected"
    proposal.reason = reason
    entry = case.log(
        now,
        "event:cap_check",
        "compensation.caps.per_customer",
        "compensation rejected",
        SYSTEM,
        reason=reason,
        **base,
    )
    return answer("rejected", entry, reason, **base)


def check_approval(case: Case, event: DecideApproval) -> None:
    if event.proposal is None or event.approve is None:
        raise Rejected("give proposal (its number) and approve (true/false)")
    match = [p for p in case.state.proposals if p.number == event.proposal]
    if not match or match[0].status != "needs_approval":
        raise Rejected(f"proposal {event.proposal} is not waiting for approval")


def _same_person(one: str | None, other: str) -> bool:
    """Staff ids as people write them: ``alice``, ``Alice`` and `` alice`` are one person."""
    return one is not None and " ".join(one.split()).casefold() == " ".join(other.split()).casefold()


def on_approval(case: Case, event: DecideApproval, now: int) -> Answer:
    s = case.state
    promises.keep_decisions(case)
    proposal = next(p for p in s.proposals if p.number == event.proposal)
    actor_level = case.level_index(event.actor.level) or 0
    needed = case.level_index(proposal.approval_level) or 0
    base = {"proposal": proposal.number, "remedy": proposal.remedy, "amount": str(proposal.amount)}
    limits = f"authority[{actor_level}].limits"
    proposer = _staff_id(proposal.by)

    def refused(logged: str, said: str) -> Answer:
        entry = case.log(
            now, "event:decide_approval", limits, "approval refused", event.actor, reason=logged, **base
        )
        return answer("not_authorised", entry, said, **base)

    if proposer and _same_person(event.actor.id, proposer) and case.patched(MONEY_WITHIN_LIMITS):
        return refused(
            f"four eyes: {proposer} proposed it",
            f"four eyes: the approver must not be the proposer ({proposer})",
        )
    if actor_level < needed:
        return refused(
            f"needs {proposal.approval_level}", f"approval needs level {proposal.approval_level} or above"
        )
    if not event.approve:
        proposal.status = "rejected"
        proposal.reason = event.reason or "rejected by approver"
        entry = case.log(
            now,
            "event:decide_approval",
            limits,
            "compensation rejected",
            event.actor,
            reason=proposal.reason,
            **base,
        )
        return answer("rejected", entry, proposal.reason, **base)
    cap = case.policy.compensation.caps.per_complaint
    others = _pending(case, but=proposal.number)
    if cap is not None and s.compensation_total + others + proposal.amount > cap:
        proposal.status = "rejected"
        proposal.reason = f"the total would exceed the per-complaint cap of {cap}"
        entry = case.log(
            now,
            "event:decide_approval",
            "compensation.caps.per_complaint",
            "compensation rejected",
            event.actor,
            reason=proposal.reason,
            **base,
        )
        return answer("rejected", entry, proposal.reason, **base)
    return grant(
        case,
        now,
        event.actor,
        proposal.number,
        proposal.remedy,
        proposal.amount,
        proposal.discount_percent,
        proposal.coupons,
        limits,
        base,
        reason=event.reason,
    )
