"""What a running complaint pins: the compiled policy snapshot and its case calendar.

Plain data, read by the interpreter core and written by the compiler: importing
this module loads no YAML, JSON Schema or template engine, so the workflow
sandbox stays small.  A :class:`CompiledPolicy` is plain JSON with the sha256
of its canonical JSON; an :class:`Instance` holds a policy's calendars resolved
for one complaint as explicit UTC working intervals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .business_time import CaseCalendar
from .model import Policy
from .plan import Plan

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
    source: dict[str, str] = Field(
        default_factory=dict,
        description="The policy file's name → its exact text, as it was compiled (what each rule's "
        "file:line points at, years later).",
    )
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

    @cached_property
    def plan(self) -> Plan:
        """Durations and counting conventions parsed once, for every case that pins this snapshot."""
        return Plan.of(self.policy)

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

    def horizon_end(self) -> int:
        """The last instant the case calendar covers, UTC seconds."""
        return int(self.received_at.timestamp()) + self.horizon_days * 86_400

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
    data: dict[str, Any] = {
        "name": cal.name,
        "timezone": cal.timezone,
        "start": cal.start,
        "end": cal.end,
        "deltas": flat,
        "offsets": [list(o) for o in cal.offsets],
        "day": cal.business_day_seconds,
        "closed": [list(c) for c in cal.closed_days],
    }
    if cal.far_end:
        data["far_end"] = cal.far_end
    return data


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
        far_end=data.get("far_end", 0),
    )
