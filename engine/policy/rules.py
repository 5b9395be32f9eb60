"""Pure rule evaluation shared by the CLI and the workflow interpreter:
policy selection, required fields, refusals, classification, clock targets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .expressions import Evaluator
from .model import Clock, Complaint, Policy


@dataclass(frozen=True)
class Match:
    """A rule that matched, named by its source path."""

    path: str
    value: Any = None
    error: str | None = None


def in_effect(policies: Sequence[Policy], on: dt.date) -> list[Policy]:
    """The policies in effect on a day: effective by then, and of each id the latest version so."""
    latest: dict[str, Policy] = {}
    for policy in policies:
        meta = policy.policy
        if meta.effective > on:
            continue
        known = latest.get(meta.id)
        if known is None or (meta.effective, meta.version) > (known.policy.effective, known.policy.version):
            latest[meta.id] = policy
    return list(latest.values())


def select_policy(
    policies: Sequence[Policy],
    complaint_vars: dict[str, Any],
    case_vars: dict[str, Any],
    on: dt.date | None = None,
) -> Policy | None:
    """The matching policy with the highest priority, else the default policy.

    With ``on`` (the day the complaint was received) only the policies in effect
    that day take part.
    """
    if on is not None:
        policies = in_effect(policies, on)
    evaluator = Evaluator()
    variables = {"complaint": complaint_vars, "case": case_vars}
    matching = []
    for policy in policies:
        when = policy.applies_to.when
        if when is not None and evaluator.truth(when, variables)[0]:
            matching.append(policy)
    if matching:
        return max(matching, key=lambda p: (p.applies_to.priority, p.policy.id))
    defaults = [p for p in policies if p.applies_to.default]
    unconditional = [p for p in policies if p.applies_to.when is None]
    pool = defaults or unconditional
    return max(pool, key=lambda p: (p.applies_to.priority, p.policy.id)) if pool else None


def missing_fields(policy: Policy, complaint: Complaint) -> list[str]:
    """Required field paths that are absent or empty."""
    data = complaint.model_dump()
    missing = []
    for path in policy.intake.required:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, "", [], {}):
            missing.append(path)
    return missing


def refusal(policy: Policy, variables: dict[str, Any], evaluator: Evaluator) -> Match | None:
    """The first refusal rule that catches the complaint."""
    for i, rule in enumerate(policy.intake.refusals):
        hit, error = evaluator.truth(rule.when, variables)
        if hit:
            return Match(f"intake.refusals[{i}]", rule, error)
    return None


@dataclass(frozen=True)
class Refusal:
    """Why intake refuses a complaint: the rule, the reason told to the customer, its template."""

    rule: str
    reason: str
    template: str | None


def intake_refusal(
    policy: Policy, complaint: Complaint, variables: dict[str, Any], evaluator: Evaluator
) -> Refusal | None:
    """Intake's checks in order: accepted channel, required fields, then the refusal rules."""
    if complaint.channel not in policy.intake.channels:
        return Refusal("intake.channels", f"complaints are not accepted by {complaint.channel}", None)
    missing = missing_fields(policy, complaint)
    if missing:
        refusal_id = policy.intake.missing_information
        index = next((i for i, r in enumerate(policy.intake.refusals) if r.id == refusal_id), None)
        if index is None:
            return Refusal("intake.required", "missing " + ", ".join(missing), None)
        template = policy.intake.refusals[index].template
        return Refusal(f"intake.refusals[{index}]", "missing " + ", ".join(missing), template)
    hit = refusal(policy, variables, evaluator)
    if hit is not None:
        return Refusal(hit.path, hit.value.reason, hit.value.template)
    return None


def classify(policy: Policy, variables: dict[str, Any], evaluator: Evaluator) -> dict[str, Match]:
    """For each attribute, the first rule that matches and sets it."""
    out: dict[str, Match] = {}
    for i, rule in enumerate(policy.classification):
        if rule.when is not None and not evaluator.truth(rule.when, variables)[0]:
            continue
        for attr, value in rule.set.model_dump(exclude_none=True).items():
            out.setdefault(attr, Match(f"classification[{i}]", value))
    return out


def default_calendar(policy: Policy) -> str:
    """The calendar of anything that names none: the first selector, else the first calendar."""
    return next(iter(policy.calendar_selectors), None) or next(iter(policy.calendars))


def clock_calendar(policy: Policy, clock: Clock) -> str:
    return clock.calendar or default_calendar(policy)


def clock_applies(clock: Clock, variables: dict[str, Any], evaluator: Evaluator) -> bool:
    return clock.applies_when is None or evaluator.truth(clock.applies_when, variables)[0]
