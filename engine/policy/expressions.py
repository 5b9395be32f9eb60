"""CEL conditions: compile, check the names they use, evaluate.

The variables a condition may use are exactly ``complaint`` (the
:class:`~ombuds.engine.policy.model.Complaint` as submitted) and ``case`` (the
case state listed in :data:`~ombuds.engine.policy.vocabulary.CASE_FIELDS`).  Field paths are checked statically,
so ``complaint.custmer`` is an error when the policy is validated, not when a
complaint runs.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import cel
from pydantic import BaseModel

from .errors import did_you_mean
from .model import Complaint
from .vocabulary import CASE_FIELDS

ROOTS = ("complaint", "case", "dates", "clocks")
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
_TOKEN = re.compile(
    r"""
    (?P<str>[rR]?[bB]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>[0-9][0-9.eExXuU+-]*)
  | (?P<op>\.|\(|\)|\[|\]|,|\S)
  | (?P<ws>\s+)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class FieldTree:
    """Names under a variable: a nested dict of known fields, or ``None`` for any."""

    children: dict[str, FieldTree | None]


def _tree_for(annotation: Any) -> FieldTree | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _tree_for(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                found = _tree_for(arg)
                if found is not None:
                    return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return FieldTree(
            {name: _tree_for(field.annotation) for name, field in annotation.model_fields.items()}
        )
    return None


COMPLAINT_TREE = _tree_for(Complaint)
CASE_TREE = FieldTree(dict.fromkeys(CASE_FIELDS))
#: ``dates["<id>"]``: a derived date of the policy, once it can be counted (``DATE_FIELDS``).
DATE_FIELDS = ("day", "passed_at_receipt", "days_from_receipt")
#: ``clocks["<id>"]``: a clock of the policy as it stands (``due`` in UTC, ISO 8601; "" before).
CLOCK_FIELDS = ("status", "running", "breached", "met", "due")
_TREES: dict[str, FieldTree | None] = {
    "complaint": COMPLAINT_TREE,
    "case": CASE_TREE,
    "dates": None,
    "clocks": None,
}


@dataclass(frozen=True)
class ExpressionProblem:
    message: str
    offset: int
    hint: str | None = None


def _tokens(source: str) -> list[tuple[str, str, int]]:
    out = []
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "op"
        if kind != "ws":
            out.append((kind, match.group(), match.start()))
    return out


#: Longest condition checked; the model allows no more, and the CEL parser is
#: recursive, so far longer input could exhaust its stack.
MAX_CONDITION_LENGTH = 4000


def _syntax_offset(message: str, source: str) -> int:
    found = re.search(r"<input>:(\d+):(\d+)", message)
    if not found:
        return 0
    line, col = int(found.group(1)), int(found.group(2))
    lines = source.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + max(col - 1, 0)
    return min(offset, len(source))


def _syntax_message(raw: str) -> tuple[str, str | None]:
    """The parser's first complaint in plain words, and a hint."""
    found = re.search(r"Syntax error: (.*)", raw)
    text = found.group(1).strip() if found else " ".join(raw.split())
    expecting = re.search(r"\s*expecting (\{.*\}|\S+)\s*$", text)
    if expecting:
        text = text[: expecting.start()]
    text = re.sub(r"mismatched input '<EOF>'", "the condition ends too early", text)
    text = re.sub(r"^token recognition error at: '(.*?)\s*'$", r"cannot read '\1'", text)
    hint = None
    unreadable = re.match(r"cannot read '(.)", text)
    if "ends too early" in text:
        hint = "something is missing at the end: a value after an operator, or a closing bracket"
    elif unreadable and unreadable.group(1) in "'\"":
        hint = "close every string with the quote that opened it"
    elif unreadable and unreadable.group(1) == "=":
        hint = 'compare with "=="'
    elif unreadable and unreadable.group(1) in "&|":
        hint = 'write "&&" for and, "||" for or'
    return f"CEL syntax error: {text[:200]}", hint


def check_number(source: str) -> list[ExpressionProblem]:
    """Problems in an expression that must give a number (a remedy's amount)."""
    return list(_check(source, number=True))


def check(source: str) -> list[ExpressionProblem]:
    """Problems in a condition: syntax, unknown variables, field paths, regexes, types."""
    return list(_check(source))


@lru_cache(maxsize=8192)
def _check(source: str, number: bool = False) -> tuple[ExpressionProblem, ...]:
    return tuple(_check_uncached(source, number))


@lru_cache(maxsize=4096)
def program(source: str) -> cel.Program:
    """The compiled condition; compiling is pure, so every evaluator shares the programs."""
    return cel.compile(source)


def _check_uncached(source: str, number: bool = False) -> list[ExpressionProblem]:
    if len(source) > MAX_CONDITION_LENGTH:
        return [
            ExpressionProblem(
                f"condition is {len(source)} characters long; the limit is {MAX_CONDITION_LENGTH}",
                0,
                "split it into several rules",
            )
        ]
    if not source.strip():
        return [
            ExpressionProblem(
                "condition is empty", 0, 'write a CEL expression, e.g. complaint.channel == "phone"'
            )
        ]
    try:
        variables = list(program(source).variables())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # ValueError/RuntimeError, or a panic from the Rust binding
        message, hint = _syntax_message(str(exc))
        return [ExpressionProblem(message, _syntax_offset(str(exc), source), hint)]
    tokens = _tokens(source)
    bound = {
        tokens[i + 2][1]
        for i in range(len(tokens) - 3)
        if tokens[i][0] == "ident"
        and tokens[i][1] in _MACROS
        and tokens[i + 1][1] == "("
        and tokens[i + 2][0] == "ident"
        and tokens[i + 3][1] == ","
    }
    problems: list[ExpressionProblem] = []
    for name in variables:
        if name in ROOTS or name in bound:
            continue
        offset = next((t[2] for t in tokens if t[0] == "ident" and t[1] == name), 0)
        problems.append(
            ExpressionProblem(
                f'unknown variable "{name}" in condition',
                offset,
                did_you_mean(name, ROOTS) or "conditions can use `complaint`, `case`, `dates` and `clocks`",
            )
        )
    problems.extend(_check_paths(tokens, bound))
    problems.extend(_check_regexes(tokens))
    if not problems:
        problems.extend(_check_equality_types(tokens, bound))
    if not problems:
        problems.extend(_dry_run(program(source), number))
    return problems


def _check_regexes(tokens: list[tuple[str, str, int]]) -> list[ExpressionProblem]:
    """``matches("...")`` patterns that are not regular expressions."""
    out = []
    for i in range(len(tokens) - 2):
        if tokens[i][1] == "matches" and tokens[i + 1][1] == "(":
            j = i + 2
            if tokens[j][0] == "ident" and j + 2 < len(tokens) and tokens[j + 1][1] == ",":
                j += 2  # matches(text, "pattern")
            kind, literal, offset = tokens[j]
            if kind != "str":
                continue
            try:
                pattern = ast.literal_eval(literal)
                re.compile(pattern)
            except (ValueError, SyntaxError):
                continue  # a literal Python reads differently: left to the run-time check
            except re.error as exc:
                out.append(ExpressionProblem(f"invalid regular expression: {exc.msg}", offset + 1))
    return out


@lru_cache(maxsize=1)
def sample_variables() -> dict[str, Any]:
    """A complaint with every field set and a fresh case: what a dry run evaluates against."""
    sample = Complaint.model_validate(
        {
            "id": "SAMPLE-1",
            "received_at": "2026-01-05T10:00:00+00:00",
            "channel": "email",
            "customer": {
                "id": "C-1",
                "name": "Sample",
                "contacts": {
                    "email": "a@b.c",
                    "phone": "+1",
                    "messenger": "m",
                    "social": "s",
                    "postal_address": "p",
                },
                "account_number": "1",
                "locale": "en",
                "timezone": "UTC",
                "segment": "retail",
                "region": "XX",
            },
            "product": "product",
            "order_ids": ["A-1"],
            "amount": "1.5",
            "currency": "EUR",
            "subject": "subject",
            "description": "description",
            "incident_date": "2026-01-01",
        }
    )
    return {"complaint": complaint_variables(sample), "case": case_variables(), "dates": {}, "clocks": {}}


@lru_cache(maxsize=1)
def _sample_context() -> cel.Context:
    """The sample as a reusable CEL context (converted once, not on every evaluation)."""
    return cel.Context(sample_variables())


def _dry_run(compiled: cel.Program, number: bool = False) -> list[ExpressionProblem]:
    """Evaluate once on a full sample: catches comparisons between different types, and a
    condition that is no bool (``number``: an amount that is no number)."""
    try:
        result = compiled.execute(_sample_context())
    except TypeError as exc:
        text = str(exc).split(". ")[0]
        return [
            ExpressionProblem(
                f"type mismatch: {text}",
                0,
                'compare like with like, e.g. complaint.amount >= 1000.0, complaint.product == "card"',
            )
        ]
    except Exception as exc:  # missing map keys and the like depend on the complaint
        message = str(exc)
        if "regex" in message:
            return [ExpressionProblem("invalid regular expression: " + message.splitlines()[0][:200], 0)]
        return []
    if number:
        if isinstance(result, int | float) and not isinstance(result, bool):
            return []
        kind = "null" if result is None else _CEL_TYPES.get(type(result), type(result).__name__)
        return [ExpressionProblem(f"amount gives {_a(kind)}, not a number", 0, "e.g. complaint.amount * 0.1")]
    if not isinstance(result, bool):
        kind = "null" if result is None else _CEL_TYPES.get(type(result), type(result).__name__)
        return [
            ExpressionProblem(
                f"condition gives {_a(kind)}, not true or false",
                0,
                'compare it, e.g. complaint.amount > 100.0 or complaint.product == "card"',
            )
        ]
    return []


_CEL_TYPES = {str: "string", bool: "bool", int: "int", float: "double", list: "list", dict: "map"}
_NUMBERS = {"int", "uint", "double"}


def _literal_type(kind: str, text: str) -> str | None:
    if kind == "str":
        return "bytes" if text[:2].lower() in ("b'", 'b"') or text[:3].lower() in ("rb'", 'rb"') else "string"
    if kind == "num":
        if text[:2].lower() == "0x":
            return "uint" if text[-1:] in "uU" else "int"
        return "uint" if text[-1:] in "uU" else ("double" if any(c in text for c in ".eE") else "int")
    if kind == "ident" and text in ("true", "false"):
        return "bool"
    return None


def _path_at(tokens: list[tuple[str, str, int]], i: int, bound: set[str]) -> tuple[str, int] | None:
    """The field path (``complaint.customer.segment``) starting at token ``i``, and its last token."""
    if tokens[i][0] != "ident" or tokens[i][1] not in ROOTS or tokens[i][1] in bound:
        return None
    if i > 0 and tokens[i - 1][1] == ".":
        return None
    path, j = tokens[i][1], i
    while j + 2 < len(tokens) and tokens[j + 1][1] == "." and tokens[j + 2][0] == "ident":
        path, j = f"{path}.{tokens[j + 2][1]}", j + 2
    if j + 1 < len(tokens) and tokens[j + 1][1] in ("(", "[", "."):
        return None  # a method call or an index: its value is not the field's
    return path, j


def _sample_type(path: str) -> str | None:
    node: Any = sample_variables()
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return _CEL_TYPES.get(type(node))


def _check_equality_types(tokens: list[tuple[str, str, int]], bound: set[str]) -> list[ExpressionProblem]:
    """``complaint.product == 5``: equality between different types is never true in CEL."""

    def op(at: int) -> str | None:
        """``==`` or ``!=`` written as the two tokens from ``at``."""
        if at >= 0 and at + 1 < len(tokens) and tokens[at][1] in ("=", "!") and tokens[at + 1][1] == "=":
            return tokens[at][1] + "="
        return None

    problems = []
    for i in range(len(tokens)):
        found = _path_at(tokens, i, bound)
        if found is None:
            continue
        path, last = found
        for compare, literal_at in ((op(last + 1), last + 3), (op(i - 2), i - 3)):
            if compare is None or not 0 <= literal_at < len(tokens):
                continue
            # the literal must be the whole other operand: not "abc".size(), not 1 < 2 == x
            after = tokens[literal_at + 1][1] if literal_at + 1 < len(tokens) else ""
            before = tokens[literal_at - 1][1] if literal_at > 0 else ""
            if after in _TIGHTER_AFTER or before in _TIGHTER_BEFORE:
                continue
            kind, text, offset = tokens[literal_at]
            wanted, given = _sample_type(path), _literal_type(kind, text)
            if wanted is None or given is None or wanted == given or {wanted, given} <= _NUMBERS:
                continue
            problems.append(
                ExpressionProblem(
                    f"{path} is {_a(wanted)}, compared with {text} ({_a(given)}): this is always "
                    + ("false" if compare == "==" else "true"),
                    offset,
                    'compare like with like, e.g. complaint.product == "card", case.level_rank == 1',
                )
            )
    return problems


#: Tokens after or before a literal that bind tighter than ``==``: the literal is then part of
#: a larger operand (``"abc".size()``, ``1 < 2 == x``), not the operand itself.
_TIGHTER_AFTER = frozenset({".", "(", "[", "+", "-", "*", "/", "%", "<", ">"})
_TIGHTER_BEFORE = frozenset({".", "+", "-", "*", "/", "%", "<", ">", "!"})


def _a(type_name: str) -> str:
    if type_name == "bytes":
        return "bytes"
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def _check_paths(tokens: list[tuple[str, str, int]], bound: set[str]) -> list[ExpressionProblem]:
    problems = []
    for i, (kind, text, _offset) in enumerate(tokens):
        if kind != "ident" or text not in ROOTS or text in bound:
            continue
        if i > 0 and tokens[i - 1][1] == ".":
            continue
        tree = _TREES[text]
        path = text
        j = i
        while (
            tree is not None
            and j + 2 < len(tokens)
            and tokens[j + 1][1] == "."
            and tokens[j + 2][0] == "ident"
        ):
            name, at = tokens[j + 2][1], tokens[j + 2][2]
            if j + 3 < len(tokens) and tokens[j + 3][1] == "(":
                break  # a method call such as .startsWith(...)
            if name not in tree.children:
                problems.append(
                    ExpressionProblem(
                        f'unknown field "{name}" in {path}',
                        at,
                        did_you_mean(name, list(tree.children))
                        or "known fields: " + ", ".join(sorted(tree.children)),
                    )
                )
                break
            tree = tree.children[name]
            path = f"{path}.{name}"
            j += 2
    return problems


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def complaint_variables(complaint: Complaint) -> dict[str, Any]:
    """The complaint as CEL sees it: every field present (null when absent)."""
    data = complaint.model_dump(mode="json")
    if complaint.amount is not None:
        data["amount"] = float(complaint.amount)
    return typing.cast(dict[str, Any], _plain(data))


def case_variables(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The case state as CEL sees it, with defaults for every documented field."""
    base: dict[str, Any] = {name: field.default for name, field in CASE_FIELDS.items()}
    if values:
        base.update(_plain(values))
    return base


_UNSET = object()


def _same(one: Any, two: Any) -> bool:
    """Equal as CEL sees it: same types all the way down (``1``, ``1.0`` and ``True`` differ)."""
    if type(one) is not type(two):
        return False
    if isinstance(one, dict):
        return one.keys() == two.keys() and all(_same(value, two[key]) for key, value in one.items())
    if isinstance(one, list | tuple):
        return len(one) == len(two) and all(map(_same, one, two))
    return bool(one == two)


class Evaluator:
    """Evaluates conditions, converting variables for CEL only when they change.

    Converting a variable into CEL's form costs far more than evaluating a
    condition, so the evaluator keeps one CEL context and sets a top-level
    variable again only when a call passes a different value for it (the same
    object, or one equal in value and type all the way down, is reused).
    Callers pass fresh values and never change a value in place after passing it.
    """

    def __init__(self) -> None:
        self._context: cel.Context | None = None
        self._values: dict[str, Any] = {}
        #: (condition, error) of every evaluation that failed, for the caller to report.
        self.failures: list[tuple[str, str]] = []

    def _context_for(self, variables: dict[str, Any]) -> cel.Context:
        if self._context is None or self._values.keys() != variables.keys():
            self._context = cel.Context(variables)
            self._values = dict(variables)
            return self._context
        for name, value in variables.items():
            known = self._values.get(name, _UNSET)
            if known is not value and not _same(known, value):
                self._context.add_variable(name, value)
                self._values[name] = value
        return self._context

    def number(self, source: str, variables: dict[str, Any]) -> tuple[float | None, str | None]:
        """``(result, error)`` of an expression that gives a number (an amount); a failure or
        another type is None with the reason, recorded like a failing condition."""
        try:
            result = program(source).execute(self._context_for(variables))
        except Exception as exc:
            error = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "error"
        else:
            if isinstance(result, int | float) and not isinstance(result, bool):
                return float(result), None
            error = f"the amount gave {type(result).__name__}, not a number"
        self.failures.append((source, error))
        return None, error

    def truth(self, source: str, variables: dict[str, Any]) -> tuple[bool, str | None]:
        """``(result, error)``; a condition that fails to evaluate is false, with the reason."""
        compiled = program(source)
        try:
            result = compiled.execute(self._context_for(variables))
        except Exception as exc:
            error = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "error"
        else:
            if isinstance(result, bool):
                return result, None
            error = f"condition gave {type(result).__name__}, not a bool"
        self.failures.append((source, error))
        return False, error
