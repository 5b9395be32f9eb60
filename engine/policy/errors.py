"""Located problems in a policy or complaint, collected into one report."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

#: The kind of every problem, as ``ombuds validate --format json`` reports it (``code``).
ErrorCode = Literal[
    "io",
    "yaml",
    "unknown-key",
    "key",
    "missing",
    "type",
    "enum",
    "pattern",
    "format",
    "range",
    "empty",
    "length",
    "schema",
    "model",
    "duration",
    "duplicate",
    "duplicate-policy",
    "reference",
    "unreachable",
    "unused",
    "review",
    "timezone",
    "hours",
    "holidays",
    "limits",
    "template",
    "tone",
    "cel",
    "text",
    "contact",
    "semantic",
]
#: What each code means (docs/policy-language.md lists them from here).
CODES: dict[ErrorCode, str] = {
    "io": "a file named on the command line does not exist or cannot be read",
    "yaml": "not UTF-8, not well-formed YAML, an unknown alias, empty, too large or nested too deeply",
    "unknown-key": "a key the language does not have (often a misspelling)",
    "key": "a key that is not a valid name",
    "missing": "a required key is absent",
    "type": "a value of the wrong type",
    "enum": "a value that is not one of those allowed",
    "pattern": "a text that does not have the required form (a duration, a name, a code)",
    "format": "a date or other formatted value that does not parse",
    "range": "a number below its minimum or above its maximum",
    "empty": "an empty value where one is required",
    "length": "too few or too many items or characters",
    "schema": "another JSON Schema rule",
    "model": "a value the model refuses, such as a time without a UTC offset",
    "duration": "a duration that does not parse",
    "duplicate": "an id used twice",
    "duplicate-policy": "two policies with the same id and version, or in effect on the same day",
    "reference": "a name that refers to nothing: a level, stage, clock, calendar, template, remedy, ...",
    "unreachable": "a rule that can never take effect",
    "unused": "something defined and never used",
    "review": "the policy is past its review date",
    "timezone": "an unknown IANA timezone",
    "hours": "working hours that overlap or do not parse",
    "holidays": "an unknown holiday country, subdivision or category",
    "limits": "authority limits that do not rise from level to level",
    "template": "a message template that does not parse or reads an unknown variable",
    "tone": "a phrase in a template that loses customers (a warning), or a tone setting that does nothing",
    "cel": "a condition that does not parse, names an unknown field or compares unlike types",
    "text": "a text with a control character (NUL, an escape, a bidirectional override)",
    "contact": "a customer contact that cannot be reached: not an email address or phone number",
    "semantic": "any other check across the policy (conditions, counting, dates, ...)",
}


@dataclass(frozen=True, order=True)
class PolicyError:
    """One problem, located at ``file:line:col`` (1-based) and a document path."""

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None
    severity: Severity = "error"
    code: ErrorCode = "semantic"

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        subject = f"{self.path}: " if self.path else ""
        text = f"{where}: {self.severity}: {subject}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Report:
    """All problems found in one or more documents, in file and line order."""

    problems: list[PolicyError] = field(default_factory=list)

    def add(self, problem: PolicyError) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def extend(self, problems: Iterable[PolicyError]) -> None:
        for problem in problems:
            self.add(problem)

    @property
    def errors(self) -> list[PolicyError]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[PolicyError]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def sorted(self) -> list[PolicyError]:
        return sorted(self.problems, key=lambda p: (p.file, p.line, p.col, p.path, p.message))

    def render_text(self) -> str:
        return "\n".join(p.render() for p in self.sorted())

    def render_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "problems": [p.as_dict() for p in self.sorted()],
            },
            indent=2,
        )


class PolicyInvalid(Exception):
    """Raised by APIs that need a valid policy; carries the whole report."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(report.render_text() or "invalid policy")


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    """A ``did you mean "x"?`` hint for a misspelt name, or None.

    Besides close spellings it catches a different case (``Mon`` for ``mon``) and
    a full word for an abbreviated name (``thursday`` for ``thu``).
    """
    names = [c for c in candidates if c != word]
    lower = word.lower()
    same = [c for c in names if c.lower() == lower]
    close = same or difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not close and len(lower) >= 3:
        close = sorted(
            (
                c
                for c in names
                if len(c) >= 3 and (lower.startswith(c.lower()) or c.lower().startswith(lower))
            ),
            key=lambda c: (-len(c), c),
        )
    return f'did you mean "{close[0]}"?' if close else None


def known_names_hint(word: str, candidates: Sequence[str], what: str = "known") -> str:
    """A hint naming the closest candidate, or listing the valid ones."""
    suggestion = did_you_mean(word, candidates)
    if suggestion:
        return suggestion
    names = ", ".join(f'"{c}"' for c in sorted(candidates)[:12])
    return f"{what}: {names}" if names else f"no {what} are defined"
