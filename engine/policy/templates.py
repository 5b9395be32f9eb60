"""Message templates: ``<name>.<locale>.txt`` files owned by operations teams.

A template may start with a ``Subject:`` line and a blank line; the rest is the
body.  Templates are Jinja2, rendered in a sandbox, and are content-hashed into
the compiled policy so an audit shows the exact text a customer was sent.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from .errors import PolicyError
from .loader import Document

#: Names a template may use.
TEMPLATE_VARIABLES = frozenset(
    {
        "complaint",
        "customer",
        "case",
        "policy",
        "deadlines",
        "dates",
        "reason",
        "new_date",
        "level",
        "handoff",
        "options",
        "offer",
        "callback",
        "survey_url",
        "questions",
        "clock",
        "decision",
    }
)

_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_\-]*)\.(?P<locale>[a-z]{2,3}(?:-[A-Z]{2})?)\.txt$")
MAX_TEMPLATE_BYTES = 64_000


def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class Template:
    name: str
    locale: str
    subject: str
    body: str
    file: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.subject}\n\n{self.body}".encode()).hexdigest()


def split_subject(text: str) -> tuple[str, str, int]:
    """(subject, body, line offset of the body)."""
    if text.startswith("Subject:"):
        head, _, rest = text.partition("\n")
        body = rest[1:] if rest.startswith("\n") else rest
        return head[len("Subject:") :].strip(), body, 2 if rest.startswith("\n") else 1
    return "", text, 0


@dataclass
class TemplateSet:
    folder: str
    templates: dict[str, dict[str, Template]] = field(default_factory=dict)
    problems: list[PolicyError] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)

    @property
    def names(self) -> set[str]:
        return set(self.templates) | self.broken

    def locale_problems(self, default: str, locales: list[str]) -> list[PolicyError]:
        out = []
        for name, by_locale in sorted(self.templates.items()):
            first = next(iter(by_locale.values()))
            if default not in by_locale:
                out.append(
                    PolicyError(
                        first.file,
                        1,
                        1,
                        "",
                        f'template "{name}" has no text in the default locale "{default}"',
                        f"add {name}.{default}.txt",
                        "error",
                        "template",
                    )
                )
            for locale in locales:
                if locale not in by_locale and locale != default:
                    out.append(
                        PolicyError(
                            first.file,
                            1,
                            1,
                            "",
                            f'template "{name}" has no "{locale}" text; "{default}" is used',
                            f"add {name}.{locale}.txt",
                            "warning",
                            "template",
                        )
                    )
        return out


def load_templates(doc: Document, base_dir: Path, folder: str) -> TemplateSet:
    """Read and syntax-check every template in ``folder`` (relative to the policy)."""
    result = TemplateSet(folder)
    path = (base_dir / folder).resolve()
    if not path.is_dir():
        result.problems.append(
            doc.error(("templates", "dir"), f'template folder "{folder}" does not exist', code="template")
        )
        return result
    env = environment()
    for file in sorted(path.iterdir()):
        match = _FILE.match(file.name)
        if not match:
            if file.is_file() and not file.name.startswith("."):
                result.problems.append(
                    PolicyError(
                        str(file),
                        1,
                        1,
                        "",
                        f'"{file.name}" is not named <name>.<locale>.txt',
                        None,
                        "warning",
                        "template",
                    )
                )
            continue
        raw = file.read_bytes()
        if len(raw) > MAX_TEMPLATE_BYTES:
            result.problems.append(
                PolicyError(str(file), 1, 1, "", "template is too large", None, "error", "template")
            )
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            result.problems.append(
                PolicyError(str(file), 1, 1, "", "template is not valid UTF-8", None, "error", "template")
            )
            continue
        subject, body, body_line = split_subject(text)
        ok = True
        for part, offset in ((subject, 0), (body, body_line)):
            try:
                parsed = env.parse(part)
            except TemplateSyntaxError as exc:
                result.problems.append(
                    PolicyError(
                        str(file),
                        (exc.lineno or 1) + offset,
                        1,
                        "",
                        f"template syntax error: {exc.message}",
                        None,
                        "error",
                        "template",
                    )
                )
                ok = False
                continue
            for name in sorted(meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES):
                line = next((n + 1 for n, text in enumerate(part.splitlines()) if name in text), 1)
                result.problems.append(
                    PolicyError(
                        str(file),
                        line + offset,
                        1,
                        "",
                        f'template uses unknown variable "{name}"',
                        "templates can use: " + ", ".join(sorted(TEMPLATE_VARIABLES)),
                        "error",
                        "template",
                    )
                )
                ok = False
        if not ok:
            result.broken.add(match["name"])
        else:
            result.templates.setdefault(match["name"], {})[match["locale"]] = Template(
                match["name"], match["locale"], subject, body, str(file)
            )
    return result


def render(subject: str, body: str, context: dict[str, Any]) -> tuple[str, str]:
    """Render a template's subject and body in the sandbox."""
    env = environment()
    return env.from_string(subject).render(context), env.from_string(body).render(context)
