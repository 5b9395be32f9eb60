"""A policy's durations and counting conventions as typed values, parsed once per snapshot.

The snapshot keeps the policy's text ("5 business days"); the interpreter core
and ``ombuds deadline`` read the parsed values from here, so a duration is parsed
once when a snapshot is loaded, not at every use.  The CEL conditions are
compiled at the same moment into the shared program cache
(:func:`~ombuds.engine.policy.expressions.program`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .business_time import CountingRules
from .durations import Duration, parse_duration, parse_percent
from .expressions import program
from .model import Clock, Counting, DerivedDate, Policy

#: How follow-ups and other "after" times count: elapsed calendar time from the instant, in hours.
ELAPSED = CountingRules(end_of_day=False, out_of_hours="as_received")


def counting_rules(counting: Counting) -> CountingRules:
    """A policy's counting convention as the deadline arithmetic takes it."""
    return CountingRules(
        receipt_day=counting.receipt_day,
        business_days=counting.business_days,
        out_of_hours=counting.out_of_hours,
        end_of_day=counting.end_of_day,
    )


@dataclass(frozen=True)
class WarningPlan:
    """A clock warning: at a share of the target (0 < share ≤ 1) or a time before the deadline."""

    share: float | None
    before: Duration | None


@dataclass(frozen=True)
class ClockPlan:
    target: Duration
    by_priority: Mapping[str, Duration]
    counting: CountingRules
    warnings: tuple[WarningPlan, ...]
    extension_cap: Duration | None

    def target_for(self, index: int, priority: str | None) -> tuple[Duration, str]:
        """The target for a priority, and the path of the setting used."""
        if priority and priority in self.by_priority:
            return self.by_priority[priority], f"clocks[{index}].by_priority.{priority}"
        return self.target, f"clocks[{index}].target"


@dataclass(frozen=True)
class TermPlan:
    """A period from an anchor (a case event or a complaint's date), or a fixed date (``on``)."""

    anchor: str
    offset: Duration | None
    on: dt.date | None
    counting: CountingRules


@dataclass(frozen=True)
class DatePlan:
    """A derived date: its one term, or the later (``pick``: max) or earlier (min) of several."""

    terms: tuple[TermPlan, ...]
    pick: str = "one"

    @property
    def periods(self) -> list[Duration]:
        return [t.offset for t in self.terms if t.offset is not None]


def _date(date: DerivedDate) -> DatePlan:
    counting = counting_rules(date.counting)

    def term(from_event: str, offset: str | None, on: dt.date | None, own: Counting | None) -> TermPlan:
        rules = counting_rules(own) if own is not None else counting
        return TermPlan(from_event, _optional(offset) if on is None else None, on, rules)

    if date.later_of or date.earlier_of:
        many = date.later_of or date.earlier_of
        return DatePlan(
            tuple(term(t.from_event, t.offset, t.on, t.counting) for t in many),
            "later" if date.later_of else "earlier",
        )
    return DatePlan((term(date.from_event, date.offset, date.on, None),))


def _optional(text: str | None) -> Duration | None:
    return parse_duration(text) if text is not None else None


def _clock(clock: Clock) -> ClockPlan:
    return ClockPlan(
        target=parse_duration(clock.target),
        by_priority={p: parse_duration(t) for p, t in clock.by_priority.items()},
        counting=counting_rules(clock.counting),
        warnings=tuple(
            WarningPlan(
                share=parse_percent(w.at) / 100 if w.at is not None else None,
                before=_optional(w.before),
            )
            for w in clock.warnings
        ),
        extension_cap=_optional(clock.extension.max_total) if clock.extension else None,
    )


@dataclass(frozen=True)
class Plan:
    """Every duration and counting convention of a policy, parsed."""

    clocks: tuple[ClockPlan, ...]
    clock_index: Mapping[str, int]
    dates: tuple[DatePlan, ...]
    decision_within: tuple[Duration | None, ...]
    callback_within: Duration | None
    callback_spacing: Duration | None
    callback_reminder: Duration | None
    survey_after: Duration | None
    survey_reminder: Duration | None
    survey_expiry: Duration | None
    thank_you_after: Duration | None
    check_in_after: Duration | None
    cap_period: Duration | None
    #: Of the variables only some conditions read (``clocks``, ``dates``), those this policy's
    #: conditions name: a case computes the others for no one.
    roots: frozenset[str] = frozenset()

    def clock(self, clock_id: str) -> ClockPlan:
        return self.clocks[self.clock_index[clock_id]]

    @classmethod
    def of(cls, policy: Policy) -> Plan:
        conditions = _conditions(policy)
        for condition in conditions:
            program(condition)
        callbacks, follow = policy.callbacks, policy.follow_up
        survey = follow.survey
        per_customer = policy.compensation.caps.per_customer
        return cls(
            clocks=tuple(_clock(c) for c in policy.clocks),
            clock_index={c.id: i for i, c in enumerate(policy.clocks)},
            dates=tuple(_date(d) for d in policy.dates),
            decision_within=tuple(_optional(level.decision_within) for level in policy.authority),
            callback_within=_optional(callbacks.within) if callbacks else None,
            callback_spacing=_optional(callbacks.spacing) if callbacks else None,
            callback_reminder=_optional(callbacks.remind_owner_before) if callbacks else None,
            survey_after=_optional(survey.after) if survey else None,
            survey_reminder=_optional(survey.reminder_after) if survey else None,
            survey_expiry=_optional(survey.expires_after) if survey else None,
            thank_you_after=_optional(follow.thank_you.after) if follow.thank_you else None,
            check_in_after=_optional(follow.check_in_call.after) if follow.check_in_call else None,
            cap_period=_optional(per_customer.period) if per_customer else None,
            roots=frozenset(m.group(1) for c in conditions for m in _OPTIONAL_ROOT.finditer(c)),
        )


#: A variable a condition may read that a case computes only for policies whose conditions read it.
_OPTIONAL_ROOT = re.compile(r"(?<![.\w])(clocks|dates)\b")


def _conditions(policy: Policy) -> list[str]:
    """Every CEL condition a case of this policy may evaluate."""
    found = [policy.applies_to.when]
    found += [c.when for choices in policy.calendar_selectors.values() for c in choices]
    found += [r.when for r in policy.intake.refusals]
    found += [r.when for r in policy.classification]
    for clock in policy.clocks:
        found += [clock.applies_when, clock.extension.when if clock.extension else None]
    found += [r.trigger.when for r in policy.escalation]
    found += [o.when for o in policy.compensation.option_sets]
    found.append(policy.callbacks.offer_when if policy.callbacks else None)
    for remedy in policy.compensation.remedies.values():
        found += [row.when for row in remedy.amounts]
        found += [row.amount for row in remedy.amounts if isinstance(row.amount, str)]
    return [c for c in found if c is not None]
