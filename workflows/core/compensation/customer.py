"""Who the customer is to their ledger: whether the policy needs the ledger, and what the
ledger activities are told of the customer (:mod:`ombuds.engine.customers` finds the ledger)."""

from __future__ import annotations

import hashlib

from ..case import Case
from ..patches import MONEY_WITHIN_LIMITS


def uses_ledger(case: Case) -> bool:
    """Whether this policy needs the customer's ledger (per-customer caps, repeat complaints)."""
    caps = case.policy.compensation.caps.per_customer is not None
    return caps or any(r.trigger.on == "repeat_complaint" for r in case.policy.escalation)


def customer_key(case: Case) -> str | None:
    """A stable key for the customer's ledger; contact details only as a hash.  (Before
    ``money-within-limits``: one ledger per policy and first identifier, as written.)"""
    customer = case.complaint.customer
    raw = customer.id or customer.contacts.email or customer.contacts.phone or customer.account_number
    if raw is None:
        return None
    return hashlib.sha256(f"{case.policy.policy.id}|{raw}".encode()).hexdigest()[:24]


def customer_identity(case: Case) -> dict[str, str] | None:
    """Who the customer is, for finding their one ledger: every identifier the complaint names
    (the ledger activity normalises them and keeps only their keyed hashes), the region that
    phone numbers without a country code are read in, and the policy."""
    customer = case.complaint.customer
    named = {
        "id": customer.id,
        "email": customer.contacts.email,
        "phone": customer.contacts.phone,
        "account": customer.account_number,
    }
    found = {kind: value for kind, value in named.items() if value}
    if not found:
        return None
    if customer.region:
        found["region"] = customer.region
    return {**found, "policy": case.policy.policy.id}


def ledger_customer(case: Case) -> str | dict[str, str] | None:
    """What the ledger activities are told of the customer: who they are (``money-within-limits``),
    or the key of a per-policy ledger as before."""
    if case.patched(MONEY_WITHIN_LIMITS):
        return customer_identity(case)
    return customer_key(case)
