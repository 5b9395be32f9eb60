"""Remedy amounts computed from the complaint (``compensation.remedies.<id>.amounts``).

The first row whose ``when`` holds gives the amount: a fixed amount, or a CEL expression giving
a number (``complaint.amount * 0.1``, a table by distance and delay written as rows).  An amount
is money in the policy's currency, rounded half up to the currency's decimals; one computed
from a complaint in another currency is converted at the policy's ``exchange_rates`` or, with
``other_currency: refuse``, not computed (staff give the amount).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from . import money
from .expressions import Evaluator
from .model import Complaint, Policy


def computed(
    policy: Policy, remedy_id: str, complaint: Complaint, variables: dict[str, Any], evaluator: Evaluator
) -> tuple[Decimal | None, str | None]:
    """The remedy's amount for this complaint, or None with why not (None, None: no table)."""
    remedy = policy.compensation.remedies.get(remedy_id)
    if remedy is None or not remedy.amounts:
        return None, None
    for row in remedy.amounts:
        if row.when is not None and not evaluator.truth(row.when, variables)[0]:
            continue
        if isinstance(row.amount, Decimal):
            return _rounded(policy, row.amount), None
        value, error = evaluator.number(row.amount, variables)
        if value is None:
            return None, f"the amount of {remedy_id} could not be computed: {error}"
        if not math.isfinite(value) or abs(value) >= 1e12:
            return None, f"the amount of {remedy_id} came out as {value}, not an amount"
        return converted(policy, complaint, Decimal(repr(value)), remedy_id)
    return None, f"no row of {remedy_id}'s amounts applies to this complaint"


def converted(
    policy: Policy, complaint: Complaint, amount: Decimal, remedy_id: str
) -> tuple[Decimal | None, str | None]:
    """An amount computed in the complaint's currency, in the policy's."""
    ours = policy.policy.currency
    theirs = complaint.currency or ours
    if amount < 0:
        return None, f"the amount of {remedy_id} came out negative ({amount})"
    if theirs == ours:
        return _rounded(policy, amount), None
    rate = policy.compensation.exchange_rates.get(theirs)
    if policy.compensation.other_currency == "refuse" or rate is None:
        why = "the policy converts no other currency" if rate is None else "other_currency: refuse"
        return None, f"the complaint is in {theirs}, the policy in {ours} ({why}): give the amount"
    return _rounded(policy, amount * rate), None


def _rounded(policy: Policy, amount: Decimal) -> Decimal:
    places = money.decimals(policy.policy.currency)
    try:
        return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return amount
