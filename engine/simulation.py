"""A complaint run by the pure core alone, its effects answered in memory: what ``ombuds
simulate`` (and the policy tests) run, side-effect free.

It follows the workflow's order of calls — intake, then messages and the ledger registration;
after each input or timer: calendar horizon, what falls due, messages — so a case decides here
as it decides on Temporal (``tests/test_driver.py`` holds the two to the same decisions for
every golden history).  Messages are composed as the delivery composes them, never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ombuds.activities.plugin import OutboundMessage
from ombuds.workflows import ledger
from ombuds.workflows.core import Actor, Answer, Event, Interpreter, LogEntry, Send, StatusView, status_view
from ombuds.workflows.model import CaseResult, ComplaintInput

from . import identity
from .activities import compose, recipient
from .policy.compile import extended
from .policy.model import Complaint
from .policy.store import Store

#: What intake makes of a complaint: its workflow input, with the snapshots in the store.
Prepare = Callable[[Complaint], ComplaintInput]


class Ledgers:
    """Every customer's ledger, in memory, answered by the ledger workflow's own functions.

    A customer named by identifiers (``money-within-limits``) has one ledger for all of
    them: each normalised identifier points at a ledger, and ledgers found to be one
    customer merge into the smallest name, as the ledger activities do."""

    def __init__(self) -> None:
        self.states: dict[str, ledger.LedgerState] = {}
        self.aliases: dict[str, str] = {}

    def state(self, customer: str | dict[str, str]) -> ledger.LedgerState:
        if isinstance(customer, str):
            return self.states.setdefault(customer, ledger.LedgerState())
        names = [f"{kind}:{value}" for kind, value in identity.identifiers(customer).items()]
        found = sorted({self.aliases.get(name, names[0]) for name in names})
        target = self.states.setdefault(found[0], ledger.LedgerState())
        for other in found[1:]:
            ledger.merge(target, self.states.pop(other, ledger.LedgerState()))
            self.aliases = {name: found[0] if at == other else at for name, at in self.aliases.items()}
        self.aliases.update(dict.fromkeys(names, found[0]))
        return target


@dataclass
class Sent:
    """A message the case handed to delivery, at case time ``at``, as its reader would get it."""

    at: int
    send: Send
    subject: str = ""
    body: str = ""
    undeliverable: str = ""
    #: The channel it goes on: the first of its channels the reader can be reached on.
    channel: str = ""


class Simulation:
    """One complaint at a time, driven like staff and the customer would, without Temporal."""

    def __init__(
        self,
        store: Store,
        prepare: Prepare,
        ledgers: Ledgers | None = None,
        patched: Callable[[str], bool] | None = None,
        *,
        compose_messages: bool = False,
    ) -> None:
        self.store = store
        self.prepare = prepare
        self.ledgers = ledgers or Ledgers()
        self.patched = patched
        self.compose_messages = compose_messages
        self.core: Interpreter | None = None
        self.now = 0
        #: Every message handed to delivery, in order; undeliverable ones are logged by the case.
        self.delivered: list[Send] = []
        self.sent: list[Sent] = []

    @property
    def case(self) -> Interpreter:
        assert self.core is not None, "no complaint submitted"
        return self.core

    def submit(self, complaint: Complaint, *, at: int | None = None, previous: int | None = None) -> str:
        """Intake of a complaint (``at``: when it was entered, if later than its receipt);
        ``previous``: the customer's earlier complaints as their ledger counted them then (else
        the in-memory ledgers count them)."""
        workflow_input = self.prepare(complaint)
        complaint = workflow_input.complaint
        assert complaint.id is not None
        policy = self.store.policy(workflow_input.policy_sha)
        instance = self.store.instance(workflow_input.calendar_sha)
        self.core = Interpreter(
            policy,
            instance,
            complaint,
            complaint.id,
            patched=self.patched,
            calendar_sha=workflow_input.calendar_sha,
        )
        self.core.received_digest = workflow_input.complaint_sha256
        self.now = max(int(complaint.received_at.timestamp()), at or 0)
        self.core.start(self.now)
        self.flush()
        registration = self.core.ledger_registration(self.now)
        if registration is not None:
            request = ledger.Registration.model_validate(registration.registration)
            counted = ledger.register(self.ledgers.state(registration.customer), request)
            self.core.ledger_registered(self.now, counted if previous is None else previous)
            self.flush()
        self.step()
        return complaint.id

    def step(self) -> None:
        """One turn of the workflow's loop: calendar horizon, what falls due, messages."""
        core = self.case
        if core.state.finished:
            return
        request = core.calendar_extension(self.now)
        if request is not None:
            store = self.store
            longer = extended(
                store.policy(request.policy_sha), store.instance(request.calendar_sha), request.now
            )
            sha = store.put_instance(longer)
            core.calendar_extended(self.now, sha, store.instance(sha))
        core.tick(self.now)
        self.flush()

    def settle(self) -> dict[int, Answer]:
        answers: dict[int, Answer] = {}
        core = self.case
        while (reservation := core.next_reservation()) is not None:
            request = ledger.Reservation.model_validate(reservation.request(core.complaint_id))
            now = self.now if isinstance(reservation.customer, dict) else None
            result = ledger.reserve(self.ledgers.state(reservation.customer), request, now)
            answers[reservation.check.proposal] = core.reserved(self.now, reservation, result.model_dump())
        return answers

    def flush(self) -> None:
        self.settle()
        for message in self.case.take_sends():
            self.delivered.append(message)
            outbound = OutboundMessage.model_validate(message.model_dump())
            sent = Sent(self.now, message)
            reached = recipient(outbound)
            sent.channel = reached[0] if reached else ""
            if reached is None:
                sent.undeliverable = f"the customer has no contact for {', '.join(message.channels)}"
                self.case.delivery_failed(self.now, message, sent.undeliverable)
            elif self.compose_messages:
                sent.subject, sent.body = compose(self.case.compiled, outbound)
            self.sent.append(sent)

    def act(self, kind: str, actor: Actor, **fields: Any) -> Answer:
        return self.apply(Event(kind=kind, actor=actor, **fields))

    def apply(self, event: Event) -> Answer:
        """An event as an update brings it: answered, then the loop turns."""
        core = self.case
        answer = core.act(event, self.now)
        if answer.status == "pending_cap_check":
            answer = self.settle().get(int(answer.detail.get("proposal", 0)), answer)
        self.flush()
        self.step()
        return answer

    def advance(self, until: int) -> None:
        """Case time moves to ``until``, everything falling due on the way handled at its instant."""
        while not self.case.state.finished and (wake := self.case.next_wake()) is not None and wake <= until:
            self.now = max(wake, self.now)
            self.step()
        self.now = max(self.now, until)

    def result(self) -> CaseResult:
        core = self.case
        assert core.state.finished, "the case is still running"
        s = core.state
        return CaseResult(complaint_id=s.complaint_id, status=s.status, policy_sha=s.policy_sha, log=s.log)

    def log(self) -> list[LogEntry]:
        return list(self.case.state.log)

    def status(self) -> StatusView:
        return status_view(self.case, self.now)
