"""The JSON Schemas generated from the models, and located schema errors."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .durations import DURATION_PATTERN, PERCENT_PATTERN, UNITS_HELP, DurationError, parse_duration
from .errors import PolicyError, did_you_mean
from .loader import Document, Loc, format_loc
from .model import complaint_json_schema, policy_json_schema
from .schema_check import Check, Unsupported, compile_check

SCHEMAS = {"policy": policy_json_schema, "complaint": complaint_json_schema}


def generated(kind: str) -> dict[str, Any]:
    return SCHEMAS[kind]()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@lru_cache(maxsize=4)
def checked_in(kind: str) -> dict[str, Any]:
    """The schema shipped in the ``ombuds.schemas`` package."""
    text = resources.files("ombuds.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def _with_key_patterns(schema: Any) -> Any:
    """A copy of ``schema`` where mappings keyed by names also check the names.

    Pydantic writes ``dict[Name, X]`` as ``patternProperties`` alone, which
    lets a key that does not match the pattern through without a word (and
    without checking its value).  Adding the pattern to ``propertyNames``
    reports such a key at the key itself.
    """
    if isinstance(schema, list):
        return [_with_key_patterns(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _with_key_patterns(value) for key, value in schema.items()}
    patterns = out.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in out:
        names = dict(out.get("propertyNames") or {})
        names.setdefault("pattern", next(iter(patterns)))
        out["propertyNames"] = names
    return out


#: The formats the schema checks, the same wherever it runs: jsonschema checks ``date-time`` only
#: when an optional package is installed, so instants are left to the models, whose message
#: says what is wrong ("has no UTC offset").
FORMATS = jsonschema.FormatChecker(formats=("date",))


@lru_cache(maxsize=4)
def validator(kind: str) -> jsonschema.Draft202012Validator:
    try:
        schema = checked_in(kind)
    except (FileNotFoundError, ModuleNotFoundError):
        schema = generated(kind)
    return jsonschema.Draft202012Validator(_inline_refs(_with_key_patterns(schema)), format_checker=FORMATS)


@lru_cache(maxsize=4)
def quick_check(kind: str) -> Check | None:
    """The yes/no check compiled from the same schema, or None when the schema is beyond it."""
    full = validator(kind)
    checker = full.format_checker or FORMATS
    try:
        return compile_check(full.schema, checker.conforms)
    except Unsupported:
        return None


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its local ``$ref``s replaced by what they name (the models do not recurse).

    Same meaning, validated about a third faster: no reference is resolved per node.
    """
    defs = schema.get("$defs", {})

    def inline(node: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise ValueError("recursive schema")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: inline(v, depth + 1) for k, v in node.items() if k != "$ref"}
                return {**inline(defs[ref.removeprefix("#/$defs/")], depth + 1), **rest}
            return {k: inline(v, depth + 1) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [inline(v, depth + 1) for v in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]


_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    bool: "true/false",
    int: "a number",
    float: "a number",
    type(None): "nothing (null)",
}
_WANTED = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_NAME_HINT = "use lower-case letters, digits, '_' and '-'"


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as JSON, cut to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(value: Any) -> str:
    """``"text"`` for a string (cut when long), JSON for anything else."""
    return _short(value if isinstance(value, str) else str(value))


def _describe(value: Any) -> str:
    what = _JSON_TYPES.get(type(value), type(value).__name__)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{what} {_short(value, 40)}"
    if isinstance(value, bool):
        return f"{what} ({str(value).lower()})"
    return what


def _pattern_message(error: ValidationError) -> tuple[str, str | None]:
    value: Any = error.instance
    pattern: Any = error.validator_value
    shown = _quoted(value)
    if pattern == DURATION_PATTERN:
        try:
            parse_duration(value)
        except DurationError as exc:
            return (str(exc) if len(str(value)) <= 60 else f"{shown} is not a duration"), UNITS_HELP
        return f"{shown} is not a duration", UNITS_HELP
    if "[0-5][0-9]\\s*-" in str(pattern):
        return f"{shown} is not a time range", "write local times as HH:MM-HH:MM, e.g. 09:00-17:30"
    if "[0-5][0-9]$" in str(pattern):
        return f"{shown} is not a time of day", "write HH:MM, e.g. 21:00"
    if str(pattern).startswith("^[a-z][a-z0-9_"):
        return f"{shown} is not a valid name", _NAME_HINT
    if "%" in str(pattern):
        return f"{shown} is not a percentage", 'write e.g. "75%"'
    if pattern == "^[A-Z]{3}$":
        return f"{shown} is not a currency code", 'use an ISO 4217 code such as "EUR"'
    if pattern == "^[A-Z]{2}$":
        return f"{shown} is not a country code", 'use an ISO 3166 code such as "GB"'
    if "stage:" in str(pattern):
        return f"{shown} is not a known event", (
            "see the list of clock events in docs/policy-language.md"
            + (
                "; a date of the complaint is complaint.incident_date or complaint.custom.<field>"
                if "complaint" in str(pattern)
                else ""
            )
        )
    if "a-z]{2,3}" in str(pattern):
        return f"{shown} is not a language code", 'write e.g. "en", "de" or "en-GB"'
    return f"{shown} does not have the expected form", None


def _is_null_branch(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _leaves(error: ValidationError) -> list[ValidationError]:
    """For anyOf/oneOf (optional fields), the errors of the branch the author meant.

    ``X | None`` fields are ``anyOf: [X, {type: null}]``: when the value is not
    null the null branch is noise, and every error of the other branch is a
    real problem (a survey with a bad scale *and* a bad duration has two).
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else 0
        branches.setdefault(int(branch), []).append(sub)
    options: Any = error.validator_value
    real = {
        b: errs
        for b, errs in branches.items()
        if not (isinstance(options, list) and b < len(options) and _is_null_branch(options[b]))
    }
    if not real:
        return [error]
    if len(real) == 1:
        (errs,) = real.values()
        return [leaf for sub in errs for leaf in _leaves(sub)]
    if all(sub.validator == "type" and not sub.relative_path for errs in real.values() for sub in errs):
        return [error]  # a value of the wrong type for every branch: one message names them all
    fitting = [
        errs
        for errs in real.values()
        if not any(sub.validator == "type" and not sub.relative_path for sub in errs)
    ]
    if len(fitting) == 1:  # the one branch of the value's own type: its constraint is what failed
        return [leaf for sub in fitting[0] for leaf in _leaves(sub)]
    best: ValidationError = jsonschema.exceptions.best_match([e for errs in real.values() for e in errs])
    return _leaves(best)


def _union_of_types(error: ValidationError) -> str:
    names: list[str] = []
    for sub in error.context or []:
        wanted: Any = sub.validator_value
        for name in [wanted] if isinstance(wanted, str) else list(wanted):
            label = _WANTED.get(name, str(name))
            if name != "null" and label not in names:
                names.append(label)
    return " or ".join(names) or "another type"


def _key_problem(doc: Document, loc: Loc, error: ValidationError) -> PolicyError:
    """A problem with a mapping key (a ``propertyNames`` error), located at the key."""
    key = str(error.instance)
    where = (*loc, key)
    kind = error.validator
    if kind == "enum":
        options: Any = error.validator_value
        allowed = [str(o) for o in options]
        hint = did_you_mean(key, allowed) or "allowed keys: " + ", ".join(allowed)
        return doc.error(where, f'unknown key "{key}"', hint, key=True, code="unknown-key")
    if kind == "pattern":
        return doc.error(where, f"{_quoted(key)} is not a valid name", _NAME_HINT, key=True, code="key")
    if kind == "maxLength":
        return doc.error(
            where,
            f"the name {_quoted(key)} is too long",
            f"names have at most {error.validator_value} characters",
            key=True,
            code="key",
        )
    return doc.error(where, f"invalid key {_quoted(key)}: {error.message}", key=True, code="key")


def located(doc: Document, error: ValidationError) -> list[PolicyError]:
    """Turn one schema error into located, plain-language problems."""
    out: list[PolicyError] = []
    for leaf in _leaves(error):
        out.extend(_located_leaf(doc, leaf))
    return out


def _text_hint(schema: Any, value: Any) -> str | None:
    """What to write where text is expected and YAML read a number or a yes/no."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    shown = _short(value)
    pattern = schema.get("pattern") if isinstance(schema, dict) else None
    if pattern == PERCENT_PATTERN:
        return f"write {shown}%, with the % sign: a share of the target"
    if pattern == DURATION_PATTERN:
        return f'write a number and a unit, e.g. "{shown} business days"'
    return f'put it in quotes, "{shown}": unquoted, YAML reads it as a number'


def _located_leaf(doc: Document, error: ValidationError) -> list[PolicyError]:
    loc: Loc = tuple(error.absolute_path)
    kind = error.validator
    schema: Any = error.schema
    value: Any = error.instance
    limit: Any = error.validator_value
    if "propertyNames" in error.absolute_schema_path:
        return [_key_problem(doc, loc, error)]
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in value if k not in allowed]
        return [
            doc.error(
                (*loc, key),
                f'unknown key "{key}"',
                did_you_mean(str(key), allowed) or ("allowed keys: " + ", ".join(allowed)),
                key=True,
                code="unknown-key",
            )
            for key in extras
        ]
    if kind == "required":
        found = re.match(r"'([^']+)' is a required property", error.message)
        name = found.group(1) if found else str(error.message)
        return [doc.error(loc, f'missing required key "{name}"', key=True, code="missing")]
    if kind in ("anyOf", "oneOf"):
        return [doc.error(loc, f"expected {_union_of_types(error)}, found {_describe(value)}", code="type")]
    if kind == "type":
        names = [limit] if isinstance(limit, str) else list(limit)
        text = " or ".join(_WANTED.get(n, n) for n in names)
        hint = _text_hint(schema, value) if names == ["string"] else None
        return [doc.error(loc, f"expected {text}, found {_describe(value)}", hint, code="type")]
    if kind == "const":
        return [doc.error(loc, f"{_short(value)} is not allowed here", f"write {_short(limit)}", code="enum")]
    if kind == "enum":
        shown = ", ".join(_short(o) for o in limit)
        choice = did_you_mean(str(value), [str(o) for o in limit]) or f"one of {shown}"
        return [doc.error(loc, f"{_short(value)} is not allowed here", choice, code="enum")]
    if kind == "pattern":
        message, hint = _pattern_message(error)
        return [doc.error(loc, message, hint, code="pattern")]
    if kind == "format":
        if limit == "date":
            return [
                doc.error(
                    loc, f"{_quoted(value)} is not a date", "write YYYY-MM-DD, e.g. 2026-01-31", code="format"
                )
            ]
        return [doc.error(loc, f"{_quoted(value)} is not a valid {limit}", code="format")]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        relation = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }[kind]
        return [doc.error(loc, f"must be {relation} {limit}, found {_short(value)}", code="range")]
    if kind == "minProperties" or (kind in ("minItems", "minLength") and limit == 1):
        return [doc.error(loc, "must not be empty", code="empty")]
    if kind == "minItems":
        return [doc.error(loc, f"needs at least {limit} items, found {len(value)}", code="length")]
    if kind in ("maxItems", "maxProperties"):
        return [doc.error(loc, f"may have at most {limit} items, found {len(value)}", code="length")]
    if kind == "minLength":
        return [doc.error(loc, f"must be at least {limit} characters long", code="length")]
    if kind == "maxLength":
        return [doc.error(loc, f"is too long: {len(value)} characters, at most {limit}", code="length")]
    return [doc.error(loc, error.message[:200], code="schema")]


def _misspelt_required(error: ValidationError) -> set[tuple[str, str]]:
    """(path, name) of required keys that are missing because an unknown key misspells them."""
    out: set[tuple[str, str]] = set()
    for leaf in _leaves(error):
        schema: Any = leaf.schema
        value: Any = leaf.instance
        if leaf.validator != "additionalProperties" or not isinstance(value, dict):
            continue
        missing = [k for k in schema.get("required", []) if k not in value]
        for key in value:
            if key not in schema.get("properties", {}):
                guess = did_you_mean(str(key), missing)
                if guess:
                    out.add((format_loc(tuple(leaf.absolute_path)), guess.split('"')[1]))
    return out


def schema_problems(doc: Document, kind: str) -> list[PolicyError]:
    """Every schema problem of ``doc``, located; the quick check answers for valid documents."""
    check = quick_check(kind)
    if check is not None and check(doc.data):
        return []
    problems: list[PolicyError] = []
    misspelt: set[tuple[str, str]] = set()
    for error in validator(kind).iter_errors(doc.data):
        problems.extend(located(doc, error))
        misspelt |= _misspelt_required(error)
    # "true is not allowed here (one of ...)" already says what "expected text" would.
    # Likewise a text that is too long and has the wrong form needs one message, and
    # `dri:` for `dir:` is one mistake: the unknown key's "did you mean" names it.
    listed = {p.path for p in problems if p.code == "enum"}
    formed = {p.path for p in problems if p.code == "pattern"}
    return [
        p
        for p in problems
        if not (p.code == "type" and p.path in listed)
        and not (p.code == "length" and p.path in formed)
        and not (p.code == "missing" and (p.path, p.message.split('"')[1]) in misspelt)
    ]
