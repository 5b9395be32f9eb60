"""``ombuds simulate``: a complaint run under a policy on the pure core, with timed events, as a
timeline a person can check against the policy and its calendar.

Events are timed relative to receipt (``+2h``, ``+3 business days`` in the policy's calendar),
``at next opening`` (the calendar's first working moment at or after the event before), or
absolutely (an ISO instant with its offset).  Each row of the timeline is one decision: when
(in the policy's timezone), the business time elapsed since receipt, the case's stage and level
then, its clocks, the action, its rule and the line of the pinned text, and the message sent.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ombuds.workflows import names
from ombuds.workflows.core import Actor, Event
from ombuds.workflows.core.events import KINDS

from .intake import Intake, IntakeError
from .policy.durations import DurationError, parse_duration
from .policy.errors import PolicyError
from .policy.loader import Document, LoadFailed, load_file
from .policy.model import Complaint
from .policy.snapshot import CompiledPolicy
from .settings import Settings
from .simulation import Simulation

#: Answers that say the policy did not take the event as asked (a refusal it logs, or none).
NOT_TAKEN = frozenset({"rejected", "not_authorised", "not_offered", "no_rule", "no_options", "refused"})
#: How long a simulation runs past its last event when no end is given.
DEFAULT_SPAN = dt.timedelta(days=365)


class SimulationError(Exception):
    """Events that cannot be read: their located problems."""

    def __init__(self, problems: list[PolicyError]) -> None:
        super().__init__("\n".join(p.render() for p in problems))
        self.problems = problems


@dataclass
class Timed:
    """One event of an events file: when, what, and where it was written."""

    at: str
    event: dict[str, Any]
    line: int


@dataclass
class Row:
    """One decision of the timeline."""

    at: str
    local: str
    business: str
    stage: str
    level: str
    status: str
    clocks: list[dict[str, Any]]
    action: str
    rule: str
    source: str
    actor: str
    detail: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "seq"}


@dataclass
class Timeline:
    policy: CompiledPolicy
    complaint_id: str
    received: int
    end: int
    rows: list[Row]
    answers: list[dict[str, Any]]
    snapshots: list[tuple[int, dict[str, Any]]]
    #: The policy's default calendar for this case (to read times the way the policy counts them).
    calendar: Any = None
    #: The customer's timezone, when they gave one (quiet hours are theirs).
    customer_timezone: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": {"id": self.policy.id, "version": self.policy.version, "sha256": self.policy.sha256},
            "complaint": self.complaint_id,
            "received": _iso(self.received),
            "until": _iso(self.end),
            "events": self.answers,
            "timeline": [r.as_json() for r in self.rows],
        }


def read_events(path: Path) -> list[Timed]:
    """An events file: a YAML list of ``{at, kind, by?, ...fields}``; located problems raise."""
    try:
        doc = load_file(path, collect=True)
    except LoadFailed as exc:
        raise SimulationError([exc.problem]) from None
    if doc.data is None:
        return []
    if not isinstance(doc.data, list):
        raise SimulationError(
            [_problem(doc, (), "an events file is a list of events (- at: ..., kind: ...)")]
        )
    found = []
    problems = []
    for index, item in enumerate(doc.data):
        if not isinstance(item, dict) or not isinstance(item.get("at"), str) or not item.get("kind"):
            problems.append(_problem(doc, (index,), "an event needs `at` (a time) and `kind`"))
            continue
        if item["kind"] not in KINDS:
            known = ", ".join(sorted(KINDS))
            problems.append(_problem(doc, (index, "kind"), f'"{item["kind"]}" is no event kind ({known})'))
            continue
        found.append(
            Timed(item["at"], {k: v for k, v in item.items() if k != "at"}, doc.position((index,))[0])
        )
    if problems:
        raise SimulationError(problems)
    return found


def _problem(doc: Document, loc: tuple[Any, ...], message: str) -> PolicyError:
    line, col = doc.position(loc)
    return PolicyError(file=doc.file, line=line, col=col, path=".".join(str(p) for p in loc), message=message)


def instant(text: str, received: int, previous: int, policy: CompiledPolicy, sim: Simulation) -> int:
    """When an event happens: ``+<duration>`` after receipt, ``at next opening`` after the event
    before, or an ISO instant with its offset."""
    spoken = text.strip()
    calendar = sim.case.calendar()
    if spoken.lower() in ("at next opening", "next opening"):
        return calendar.next_opening(previous)
    if spoken.startswith("+"):
        # counted as a deadline of that length is (by default): "+3 business days" is the close of
        # the third business day after receipt
        return calendar.due(received, parse_duration(spoken[1:].strip()))
    try:
        when = dt.datetime.fromisoformat(spoken)
    except ValueError:
        raise DurationError(
            f'"{text}" is no time: give "+2h", "+3 business days", "at next opening" or an instant with its offset'
        ) from None
    if when.tzinfo is None:
        raise DurationError(f'"{text}" has no UTC offset (e.g. 2027-03-02T10:00:00+00:00)')
    return int(when.timestamp())


def actor_of(event: dict[str, Any], policy: CompiledPolicy) -> Actor:
    """``by: customer`` / ``by: alice@supervisor`` / an ``actor`` mapping; else the customer for
    the customer's own events and staff at the first level for the others."""
    if isinstance(event.get("actor"), dict):
        return Actor.model_validate(event["actor"])
    by = event.get("by")
    if isinstance(by, str) and "@" in by:
        who, level = by.split("@", 1)
        return Actor(kind="staff", id=who, level=level)
    if by in ("customer", "system"):
        return Actor(kind=by)
    if KINDS[event["kind"]].sender == "customer":
        return Actor(kind="customer")
    levels = [level.id for level in policy.policy.authority]
    return Actor(kind="staff", id="simulated", level=levels[0] if levels else None)


def simulate(
    policy_path: Path,
    complaint: Complaint,
    events: list[Timed],
    until: str | None = None,
    previous_complaints: int | None = None,
) -> Timeline:
    """Run the complaint under the policy with the events; every decision, in order.
    ``previous_complaints``: the customer's earlier complaints, as their ledger counts them."""
    from .policy.compile import compile_file

    compiled = compile_file(policy_path)
    with tempfile.TemporaryDirectory(prefix="ombuds-simulate-") as home:
        settings = Settings(home=Path(home), policies=policy_path.parent)
        intake = Intake(settings, [compiled])
        sim = Simulation(
            intake.store,
            lambda c: intake.prepare(c, simulated=True, policy=compiled)[2],
            compose_messages=True,
        )
        try:
            complaint_id = sim.submit(
                complaint if complaint.id else complaint.model_copy(update={"id": "SIM-1"}),
                previous=previous_complaints,
            )
        except IntakeError as exc:
            raise SimulationError(
                [PolicyError(file="complaint", line=1, col=1, path="", message=str(exc))]
            ) from None
        received = sim.now
        snapshots: list[tuple[int, dict[str, Any]]] = [(sim.now, sim.status().model_dump(mode="json"))]
        rows: list[Row] = []
        answers: list[dict[str, Any]] = []
        seen = 0

        def note() -> None:
            nonlocal seen
            view = sim.status().model_dump(mode="json")
            snapshots.append((sim.now, view))
            log = sim.case.state.log
            for entry in log[seen:]:
                rows.append(_row(sim, entry, view, received))
            seen = len(log)

        note()
        previous = received
        for timed in events:
            try:
                when = instant(timed.at, received, previous, compiled, sim)
            except DurationError as exc:
                answers.append(
                    {"line": timed.line, "at": timed.at, "kind": timed.event["kind"], "refused": str(exc)}
                )
                continue
            _advance(sim, max(when, sim.now), note)
            previous = sim.now
            fields = {k: v for k, v in timed.event.items() if k not in ("by", "actor")}
            try:
                event = Event.model_validate(
                    {**fields, "actor": actor_of(timed.event, compiled).model_dump()}
                )
                answer = sim.apply(event)
                outcome: dict[str, Any] = {"status": answer.status, "reason": answer.reason}
            except (ValidationError, ValueError) as exc:
                outcome = {"refused": str(exc).splitlines()[0][:300]}
            if outcome.get("status") in NOT_TAKEN:
                outcome["refused"] = f"{outcome['status']}: {outcome.get('reason') or 'refused'}"
            answers.append({"line": timed.line, "at": _iso(sim.now), "kind": timed.event["kind"], **outcome})
            note()
        span = parse_duration(until.lstrip("+")) if until else None
        end = (
            sim.case.calendar().due(received, span) if span else previous + int(DEFAULT_SPAN.total_seconds())
        )
        _advance(sim, end, note)
        _attach_messages(sim, rows)
        return Timeline(
            compiled,
            complaint_id,
            received,
            sim.now,
            rows,
            answers,
            snapshots,
            sim.case.calendar(),
            sim.case.complaint.customer.timezone,
        )


def _advance(sim: Simulation, until: int, note: Any) -> None:
    """Case time to ``until``, a timeline row for what each wake decided."""
    while not sim.case.state.finished and (wake := sim.case.next_wake()) is not None and wake <= until:
        sim.now = max(wake, sim.now)
        sim.step()
        note()
    sim.now = max(sim.now, until) if not sim.case.state.finished else sim.now


def _row(sim: Simulation, entry: Any, view: dict[str, Any], received: int) -> Row:
    calendar = sim.case.calendar()
    at = int(dt.datetime.fromisoformat(entry.at.replace("Z", "+00:00")).timestamp())
    business = calendar.business_seconds_between(received, at)
    return Row(
        at=entry.at,
        local=calendar.local_datetime(at).strftime("%a %Y-%m-%d %H:%M"),
        business=f"{business // 3600}h{business % 3600 // 60:02d}",
        stage=str(view.get("stage") or ""),
        level=str(view.get("level") or ""),
        status=str(view.get("status") or ""),
        clocks=[
            {k: c.get(k) for k in ("id", "status", "due") if c.get(k) is not None}
            for c in view.get("clocks", [])
        ],
        action=entry.action,
        rule=entry.rule,
        source=entry.source,
        actor=entry.actor,
        detail=entry.detail,
        seq=entry.seq,
    )


def _attach_messages(sim: Simulation, rows: list[Row]) -> None:
    """Each message to the decision that sent it (its key names the decision), however much later
    it went out (held for quiet hours, combined)."""
    by_seq = {row.seq: row for row in rows}
    for s in sim.sent:
        parsed = names.message_key(s.send.key)
        row = by_seq.get(int(parsed[1].split(":")[0])) if parsed is not None else None
        if row is None:
            continue
        row.messages.append(
            {
                "to": s.send.to,
                "template": s.send.template,
                "channels": list(s.send.channels),
                "sent_at": _iso(s.at),
                "channel": s.channel,
                "subject": s.subject,
                "body": s.body,
                **({"undeliverable": s.undeliverable} if s.undeliverable else {}),
            }
        )


def _iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
