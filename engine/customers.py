"""The ledger activities: finding a customer's one ledger, merging ledgers of one customer,
and asking it to register a complaint or reserve a compensation.

A complaint names its customer by whatever it has: an id, an email, a phone number,
an account number (:func:`ombuds.workflows.core.compensation.customer.customer_identity`).
Each identifier, normalised and keyed-hashed (:mod:`ombuds.engine.identity`), has a
``CustomerAlias`` workflow naming the customer's ledger.  Finding the ledger:

1. every alias of the complaint's identifiers is *claimed* for the ledger named after the
   first identifier; an alias that already names a ledger keeps it and answers with it;
2. each ledger found is followed to where it was merged (``whereabouts``);
3. when more than one ledger is left, they are one customer: each merges into the one with
   the smallest id (expect, hand over, absorb: :mod:`ombuds.workflows.ledger`);
4. the aliases that named another ledger are pointed at the one left.

Every step can be repeated and any caller finishes a merge that another left half done,
so two complaints of one customer racing through these steps end at the same ledger.
A ledger from before ``money-within-limits`` (one per policy and first identifier as
written, an unkeyed hash) is merged in too when one exists for any identifier of the
complaint under its policy.
"""

from __future__ import annotations

import hashlib
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from ombuds.workflows import names

from . import identity

#: A chain of forwards or merges longer than this means something is wrong: the activity retries.
MAX_STEPS = 64


class LedgerActivities:
    """Activities that reach a customer's ledger workflow (per-customer caps, repeat complaints)."""

    def __init__(self, client: Client, task_queue: str, secret: bytes) -> None:
        self.client = client
        self.task_queue = task_queue
        self.secret = secret

    @activity.defn(name=names.LEDGER_REGISTER)
    async def register(self, customer: Any, registration: dict[str, Any]) -> int:
        """Record a complaint in the customer's ledger; how many earlier ones fall in the window."""
        ledger = await self.ledger_of(customer, registration.get("complaint_id", ""))
        count: int = await self.ask(ledger, names.REGISTER_UPDATE, registration)
        return count

    @activity.defn(name=names.LEDGER_RESERVE)
    async def reserve(self, customer: Any, reservation: dict[str, Any]) -> dict[str, Any]:
        """Spend headroom under the customer's cap, or the ledger's reason for refusing."""
        ledger = await self.ledger_of(customer, reservation.get("complaint_id", ""))
        answer: dict[str, Any] = await self.ask(ledger, names.RESERVE_UPDATE, reservation)
        return answer

    def all(self) -> list[Any]:
        return [self.register, self.reserve]

    # ------------------------------------------------------------------ finding the ledger

    async def ledger_of(self, customer: str | dict[str, str], complaint_id: str) -> str:
        """The id of the customer's one ledger (a key as before ``money-within-limits``: its ledger)."""
        if isinstance(customer, str):
            return names.ledger_id(customer)
        keys = identity.keys(self.secret, customer)
        if not keys:  # nothing to know the customer by once normalised: a ledger of this complaint
            keys = identity.keys(self.secret, {"id": f"complaint:{complaint_id}"})
        candidate = names.ledger_id(keys[0])
        named = {key: await self._alias(key, names.CLAIM_UPDATE, candidate) for key in keys}
        found = set(named.values())
        for legacy in _legacy_ledgers(customer):
            if await self._exists(legacy):
                found.add(legacy)
        ledger = await self.one_ledger(found)
        for key, at in named.items():
            if at != ledger:
                await self._alias(key, names.REPOINT_UPDATE, ledger)
        return ledger

    async def one_ledger(self, ledgers: set[str]) -> str:
        """Merge ledgers known to be one customer's; the id of the one left."""
        left = {await self.terminal(ledger) for ledger in ledgers}
        for _ in range(MAX_STEPS):
            if len(left) == 1:
                return left.pop()
            target = min(left)
            for other in sorted(left - {target}):
                await self.merge(other, target)
            left = {await self.terminal(ledger) for ledger in left}
        raise RuntimeError(f"the ledgers {sorted(left)} did not settle into one")

    async def terminal(self, ledger: str) -> str:
        """The ledger that ``ledger`` was merged into, if any, with its own merges finished."""
        for _ in range(MAX_STEPS):
            answer = await self._update(ledger, names.WHEREABOUTS_UPDATE)
            if answer is None:
                return ledger
            if "moved_to" in answer:
                ledger = answer["moved_to"]
            else:
                for source in answer["merging"]:
                    await self.merge(source, ledger)
        raise RuntimeError(f"the ledger {ledger} forwards too far")

    async def merge(self, source: str, target: str) -> None:
        """Merge the ledger ``source`` into ``target`` (a smaller id), or finish doing so."""
        for _ in range(MAX_STEPS):
            moved = await self._update(target, names.EXPECT_UPDATE, source)
            if moved is not None:  # the target itself was merged away: merge into where it went
                await self.one_ledger({source, moved["moved_to"]})
                return
            handed = await self._update(source, names.HANDOVER_UPDATE, target)
            if "merging" in handed:  # the source is still taking others in: finish that first
                for other in handed["merging"]:
                    await self.merge(other, source)
                continue
            if "moved_to" in handed:  # merged elsewhere already: stop expecting it, join the two
                await self._update(target, names.ABSORB_UPDATE, {"source": source, "state": {}})
                await self.one_ledger({handed["moved_to"], target})
                return
            await self._update(target, names.ABSORB_UPDATE, {"source": source, "state": handed})
            return
        raise RuntimeError(f"the ledger {source} would not merge into {target}")

    async def ask(self, ledger: str, update: str, request: dict[str, Any]) -> Any:
        """An update's answer from the ledger that keeps the customer now, following forwards
        and finishing merges under way."""
        for _ in range(MAX_STEPS):
            answer = await self._update(ledger, update, request)
            if isinstance(answer, dict) and "moved_to" in answer:
                ledger = answer["moved_to"]
            elif isinstance(answer, dict) and "merging" in answer:
                for source in answer["merging"]:
                    await self.merge(source, ledger)
            else:
                return answer
        raise RuntimeError(f"the ledger {ledger} did not answer {update}")

    # ------------------------------------------------------------------ Temporal

    async def _update(self, ledger: str, update: str, *args: Any) -> Any:
        handle = await self._start(names.LEDGER_WORKFLOW, ledger)
        return await handle.execute_update(update, args=list(args))

    async def _alias(self, key: str, update: str, ledger: str) -> str:
        handle = await self._start(names.ALIAS_WORKFLOW, names.alias_id(key))
        answer: str = await handle.execute_update(update, ledger, result_type=str)
        return answer

    async def _start(self, workflow: str, workflow_id: str) -> Any:
        return await self.client.start_workflow(
            workflow,
            None,
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def _exists(self, ledger: str) -> bool:
        try:
            await self.client.get_workflow_handle(ledger).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True


def _legacy_ledgers(customer: dict[str, str]) -> list[str]:
    """The ledgers this customer may have had under this policy before ``money-within-limits``:
    one per identifier as written (a complaint named its ledger after the first it had)."""
    policy = customer.get("policy")
    if not policy:
        return []
    return [
        names.ledger_id(hashlib.sha256(f"{policy}|{customer[kind]}".encode()).hexdigest()[:24])
        for kind in identity.KINDS
        if customer.get(kind)
    ]
