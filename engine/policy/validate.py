"""Validate a policy: schema, model, and semantic checks, all problems at once.

Each top-level section (and each item of a list section) is built on its own,
so a broken escalation rule does not hide a misspelt calendar name elsewhere:
the semantic checks run on every part that is still well-formed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import typing
import unicodedata
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from . import expressions, hygiene, money, tone
from .anchors import is_complaint_date
from .calendar import CalendarError, closed_dates, parse_range, supported_subdivisions, zone
from .durations import DURATION_PATTERN, Duration, DurationError, parse_duration, parse_percent
from .errors import ErrorCode, PolicyError, Report, did_you_mean, known_names_hint
from .loader import Document, LoadFailed, Loc, load_file, load_text
from .messages import localise
from .model import Clock, Compensation, Complaint, Policy
from .schema import generated, schema_problems
from .templates import TemplateSet, field_uses, load_templates, printed_without_default, render
from .vocabulary import EVERY_MESSAGE, SENT_WITH

MAX_SURVEY_QUESTIONS_WARN = 7
MAX_SURVEY_QUESTIONS = 15
_CUSTOM_FIELD = re.compile(r"complaint\.custom\.[A-Za-z_][A-Za-z0-9_]*")
#: ``dates["<id>"]`` (and ``.field``) in a condition.
_DATE_REF = re.compile(
    r"""(?<![.\w])(dates|clocks)\s*(?:\[\s*["']([^"']*)["']\s*\]|\.\s*([A-Za-z_][A-Za-z0-9_]*))"""
    r"""(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?"""
)


@dataclass
class Parts:
    """The sections of a policy that built; ``None`` (or a missing item) where broken."""

    sections: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    #: Names (ids, or keys of mapping sections) of items that are present but did not build.
    broken_names: dict[str, set[str]] = field(default_factory=dict)
    #: Sections that are written but unusable: of the wrong type, or under a misspelt key.
    broken_sections: set[str] = field(default_factory=set)
    #: List sections with a broken item whose id cannot be read.
    unnamed_broken: set[str] = field(default_factory=set)

    def get(self, name: str) -> Any:
        return self.sections.get(name)

    def items(self, name: str) -> Iterator[tuple[int, Any]]:
        """Well-formed items of a list section with their index."""
        value = self.sections.get(name)
        if isinstance(value, dict) and value.get("__items__"):
            yield from value["items"]
        elif isinstance(value, list):
            yield from enumerate(value)

    def assembled(self, data: dict[str, Any]) -> dict[str, Any]:
        """The document with every built section in place of its raw data."""
        out = dict(data)
        for name, info in Policy.model_fields.items():
            key = info.alias or name
            value = self.sections.get(name)
            if value is None or key not in out:
                continue
            if isinstance(value, dict) and value.get("__items__"):
                items = value["items"]
                out[key] = dict(items) if isinstance(data[key], dict) else [item for _, item in items]
            else:
                out[key] = value
        return out

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.sections.get(name)
        if isinstance(value, dict) and value.get("__items__"):
            return dict(value["items"])
        return value if isinstance(value, dict) else {}

    def broken(self, name: str) -> set[str]:
        return self.broken_names.get(name, set())

    def usable(self, name: str) -> bool:
        """False when the section is written but could not be read as a whole."""
        return name not in self.broken_sections

    def names_known(self, name: str) -> bool:
        """Whether every item's name can be read, so a reference to another name is wrong."""
        return name in self.sections and name not in self.broken_sections and name not in self.unnamed_broken


def _clean_loc(base: Loc, err_loc: tuple[Any, ...]) -> tuple[Loc, bool]:
    """A pydantic error location as a document path, and whether it names a mapping key."""
    parts: list[str | int] = list(base)
    is_key = False
    for part in err_loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if part == "[key]":
            is_key = True
            continue
        parts.append(part if isinstance(part, int) else str(part))
    return tuple(parts), is_key


def _pydantic_problems(
    doc: Document, base: Loc, exc: ValidationError, skip: frozenset[str] = frozenset()
) -> list[PolicyError]:
    """The model's errors, located; ``skip`` leaves out error types already reported otherwise."""
    out = []
    for err in exc.errors():
        if err["type"] in skip:
            continue
        loc, is_key = _clean_loc(base, err["loc"])
        if err["type"] == "timezone_aware":
            hint = "add the offset, e.g. 2026-11-21T18:45:00+01:00, or Z for UTC"
            out.append(doc.error(loc, "has no UTC offset", hint, code="model"))
            continue
        message = err["msg"]
        message = message[0].lower() + message[1:] if message else "invalid value"
        if is_key:
            key = loc[-1] if loc else ""
            out.append(doc.error(loc, f'invalid key "{key}": {message}', key=True, code="model"))
        else:
            out.append(doc.error(loc, message, code="model"))
    return out


def _parent_of_unknown_key(problem: PolicyError) -> str:
    """For an unknown key, the path of the mapping it is in (the model complains there too)."""
    if problem.code != "unknown-key" or '"' not in problem.message:
        return ""
    key = problem.message.split('"')[1]
    return problem.path[: -len(key) - 1] if problem.path.endswith("." + key) else ""


def _is_within(path: str, ancestor: str) -> bool:
    """Whether document path ``path`` is ``ancestor`` or inside it."""
    if not ancestor:
        return False
    return path == ancestor or path.startswith((ancestor + ".", ancestor + "["))


def _raw_id(item: Any, attr: str = "id") -> str | None:
    value = item.get(attr) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _build_parts(doc: Document, data: dict[str, Any], problems: list[PolicyError]) -> Parts:
    parts = Parts()
    fields = Policy.model_fields
    keys = [info.alias or name for name, info in fields.items()]
    for extra in data:
        if extra not in keys:
            guess = difflib.get_close_matches(str(extra), [k for k in keys if k not in data], n=1, cutoff=0.6)
            if guess:
                parts.broken_sections.add(guess[0])
    for name, info in fields.items():
        key = info.alias or name
        if key not in data:
            continue
        raw = data[key]
        annotation: Any = info.annotation
        origin = typing.get_origin(annotation)
        if origin is list and isinstance(raw, list):
            (item_type,) = typing.get_args(annotation)
            adapter: TypeAdapter[Any] = TypeAdapter(item_type)
            built = []
            for i, item in enumerate(raw):
                try:
                    built.append((i, adapter.validate_python(item)))
                except ValidationError as exc:
                    problems.extend(_pydantic_problems(doc, (key, i), exc))
                    if _raw_id(item) is not None:
                        parts.broken_names.setdefault(name, set()).add(str(_raw_id(item)))
                    else:
                        parts.unnamed_broken.add(name)
            parts.sections[name] = {"__items__": True, "items": built}
        elif origin is dict and isinstance(raw, dict):
            _, value_type = typing.get_args(annotation)
            adapter = TypeAdapter(value_type)
            built_map = []
            for k, item in raw.items():
                try:
                    built_map.append((k, adapter.validate_python(item)))
                except ValidationError as exc:
                    problems.extend(_pydantic_problems(doc, (key, k), exc))
                    parts.broken_names.setdefault(name, set()).add(str(k))
            parts.sections[name] = {"__items__": True, "items": built_map}
        else:
            try:
                parts.sections[name] = TypeAdapter(annotation).validate_python(raw)
            except ValidationError as exc:
                problems.extend(_pydantic_problems(doc, (key,), exc))
                parts.broken_sections.add(name)
    return parts


@dataclass
class Validated:
    """The outcome of validating one policy file."""

    report: Report
    document: Document | None = None
    policy: Policy | None = None
    templates: TemplateSet | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok and self.policy is not None


def validate_file(path: str | Path, *, today: dt.date | None = None) -> Validated:
    report = Report()
    try:
        doc = load_file(path, collect=True)
    except LoadFailed as exc:
        report.add(exc.problem)
        return Validated(report)
    return _validate_document(doc, Path(path).parent, report, today)


def validate_text(
    text: str, file: str = "<string>", *, base_dir: Path | None = None, today: dt.date | None = None
) -> Validated:
    report = Report()
    try:
        doc = load_text(text, file, collect=True)
    except LoadFailed as exc:
        report.add(exc.problem)
        return Validated(report)
    return _validate_document(doc, base_dir or Path("."), report, today)


def across_policies(validated: list[Validated]) -> list[PolicyError]:
    """Problems between policies loaded together: one id with two versions that intake cannot tell apart.

    Two files with the same id and version are the same policy twice; two versions
    of one id that take effect on the same day leave intake no way to choose.
    """
    problems: list[PolicyError] = []
    seen: dict[tuple[str, str], Validated] = {}
    effective: dict[tuple[str, dt.date], Validated] = {}
    for one in validated:
        if one.policy is None or one.document is None:
            continue
        meta = one.policy.policy
        doc = one.document
        first = seen.setdefault((meta.id, meta.version), one)
        if first is not one and first.document is not None:
            line, col = first.document.position(("policy", "version"))
            problems.append(
                doc.error(
                    ("policy", "version"),
                    f'policy "{meta.id}" version {meta.version} is also in {first.document.file}:{line}:{col}',
                    "give each version its own version, or remove one of the files",
                    code="duplicate-policy",
                )
            )
            continue
        earlier = effective.setdefault((meta.id, meta.effective), one)
        if earlier is not one and earlier.document is not None and earlier.policy is not None:
            line, col = earlier.document.position(("policy", "effective"))
            problems.append(
                doc.error(
                    ("policy", "effective"),
                    f'versions {earlier.policy.policy.version} and {meta.version} of policy "{meta.id}" both '
                    f"take effect on {meta.effective.isoformat()} (also {earlier.document.file}:{line}:{col})",
                    "intake could not choose between them: give the newer version a later effective date",
                    code="duplicate-policy",
                )
            )
    return problems


def validate_document(doc: Document, base_dir: Path, *, today: dt.date | None = None) -> Validated:
    """Validate a policy already loaded (with ``collect=True``); ``base_dir`` holds its templates."""
    return _validate_document(doc, base_dir, Report(), today)


def _validate_document(doc: Document, base_dir: Path, report: Report, today: dt.date | None) -> Validated:
    report.extend(doc.problems)
    if not isinstance(doc.data, dict):
        report.add(
            doc.error(
                (),
                f"a policy must be a YAML mapping at the top level, found {_kind_of(doc.data)}",
                "start with keys such as `ombuds: 1` and `policy:`",
                code="type",
            )
        )
        return Validated(report, doc)
    structural = schema_problems(doc, "policy")
    built: list[PolicyError] = []
    parts = _build_parts(doc, doc.data, built)
    schema_paths = {p.path for p in structural} | {_parent_of_unknown_key(p) for p in structural}
    report.extend(structural)
    # Model errors the schema already reported at the same place are noise.
    report.extend(p for p in built if not any(_is_within(p.path, s) for s in schema_paths))
    templates: TemplateSet | None = None
    templates_spec = parts.get("templates")
    if templates_spec is not None:
        templates = load_templates(doc, base_dir, templates_spec.dir)
        report.extend(templates.problems)
    # Without the folder every template name would look unknown: the folder problem says it all.
    usable_templates = templates if templates is not None and templates.found else None
    checker = _Checker(doc, parts, usable_templates, today or dt.date.today())
    checker.structure_ok = not report.errors
    report.extend(checker.run())
    policy: Policy | None = None
    if not report.errors:
        try:
            # the sections are built already; assembling them skips validating them twice
            policy = Policy.model_validate(parts.assembled(doc.data))
        except ValidationError as exc:
            report.extend(_pydantic_problems(doc, (), exc))
    return Validated(report, doc, policy, templates)


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return "a single value"


#: Model error types the JSON Schema reports first (its required keys and additionalProperties).
_SCHEMA_SAYS = frozenset({"missing", "extra_forbidden"})


def validate_complaint_data(doc: Document) -> tuple[Complaint | None, list[PolicyError]]:
    """Schema-check and build a complaint document."""
    if not isinstance(doc.data, dict):
        return None, [*doc.problems, doc.error((), "a complaint must be a mapping", code="type")]
    structural = schema_problems(doc, "complaint")
    try:
        complaint = Complaint.model_validate(doc.data)
        complaint, refused = hygiene.inspect(complaint)
        built: list[PolicyError] = [doc.error(p.loc, p.message, p.hint, code=p.code) for p in refused]
    except ValidationError as exc:
        complaint = None
        # the schema (made from the same model) already names missing and unknown keys
        built = _pydantic_problems(doc, (), exc, _SCHEMA_SAYS if structural else frozenset())
    # the model also checks what the schema cannot say (a time without its UTC offset);
    # where the schema already spoke, its message is the one kept
    schema_paths = {p.path for p in structural} | {_parent_of_unknown_key(p) for p in structural}
    problems = [
        *doc.problems,
        *structural,
        *(p for p in built if not any(_is_within(p.path, s) for s in schema_paths)),
    ]
    return (complaint if not problems else None), problems


# --------------------------------------------------------------------------- semantic checks


class _Checker:
    def __init__(self, doc: Document, parts: Parts, templates: TemplateSet | None, today: dt.date) -> None:
        self.doc = doc
        self.parts = parts
        self.templates = templates
        self.today = today
        self.problems: list[PolicyError] = []
        #: False when schema or model errors were found: some references may then be unseen.
        self.structure_ok = True

    def run(self) -> list[PolicyError]:
        for check in (
            self.check_metadata,
            self.check_conditions,
            self.check_calendars,
            self.check_intake,
            self.check_classification,
            self.check_stages,
            self.check_clocks,
            self.check_dates,
            self.check_authority,
            self.check_escalation,
            self.check_compensation,
            self.check_callbacks,
            self.check_notifications,
            self.check_follow_up,
            self.check_texts,
            self.check_templates,
        ):
            check()
        self.check_money()
        self.check_records()
        self.check_raw()
        return self.problems

    def check_raw(self) -> None:
        """What the schema cannot say: an empty condition, a control character, a duration too long."""
        durations = duration_keys()
        for loc, value in _walk(self.doc.data):
            key = loc[-1] if loc else None
            named = len(loc) >= 2 and loc[-2] in _NAMED_KEYS
            if value is None and key in _CONDITION_KEYS and not named:
                self.error(
                    loc,
                    f"`{key}` is empty, which would make the rule apply always",
                    f"write a condition, or leave `{key}` out for a rule that always applies",
                    code="empty",
                    key=True,
                )
            if not isinstance(value, str):
                continue
            bad = _control_character(value)
            if bad is not None:
                self.error(
                    loc,
                    f"text has the control character U+{ord(bad):04X}{_named(bad)}",
                    "remove it; only line breaks and tabs may be written in a policy",
                    code="text",
                )
            if key in durations or (len(loc) >= 2 and loc[-2] in durations):
                try:
                    too_long = parse_duration(value).too_long()
                except DurationError:
                    continue  # reported where the field is checked
                if too_long is not None:
                    self.error(loc, too_long, code="duration")

    # helpers ------------------------------------------------------------------------

    def _at_key(self, loc: Loc) -> bool:
        """A problem with a whole mapping or list is shown at its key (``hours:``), not its first item."""
        return isinstance(self.doc.value(loc), dict | list)

    def error(
        self,
        loc: Loc,
        message: str,
        hint: str | None = None,
        *,
        code: ErrorCode = "semantic",
        key: bool = False,
    ) -> None:
        self._add(loc, message, hint, code, key, "error")

    def warn(
        self,
        loc: Loc,
        message: str,
        hint: str | None = None,
        *,
        code: ErrorCode = "semantic",
        key: bool = False,
    ) -> None:
        self._add(loc, message, hint, code, key, "warning")

    def _add(
        self, loc: Loc, message: str, hint: str | None, code: ErrorCode, key: bool, severity: str
    ) -> None:
        at_key = key or self._at_key(loc)
        self.problems.append(self.doc.error(loc, message, hint, severity=severity, code=code, key=at_key))

    def raw(self, *loc: str | int) -> Any:
        return self.doc.value(loc)

    def duration(self, loc: Loc, text: str | None) -> Duration | None:
        if text is None:
            return None
        try:
            return parse_duration(text)
        except DurationError as exc:
            self.error(loc, str(exc), code="duration")
            return None

    @staticmethod
    def _quiet_duration(text: str) -> Duration | None:
        """A duration already reported where it is written, if it does not parse."""
        try:
            return parse_duration(text)
        except DurationError:
            return None

    def names(self, section: str, attr: str = "id") -> list[str]:
        return [getattr(item, attr) for _, item in self.parts.items(section)]

    def known(self, section: str) -> list[str]:
        """Names of a section's items, including items present but broken (already reported)."""
        names = self.names(section) if section != "calendars" else list(self.parts.mapping(section))
        return names + sorted(self.parts.broken(section) - set(names))

    def checkable(self, section: str) -> bool:
        """Whether references into ``section`` can be checked: it is present and every name is readable."""
        return self.parts.names_known(section)

    def raw_list(self, *loc: str | int) -> list[Any]:
        value = self.raw(*loc)
        return value if isinstance(value, list) else []

    def raw_triggers(self) -> set[str] | None:
        """Every trigger named by an escalation rule as written, or None when that is unknowable."""
        if "escalation" in self.parts.broken_sections:
            return None
        found = set()
        for rule in self.raw_list("escalation"):
            trigger = rule.get("trigger") if isinstance(rule, dict) else None
            on = trigger.get("on") if isinstance(trigger, dict) else None
            if not isinstance(on, str):
                return None  # a broken rule might be the one that handles it
            found.add(on)
        return found

    def unique(self, section: str, attr: str = "id") -> None:
        seen: dict[str, int] = {}
        for i, item in self.parts.items(section):
            name = getattr(item, attr)
            if name in seen:
                self.error(
                    (section, i, attr),
                    f'duplicate {attr} "{name}"',
                    f"first used at {section}[{seen[name]}]",
                    code="duplicate",
                )
            else:
                seen[name] = i

    def template_ref(self, loc: Loc, name: str | None, carries: frozenset[str] | None = None) -> None:
        """A template named at ``loc``: it exists, and reads nothing the message sent there lacks."""
        if name is None or self.templates is None or not self.templates.names:
            return  # no templates at all: reported once, at templates.dir
        if name not in self.templates.names:
            self.error(
                loc,
                f'unknown template "{name}"',
                known_names_hint(name, sorted(self.templates.names), "templates"),
                code="reference",
            )
        self.templates.used.add(name)
        site = template_site(loc)
        given = carries if carries is not None else SENT_WITH.get(site)
        if given is None:
            return
        given = EVERY_MESSAGE | given
        self.templates.carries.setdefault(name, set()).update(given)
        for locale, template in sorted(self.templates.templates.get(name, {}).items()):
            lacking = sorted(set(template.variables) - given)
            if lacking:
                self.error(
                    loc,
                    f'template "{name}" ({locale}) reads {", ".join(lacking)}, which the message sent '
                    f"here does not carry",
                    "here it gets: " + ", ".join(sorted(given)),
                    code="template",
                )
                return
            if not self.structure_ok:
                continue  # a broken part might be what the template reads
            failure = self.render_failure(template)
            if failure is not None:
                self.error(
                    loc,
                    f'template "{name}" ({locale}) cannot be rendered with the message sent here: {failure}',
                    code="template",
                )
                return

    def render_failure(self, template: Any) -> str | None:
        """Why a template cannot be rendered, with sample values of everything a message may carry.

        Once per template: what a setting's message lacks is checked before, so the outcome does
        not depend on the setting."""
        clocks, dates = tuple(self.known("clocks")), tuple(self.known("dates"))
        return _render_failure(template.subject, template.body, clocks, dates, template.locale)

    @property
    def calendar_names(self) -> list[str]:
        names = self.known("calendars")
        names += [n for n in self.parts.mapping("calendar_selectors") if n not in names]
        return names + sorted(self.parts.broken("calendar_selectors") - set(names))

    def calendar_ref(self, loc: Loc, name: str | None) -> None:
        if name is None or not self.checkable("calendars") or not self.parts.usable("calendar_selectors"):
            return
        if name not in self.calendar_names:
            self.error(
                loc,
                f'unknown calendar "{name}"',
                known_names_hint(name, self.calendar_names, "calendars"),
                code="reference",
            )

    @property
    def levels(self) -> list[str]:
        return self.known("authority")

    # sections -----------------------------------------------------------------------

    def check_metadata(self) -> None:
        meta = self.parts.get("policy")
        if meta is None:
            return
        if meta.review_by < self.today:
            self.warn(
                ("policy", "review_by"),
                f"the review date {meta.review_by.isoformat()} has passed",
                "review the procedure (annually) and set the next review date",
                code="review",
            )
        if meta.review_by < meta.effective:
            self.error(("policy", "review_by"), "review date is before the effective date")
        if meta.locales and meta.locale not in meta.locales:
            self.error(("policy", "locales"), f'default locale "{meta.locale}" is not listed in locales')

    def check_conditions(self) -> None:
        for loc, source in _conditions(self.doc.data):
            if not source:
                continue  # the schema says it must not be empty
            for match in _CUSTOM_FIELD.finditer(source):
                if f"has({match.group(0)})" not in source.replace(" ", ""):
                    message = f"{match.group(0)} is an error for complaints without that field"
                    hint = f"guard it: has({match.group(0)}) && ..."
                    self.cel_problem(loc, match.start(), message, hint, "warning")
            self._date_refs(loc, source)
            for problem in expressions.check(source):
                self.cel_problem(loc, problem.offset, problem.message, problem.hint)

    def cel_problem(
        self,
        loc: Loc,
        offset: int,
        message: str,
        hint: str | None,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        """A problem of the CEL text at ``loc``, at its ``offset`` in that text."""
        line, col = self.doc.line_col_of_offset(loc, offset)
        self.problems.append(PolicyError(self.doc.file, line, col, _fmt(loc), message, hint, severity, "cel"))

    def _date_refs(self, loc: Loc, source: str) -> None:
        """``dates["<id>"]`` and ``clocks["<id>"]`` in a condition name a date or clock of the
        policy, and one of its fields."""
        for match in _DATE_REF.finditer(source):
            root, name, field = match.group(1), match.group(2) or match.group(3), match.group(4)
            section, one = ("dates", "date") if root == "dates" else ("clocks", "clock")
            fields = expressions.DATE_FIELDS if root == "dates" else expressions.CLOCK_FIELDS
            known = self.known(section)
            if self.checkable(section) and name not in known:
                message, hint = f'unknown {one} "{name}"', known_names_hint(name, known, section)
            elif field is not None and field not in fields:
                message, hint = f'unknown field "{field}" of a {one}', f"a {one} has {', '.join(fields)}"
            else:
                continue
            self.cel_problem(loc, match.start(), message, hint)

    def check_calendars(self) -> None:
        for name, cal in self.parts.mapping("calendars").items():
            loc: Loc = ("calendars", name)
            try:
                zone(cal.timezone)
            except CalendarError as exc:
                self.error(
                    (*loc, "timezone"),
                    str(exc),
                    did_you_mean(cal.timezone, _timezones()) or 'use an IANA name such as "Europe/London"',
                    code="timezone",
                )
            working = False
            for day, ranges in cal.hours.items():
                spans = sorted((parse_range(r), j) for j, r in enumerate(ranges))
                for n, ((a, b), j) in enumerate(spans):
                    if b <= a:
                        self.error(
                            (*loc, "hours", day, j),
                            f'"{ranges[j]}" ' + ("is empty" if a == b else "ends before it starts"),
                            "an overnight shift is two ranges on two days",
                            code="hours",
                        )
                        continue
                    earlier = [(pa, pb, pj) for (pa, pb), pj in spans[:n] if pb > pa]
                    if earlier and a < max(pb for _, pb, _ in earlier):
                        other = max(earlier, key=lambda e: e[1])
                        self.error(
                            (*loc, "hours", day, j),
                            f'working ranges overlap: "{ranges[j]}" starts before "{ranges[other[2]]}" ends',
                            "merge them into one range",
                            code="hours",
                        )
                    working = True
            if cal.open:
                working = True
            if not working:
                self.error(
                    (*loc, "hours"),
                    "calendar has no working time",
                    "give at least one weekday working hours",
                    code="hours",
                )
            for i, source in enumerate(cal.holidays):
                self._check_holidays(cal, (*loc, "holidays", i), source)
        selectors = self.parts.mapping("calendar_selectors")
        calendars = self.known("calendars")
        for name, choices in selectors.items():
            fallback_seen = False
            for i, choice in enumerate(choices):
                loc = ("calendar_selectors", name, i)
                if fallback_seen:
                    self.warn(
                        loc,
                        "unreachable: an earlier choice without a condition always matches",
                        code="unreachable",
                    )
                if self.checkable("calendars") and choice.calendar not in calendars:
                    self.error(
                        (*loc, "calendar"),
                        f'unknown calendar "{choice.calendar}"',
                        known_names_hint(choice.calendar, calendars, "calendars"),
                        code="reference",
                    )
                fallback_seen = fallback_seen or choice.when is None
            if not fallback_seen:
                self.error(
                    ("calendar_selectors", name),
                    "selector has no fallback choice",
                    "end it with a choice that has no `when`",
                )
        for name in selectors:
            if name in calendars:
                self.error(("calendar_selectors", name), f'"{name}" is both a calendar and a selector')

    def _check_holidays(self, cal: Any, loc: Loc, source: Any) -> None:
        countries = _holiday_countries()
        if countries and source.country not in countries:
            self.error(
                (*loc, "country"),
                f'no public-holiday data for country "{source.country}"',
                "use an ISO 3166 code the holidays package supports, such as GB, DE or US",
                code="holidays",
            )
            return
        try:
            closed_dates(cal.model_copy(update={"holidays": [source], "closed": []}), [self.today.year])
        except Exception as exc:  # CalendarError, or anything the holidays package raises
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else "holiday data failed"
            subdivisions = supported_subdivisions(source.country)
            if source.subdivision and source.subdivision not in subdivisions:
                hint = (
                    known_names_hint(source.subdivision, subdivisions, "subdivisions")
                    if subdivisions
                    else f'"{source.country}" has no subdivisions; remove `subdivision`'
                )
                self.error(
                    (*loc, "subdivision"),
                    f'unknown subdivision "{source.subdivision}" of "{source.country}"',
                    hint,
                    code="holidays",
                )
            elif source.categories:
                self.error((*loc, "categories"), message, code="holidays")
            else:
                self.error(loc, message, code="holidays")

    def check_intake(self) -> None:
        intake = self.parts.get("intake")
        if intake is None:
            return
        refusal_ids = [r.id for r in intake.refusals]
        for i, path in enumerate(intake.required):
            tree: expressions.FieldTree | None = expressions.COMPLAINT_TREE
            for part in path.split("."):
                if tree is None:
                    break
                if part not in tree.children:
                    self.error(
                        ("intake", "required", i),
                        f'unknown complaint field "{path}"',
                        known_names_hint(part, list(tree.children), "fields"),
                        code="reference",
                    )
                    break
                tree = tree.children[part]
        if intake.missing_information and intake.missing_information not in refusal_ids:
            self.error(
                ("intake", "missing_information"),
                f'unknown refusal "{intake.missing_information}"',
                known_names_hint(intake.missing_information, refusal_ids, "refusals"),
                code="reference",
            )
        if intake.required and not intake.missing_information:
            self.warn(
                ("intake", "required"),
                "no refusal is named for missing information",
                "set intake.missing_information so the customer is told what is missing",
            )
        seen: dict[str, int] = {}
        for i, refusal in enumerate(intake.refusals):
            self.template_ref(("intake", "refusals", i, "template"), refusal.template)
            if refusal.id in seen:
                self.error(("intake", "refusals", i, "id"), f'duplicate id "{refusal.id}"', code="duplicate")
            seen.setdefault(refusal.id, i)
        self.template_ref(("intake", "primary_response"), intake.primary_response)

    def check_classification(self) -> None:
        catch_all: int | None = None
        seen_conditions: dict[str, int] = {}
        for i, rule in self.parts.items("classification"):
            if catch_all is not None:
                self.warn(
                    ("classification", i),
                    f"unreachable: classification[{catch_all}] has no condition and always matches first",
                    code="unreachable",
                )
            if rule.when is None and catch_all is None:
                catch_all = i
            if rule.when is not None:
                key = " ".join(rule.when.split())
                if key in seen_conditions:
                    self.warn(
                        ("classification", i, "when"),
                        f"unreachable: same condition as classification[{seen_conditions[key]}]",
                        code="unreachable",
                    )
                seen_conditions.setdefault(key, i)
            if not rule.set.model_dump(exclude_none=True):
                self.error(
                    ("classification", i, "set"),
                    "rule sets nothing",
                    "set severity, priority, category or queue",
                )

    def check_stages(self) -> None:
        self.unique("stages")
        finals = 0
        for i, stage in self.parts.items("stages"):
            self.template_ref(("stages", i, "notify"), stage.notify)
            finals += stage.final
            for k, other in enumerate(stage.decided_apart_from):
                self._event_ref(("stages", i, "decided_apart_from", k), f"stage:{other}")
                if other == stage.id:
                    self.error(
                        ("stages", i, "decided_apart_from", k), "a stage cannot be decided apart from itself"
                    )
        complete = self.checkable("stages") and not self.parts.broken("stages")
        if complete and not finals and list(self.parts.items("stages")):
            self.warn(("stages",), "no stage is marked final", "mark the closing stage with `final: true`")

    def _event_ref(self, loc: Loc, event: str) -> None:
        if event.startswith("stage:"):
            name = event.split(":", 1)[1]
            stages = self.known("stages")
            if self.checkable("stages") and name not in stages:
                self.error(
                    loc, f'unknown stage "{name}"', known_names_hint(name, stages, "stages"), code="reference"
                )
        elif event.startswith("clock:"):
            name = event.split(":")[1]
            clocks = self.known("clocks")
            if self.checkable("clocks") and name not in clocks:
                self.error(
                    loc, f'unknown clock "{name}"', known_names_hint(name, clocks, "clocks"), code="reference"
                )

    @property
    def priorities(self) -> set[str] | None:
        """Priorities classification sets, as written; None when a broken rule hides one."""
        if "classification" in self.parts.broken_sections:
            return None
        found = set()
        for rule in self.raw_list("classification"):
            sets = rule.get("set") if isinstance(rule, dict) else None
            if not isinstance(sets, dict):
                return None
            priority = sets.get("priority")
            if isinstance(priority, str):
                found.add(priority)
            elif priority is not None:
                return None
        return found

    def check_clocks(self) -> None:
        self.unique("clocks")
        for i, clock in self.parts.items("clocks"):
            loc: Loc = ("clocks", i)
            self.calendar_ref((*loc, "calendar"), clock.calendar)
            target = self.duration((*loc, "target"), clock.target)
            if target is not None and target.amount == 0:
                self.error((*loc, "target"), "target must be more than zero")
            for prio, text in clock.by_priority.items():
                self.duration((*loc, "by_priority", prio), text)
                priorities = self.priorities
                if priorities and prio not in priorities:
                    self.warn(
                        (*loc, "by_priority", prio),
                        f'priority "{prio}" is never set by classification',
                        did_you_mean(prio, sorted(priorities)),
                        code="unreachable",
                        key=True,
                    )
            self._event_ref((*loc, "starts"), clock.starts)
            for key in ("at_latest", "at_earliest"):
                name = getattr(clock, key)
                known = self.known("dates")
                if name is not None and self.checkable("dates") and name not in known:
                    self.error(
                        (*loc, key),
                        f'unknown date "{name}"',
                        known_names_hint(name, known, "dates"),
                        code="reference",
                    )
            self._from_complaint_date((*loc, "target"), clock.starts, target)
            for prio, text in clock.by_priority.items():
                self._from_complaint_date(
                    (*loc, "by_priority", prio), clock.starts, self._quiet_duration(text)
                )
            for j, event in enumerate(clock.stops):
                self._event_ref((*loc, "stops", j), event)
                if event == clock.starts:
                    self.error((*loc, "stops", j), "a clock cannot stop on the event that starts it")
            for j, warning in enumerate(clock.warnings):
                wloc = (*loc, "warnings", j)
                if (warning.at is None) == (warning.before is None):
                    self.error(wloc, "a warning needs exactly one of `at` (percent) or `before` (duration)")
                if warning.at is not None:
                    try:
                        parse_percent(warning.at)
                    except DurationError as exc:
                        self.error((*wloc, "at"), str(exc))
                before = self.duration((*wloc, "before"), warning.before)
                if (
                    before
                    and target
                    and before.is_business != target.is_business
                    and target.unit not in ("business_days",)
                ):
                    self.warn(
                        (*wloc, "before"),
                        f"warning counts {before.unit.replace('_', ' ')} but the target counts {target.unit.replace('_', ' ')}",
                    )
                for key, limit in [("target", target)] + [
                    (f"by_priority.{p}", self._quiet_duration(t)) for p, t in clock.by_priority.items()
                ]:
                    if before is not None and limit is not None and _not_shorter(before, limit):
                        self.error(
                            (*wloc, "before"),
                            f"a warning {before} before a deadline of {limit} ({key}) falls before the clock starts",
                            "make the warning shorter than the target, or give it as a share: at: 80%",
                        )
                for k, name in enumerate(warning.notify):
                    self.template_ref((*wloc, "notify", k), name)
            for k, name in enumerate(clock.notify_on_breach):
                self.template_ref((*loc, "notify_on_breach", k), name)
            self.template_ref((*loc, "notify_customer"), clock.notify_customer)
            self._when_due(loc, clock)
            if clock.extension is not None:
                cap = self.duration((*loc, "extension", "max_total"), clock.extension.max_total)
                self.template_ref((*loc, "extension", "notice"), clock.extension.notice)
                if cap and target and cap.unit == target.unit and cap.amount <= target.amount:
                    self.error(
                        (*loc, "extension", "max_total"),
                        f"extension cap {cap} is not longer than the target {target}",
                    )
            if clock.kind == "periodic_update" and not clock.repeat:
                self.warn((*loc, "repeat"), "a periodic update clock usually repeats", "set `repeat: true`")
            self._acknowledged_at_intake(i, clock)

    def _acknowledged_at_intake(self, i: int, clock: Any) -> None:
        """A clock that waits for the acknowledgement, which the default sends at intake."""
        intake, notes = self.parts.get("intake"), self.parts.get("notifications")
        if (
            "acknowledged" in clock.stops
            and intake is not None
            and self.raw("intake", "acknowledge") is None
            and notes is not None
            and "acknowledged" in notes.events
        ):
            j = clock.stops.index("acknowledged")
            self.warn(
                ("clocks", i, "stops", j),
                f'clock "{clock.id}" stops on the acknowledgement, which is sent at intake by default: '
                "it is met at once",
                "write intake.acknowledge: by_staff if staff acknowledge with the acknowledge event, "
                "or at_intake to keep it",
            )

    def check_dates(self) -> None:
        self.unique("dates")
        for i, date in self.parts.items("dates"):
            loc: Loc = ("dates", i)
            self.calendar_ref((*loc, "calendar"), date.calendar)
            if date.later_of and date.earlier_of:
                self.error(loc, "a date is the later of some dates or the earlier of them, not both")
            many = date.later_of or date.earlier_of
            if many:
                key = "later_of" if date.later_of else "earlier_of"
                if date.offset is not None or date.on is not None:
                    self.error(
                        loc, f"a date with {key} takes its `offset` or `on` from each entry, not its own"
                    )
                if len(many) < 2:
                    self.error(
                        (*loc, key),
                        f"{key} compares two or more dates",
                        "write one date with `offset` or `on`",
                    )
                for k, term in enumerate(many):
                    self._date_term((*loc, key, k), term.from_event, term.offset, term.on)
            else:
                self._date_term(loc, date.from_event, date.offset, date.on)

    def _date_term(self, loc: Loc, anchor: str, offset_text: str | None, on: object) -> None:
        """A period from an anchor (``from``, ``offset``) or a fixed date (``on``): exactly one."""
        if (offset_text is None) == (on is None):
            self.error(
                loc,
                "a date needs exactly one of `offset` (a period from `from`) or `on` (a fixed date)",
                "e.g. offset: 6 months, or on: 2027-01-14",
            )
            return
        offset = self.duration((*loc, "offset"), offset_text)
        self._event_ref((*loc, "from"), anchor)
        self._from_complaint_date((*loc, "offset"), anchor, offset)

    def _when_due(self, loc: Loc, clock: Clock) -> None:
        """A clock that acts when it falls due: a notice clock cannot, and a stage is named
        exactly for ``enter_stage``."""
        due = clock.when_due
        if due is None:
            return
        where: Loc = (*loc, "when_due")
        self.template_ref((*where, "notify"), due.notify)
        if clock.notify_customer is not None:
            self.error(
                where, "a clock either sends a notice when due (notify_customer) or acts (when_due), not both"
            )
        if clock.notify_on_breach:
            self.warn(
                (*loc, "notify_on_breach"), "a clock that acts when due never breaches: this is never sent"
            )
        if due.action == "enter_stage":
            stages = self.known("stages")
            if due.stage is None:
                self.error(where, "`action: enter_stage` needs the `stage`")
            elif self.checkable("stages") and due.stage not in stages:
                hint = known_names_hint(due.stage, stages, "stages")
                self.error((*where, "stage"), f'unknown stage "{due.stage}"', hint, code="reference")
        elif due.stage is not None:
            self.error((*where, "stage"), f"`stage` is only for `action: enter_stage`, not {due.action}")

    def _from_complaint_date(self, loc: Loc, anchor: str, duration: Duration | None) -> None:
        """A period from a date the complaint gives (often before the case) counts in calendar
        or elapsed time: working time before the receipt is not in a case calendar."""
        if duration is not None and is_complaint_date(anchor) and duration.is_business:
            self.error(
                loc,
                f'"{duration}" from {anchor}: a period from a date the complaint gives counts in '
                "days, weeks, months or years (or hours)",
                "e.g. 60 days",
                code="duration",
            )

    def check_authority(self) -> None:
        self.unique("authority")
        remedies = list(self.parts.get("compensation").remedies) if self.parts.get("compensation") else None
        previous = None
        for i, level in self.parts.items("authority"):
            loc: Loc = ("authority", i)
            if level.id == "next":
                self.error((*loc, "id"), '"next" is reserved for escalation targets')
            self.duration((*loc, "decision_within"), level.decision_within)
            self.calendar_ref((*loc, "calendar"), level.calendar)
            self.template_ref((*loc, "handoff_template"), level.handoff_template)
            limits = level.limits
            if remedies is not None:
                for j, remedy in enumerate(limits.remedies):
                    if remedy not in remedies:
                        self.error(
                            (*loc, "limits", "remedies", j),
                            f'unknown remedy "{remedy}"',
                            known_names_hint(remedy, remedies, "remedies"),
                            code="reference",
                        )
            if previous is not None:
                prev_id, prev = previous
                for attr, label in (
                    ("max_amount", "max amount"),
                    ("max_discount_percent", "max discount"),
                    ("max_coupons", "max coupons"),
                ):
                    if getattr(limits, attr) < getattr(prev, attr):
                        self.error(
                            (*loc, "limits", attr),
                            f'{label} {getattr(limits, attr)} is lower than the level below ("{prev_id}": {getattr(prev, attr)})',
                            "limits must grow with authority level",
                            code="limits",
                        )
                missing = [
                    r
                    for r in prev.remedies
                    if r not in limits.remedies and (remedies is None or r in remedies)
                ]
                if missing:
                    self.error(
                        (*loc, "limits", "remedies"),
                        f'may not grant {", ".join(missing)}, which "{prev_id}" may',
                        "higher levels may grant every remedy of lower levels",
                        code="limits",
                    )
            previous = (level.id, limits)

    def check_escalation(self) -> None:
        self.unique("escalation")
        clocks = {c.id: c for _, c in self.parts.items("clocks")}
        clock_names = self.known("clocks")
        seen: dict[tuple[str, str | None, str | None, str | None], int] = {}
        for i, rule in self.parts.items("escalation"):
            loc: Loc = ("escalation", i)
            if self.checkable("authority") and rule.to != "next" and rule.to not in self.levels:
                self.error(
                    (*loc, "to"),
                    f'unknown level "{rule.to}"',
                    known_names_hint(rule.to, [*self.levels, "next"], "levels"),
                    code="reference",
                )
            trigger = rule.trigger
            if trigger.on in ("sla_warning", "sla_breach"):
                if trigger.clock is None:
                    self.error((*loc, "trigger"), f"{trigger.on} needs `clock`")
                elif self.checkable("clocks") and trigger.clock not in clock_names:
                    self.error(
                        (*loc, "trigger", "clock"),
                        f'unknown clock "{trigger.clock}"',
                        known_names_hint(trigger.clock, clock_names, "clocks"),
                        code="reference",
                    )
                elif (
                    trigger.on == "sla_warning"
                    and trigger.clock in clocks
                    and not clocks[trigger.clock].warnings
                ):
                    self.error(
                        (*loc, "trigger", "clock"),
                        f'clock "{trigger.clock}" has no warnings, so this rule never fires',
                        code="unreachable",
                    )
            if trigger.warning is not None:
                warning_ids = (
                    [w.id for w in clocks[trigger.clock].warnings if w.id] if trigger.clock in clocks else []
                )
                if trigger.on != "sla_warning":
                    self.error(
                        (*loc, "trigger", "warning"),
                        f"`warning` only applies to sla_warning, not {trigger.on}",
                    )
                elif trigger.clock in clocks and trigger.warning not in warning_ids:
                    self.error(
                        (*loc, "trigger", "warning"),
                        f'clock "{trigger.clock}" has no warning with id "{trigger.warning}"',
                        known_names_hint(trigger.warning, warning_ids, "warning ids"),
                        code="reference",
                    )
            if trigger.clock is not None and trigger.on not in ("sla_warning", "sla_breach"):
                self.error(
                    (*loc, "trigger", "clock"),
                    f"`clock` only applies to sla_warning and sla_breach, not {trigger.on}",
                )
            key = (
                trigger.on,
                trigger.clock,
                trigger.warning,
                " ".join(trigger.when.split()) if trigger.when else None,
            )
            if key in seen:
                self.warn(
                    loc,
                    f"unreachable: escalation[{seen[key]}] has the same trigger and fires first",
                    code="unreachable",
                )
            seen.setdefault(key, i)
            # a rule fired by a clock's warning or breach names the clock in its messages
            by_clock = (
                frozenset({"clock"}) if rule.trigger.on in ("sla_warning", "sla_breach") else frozenset()
            )
            self.template_ref(
                (*loc, "notify_customer"),
                rule.notify_customer,
                SENT_WITH["escalation[].notify_customer"] | by_clock,
            )
            for j, name in enumerate(rule.notify_staff):
                self.template_ref(
                    (*loc, "notify_staff", j), name, SENT_WITH["escalation[].notify_staff[]"] | by_clock
                )
        triggers = self.raw_triggers()
        policy_follow = self.parts.get("follow_up")
        if (
            triggers is not None
            and policy_follow
            and policy_follow.survey
            and policy_follow.survey.low_score
            and policy_follow.survey.low_score.action == "escalate"
            and "low_survey_score" not in triggers
        ):
            self.error(
                ("follow_up", "survey", "low_score", "action"),
                "low score escalates, but no escalation rule has trigger low_survey_score",
                "add an escalation rule with `trigger: {on: low_survey_score}`",
            )
        low = policy_follow.survey.low_score if policy_follow and policy_follow.survey else None
        for i, rule in self.parts.items("escalation"):
            if low is not None and low.action == "notify" and rule.trigger.on == "low_survey_score":
                self.warn(
                    ("escalation", i, "trigger", "on"),
                    "never fires: follow_up.survey.low_score.action is notify, which only notifies",
                    "set the action to escalate or reopen for a low score to move the case",
                    code="unreachable",
                )
        if (
            triggers is not None
            and "escalation" in self.parts.sections
            and "customer_request" not in triggers
        ):
            self.warn(
                ("escalation",),
                "no rule handles a customer's request to escalate",
                "customers have the right to escalate: add a customer_request rule",
            )

    def _amounts_and_bundles(self, comp: Compensation) -> None:
        """Amount tables give numbers; bundles name remedies; a rate for a currency to convert."""
        remedies = list(comp.remedies)
        for name, remedy in comp.remedies.items():
            for k, row in enumerate(remedy.amounts):
                loc: Loc = ("compensation", "remedies", name, "amounts", k, "amount")
                if isinstance(row.amount, str):
                    for problem in expressions.check_number(row.amount):
                        self.cel_problem(loc, problem.offset, problem.message, problem.hint)
            if remedy.amounts and remedy.amounts[-1].when is not None:
                self.warn(
                    ("compensation", "remedies", name, "amounts"),
                    "no row applies when none of the conditions holds: staff must then give the amount",
                    "end the table with a row without `when`",
                )
        for name, bundle in comp.bundles.items():
            if name in comp.remedies:
                self.error(
                    ("compensation", "bundles", name), f'"{name}" is a remedy already', code="duplicate"
                )
            for k, part in enumerate(bundle.remedies):
                if part not in remedies:
                    hint = known_names_hint(part, remedies, "remedies")
                    self.error(
                        ("compensation", "bundles", name, "remedies", k), f'unknown remedy "{part}"', hint
                    )
        if comp.other_currency == "convert" and not comp.exchange_rates:
            self.error(
                ("compensation", "other_currency"),
                "`convert` needs `exchange_rates`",
                "e.g. exchange_rates: {USD: 0.92}",
            )

    def check_compensation(self) -> None:
        comp = self.parts.get("compensation")
        if comp is None:
            return
        remedies = list(comp.remedies)
        self._amounts_and_bundles(comp)
        offerable = remedies + list(comp.bundles)
        unconditional: int | None = None
        seen: dict[str, int] = {}
        for i, option_set in enumerate(comp.option_sets):
            loc: Loc = ("compensation", "option_sets", i)
            if option_set.id in seen:
                self.error(
                    (*loc, "id"),
                    f'duplicate id "{option_set.id}"',
                    f"first used at compensation.option_sets[{seen[option_set.id]}]",
                    code="duplicate",
                )
            seen.setdefault(option_set.id, i)
            if unconditional is not None:
                self.warn(
                    loc,
                    f"unreachable: option_sets[{unconditional}] has no condition and always matches first",
                    code="unreachable",
                )
            if option_set.when is None and unconditional is None:
                unconditional = i
            for j, option in enumerate(option_set.options):
                if option not in offerable:
                    self.error(
                        (*loc, "options", j),
                        f'unknown remedy "{option}"',
                        known_names_hint(option, offerable, "remedies or bundles"),
                        code="reference",
                    )
            self.template_ref((*loc, "template"), option_set.template)
        if comp.caps.per_customer:
            self.duration(("compensation", "caps", "per_customer", "period"), comp.caps.per_customer.period)
        top = None
        for _, level in self.parts.items("authority"):
            top = level
        if (
            top is not None
            and comp.caps.per_complaint is not None
            and top.limits.max_amount > comp.caps.per_complaint
        ):
            self.warn(
                ("compensation", "caps", "per_complaint"),
                f'the cap {comp.caps.per_complaint} is below what level "{top.id}" may grant ({top.limits.max_amount})',
                "the cap wins; lower the level's limit to match",
            )

    def check_callbacks(self) -> None:
        cb = self.parts.get("callbacks")
        if cb is None:
            return
        self.duration(("callbacks", "within"), cb.within)
        self.duration(("callbacks", "spacing"), cb.spacing)
        self.duration(("callbacks", "remind_owner_before"), cb.remind_owner_before)
        self.calendar_ref(("callbacks", "calendar"), cb.calendar)
        self.template_ref(("callbacks", "template"), cb.template)
        self.template_ref(("callbacks", "reminder"), cb.reminder)
        self.template_ref(("callbacks", "offer"), cb.offer)
        if cb.reminder is None:
            self.warn(
                ("callbacks",),
                "nobody is told when a callback falls due",
                "name the owner's reminder, callbacks.reminder: <template>; it gets callback and owner",
                key=True,
            )
        triggers = self.raw_triggers()
        if triggers is not None and "missed_callback" not in triggers:
            self.warn(
                ("callbacks",),
                "no escalation rule handles a missed callback",
                "add a rule with trigger missed_callback",
            )

    def check_notifications(self) -> None:
        notes = self.parts.get("notifications")
        if notes is None:
            return
        for event, note in notes.events.items():
            self.template_ref(("notifications", "events", event, "template"), note.template)
        if "resolution_proposed" in notes.events:
            self.error(
                ("notifications", "events", "resolution_proposed"),
                "nothing sends resolution_proposed yet",
                "to tell the customer a solution is proposed, give the stage where that happens "
                "notify: <template>",
                key=True,
            )
        # what staff write for the customer, and what the case grants, reach them only by these
        told = {
            "compensation_granted": "a compensation granted is not told to the customer",
            "information_requested": "a question staff ask (request_information) is not sent to the customer",
            "agent_reply": "a staff reply (agent_reply) is not sent to the customer",
        }
        if notes.combine_within and parse_duration(notes.combine_within).approx_minutes() > 60:
            self.warn(
                ("notifications", "combine_within"),
                f"combine_within: {notes.combine_within} holds every first message to a customer that long",
                "a few minutes are enough to gather the messages of one moment",
            )
        remedies = self.raw("compensation", "remedies")
        for event, lost in told.items():
            if event not in notes.events and (event != "compensation_granted" or remedies):
                self.warn(("notifications", "events"), lost, f"add {event}: {{template: <name>}}")
        meta = self.parts.get("policy")
        if meta and meta.locales:
            for i, loc_code in enumerate(notes.locale_fallback):
                if loc_code not in meta.locales:
                    self.error(
                        ("notifications", "locale_fallback", i),
                        f'locale "{loc_code}" is not in policy.locales',
                    )

    def check_follow_up(self) -> None:
        follow = self.parts.get("follow_up")
        if follow is None:
            return
        survey = follow.survey
        if survey is not None:
            loc: Loc = ("follow_up", "survey")
            n = len(survey.questions)
            if n > MAX_SURVEY_QUESTIONS:
                self.error(
                    (*loc, "questions"),
                    f"{n} questions; a survey may have at most {MAX_SURVEY_QUESTIONS}",
                    "keep surveys to 5-7 questions",
                )
            elif n > MAX_SURVEY_QUESTIONS_WARN:
                self.warn(
                    (*loc, "questions"),
                    f"{n} questions; surveys of 5-7 questions get answered",
                    "cut questions",
                )
            low, high = survey.scale
            if low >= high:
                self.error((*loc, "scale"), "the scale's lowest score must be below its highest")
            if survey.low_score and not low < survey.low_score.below <= high:
                self.error((*loc, "low_score", "below"), f"must be inside the scale {low}-{high}")
            if survey.low_score and survey.low_score.question > n:
                self.error(
                    (*loc, "low_score", "question"),
                    f"question {survey.low_score.question}, but the survey has {n} question{'s' if n > 1 else ''}",
                    f"name one of 1 to {n}",
                )
            self.template_ref((*loc, "template"), survey.template)
            if survey.low_score:
                for j, name in enumerate(survey.low_score.notify):
                    self.template_ref((*loc, "low_score", "notify", j), name)
        if follow.thank_you:
            self.template_ref(("follow_up", "thank_you", "template"), follow.thank_you.template)

    def check_texts(self) -> None:
        """A text written per locale (``title: {en: ..., de: ...}``) has the default locale's,
        and one for each listed locale; a locale the policy does not list is never read."""
        meta = self.parts.get("policy")
        if meta is None:
            return
        listed = [meta.locale, *(code for code in meta.locales if code != meta.locale)]
        for loc in self._local_texts():
            texts = self.raw(*loc)
            if not isinstance(texts, dict):
                continue
            what = "question" if "questions" in loc else str(loc[-1])
            if meta.locale not in texts:
                self.error(
                    loc,
                    f'{what} has no text in the default locale "{meta.locale}"',
                    f"add {meta.locale}: <text>",
                )
            for code in listed[1:]:
                if code not in texts:
                    self.warn(
                        loc, f'{what} has no "{code}" text; "{meta.locale}" is used', f"add {code}: <text>"
                    )
            for code in texts:
                if code not in listed:
                    self.warn(
                        (*loc, code),
                        f'{what} has a "{code}" text, which no message reads: "{code}" is not in policy.locales',
                        f"list {code} in policy.locales, or remove it",
                        key=True,
                    )

    def _local_texts(self) -> Iterator[Loc]:
        """Where the policy writes texts people read that may be written per locale."""
        for section in ("stages", "clocks", "dates", "authority"):
            for i, _ in enumerate(self.raw_list(section)):
                yield (section, i, "title")
        for i, _ in enumerate(self.raw_list("escalation")):
            yield ("escalation", i, "reason")
        remedies = self.raw("compensation", "remedies")
        for name in remedies if isinstance(remedies, dict) else ():
            yield ("compensation", "remedies", name, "title")
        for j, _ in enumerate(self.raw_list("follow_up", "survey", "questions")):
            yield ("follow_up", "survey", "questions", j)

    def _printed_without_default(self) -> None:
        """A template printing a complaint or customer field that intake does not require would
        not be sent for a complaint without it: it needs a default.  (A deadline printed while its
        clock is not running is reported at delivery: which clocks run depends on the case.)"""
        assert self.templates is not None
        intake = self.parts.get("intake")
        if intake is None:
            return  # a broken intake is reported where it is broken
        required = set(intake.required)
        always = {"complaint.id", "complaint.received_at", "complaint.channel"}
        for name, by_locale in sorted(self.templates.templates.items()):
            for locale, template in sorted(by_locale.items()):
                parts = ((template.subject, 0), (template.body, template.body_line))
                for text, offset in parts:
                    for path, line in printed_without_default(text):
                        field = path.removeprefix("complaint.")
                        if path.startswith(("deadlines", "dates")) or path in always or field in required:
                            continue
                        why = "intake does not require it"
                        self.problems.append(
                            PolicyError(
                                template.file,
                                line + offset,
                                1,
                                "",
                                f'template "{name}" ({locale}) prints {path}, which a message may lack '
                                f"({why}): such a message would not be sent",
                                f'give it a default: {{{{ {path} | default("...") }}}}, or an {{% if {path} %}}',
                                "warning",
                                "template",
                            )
                        )

    def check_money(self) -> None:
        """Every amount of the policy has at most its currency's decimals (ISO 4217)."""
        meta = self.parts.get("policy")
        if meta is None:
            return
        amounts: list[tuple[Loc, Any]] = [
            (("authority", i, "limits", "max_amount"), level.limits.max_amount)
            for i, level in self.parts.items("authority")
        ]
        comp = self.parts.get("compensation")
        if comp is not None:
            amounts += [(("compensation", "remedies", n, "value"), r.value) for n, r in comp.remedies.items()]
            amounts.append((("compensation", "caps", "per_complaint"), comp.caps.per_complaint))
            if comp.caps.per_customer is not None:
                amounts.append(
                    (("compensation", "caps", "per_customer", "amount"), comp.caps.per_customer.amount)
                )
        for loc, amount in amounts:
            if amount is None:
                continue
            amount = self._as_written(loc, amount)
            wrong = money.problem(amount, meta.currency)
            if wrong:
                self.error(
                    loc, wrong, "amounts are in the currency's major units (50 means 50 GBP)", code="range"
                )

    def _as_written(self, loc: Loc, amount: Decimal) -> Decimal:
        """An amount as the policy file writes it: YAML reads ``49.9999999999999999`` as a float
        that is already 50, so the digits are taken from the source text."""
        span = self.doc.spans.get(tuple(loc))
        if span is None:
            return amount
        text = self.doc.text[span[0] : span[1]].strip()
        try:
            written = Decimal(text)
        except ArithmeticError:
            return amount
        return written if written.is_finite() else amount

    def check_records(self) -> None:
        for key, what in (("review_every", "no review reminder"), ("report", "no report")):
            if self.raw("records", key) is not None:
                self.warn(
                    ("records", key),
                    f"recorded, not yet acted on: {what} is produced yet",
                    "leave it out until the monthly report exists, or keep it as a note",
                    code="unused",
                    key=True,
                )

    def check_templates(self) -> None:
        if self.templates is None:
            return
        self._printed_without_default()
        meta = self.parts.get("policy")
        if meta is not None:
            self.problems.extend(self.templates.locale_problems(meta.locale, meta.locales))
        self._template_keys()
        self._tone()
        if not self.structure_ok:
            return  # a broken section may be the one that uses a template
        for name in sorted(self.templates.names - self.templates.used - {"handoff"}):
            self.warn(("templates", "dir"), f'template "{name}" is never used', code="unused")

    def _tone(self) -> None:
        """Phrases that lose customers, in the text of the templates: warnings, as the wording is
        the team's to judge; and the tone settings that would do nothing."""
        assert self.templates is not None
        spec = self.parts.get("templates")
        if spec is None:
            return
        setting = spec.tone
        for i, text in enumerate(setting.allow):
            why = tone.unknown_allowed(text)
            if why is not None:
                self.warn(
                    ("templates", "tone", "allow", i),
                    f'"{text}" is not a built-in phrase, so allowing it changes nothing',
                    why,
                    code="tone",
                )
        meta = self.parts.get("policy")
        listed = sorted({meta.locale, *meta.locales}) if meta is not None else []
        for locale, phrases in setting.avoid.items():
            if meta is not None and not any(locale in (code, code.split("-")[0]) for code in listed):
                self.warn(
                    ("templates", "tone", "avoid", locale),
                    f'phrases for "{locale}", a locale the policy does not list, are never looked for',
                    f"the policy's locales are {', '.join(listed)}: add it to policy.locales, or remove it",
                    code="tone",
                    key=True,
                )
            for j, text in enumerate(phrases):
                why = tone.unusable(text)
                if why is not None:
                    self.error(
                        ("templates", "tone", "avoid", locale, j),
                        f'"{text}" {why}',
                        "write the words of the phrase; a `...` stands for up to five words between them",
                        code="pattern",
                    )
        for by_locale in self.templates.templates.values():
            for locale, template in by_locale.items():
                phrases = tone.phrases_for(
                    locale, builtin=setting.builtin, allow=setting.allow, avoid=setting.avoid
                )
                if phrases:
                    self.problems += tone.problems(
                        template.file, template.subject, phrases, col=template.subject_col
                    )
                    self.problems += tone.problems(
                        template.file, template.body, phrases, line=template.body_line + 1
                    )

    def _template_keys(self) -> None:
        """``deadlines["id"]`` and ``dates["id"]`` in templates name clocks and dates that exist."""
        assert self.templates is not None
        clocks = [*self.known("clocks"), "decision"]
        dates = self.known("dates")
        checkable = {"deadlines": self.checkable("clocks"), "dates": self.checkable("dates")}
        for by_locale in self.templates.templates.values():
            for template in by_locale.values():
                offset = 2 if template.subject else 0
                for part, shift in ((template.subject, 0), (template.body, offset)):
                    for variable, key, line in field_uses(part):
                        known = {"deadlines": clocks, "dates": dates}.get(variable)
                        if known is None or key in known or not checkable[variable]:
                            continue
                        self.problems.append(
                            PolicyError(
                                template.file,
                                line + shift,
                                1,
                                "",
                                f'{variable}["{key}"] names no {"clock" if variable == "deadlines" else "date"} of the policy',
                                known_names_hint(key, known, "ids"),
                                "error",
                                "template",
                            )
                        )


@functools.lru_cache(maxsize=1)
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=1)
def _holiday_countries() -> frozenset[str]:
    try:
        import holidays

        return frozenset(holidays.list_supported_countries())
    except Exception:  # pragma: no cover - depends on the holidays release
        return frozenset()


def _instant(at: str, end_of_day: bool = False) -> dict[str, Any]:
    return {"type": "instant", "at": at, "timezone": "Europe/London", "end_of_day": end_of_day}


def _label(of: str, id: str) -> dict[str, Any]:
    return {"type": "label", "of": of, "id": id}


def _money(amount: str) -> dict[str, Any]:
    return {"type": "money", "amount": amount, "currency": "EUR"}


#: Sample values of what some messages carry, for rendering templates at validation: typed
#: values as the core sends them (docs/policy-language.md, "Values in messages").
_SAMPLE_VALUES: dict[str, Any] = {
    "reason": "the records are still on their way",
    "new_date": _instant("2027-02-18T17:30:00Z"),
    "handoff": {
        "summary": "A hand-off summary.",
        "reason": "the deadline passed",
        "trigger": "sla_breach",
        "stage": _label("stage", "investigation"),
        "category": "general",
        "severity": "medium",
        "clocks": [
            {
                "clock": _label("clock", "resolution"),
                "status": "running",
                "due": _instant("2027-01-21T17:30:00Z"),
            }
        ],
        "compensation": _money("50.00"),
        "approval": {
            "number": 2,
            "remedy": {"type": "remedy", "id": "refund", "amount": _money("149.90")},
            "proposed_at": _label("level", "agent"),
            "approver": _label("level", "supervisor"),
        },
    },
    "options": [
        {"type": "remedy", "id": "refund", "amount": None},
        {"type": "remedy", "id": "replacement", "amount": None},
    ],
    "offer": {"type": "remedy", "id": "refund", "amount": _money("120.00")},
    "granted": [{"type": "remedy", "id": "refund", "amount": _money("120.00")}],
    "answer_by": _instant("2027-02-05T00:00:00Z", end_of_day=True),
    "callback": _instant("2027-01-21T10:00:00Z"),
    "owner": "agent",
    "survey_url": "https://complaints.example.com/my/SAMPLE/survey",
    "status_url": "https://complaints.example.com/my/SAMPLE",
    "questions": [_label("question", "0")],
    "decision": "upheld",
    "resolution": "We refunded the fee and corrected the statement.",
    "question": "Which account was charged?",
    "reply": "We are looking into it.",
}


@functools.lru_cache(maxsize=4096)
def _render_failure(
    subject: str, body: str, clocks: tuple[str, ...], dates: tuple[str, ...], locale: str
) -> str | None:
    """Why a template text cannot be rendered with sample values of everything a message may carry
    (every clock and date of the policy set), formatted in ``locale`` as at delivery; None when it
    renders."""
    try:
        sample_text(subject, body, clocks, dates, locale)
    except Exception as exc:  # any failure of the author's template text, as at delivery
        return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return None


def sample_text(
    subject: str, body: str, clocks: tuple[str, ...], dates: tuple[str, ...], locale: str
) -> tuple[str, str]:
    """A template text rendered with sample values of everything a message may carry: its
    subject and body as a customer would read them (raises what rendering raises)."""
    sample = dict(expressions.sample_variables()["complaint"])
    sample.pop("description", None)
    due = _instant("2027-01-21T17:30:00Z")
    message: dict[str, Any] = {
        "complaint": sample,
        "customer": sample["customer"],
        "case": {
            "status": "open",
            "stage": "received",
            "level": "agent",
            "severity": "medium",
            "priority": "P3",
            "category": "general",
            "survey_score": 3,
        },
        "policy": {"id": "policy", "version": "1", "title": "Policy"},
        "deadlines": {**dict.fromkeys(clocks, due), "decision": due},
        "dates": {date: {"type": "date", "date": "2027-02-23"} for date in dates},
        "level": _label("level", "supervisor"),
        "received": _instant("2027-01-04T10:00:00Z"),
        **_SAMPLE_VALUES,
        "clock": _label("clock", clocks[0] if clocks else "clock"),
    }
    return render(subject, body, localise(message, None, locale, to="customer"))


def template_site(loc: Loc) -> str:
    """The setting a template is named at, as :data:`SENT_WITH` keys it (indices as ``[]``)."""
    path = "".join("[]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return path.removesuffix(".template") if path.startswith("notifications.events.") else path


def _fmt(loc: Loc) -> str:
    from .loader import format_loc

    return format_loc(loc)


_CONDITION_KEYS = {"when", "offer_when", "applies_when"}
#: Mappings keyed by names the author chooses: a key there is never a condition.
_NAMED_KEYS = {"by_priority", "calendars", "calendar_selectors", "remedies", "custom"}


def _not_shorter(before: Duration, target: Duration) -> bool:
    """Whether a warning this long before the deadline is at or before the clock's start
    (in the same unit, or in units of one kind compared by their size)."""
    if before.unit == target.unit:
        return before.amount >= target.amount
    if before.is_business == target.is_business:
        return before.approx_minutes() >= target.approx_minutes()
    return False


def _walk(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every value of the raw document below the root, with its location."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*loc, key), value
            yield from _walk(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield (*loc, i), value
            yield from _walk(value, (*loc, i))


def _named(character: str) -> str:
    name = unicodedata.name(character, "")
    return f" ({name})" if name else ""


def _control_character(text: str) -> str | None:
    match = hygiene.CONTROL.search(text)
    return match.group(0) if match else None


@functools.lru_cache(maxsize=1)
def duration_keys() -> frozenset[str]:
    """The policy keys whose values are durations (and mappings of them), read from the schema."""
    keys: set[str] = set()

    def walk(node: Any, name: str | None) -> None:
        if isinstance(node, dict):
            if node.get("pattern") == DURATION_PATTERN and name is not None:
                keys.add(name)
            for key, value in node.items():
                if key == "properties":
                    for prop, schema in value.items():
                        walk(schema, prop)
                else:
                    walk(
                        value,
                        name if key in ("anyOf", "oneOf", "allOf", "additionalProperties", "items") else None,
                    )
        elif isinstance(node, list):
            for item in node:
                walk(item, name)

    walk(generated("policy"), None)
    return frozenset(keys)


def _conditions(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every CEL condition in the raw document with its location."""
    if isinstance(data, dict):
        named = bool(loc) and loc[-1] in _NAMED_KEYS
        for key, value in data.items():
            if key in _CONDITION_KEYS and isinstance(value, str) and not named:
                yield (*loc, key), value
            else:
                yield from _conditions(value, (*loc, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _conditions(item, (*loc, i))
