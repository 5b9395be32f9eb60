"""Message templates: ``<name>.<locale>.txt`` files owned by operations teams.

A template may start with a ``Subject:`` line and a blank line; the rest is the
body.  Templates are Jinja2, rendered in a sandbox, and are content-hashed into
the compiled policy so an audit shows the exact text a customer was sent.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

from jinja2 import Template as Template_
from jinja2 import TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import PolicyError, did_you_mean
from .hygiene import CONTROL
from .loader import Document
from .model import Complaint, Contacts, Customer
from .vocabulary import TEMPLATE_VARIABLES as TEMPLATE_VOCABULARY

#: Names a template may use.
TEMPLATE_VARIABLES = frozenset(TEMPLATE_VOCABULARY)

_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_\-]*)\.(?P<locale>[a-z]{2,3}(?:-[A-Z]{2})?)\.txt$")
MAX_TEMPLATE_BYTES = 64_000


class Missing(Undefined):
    """A value the message lacks: false in a condition and empty in a loop, but never printed as
    blank text — printing it stops the rendering, and the message is reported undeliverable."""

    __slots__ = ()

    def __str__(self) -> str:
        self._fail_with_undefined_error()
        return ""  # pragma: no cover - the line above raises


class MissingValue(ValueError):
    """A template printed a value its message does not carry."""


class TooCostly(ValueError):
    """A template that takes too long to render, or writes too much."""


#: How long one rendering may take, and how many characters it may write (subject and body).
RENDER_SECONDS = 1.0
RENDER_CHARS = 200_000
#: The largest whole number a template may pass to a filter or function (``center(10**9)``
#: would take the memory before a character is counted; amounts are decimals, not checked).
LARGEST_ARGUMENT = 1_000_000


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with no template able to make a number or a text too large to write.

    ``*`` and ``**`` are checked before they run (``"x" * 10**9`` would take the memory before
    any output is counted), and so is every call given a number larger than a message could
    be long (``center(10**9)``); the time and the output of a rendering are bounded by
    :func:`render`."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and (not isinstance(right, int) or abs(right) > 64 or _too_big(left)):
            raise TooCostly(f"the power {right} is too large for a template")
        if operator == "%" and isinstance(left, str):
            _check_format(left)
            if "*" in left:
                raise TooCostly("a width taken from the arguments (%*s) is not allowed in a template")
        if operator == "*":
            count = right if isinstance(left, str | list | tuple) else left
            item = left if isinstance(left, str | list | tuple) else right
            if (
                isinstance(item, str | list | tuple)
                and isinstance(count, int)
                and len(item) * count > RENDER_CHARS
            ):
                raise TooCostly(f"repeating a text {count} times writes more than a message may hold")
        return super().call_binop(context, operator, left, right)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded(f) for name, f in self.filters.items()}

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            _check_format(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, str) and argument in ("format", "format_map"):
            _check_format(obj)
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        if __obj in (str.format, str.format_map) and args and isinstance(args[0], str):
            _check_format(args[0])
        _check_size(getattr(__obj, "__name__", ""), getattr(__obj, "__self__", None), args)
        return super().call(__context, __obj, *args, **kwargs)


#: A width or precision of eight digits or more in a format (``"%1000000000s"``, ``{:>99999999}``).
_HUGE_FORMAT = re.compile(r"[%:][^%{}\s]*?\d{8,}")


def _check_format(text: str) -> None:
    if _HUGE_FORMAT.search(text):
        raise TooCostly("a width in the format is too large for a template")


def _too_big(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**64


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _check_size(name: str, target: Any, args: tuple[Any, ...]) -> None:
    """What an expanding operation would write, checked before it runs: ``replace`` with a
    long text, ``join`` with a long separator or of long items, ``expandtabs`` and padding."""
    size = 0
    if name in ("replace", "do_replace") and len(args) >= 2:
        # str.replace(old, new); the filter do_replace(eval_ctx, s, old, new, count)
        text, old, new = (
            (target, args[0], args[1])
            if name == "replace"
            else (args[1], args[2], args[3] if len(args) > 3 else "")
        )
        if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
            size = len(text) + (text.count(old) if old else len(text) + 1) * len(new)
    elif name == "join" and isinstance(target, str) and args:
        items = args[0]
        size = (
            len(target) * _length(items) + sum(_length(i) for i in items if isinstance(i, str))
            if _length(items)
            else 0
        )
    elif name == "do_join" and args:
        items = args[1] if len(args) > 1 else args[0]
        separator = args[2] if len(args) > 2 and isinstance(args[2], str) else ""
        if isinstance(items, list | tuple | range | str):
            size = len(separator) * len(items) + sum(len(i) for i in items if isinstance(i, str))
    elif name == "expandtabs" and isinstance(target, str):
        size = len(target) + target.count("\t") * (args[0] if args and isinstance(args[0], int) else 8)
    if size > RENDER_CHARS:
        raise TooCostly(f"{name.removeprefix('do_')} would write more than {RENDER_CHARS:,} characters")


def _check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > LARGEST_ARGUMENT:
            raise TooCostly(f"the number {value} is too large for a template")


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses a number too large before it runs (``center(10**9)``)."""

    @functools.wraps(function)  # keeps the marks Jinja reads (pass_context and the like)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        _check_size(function.__name__, None, args)
        if function.__name__ == "do_format" and args and isinstance(args[-1 if len(args) == 1 else 0], str):
            _check_format(next(a for a in args if isinstance(a, str)))
        return function(*args, **kwargs)

    return bounded


def environment() -> BoundedEnvironment:
    return BoundedEnvironment(autoescape=False, keep_trailing_newline=True, undefined=Missing)


@dataclass(frozen=True)
class Template:
    name: str
    locale: str
    subject: str
    body: str
    file: str
    #: How many lines the body starts after the first (the subject line and a blank line).
    body_line: int = 0
    #: The column (1-based) of the subject's first character in its line (after ``Subject:``).
    subject_col: int = 1

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.subject}\n\n{self.body}".encode()).hexdigest()

    @property
    def variables(self) -> list[str]:
        """The top-level names the template reads (so a send carries only those)."""
        return sorted((_undeclared(self.subject) | _undeclared(self.body)) & TEMPLATE_VARIABLES)


@lru_cache(maxsize=4096)
def _undeclared(text: str) -> frozenset[str]:
    """Names a template text reads; parsed once per distinct text (raises TemplateSyntaxError)."""
    return frozenset(meta.find_undeclared_variables(_PARSE_ENV.parse(text)))


#: Bounded too: compiling folds constant expressions (``"x" * 10**9``), which the bounded
#: environment refuses to fold for ``*``, ``**`` and ``%`` and checks for filters.
_PARSE_ENV = BoundedEnvironment(autoescape=False, keep_trailing_newline=True)

#: Statements a template may not use: a template is one file, and reads nothing else.
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
}


def refused_statements(text: str) -> list[tuple[str, int]]:
    """Statements the sandbox cannot render (another template file), with their lines."""
    return list(_refused(text))


@lru_cache(maxsize=4096)
def _refused(text: str) -> tuple[tuple[str, int], ...]:
    """:func:`refused_statements`, once per template text."""
    tree = _PARSE_ENV.parse(text)
    found = [(label, node.lineno) for kind, label in _REFUSED_NODES.items() for node in tree.find_all(kind)]
    return tuple(sorted(found, key=lambda item: item[1]))


#: Fields of ``complaint`` and ``customer`` a template can read (free text stays out of messages).
_COMPLAINT_FIELDS = frozenset(Complaint.model_fields) - {"description"}
_CUSTOMER_FIELDS = frozenset(Customer.model_fields)
_CONTACT_FIELDS = frozenset(Contacts.model_fields)


_MAY_LACK_ROOTS = ("customer", "complaint", "deadlines", "dates")


def _path(node: Any) -> str | None:
    """``customer.contacts.phone`` or ``deadlines['final-response']`` for a chain of look-ups."""
    if isinstance(node, nodes.Name):
        return node.name if node.name in _MAY_LACK_ROOTS else None
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _path(node.node)
        return f"{base}[{node.arg.value!r}]" if base else None
    return None


def _paths_in(node: Any) -> set[str]:
    found = {p for n in node.find_all((nodes.Getattr, nodes.Getitem)) if (p := _path(n))}
    own = _path(node)
    return found | ({own} if own else set())


@lru_cache(maxsize=4096)
def printed_without_default(text: str) -> tuple[tuple[str, int], ...]:
    """``(path, line)`` of each look-up a template prints as it is — no ``| default(...)``, no
    ``or``, no ``{% if %}`` on it — so a message that lacks it cannot be rendered."""
    found: list[tuple[str, int]] = []

    def visit(node: Any, guarded: frozenset[str]) -> None:
        if isinstance(node, nodes.If):
            tested = frozenset(_paths_in(node.test))
            for child in node.body:
                visit(child, guarded | tested)
            for child in [*node.elif_, *node.else_]:
                visit(child, guarded)
            return
        if isinstance(node, nodes.Output):
            for expr in node.nodes:
                path = _path(expr)
                if path and path not in guarded and ("." in path or "[" in path):
                    found.append((path, expr.lineno))
            return
        for child in node.iter_child_nodes():
            visit(child, guarded)

    visit(_PARSE_ENV.parse(text), frozenset())
    return tuple(found)


@lru_cache(maxsize=4096)
def field_uses(text: str) -> tuple[tuple[str, str, int], ...]:
    """``(variable, field or key, line)`` for ``complaint.x``, ``customer.x``,
    ``customer.contacts.x`` and constant subscripts such as ``deadlines["id"]``."""
    found: list[tuple[str, str, int]] = []
    node: Any
    for node in _PARSE_ENV.parse(text).find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if isinstance(node, nodes.Getattr):
            if isinstance(target, nodes.Name) and target.name in ("complaint", "customer"):
                found.append((target.name, node.attr, node.lineno))
            elif (
                isinstance(target, nodes.Getattr)
                and target.attr == "contacts"
                and isinstance(target.node, nodes.Name)
                and target.node.name == "customer"
            ):
                found.append(("customer.contacts", node.attr, node.lineno))
        elif (
            isinstance(target, nodes.Name)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            found.append((target.name, node.arg.value, node.lineno))
    return tuple(found)


def unknown_fields(text: str) -> list[tuple[str, int, str | None]]:
    """Complaint and customer fields a template reads that messages never carry."""
    known = {
        "complaint": _COMPLAINT_FIELDS,
        "customer": _CUSTOMER_FIELDS,
        "customer.contacts": _CONTACT_FIELDS,
    }
    out = []
    for variable, name, line in field_uses(text):
        fields = known.get(variable)
        if fields is not None and name not in fields:
            hint = did_you_mean(name, sorted(fields))
            if variable == "complaint" and name == "description":
                hint = "free text is not put into messages"
            out.append((f"{variable}.{name} is not a field messages carry", line, hint))
    return out


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
    #: Template name → what the messages sent with it carry (as validation found them sent).
    carries: dict[str, set[str]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    #: (name, locale) of template files that exist but failed their checks (already reported).
    broken_locales: set[tuple[str, str]] = field(default_factory=set)
    #: False when the folder itself could not be read.
    found: bool = True

    @property
    def names(self) -> set[str]:
        return set(self.templates) | self.broken

    def locale_problems(self, default: str, locales: list[str]) -> list[PolicyError]:
        out = []
        for name, by_locale in sorted(self.templates.items()):
            first = next(iter(by_locale.values()))
            if default not in by_locale and (name, default) not in self.broken_locales:
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
                if (
                    locale not in by_locale
                    and locale != default
                    and (name, locale) not in self.broken_locales
                ):
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


def _problem(file: Path, line: int, col: int, message: str, hint: str | None = None) -> PolicyError:
    return PolicyError(str(file), max(line, 1), max(col, 1), "", message, hint, "error", "template")


def _bad_utf8(file: Path, raw: bytes, exc: UnicodeDecodeError) -> PolicyError:
    before = raw[: exc.start]
    line_start = before.rfind(b"\n") + 1
    line = before.count(b"\n") + 1
    col = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    return _problem(
        file, line, col, f"template is not valid UTF-8 (byte 0x{raw[exc.start]:02X})", "save it as UTF-8"
    )


def _first_use(text: str, name: str) -> tuple[int, int]:
    """Line and column (1-based) of the first use of variable ``name`` inside a Jinja tag."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    for tag in re.finditer(r"\{\{.*?\}\}|\{%.*?%\}", text, re.DOTALL):
        found = word.search(text, tag.start(), tag.end())
        if found:
            line = text.count("\n", 0, found.start()) + 1
            return line, found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return 1, 1


def _syntax_position(text: str, exc: TemplateSyntaxError) -> tuple[int, int]:
    """Where a syntax error is: Jinja's line, or the opening tag of a block left unclosed."""
    unclosed = re.search(r"innermost block that needs to be closed is '(\w+)'", exc.message or "")
    if unclosed:
        tags = list(re.finditer(r"\{%-?\s*" + re.escape(unclosed.group(1)) + r"\b", text))
        if tags:
            start = tags[-1].start()
            return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1
    return exc.lineno or 1, 1


def load_templates(doc: Document, base_dir: Path, folder: str) -> TemplateSet:
    """Read and syntax-check every template in ``folder`` (relative to the policy)."""
    result = TemplateSet(folder)
    try:
        path = (base_dir / folder).resolve()
        is_dir = path.is_dir()
        files = sorted(path.iterdir()) if is_dir else []
    except (OSError, ValueError, RuntimeError):
        is_dir, files = False, []
        path = base_dir / "?"
    if not is_dir:
        result.found = False
        result.problems.append(
            doc.error(
                ("templates", "dir"),
                f'template folder "{folder}" does not exist',
                f"the folder is relative to the policy file, in {base_dir}",
                code="template",
            )
        )
        return result
    for file in files:
        match = _FILE.match(file.name)
        try:
            is_file = file.is_file()
        except OSError:
            is_file = False
        if not match or not is_file:
            if is_file and not file.name.startswith("."):
                result.problems.append(
                    PolicyError(
                        str(file),
                        1,
                        1,
                        "",
                        f'"{file.name}" is not named <name>.<locale>.txt',
                        "rename it, e.g. acknowledgement.en.txt",
                        "warning",
                        "template",
                    )
                )
            continue
        name, locale = match["name"], match["locale"]
        try:
            raw = file.read_bytes()
        except OSError as exc:
            result.problems.append(_problem(file, 1, 1, f"cannot read template: {exc.strerror or exc}"))
            result.broken.add(name)
            result.broken_locales.add((name, locale))
            continue
        if len(raw) > MAX_TEMPLATE_BYTES:
            result.problems.append(
                _problem(
                    file, 1, 1, f"template is too large ({len(raw)} bytes; the limit is {MAX_TEMPLATE_BYTES})"
                )
            )
            result.broken.add(name)
            result.broken_locales.add((name, locale))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            result.problems.append(_bad_utf8(file, raw, exc))
            result.broken.add(name)
            result.broken_locales.add((name, locale))
            continue
        control = CONTROL.search(text)
        if control is not None:
            line = text.count("\n", 0, control.start()) + 1
            col = control.start() - (text.rfind("\n", 0, control.start()) + 1) + 1
            result.problems.append(
                _problem(
                    file,
                    line,
                    col,
                    f"template has the control character U+{ord(control.group()):04X}",
                    "remove it; a message may hold line breaks and tabs, nothing else invisible",
                )
            )
            result.broken.add(name)
            result.broken_locales.add((name, locale))
            continue
        subject, body, body_line = split_subject(text)
        ok = True
        for part, offset in ((subject, 0), (body, body_line)):
            try:
                undeclared = _undeclared(part)
            except TemplateSyntaxError as exc:
                line, col = _syntax_position(text.partition("\n")[0] if offset == 0 else part, exc)
                result.problems.append(
                    _problem(file, line + offset, col, f"template syntax error: {exc.message}")
                )
                ok = False
                continue
            except Exception as exc:  # Jinja raises a few other errors on odd input
                result.problems.append(_problem(file, 1 + offset, 1, f"template cannot be read: {exc}"))
                ok = False
                continue
            for statement, line in refused_statements(part):
                result.problems.append(
                    _problem(
                        file,
                        line + offset,
                        1,
                        f"{statement} is not allowed in a template",
                        "a template is one file: write the text here (each template renders on its own)",
                    )
                )
                ok = False
            for message, line, hint in unknown_fields(part):
                result.problems.append(_problem(file, line + offset, 1, message, hint))
                ok = False
            for var in sorted(undeclared - TEMPLATE_VARIABLES):
                # the subject is searched in its own line, so the column counts "Subject:"
                line, col = _first_use(text.partition("\n")[0] if offset == 0 else part, var)
                result.problems.append(
                    _problem(
                        file,
                        line + offset,
                        col,
                        f'template uses unknown variable "{var}"',
                        did_you_mean(var, sorted(TEMPLATE_VARIABLES))
                        or "templates can use: " + ", ".join(sorted(TEMPLATE_VARIABLES)),
                    )
                )
                ok = False
        if not ok:
            result.broken.add(name)
            result.broken_locales.add((name, locale))
        else:
            subject_col = text.find(subject, len("Subject:")) + 1 if subject else 1
            result.templates.setdefault(name, {})[locale] = Template(
                name, locale, subject, body, str(file), body_line, subject_col
            )
    if not result.names:
        result.problems.append(
            doc.error(
                ("templates", "dir"),
                f'template folder "{folder}" holds no templates',
                f"write one file per template and language in {path}, named <name>.<locale>.txt, "
                "e.g. received.en.txt",
                code="template",
            )
        )
    return result


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template_:
    return _RENDER_ENV.from_string(text)


_RENDER_ENV = environment()


@lru_cache(maxsize=4096)
def _repeats(text: str) -> bool:
    """Whether a template text can run a line more than once: a loop, a macro or a call block."""
    tree = _PARSE_ENV.parse(text)
    return any(True for _ in tree.find_all((nodes.For, nodes.Macro, nodes.CallBlock)))


def render(
    subject: str,
    body: str,
    context: dict[str, Any],
    *,
    seconds: float = RENDER_SECONDS,
    chars: int = RENDER_CHARS,
) -> tuple[str, str]:
    """Render a template's subject and body in the sandbox (compiled once per text).

    Raises :class:`MissingValue` when the template prints a value the context lacks, and
    :class:`TooCostly` when the rendering runs longer than ``seconds`` (the template's own
    code is traced: a loop in it stops at the next line it runs) or writes more than
    ``chars`` characters.  Blocking: run it off an event loop."""
    deadline = time.monotonic() + seconds

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise TooCostly(f"the template took longer than {seconds:g} s to render")
        return tracer if frame.f_code.co_filename == "<template>" else None

    written = 0
    parts: list[str] = []
    previous = sys.gettrace()
    # only a template that can repeat (a loop, a macro) needs its time watched line by line
    watched = _repeats(subject) or _repeats(body)
    if watched:
        sys.settrace(tracer)
    try:
        for text in (subject, body):
            chunks: list[str] = []
            for chunk in _compiled(text).generate(context):
                written += len(chunk)
                if written > chars:
                    raise TooCostly(f"the template wrote more than {chars:,} characters")
                chunks.append(chunk)
            parts.append("".join(chunks))
    except UndefinedError as exc:
        raise MissingValue(str(exc.message or exc)) from None
    except SecurityError as exc:
        raise TooCostly(f"the sandbox refused it: {exc}") from None
    except TooCostly:
        raise
    except (Exception, RecursionError, MemoryError) as exc:  # any failure of the author's text
        raise TooCostly(f"the template failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        if watched:
            sys.settrace(previous)
    return parts[0], parts[1]
