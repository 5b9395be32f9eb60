"""Compile a validated policy into a frozen, content-addressed snapshot, and
instantiate it for one complaint.

The snapshot (:class:`~ombuds.engine.policy.snapshot.CompiledPolicy`) is what a
running complaint pins: plain JSON, with the sha256 of its canonical JSON, its
message templates (content-hashed), the source of every CEL condition, and the
file and line of every rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from . import expressions
from .calendar import instantiate_calendar
from .durations import Duration
from .errors import PolicyInvalid
from .loader import Document, format_loc
from .model import Complaint, Policy
from .plan import Plan
from .snapshot import CompiledPolicy, CompiledTemplate, Instance, SourceRef, calendar_to_data
from .templates import TemplateSet
from .validate import Validated, validate_file


def _sources(doc: Document) -> dict[str, SourceRef]:
    name = Path(doc.file).name
    out: dict[str, SourceRef] = {}
    for loc, (line, _col) in doc.positions.items():
        # rules and their direct fields: enough to name any rule that fires
        if 0 < len(loc) <= 4:
            out[format_loc(loc)] = SourceRef(file=name, line=line)
    return out


def _conditions(doc: Document) -> dict[str, str]:
    from .validate import _conditions as walk

    return {format_loc(loc): source for loc, source in walk(doc.data)}


def _templates(templates: TemplateSet | None) -> dict[str, dict[str, CompiledTemplate]]:
    if templates is None:
        return {}
    return {
        name: {
            locale: CompiledTemplate(subject=t.subject, body=t.body, sha256=t.sha256, variables=t.variables)
            for locale, t in sorted(by_locale.items())
        }
        for name, by_locale in sorted(templates.templates.items())
    }


def compile_validated(validated: Validated) -> CompiledPolicy:
    if not validated.ok or validated.policy is None or validated.document is None:
        raise PolicyInvalid(validated.report)
    for source in _conditions(validated.document).values():
        expressions.program(source)
    compiled = CompiledPolicy(
        policy=validated.policy,
        templates=_templates(validated.templates),
        sources=_sources(validated.document),
        conditions=_conditions(validated.document),
        source={Path(validated.document.file).name: validated.document.text},
    )
    sha = hashlib.sha256(compiled.canonical_json().encode()).hexdigest()
    return compiled.model_copy(update={"sha256": sha})


def compile_file(path: str | Path, *, today: dt.date | None = None) -> CompiledPolicy:
    """Validate and compile; raises :class:`PolicyInvalid` with the full report."""
    return compile_validated(validate_file(path, today=today))


def horizon_days(plan: Plan, *, whole: bool = False) -> int:
    """Calendar days from receipt that cover every clock, date and follow-up.

    A case's calendar covers twice the longest duration, at most three years unless the
    longest duration itself is longer (a case that outlives its calendar extends it);
    ``whole`` covers the longest duration from receipt, as ``ombuds deadline`` shows it."""
    durations: list[Duration] = []
    for clock in plan.clocks:
        durations += [clock.target, *clock.by_priority.values()]
        if clock.extension_cap is not None:
            durations.append(clock.extension_cap)
    # a date in days to years needs the UTC offsets only, which reach further (far_end)
    durations += [p for d in plan.dates for p in d.periods if p.unit not in CALENDAR_UNITS]
    durations += [d for d in plan.decision_within if d is not None]
    durations += [d for d in (plan.survey_after, plan.survey_expiry, plan.thank_you_after) if d is not None]
    longest = max((d.approx_calendar_days() for d in durations), default=30)
    # the longest clock may start late (after a stage or a reopen): double it, plus slack
    if whole:  # every clock shown as if it started at receipt
        return max(longest + 60, 60)
    # at most three years ahead (a case that outlives it extends it), but never shorter than
    # the longest duration from receipt, so that intake can start every clock
    return max(min(max(2 * longest + 30, 60), 3 * 366), longest + 60)


#: Units a date counts without working time: only the calendar's UTC offsets.
CALENDAR_UNITS = frozenset({"days", "weeks", "months", "years"})


def longest_calendar_period(plan: Plan) -> int:
    """Days of the longest period in calendar units (days to years) a clock or date counts: an
    event inside the horizon may start one, which needs the UTC offsets that far, not the
    working time."""
    durations: list[Duration] = [p for d in plan.dates for p in d.periods]
    for clock in plan.clocks:
        durations += [clock.target, *clock.by_priority.values()]
        if clock.extension_cap is not None:
            durations.append(clock.extension_cap)
    calendar = [d.approx_calendar_days() for d in durations if d.unit in CALENDAR_UNITS]
    return max(calendar, default=0)


def select_calendars(policy: Policy, complaint: Complaint | None) -> dict[str, str]:
    """Each calendar selector's choice for a complaint.

    Selectors see the complaint and its classification (``case.priority``,
    ``case.category``, ``case.queue``, ``case.severity``), so a queue or a
    priority can have its own calendar.
    """
    from .rules import classify

    evaluator = expressions.Evaluator()
    variables: dict[str, Any] = {
        "complaint": expressions.complaint_variables(complaint) if complaint else {},
        "case": expressions.case_variables(),
    }
    if complaint is not None:
        classes = {k: m.value for k, m in classify(policy, variables, evaluator).items()}
        variables["case"] = expressions.case_variables(classes)
    chosen: dict[str, str] = {}
    for name, choices in policy.calendar_selectors.items():
        for choice in choices:
            if choice.when is None or evaluator.truth(choice.when, variables)[0]:
                chosen[name] = choice.calendar
                break
    return chosen


def instantiate(
    compiled: CompiledPolicy | Policy,
    received_at: dt.datetime,
    complaint: Complaint | None = None,
    *,
    days: int | None = None,
    selected: dict[str, str] | None = None,
) -> Instance:
    """Resolve the calendars a complaint needs into UTC working intervals."""
    policy = compiled.policy if isinstance(compiled, CompiledPolicy) else compiled
    if received_at.tzinfo is None:
        raise ValueError("received_at needs a UTC offset")
    plan = compiled.plan if isinstance(compiled, CompiledPolicy) else Plan.of(policy)
    span = days or horizon_days(plan)
    far = span + longest_calendar_period(plan) + 2
    if selected is None:
        selected = select_calendars(policy, complaint)
    calendars = {
        name: calendar_to_data(instantiate_calendar(name, policy.calendars[name], received_at, span, far))
        for name in sorted(policy.calendars)
    }
    customer_tz = complaint.customer.timezone if complaint else None
    offsets: list[tuple[int, int]] = []
    if customer_tz:
        from .calendar import _offset_changes, zone

        start = int(received_at.timestamp())
        offsets = _offset_changes(zone(customer_tz), start, start + span * 86_400)
    from .calendar import HOLIDAYS_VERSION, TZDATA_VERSION

    return Instance(
        received_at=received_at,
        horizon_days=span,
        calendars=calendars,
        selected=selected,
        customer_timezone=customer_tz,
        customer_offsets=offsets,
        holidays_version=HOLIDAYS_VERSION,
        tzdata_version=TZDATA_VERSION,
    )


def extended(policy: CompiledPolicy | Policy, current: Instance, now: int) -> Instance:
    """A longer case calendar for a case that outlives its horizon at case time ``now``."""
    elapsed = (now - int(current.received_at.timestamp())) // 86_400
    days = elapsed + 2 * current.horizon_days
    return instantiate(policy, current.received_at, days=days, selected=current.selected)
