"""Policy tests: suites of cases (a complaint, timed events, expectations) run on the pure core.

A suite is a ``*.test.yaml`` file, by default in ``tests/`` beside the policies (policy
loading reads only the policies folder's own ``*.yaml``, never a subfolder).  It names its
policy (relative to itself) and its cases; each case gives a complaint (a file, relative to the
suite, or inline), timed events as ``ombuds simulate`` reads them, how long to run, and
expectations.  A failed expectation says what was expected, what happened instead, and the
policy line of the rule involved.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .policy.errors import PolicyError, PolicyInvalid
from .policy.loader import LoadFailed, load_file
from .policy.model import Complaint
from .policy.validate import validate_complaint_data
from .simulate import SimulationError, Timed, Timeline, simulate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageExpect(_Strict):
    """A message the case sends (every field given must match)."""

    template: str | None = None
    to: Literal["customer", "staff"] | None = None
    channel: str | None = Field(
        None, description="The channel it goes on (the first its reader can be reached on)."
    )
    contains: str | None = Field(None, description="Text in its subject or body.")
    within: tuple[str, str] | None = Field(
        None, description='Sent between two times after receipt, e.g. ["+0h", "+5 business days"].'
    )
    at_hours: tuple[str, str] | None = Field(
        None,
        description="Sent between two times of day in the customer's timezone (else the policy's), e.g. "
        '["21:00", "08:00"] for the night: with never, no message in quiet hours.',
        examples=[["21:00", "08:00"]],
    )


class DecisionExpect(_Strict):
    """A decision in the log: its action, and (each optional) its rule, detail and instant."""

    action: str
    amount_above: Decimal | None = Field(
        None, description="Its amount is above this (with never: nothing granted above a limit)."
    )
    rule: str | None = Field(None, description="The rule path, e.g. escalation[2].")
    detail: dict[str, Any] = Field(default_factory=dict, description="Values the decision's detail holds.")
    at: str | None = Field(None, description="The exact instant, with its offset.")


class DeadlineExpect(_Strict):
    """The instant a clock falls due (as it was last set: started or extended)."""

    clock: str
    due: str = Field(description="The exact instant, with its offset, e.g. 2027-01-21T17:30:00Z.")


class AnswerExpect(_Strict):
    """What the policy answered to one of the case's events (1 is the first)."""

    event: int = Field(ge=1)
    status: str
    reason_contains: str | None = None


class Expect(_Strict):
    """One expectation: exactly one of its kinds (``never`` wraps a decision or message that must not happen)."""

    decision: DecisionExpect | None = None
    message: MessageExpect | None = None
    deadline: DeadlineExpect | None = None
    breach: str | None = Field(None, description="A clock that breaches.")
    answer: AnswerExpect | None = None
    status: str | None = Field(None, description="The case's status at the end: open, resolved, closed, ...")
    level: str | None = Field(None, description="The level handling it at the end.")
    never: Expect | None = None

    @model_validator(mode="after")
    def _one(self) -> Expect:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one expectation ({', '.join(type(self).model_fields)}), not {given or 'none'}"
            )
        if (
            self.never is not None
            and (self.never.decision or self.never.message or self.never.breach) is None
        ):
            raise ValueError("never: wraps a decision, a message or a breach")
        return self


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: str
    kind: str


class Case(_Strict):
    name: str
    complaint: str | dict[str, Any] = Field(
        description="A complaint file (relative to the suite) or the complaint itself."
    )
    complaint_changes: dict[str, Any] = Field(
        default_factory=dict, description="Fields set on the complaint for this case."
    )
    events: list[Event] = Field(default_factory=list)
    until: str = Field("+3 months", description="How long after receipt to run.")
    previous_complaints: int | None = Field(
        None, ge=0, le=1000, description="The customer's earlier complaints, as their ledger counts them."
    )
    expect: list[Expect] = Field(min_length=1)


class Suite(_Strict):
    """A policy's test suite (``*.test.yaml``)."""

    policy: str = Field(description="The policy file, relative to the suite.")
    cases: list[Case] = Field(min_length=1)


def suite_json_schema() -> dict[str, Any]:
    schema = Suite.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ombuds policy test suite"
    return schema


class Failure(BaseModel):
    expected: str
    actual: str
    where: str = Field("", description="The policy line of the rule involved.")


class Outcome(BaseModel):
    suite: str
    case: str
    passed: bool
    failures: list[Failure] = Field(default_factory=list)
    seconds: float = 0.0


def load_suite(path: Path) -> tuple[Suite | None, list[PolicyError]]:
    """A suite file, or its located problems."""
    try:
        doc = load_file(path, collect=True)
    except LoadFailed as exc:
        return None, [exc.problem]
    try:
        suite = Suite.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not isinstance(p, str) or not p[:1].isupper())
            line, col = doc.position(loc)
            problems.append(
                PolicyError(
                    file=str(path),
                    line=line,
                    col=col,
                    path=".".join(str(p) for p in loc),
                    message=error["msg"],
                )
            )
        return None, problems
    problems = _references(path, doc, suite)
    return (None, problems) if problems else (suite, [])


def _references(path: Path, doc: Any, suite: Suite) -> list[PolicyError]:
    """What a suite names that its policy does not have: the policy itself, event kinds,
    templates, clocks and levels — each located in the suite."""
    from ombuds.workflows.core.events import KINDS

    from .policy.compile import compile_file

    def problem(loc: tuple[Any, ...], message: str) -> PolicyError:
        line, col = doc.position(loc)
        return PolicyError(
            file=str(path), line=line, col=col, path=".".join(str(p) for p in loc), message=message
        )

    try:
        policy = compile_file(path.parent / suite.policy)
    except (PolicyInvalid, OSError) as exc:
        why = "it has errors (ombuds validate)" if isinstance(exc, PolicyInvalid) else str(exc)
        return [problem(("policy",), f"the policy {suite.policy} cannot be used: {why}")]
    templates = set(policy.templates)
    clocks = {c.id for c in policy.policy.clocks}
    levels = {level.id for level in policy.policy.authority}
    found = []
    for i, case in enumerate(suite.cases):
        for j, event in enumerate(case.events):
            if event.kind not in KINDS:
                found.append(problem(("cases", i, "events", j, "kind"), f'"{event.kind}" is no event kind'))
        for j, expect in enumerate(case.expect):
            for at, inner in (
                (("cases", i, "expect", j), expect),
                (("cases", i, "expect", j, "never"), expect.never),
            ):
                if inner is None:
                    continue
                if inner.message and inner.message.template and inner.message.template not in templates:
                    found.append(
                        problem(
                            (*at, "message", "template"),
                            f'the policy has no template "{inner.message.template}"',
                        )
                    )
                clock = inner.breach or (inner.deadline.clock if inner.deadline else None)
                if clock and clock not in clocks:
                    found.append(
                        problem(at, f'the policy has no clock "{clock}" ({", ".join(sorted(clocks))})')
                    )
                if inner.level and inner.level not in levels:
                    found.append(problem((*at, "level"), f'the policy has no level "{inner.level}"'))
    return found


def run_case(suite_path: Path, suite: Suite, case: Case) -> Outcome:
    import time

    started = time.perf_counter()
    outcome = Outcome(suite=str(suite_path), case=case.name, passed=False)
    try:
        complaint = _complaint(suite_path, case)
        events = [Timed(e.at, e.model_dump(exclude={"at"}), index + 1) for index, e in enumerate(case.events)]
        timeline = simulate(
            suite_path.parent / suite.policy, complaint, events, case.until, case.previous_complaints
        )
    except (SimulationError, PolicyInvalid, ValueError, OSError) as exc:
        outcome.failures.append(Failure(expected="the case runs", actual=str(exc).splitlines()[0][:500]))
        return outcome
    for expectation in case.expect:
        failure = check(expectation, timeline)
        if failure is not None:
            outcome.failures.append(failure)
    # an event the policy did not take fails the case, unless an expectation says it should not
    expected = {e.answer.event for e in case.expect if e.answer is not None}
    for number, answer in enumerate(timeline.answers, start=1):
        if "refused" in answer and number not in expected:
            event = case.events[number - 1]
            outcome.failures.append(
                Failure(
                    expected=f"event {number} ({event.kind} at {event.at}) is taken",
                    actual=f"not taken: {answer['refused']}",
                )
            )
    outcome.passed = not outcome.failures
    outcome.seconds = time.perf_counter() - started
    return outcome


def _complaint(suite_path: Path, case: Case) -> Complaint:
    if isinstance(case.complaint, str):
        doc = load_file(suite_path.parent / case.complaint, collect=True)
        data = doc.data
    else:
        data = case.complaint
    if not isinstance(data, dict):
        raise ValueError("a complaint is a mapping")
    merged = {**data, **case.complaint_changes}
    from .policy.loader import Document

    complaint, problems = validate_complaint_data(Document(str(suite_path), merged))
    if complaint is None:
        raise ValueError("; ".join(f"{p.path}: {p.message}" for p in problems))
    return complaint


def check(expect: Expect, timeline: Timeline) -> Failure | None:
    """None when the timeline meets the expectation, else what failed."""
    if expect.never is not None:
        inner = check(expect.never, timeline)
        if inner is None:
            return Failure(
                expected=f"never: {_said(expect.never)}",
                actual="it happened",
                where=_where(expect.never, timeline),
            )
        return None
    if expect.decision is not None:
        return _decision(expect.decision, timeline)
    if expect.message is not None:
        return _message(expect.message, timeline)
    if expect.deadline is not None:
        return _deadline(expect.deadline, timeline)
    if expect.breach is not None:
        found = [
            r for r in timeline.rows if r.action == "breached" and r.detail.get("clock") == expect.breach
        ]
        return (
            None if found else Failure(expected=f"clock {expect.breach} breaches", actual="it did not breach")
        )
    if expect.answer is not None:
        return _answer(expect.answer, timeline)
    final = timeline.snapshots[-1][1]
    if expect.status is not None and final.get("status") != expect.status:
        return Failure(expected=f"status {expect.status} at the end", actual=f"status {final.get('status')}")
    if expect.level is not None and final.get("level") != expect.level:
        return Failure(expected=f"level {expect.level} at the end", actual=f"level {final.get('level')}")
    return None


def _decision(d: DecisionExpect, timeline: Timeline) -> Failure | None:
    same = [r for r in timeline.rows if r.action == d.action]
    for row in same:
        if d.rule is not None and row.rule != d.rule:
            continue
        if any(row.detail.get(k) != v and str(row.detail.get(k)) != str(v) for k, v in d.detail.items()):
            continue
        if d.at is not None and _instant(row.at) != _instant(d.at):
            continue
        if d.amount_above is not None and not _above(row.detail.get("amount"), d.amount_above):
            continue
        return None
    actual = (
        "; ".join(f"{r.at} {r.rule} ({r.source}) {r.detail}" for r in same[:5])
        if same
        else f"no {d.action!r} decision" + _answered(timeline)
    )
    return Failure(
        expected=_said(Expect(decision=d)),
        actual=actual,
        where=_source(timeline, d.rule) or (same[0].source if same else ""),
    )


def _message(m: MessageExpect, timeline: Timeline) -> Failure | None:
    sent = [(row, message) for row in timeline.rows for message in row.messages]
    window = None
    if m.within is not None:
        window = tuple(_after(timeline, text) for text in m.within)
    for row, message in sent:
        if m.template is not None and message["template"] != m.template:
            continue
        if m.to is not None and message["to"] != m.to:
            continue
        if m.channel is not None and m.channel != message.get("channel"):
            continue
        if m.contains is not None and m.contains not in message["subject"] + "\n" + message["body"]:
            continue
        sent_at = _instant(message.get("sent_at") or row.at)
        if window is not None and not window[0] <= sent_at <= window[1]:
            continue
        if m.at_hours is not None and not _in_hours(timeline, sent_at, m.at_hours):
            continue
        return None
    alike = [(r, msg) for r, msg in sent if m.template is None or msg["template"] == m.template]
    actual = (
        "; ".join(
            f"{r.at} to {msg['to']} {msg['template']} on {', '.join(msg['channels'])} ({r.source})"
            for r, msg in alike[:5]
        )
        if alike
        else "no such message"
    )
    return Failure(
        expected=_said(Expect(message=m)), actual=actual, where=alike[0][0].source if alike else ""
    )


def _answered(timeline: Timeline) -> str:
    """How the policy answered the case's events, for a failure that depends on them."""
    said = [
        f"event {n} {a['kind']}: {a.get('status') or 'refused'}"
        + (f" ({a.get('reason') or a.get('refused')})" if a.get("reason") or a.get("refused") else "")
        for n, a in enumerate(timeline.answers, start=1)
    ]
    return "; the events were answered: " + "; ".join(said) if said else ""


def _deadline(d: DeadlineExpect, timeline: Timeline) -> Failure | None:
    set_by = [
        r for r in timeline.rows if r.detail.get("clock") == d.clock and isinstance(r.detail.get("due"), str)
    ]
    if not set_by:
        return Failure(expected=f"clock {d.clock} due {d.due}", actual=f"clock {d.clock} was never started")
    last = set_by[-1]
    if _instant(str(last.detail["due"])) == _instant(d.due):
        return None
    return Failure(
        expected=f"clock {d.clock} due {d.due}",
        actual=f"due {last.detail['due']} ({last.action}, {last.detail.get('target', '')})",
        where=last.source,
    )


def _answer(a: AnswerExpect, timeline: Timeline) -> Failure | None:
    if a.event > len(timeline.answers):
        return Failure(
            expected=f"event {a.event} answered {a.status}",
            actual=f"the case has {len(timeline.answers)} events",
        )
    got = timeline.answers[a.event - 1]
    status = got.get("status") or ("refused" if "refused" in got else "")
    reason = str(got.get("reason") or got.get("refused") or "")
    if status == a.status and (a.reason_contains is None or a.reason_contains in reason):
        return None
    return Failure(
        expected=f"event {a.event} ({got['kind']}) answered {a.status}", actual=f"{status}: {reason}"
    )


def _where(expect: Expect, timeline: Timeline) -> str:
    rule = expect.decision.rule if expect.decision else None
    return _source(timeline, rule) or ""


def _source(timeline: Timeline, rule: str | None) -> str:
    if not rule:
        return ""
    ref = timeline.policy.source_of(rule)
    return f"{ref.file}:{ref.line}" if ref else ""


def _said(expect: Expect) -> str:
    for key, value in expect.model_dump(exclude_none=True).items():
        shown = (
            {k: v for k, v in value.items() if v not in (None, {}, [])} if isinstance(value, dict) else value
        )
        return f"{key} {shown}"
    return ""


def _above(value: Any, limit: Decimal) -> bool:
    try:
        return Decimal(str(value)) > limit
    except (InvalidOperation, ValueError):
        return False


def _in_hours(timeline: Timeline, t: int, hours: tuple[str, str]) -> bool:
    """Whether ``t`` falls between two times of day (over midnight when the first is later)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timeline.customer_timezone or timeline.calendar.timezone)
    local = dt.datetime.fromtimestamp(t, zone).strftime("%H:%M")
    start, end = hours
    return start <= local < end if start <= end else local >= start or local < end


def _instant(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _after(timeline: Timeline, text: str) -> int:
    from .policy.durations import parse_duration

    if not text.startswith("+"):
        return _instant(text)
    return int(timeline.calendar.due(timeline.received, parse_duration(text[1:].strip())))


def discover(paths: list[Path], policies: Path) -> list[Path]:
    """The suites under ``paths`` (files, or folders searched for ``*.test.yaml``), else those in
    ``<policies>/tests``."""
    roots = paths or [policies / "tests"]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += sorted(root.rglob("*.test.yaml"))
        elif root.exists():
            found.append(root)
    return found
