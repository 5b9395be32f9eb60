"""One case as the core sees it: the pinned policy, the complaint, the state, and the log.

Every section module works on a :class:`Case`: it reads the policy and the
state, changes the state, appends decisions to the log with :meth:`Case.log`
and messages to :attr:`Case.sends`.  Nothing here knows Temporal, the clock or
any I/O: case time ``now`` is passed in as integer UTC seconds.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ombuds.engine.policy.business_time import CaseCalendar
from ombuds.engine.policy.expressions import Evaluator, case_variables, complaint_variables
from ombuds.engine.policy.model import Clock, Complaint, Policy, text_in
from ombuds.engine.policy.plan import Plan
from ombuds.engine.policy.rules import default_calendar
from ombuds.engine.policy.snapshot import CompiledPolicy, Instance

from .events import SYSTEM, Actor, Answer
from .patches import PERSONAL_DATA_BY_REFERENCE, TAMPER_EVIDENT_RECORDS
from .state import (
    CapCheck,
    CaseState,
    ConditionError,
    LogEntry,
    Send,
    by_reference,
    chain_start,
    complaint_digest,
)

#: Distinct condition errors kept per case (a broken condition repeats the same one).
MAX_CONDITION_ERRORS = 20


class Rejected(ValueError):
    """Malformed input or an impossible state: refused before anything is recorded."""


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def entry_time(entry: LogEntry) -> int:
    return int(dt.datetime.fromisoformat(entry.at.replace("Z", "+00:00")).timestamp())


def _current(_: str) -> bool:
    return True


class Case(ABC):
    """A compiled policy applied to one complaint."""

    def __init__(
        self,
        compiled: CompiledPolicy,
        instance: Instance,
        complaint: Complaint,
        complaint_id: str,
        patched: Callable[[str], bool] | None = None,
        calendar_sha: str = "",
    ) -> None:
        self.compiled = compiled
        #: Whether a change of behaviour (by its id in ``core.patches``) applies at this point of
        #: the case: the workflow passes ``workflow.patched``, so a history recorded before the
        #: change replays with the old behaviour; everywhere else the current behaviour holds.
        self.patched: Callable[[str], bool] = patched or _current
        self.policy: Policy = compiled.policy
        self.plan: Plan = compiled.plan
        self.instance = instance
        #: The sha of the case calendar in the store (a longer calendar replaces it).
        self.calendar_sha = calendar_sha
        self.complaint = complaint
        self.complaint_id = complaint_id
        #: The digest intake took of the complaint (``complaint_sha256`` of the workflow input).
        self.received_digest: str | None = None
        self.evaluator = Evaluator()
        self.complaint_vars = complaint_variables(complaint)
        # what templates see of the complaint: no free text, which stays in the history once
        self.template_complaint = complaint.model_dump(
            mode="json", exclude={"description"}, exclude_none=True
        )
        self.template_complaint["id"] = complaint_id
        self.template_complaint.setdefault("customer", {}).setdefault("contacts", {})
        #: Messages decided and not yet handed to delivery.
        self.sends: list[Send] = []
        #: Compensations waiting for the customer's ledger.
        self.cap_checks: list[CapCheck] = []
        #: How deep case events are nested (clocks anchored on each other).
        self.depth = 0
        #: While true, no customer message is decided: a clock's ``when_due`` said it all already.
        self.hushed = False
        #: ``dates`` as conditions last saw them, with the number of case events they counted.
        self.dates_seen: tuple[int, dict[str, Any]] | None = None
        self.state = CaseState(
            complaint_id=complaint_id,
            policy_sha=compiled.sha256,
            received=int(complaint.received_at.timestamp()),
        )

    def calendar(self, name: str | None = None) -> CaseCalendar:
        """A case calendar (the instance decodes each once, for every case that shares it)."""
        return self.instance.calendar(name or default_calendar(self.policy))

    def variables(self) -> dict[str, Any]:
        """What conditions see: the complaint and the case, and the clocks and dates when the
        policy's conditions read them."""
        s = self.state
        optional: dict[str, Any] = {}
        if "clocks" in self.plan.roots:
            optional["clocks"] = {
                cid: {
                    "status": cs.status,
                    "running": cs.status == "running",
                    "breached": cs.status == "breached",
                    "met": cs.met is True,
                    "due": iso(cs.due) if cs.due is not None else "",
                }
                for cid, cs in s.clocks.items()
            }
        if "dates" in self.plan.roots:
            optional["dates"] = self.date_values()
        return {
            **optional,
            "complaint": self.complaint_vars,
            "case": case_variables(
                {
                    "status": s.status,
                    "stage": s.stage,
                    "level": self.level_id,
                    "level_rank": s.level,
                    "severity": s.severity,
                    "priority": s.priority,
                    "category": s.category,
                    "queue": s.queue,
                    "acknowledged": s.acknowledged,
                    "waiting_on_customer": s.waiting_on_customer,
                    "escalations": s.escalations,
                    "reopened": s.reopened,
                    "compensation_total": float(s.compensation_total),
                    "survey_score": s.survey_score or 0,
                    "previous_complaints": s.previous_complaints,
                    "customer_requested_escalation": s.customer_requested_escalation,
                    "justified": bool(s.justified),
                }
            ),
        }

    @abstractmethod
    def date_values(self) -> dict[str, Any]:
        """``dates`` for conditions (``dates.condition_values``, which reads the case)."""

    def when(self, condition: str | None) -> bool:
        """Whether a condition holds now (no condition always holds; a failing one is false)."""
        return condition is None or self.evaluator.truth(condition, self.variables())[0]

    @property
    def level_id(self) -> str:
        return self.policy.authority[self.state.level].id

    def level_index(self, level_id: str | None) -> int | None:
        for i, level in enumerate(self.policy.authority):
            if level.id == level_id:
                return i
        return None

    def clock_def(self, clock_id: str) -> Clock:
        return self.policy.clocks[self.plan.clock_index[clock_id]]

    def clock_index(self, clock_id: str) -> int:
        return self.plan.clock_index[clock_id]

    def source(self, rule: str) -> str:
        ref = self.compiled.source_of(rule)
        return f"{ref.file}:{ref.line}" if ref else ""

    def log(
        self, now: int, trigger: str, rule: str, action: str, actor: Actor = SYSTEM, **detail: Any
    ) -> LogEntry:
        """Record a decision: when, why (trigger and rule), who acted, and what was decided."""
        self.state.seq += 1
        entry = LogEntry(
            seq=self.state.seq,
            at=iso(now),
            trigger=trigger,
            rule=rule,
            source=self.source(rule),
            actor=actor.describe(),
            action=action,
            detail=self.detail_to_log({k: v for k, v in detail.items() if v is not None}, trigger),
            policy_sha=self.compiled.sha256,
        )
        if self.patched(TAMPER_EVIDENT_RECORDS):
            log = self.state.log
            entry = entry.chained(
                log[-1].chain or "" if log else chain_start(entry.policy_sha, self.complaint_sha256())
            )
        self.state.log.append(entry)
        return entry

    def detail_to_log(self, detail: dict[str, Any], trigger: str) -> dict[str, Any]:
        """A decision's detail as the log keeps it: free texts by reference (from
        ``personal-data-by-reference`` on), so that the log holds no personal data."""
        if not detail or not self.patched(PERSONAL_DATA_BY_REFERENCE):
            return detail
        return by_reference(detail, trigger, self.state.texts)

    def logged_text(self, detail: dict[str, Any], field: str) -> str | None:
        """A text of a decision's detail: as logged, or the one its sha256 names."""
        value = detail.get(field)
        if isinstance(value, str):
            return value
        digest = detail.get(field + "_sha256")
        return self.state.texts.get(digest) if isinstance(digest, str) else None

    def complaint_sha256(self) -> str:
        """The digest of the complaint as received: the one intake took (it survives the erasure
        of what it digests), else taken now."""
        return self.received_digest or complaint_digest(self.complaint)

    def text(self, value: str | dict[str, str] | None) -> str:
        """A title of the policy in its default locale (a title may be one text per locale)."""
        return text_in(value, None, self.policy.policy.locale) or ""

    def local(self, t: int, calendar: str | None = None) -> str:
        """An instant as people read it in a calendar's timezone."""
        cal = self.calendar(calendar)
        return cal.local_datetime(t).strftime("%Y-%m-%d %H:%M") + f" ({cal.timezone})"

    def record_event(self, now: int, name: str) -> None:
        """The first time a case event happened."""
        self.state.events.setdefault(name, now)

    @abstractmethod
    def reopen(self, now: int, actor: Actor, trigger: str) -> None:
        """Open a resolved case again: ``lifecycle.reopen``, which sections below it (``follow_up``)
        reach through the case."""

    def note_condition_errors(self, now: int) -> None:
        """Record the conditions that failed to evaluate (each counted as false), once per error.

        They go beside the decision log, not into it, so the log and the message keys
        of a case stay what they were; ``ombuds status`` shows them.
        """
        failures, self.evaluator.failures = self.evaluator.failures, []
        known = self.state.condition_errors
        for condition, error in failures:
            found = next((e for e in known if e.condition == condition and e.error == error), None)
            if found is not None:
                found.count += 1
            elif len(known) < MAX_CONDITION_ERRORS:
                rules = sorted(path for path, text in self.compiled.conditions.items() if text == condition)
                known.append(ConditionError(rules=rules, condition=condition, error=error, first_at=iso(now)))


def event_first(case: Case, event: Callable[[], object], message: Callable[[], object]) -> None:
    """A case event and the message sent on it: the event first, so the message tells the clocks
    and dates it starts (``deadlines-as-regimes-count``); before, the message went first."""
    from .patches import DEADLINES_AS_REGIMES_COUNT

    if case.patched(DEADLINES_AS_REGIMES_COUNT):
        event()
        message()
    else:
        message()
        event()


def answer(status: str, entry: LogEntry | None, reason: str | None = "", **detail: Any) -> Answer:
    """An update's answer: the decision, its log entry and why."""
    return Answer(status=status, reason=reason or "", seq=entry.seq if entry else None, detail=detail)
