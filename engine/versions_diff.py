"""``ombuds diff OLD NEW``: what changes between two versions of a policy, in plain language, and
which of OLD's test cases come out otherwise under NEW.

The policies are compared section by section as ``ombuds explain`` words them (deadlines and how
they are counted, calendars, limits, levels, escalation and compensation rules, follow-ups), so
every line of the diff is a sentence a person can check; templates are compared text by text.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from .explain import explain
from .policy.snapshot import CompiledPolicy
from .suites import Outcome, Suite, discover, load_suite, run_case


@dataclass
class Section:
    title: str
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


@dataclass
class Changed:
    """A test case whose outcome differs under NEW."""

    suite: str
    case: str
    before: Outcome
    after: Outcome


def sections(text: str) -> dict[str, list[str]]:
    """``ombuds explain`` text by section (a line ending in ':' at the left margin starts one)."""
    found: dict[str, list[str]] = {"Policy": []}
    current = "Policy"
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            found.setdefault(current, [])
        elif line.strip():
            found[current].append(line.rstrip())
    return found


def policy_changes(old: CompiledPolicy, new: CompiledPolicy) -> list[Section]:
    """The sections whose wording changed, each with its lines removed and added."""
    before, after = sections(explain(old)), sections(explain(new))
    out = []
    for title in [*before, *(t for t in after if t not in before)]:
        a, b = before.get(title, []), after.get(title, [])
        if a == b:
            continue
        section = Section(title)
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
            if op != "equal":
                section.removed += [line for line in a[i1:i2] if "sha256" not in line]
                section.added += [line for line in b[j1:j2] if "sha256" not in line]
        if section.removed or section.added:
            out.append(section)
    return out


def template_changes(old: CompiledPolicy, new: CompiledPolicy) -> list[str]:
    """Unified diffs of the templates that changed, were added or removed."""
    out: list[str] = []
    names = sorted(set(old.templates) | set(new.templates))
    for name in names:
        locales = sorted(set(old.templates.get(name, {})) | set(new.templates.get(name, {})))
        for locale in locales:
            a = old.templates.get(name, {}).get(locale)
            b = new.templates.get(name, {}).get(locale)
            if a is not None and b is not None and a.sha256 == b.sha256:
                continue
            text_a = f"subject: {a.subject}\n{a.body}" if a else ""
            text_b = f"subject: {b.subject}\n{b.body}" if b else ""
            label = f"{name} [{locale}]"
            out += list(
                difflib.unified_diff(
                    text_a.splitlines(),
                    text_b.splitlines(),
                    f"{label} (old)" if a else "(none)",
                    f"{label} (new)" if b else "(removed)",
                    lineterm="",
                )
            )
    return out


def suites_of(policy_path: Path, policies: Path) -> list[tuple[Path, Suite]]:
    """The suites (in ``<policies>/tests`` and beside the policy) written for this policy file."""
    wanted = policy_path.resolve()
    found = []
    for path in discover([], policies) + discover([], policy_path.parent):
        suite, _ = load_suite(path)
        if (
            suite is not None
            and (path.parent / suite.policy).resolve() == wanted
            and (path, suite) not in found
        ):
            found.append((path, suite))
    return found


def changed_cases(old_path: Path, new_path: Path, policies: Path) -> list[Changed]:
    """OLD's test cases run under OLD and under NEW: those whose outcome differs."""
    changed = []
    for path, suite in suites_of(old_path, policies):
        moved = suite.model_copy(update={"policy": str(new_path.resolve())})
        for case in suite.cases:
            before = run_case(path, suite, case)
            after = run_case(path, moved, case)
            if before.passed != after.passed or [f.model_dump() for f in before.failures] != [
                f.model_dump() for f in after.failures
            ]:
                changed.append(Changed(str(path), case.name, before, after))
    return changed
