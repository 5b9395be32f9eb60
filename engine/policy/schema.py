"""The JSON Schemas generated from the models, and located schema errors."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .durations import DURATION_PATTERN, UNITS_HELP, DurationError, parse_duration
from .errors import PolicyError, did_you_mean
from .loader import Document
from .model import complaint_json_schema, policy_json_schema

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


@lru_cache(maxsize=4)
def validator(kind: str) -> jsonschema.Draft202012Validator:
    try:
        schema = checked_in(kind)
    except (FileNotFoundError, ModuleNotFoundError):
        schema = generated(kind)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


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


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _pattern_message(error: ValidationError) -> tuple[str, str | None]:
    value: Any = error.instance
    pattern: Any = error.validator_value
    if pattern == DURATION_PATTERN:
        try:
            parse_duration(value)
        except DurationError as exc:
            return str(exc), UNITS_HELP
        return f'"{value}" is not a duration', UNITS_HELP
    if "[0-5][0-9]\\s*-" in str(pattern):
        return f'"{value}" is not a time range', "write local times as HH:MM-HH:MM, e.g. 09:00-17:30"
    if "[0-5][0-9]$" in str(pattern):
        return f'"{value}" is not a time of day', "write HH:MM, e.g. 21:00"
    if str(pattern).startswith("^[a-z][a-z0-9_"):
        return f'"{value}" is not a valid name', "use lower-case letters, digits, '_' and '-'"
    if "%" in str(pattern):
        return f'"{value}" is not a percentage', 'write e.g. "75%"'
    if pattern == "^[A-Z]{3}$":
        return f'"{value}" is not a currency code', 'use an ISO 4217 code such as "EUR"'
    if pattern == "^[A-Z]{2}$":
        return f'"{value}" is not a country code', 'use an ISO 3166 code such as "GB"'
    if "stage:" in str(pattern):
        return f'"{value}" is not a known event', "see the list of clock events in docs/policy-language.md"
    return f'"{value}" does not have the expected form', None


def _leaf(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf (optional fields), the most telling branch error."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        non_null = [e for e in error.context if e.validator_value != "null" and e.validator != "type"]
        if non_null:
            best: ValidationError = jsonschema.exceptions.best_match(non_null)
            return _leaf(best)
        fallback: ValidationError = jsonschema.exceptions.best_match(error.context)
        return fallback
    return error


def located(doc: Document, error: ValidationError) -> list[PolicyError]:
    """Turn one schema error into located, plain-language problems."""
    error = _leaf(error)
    loc = tuple(error.absolute_path)
    kind = error.validator
    schema: Any = error.schema
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
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
    if kind == "type":
        wanted: Any = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        text = " or ".join(_WANTED.get(n, n) for n in names)
        return [doc.error(loc, f"expected {text}, found {_describe(error.instance)}", code="type")]
    if kind in ("enum", "const"):
        options: Any = error.validator_value if kind == "enum" else [error.validator_value]
        shown = ", ".join(json.dumps(o) for o in options)
        choice = did_you_mean(str(error.instance), [str(o) for o in options]) or f"one of {shown}"
        return [doc.error(loc, f"{json.dumps(error.instance)} is not allowed here", choice, code="enum")]
    if kind == "pattern":
        message, hint = _pattern_message(error)
        return [doc.error(loc, message, hint, code="pattern")]
    if kind == "propertyNames":
        bad = error.instance if isinstance(error.instance, str) else None
        return [doc.error(loc, f"invalid key {json.dumps(bad)}" if bad else error.message, code="key")]
    if kind in ("minItems", "minProperties"):
        return [doc.error(loc, "must not be empty", code="empty")]
    if kind in ("maxLength", "minLength", "maxItems"):
        return [doc.error(loc, f"length: {error.message}", code="length")]
    return [doc.error(loc, error.message, code=str(kind))]


def schema_problems(doc: Document, kind: str) -> list[PolicyError]:
    problems: list[PolicyError] = []
    for error in validator(kind).iter_errors(doc.data):
        problems.extend(located(doc, error))
    return problems
