"""Compile a validated policy into a frozen, content-addressed snapshot, and
instantiate it for one complaint.

The :class:`CompiledPolicy` is what a running complaint pins: plain JSON, with
the sha256 of its canonical JSON, its message templates (content-hashed), the
source of every CEL condition, and the file and line of every rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import expressions
from .business_time import CaseCalendar
from .calendar import instantiate_calendar
from .durations import parse_duration
from .errors import PolicyInvalid
from .loader import Document, format_loc
from .model import Complaint, Policy
from .templates import TemplateSet
from .validate import Validated, validate_file

COMPILER_VERSION = 1


class CompiledTemplate(BaseModel):
    model_config = ConfigDict(frozen=True)
    subject: str
    body: str
    sha256: str
    variables: list[str] = Field(default_factory=list, description="Top-level names the template reads.")


class SourceRef(BaseModel):
    """Where a rule was written."""

    model_config = ConfigDict(frozen=True)
    file: str
    line: int


class CompiledPolicy(BaseModel):
    """A policy as a running complaint pins it."""

    model_config = ConfigDict(frozen=True)

    compiler_version: int = COMPILER_VERSION
    policy: Policy
    templates: dict[str, dict[str, CompiledTemplate]]
    sources: dict[str, SourceRef] = Field(description="Rule path (e.g. escalation[2]) → file and line.")
    conditions: dict[str, str] = Field(description="Rule path of every CEL condition → its source.")
    sha256: str = ""

    @property
    def id(self) -> str:
        return self.policy.policy.id

    @property
    def version(self) -> str:
        return self.policy.policy.version

    def canonical_json(self) -> str:
        body = self.model_dump(mode="json", exclude={"sha256"}, by_alias=True)
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def source_of(self, path: str) -> SourceRef | None:
        """The nearest recorded source of a rule path."""
        probe = path
        while probe:
            if probe in self.sources:
                return self.sources[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return None

    def template(self, name: str, locale: str | None) -> tuple[str, CompiledTemplate]:
        """The template text for a locale, falling back as the policy says."""
        by_locale = self.templates[name]
        order = [locale] if locale else []
        if locale and "-" in locale:
            order.append(locale.split("-")[0])
        order += [*self.policy.notifications.locale_fallback, self.policy.policy.locale]
        for candidate in order:
            if candidate in by_locale:
                return candidate, by_locale[candidate]
        first = sorted(by_locale)[0]
        return first, by_locale[first]

    def template_variables(self, name: str) -> frozenset[str]:
        """Names any locale of a template reads."""
        found = self._variables.get(name)
        if found is None:
            found = frozenset(v for t in self.templates.get(name, {}).values() for v in t.variables)
            self._variables[name] = found
        return found

    @property
    def _variables(self) -> dict[str, frozenset[str]]:
        cache: dict[str, frozenset[str]] | None = self.__dict__.get("_variables_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_variables_cache", cache)
        return cache

    @classmethod
    def from_json(cls, text: str | bytes) -> CompiledPolicy:
        return cls.model_validate_json(text)

    @classmethod
    def from_canonical(cls, data: bytes, sha: str) -> CompiledPolicy:
        """A snapshot from the exact bytes its sha256 was taken of (the store's form).

        Verifying the stored bytes, not a re-serialisation, keeps old snapshots
        valid when later versions add fields with defaults.
        """
        if hashlib.sha256(data).hexdigest() != sha:
            raise ValueError(f"snapshot {sha} does not match its content")
        return cls.model_validate_json(data).model_copy(update={"sha256": sha})


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
    )
    sha = hashlib.sha256(compiled.canonical_json().encode()).hexdigest()
    return compiled.model_copy(update={"sha256": sha})


def compile_file(path: str | Path, *, today: dt.date | None = None) -> CompiledPolicy:
    """Validate and compile; raises :class:`PolicyInvalid` with the full report."""
    return compile_validated(validate_file(path, today=today))


# --------------------------------------------------------------------------- instantiate


class Instance(BaseModel):
    """A policy's calendars resolved for one complaint, as explicit data."""

    model_config = ConfigDict(frozen=True)

    received_at: dt.datetime
    horizon_days: int
    calendars: dict[str, dict[str, Any]]
    selected: dict[str, str] = Field(description="Calendar selector → the calendar it chose.")
    customer_timezone: str | None = None
    customer_offsets: list[tuple[int, int]] = Field(default_factory=list)
    holidays_version: str
    tzdata_version: str

    @cached_property
    def built_calendars(self) -> dict[str, CaseCalendar]:
        """Calendars decoded so far: every case of a day shares them (they never change)."""
        return {}

    def calendar(self, name: str) -> CaseCalendar:
        """The case calendar for a calendar or selector name."""
        real = self.selected.get(name, name)
        built = self.built_calendars.get(real)
        if built is None:
            built = self.built_calendars[real] = calendar_from_data(self.calendars[real])
        return built


def calendar_to_data(cal: CaseCalendar) -> dict[str, Any]:
    """Compact encoding: intervals as delta-encoded seconds."""
    flat: list[int] = []
    previous = cal.start
    for a, b in cal.intervals:
        flat += [a - previous, b - a]
        previous = b
    return {
        "name": cal.name,
        "timezone": cal.timezone,
        "start": cal.start,
        "end": cal.end,
        "deltas": flat,
        "offsets": [list(o) for o in cal.offsets],
        "day": cal.business_day_seconds,
        "closed": [list(c) for c in cal.closed_days],
    }


def calendar_from_data(data: dict[str, Any]) -> CaseCalendar:
    intervals = []
    previous = data["start"]
    deltas = data["deltas"]
    for i in range(0, len(deltas), 2):
        a = previous + deltas[i]
        b = a + deltas[i + 1]
        intervals.append((a, b))
        previous = b
    return CaseCalendar(
        name=data["name"],
        timezone=data["timezone"],
        start=data["start"],
        end=data["end"],
        intervals=tuple(intervals),
        offsets=tuple((a, b) for a, b in data["offsets"]),
        business_day_seconds=data["day"],
        closed_days=tuple((a, b) for a, b in data.get("closed", [])),
    )


def horizon_days(policy: Policy) -> int:
    """Calendar days from receipt that cover every clock, date and follow-up."""
    texts: list[str] = []
    for clock in policy.clocks:
        texts += [clock.target, *clock.by_priority.values()]
        if clock.extension:
            texts.append(clock.extension.max_total)
    texts += [d.offset for d in policy.dates]
    for level in policy.authority:
        if level.decision_within:
            texts.append(level.decision_within)
    follow = policy.follow_up
    if follow.survey:
        texts += [follow.survey.after, follow.survey.expires_after]
    if follow.thank_you:
        texts.append(follow.thank_you.after)
    longest = max((parse_duration(t).approx_calendar_days() for t in texts), default=30)
    # the longest clock may start late (after a stage or a reopen): double it, plus slack
    return min(max(2 * longest + 30, 60), 3 * 366)


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
    span = days or horizon_days(policy)
    if selected is None:
        selected = select_calendars(policy, complaint)
    calendars = {
        name: calendar_to_data(instantiate_calendar(name, policy.calendars[name], received_at, span))
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
