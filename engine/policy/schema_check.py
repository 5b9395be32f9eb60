r"""A yes/no check of a document against a JSON Schema, compiled once into plain functions.

Most documents a team validates are valid, and for those ``jsonschema`` spends
most of its time walking the schema to find nothing.  :func:`compile_check`
turns a schema into nested functions that answer only "valid or not", several
times faster; when the answer is "not", ``jsonschema`` runs as before and
explains every problem.  So the check has to agree with ``jsonschema`` (Draft
2020-12) exactly, which a test holds it to over the examples and random
mutations of them.  It covers the keywords the generated schemas use; a schema
with any other keyword (``$ref``, ``if``, ``uniqueItems``...) is refused with
:class:`Unsupported`, and then ``jsonschema`` alone decides.

Why not jsonschema-rs: it is faster (0.61.2, the whole call with the conversion of the
document: 50-165 µs against 0.7-1.3 ms per policy, 8-15 times, about 1 ms of the 10-18 ms a
policy takes to validate and compile; ``bench/bench_policy.py --quick-check``), but it does
not give ``jsonschema``'s answers.  Its patterns are ECMA-262 on Rust's regex, not Python's
``re``: ``\s`` takes U+FEFF, so ``"\ufeff1 day"`` passes as a duration where ``jsonschema``
finds a problem (one the quick check would hide), and not U+001C-U+001F or U+0085; ``$``
does not match before a final newline, which every YAML block scalar has.  It also checks
``date-time`` (which ``jsonschema`` without rfc3339-validator lets through), does not take NaN
or infinity for numbers, and raises on a lone surrogate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from typing import Any

Check = Callable[[Any], bool]
FormatCheck = Callable[[Any, str], bool]

#: Keywords that only describe: they never make a document invalid.
ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated"}
    | {"readOnly", "writeOnly", "discriminator", "$defs"}
)


class Unsupported(Exception):
    """The schema uses a keyword this check does not implement."""


def _valid(_: Any) -> bool:
    return True


def _invalid(_: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    "integer": lambda value: (
        not isinstance(value, bool)
        and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    ),
}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as ``jsonschema`` has it: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return bool(one == two)


def compile_check(schema: Any, conforms: FormatCheck) -> Check:
    """A function telling whether a document is valid against ``schema`` (local refs inlined).

    ``conforms(value, format)`` checks the ``format`` keyword as the full validator's
    format checker does.  Raises :class:`Unsupported` for keywords it does not know.
    """
    if schema is True:
        return _valid
    if schema is False:
        return _invalid
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r}")
    unknown = set(schema) - ANNOTATIONS - _KNOWN
    if unknown:
        raise Unsupported(", ".join(sorted(unknown)))
    checks = [build(schema, conforms) for keywords, build in _KEYWORDS if not keywords.isdisjoint(schema)]
    if not checks:
        return _valid
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type(schema: dict[str, Any], _: FormatCheck) -> Check:
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    try:
        tests = [_TYPES[name] for name in names]
    except KeyError as exc:
        raise Unsupported(f"type {exc}") from None
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _object_keywords(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    """properties, patternProperties and additionalProperties together (they depend on each other)."""
    properties = {key: compile_check(sub, conforms) for key, sub in schema.get("properties", {}).items()}
    patterns = [
        (re.compile(pattern), compile_check(sub, conforms))
        for pattern, sub in schema.get("patternProperties", {}).items()
    ]
    additional = schema.get("additionalProperties", True)
    rest = None if additional is True else compile_check(additional, conforms)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            known = properties.get(key)
            if known is not None and not known(item):
                return False
            matched = False
            for pattern, sub in patterns:
                if pattern.search(key):
                    matched = True
                    if not sub(item):
                        return False
            if rest is not None and known is None and not matched and not rest(item):
                return False
        return True

    return check


def _property_names(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    sub = compile_check(schema["propertyNames"], conforms)
    return lambda value: not isinstance(value, dict) or all(map(sub, value))


def _required(schema: dict[str, Any], _: FormatCheck) -> Check:
    names = list(schema["required"])
    return lambda value: not isinstance(value, dict) or all(name in value for name in names)


def _min_properties(schema: dict[str, Any], _: FormatCheck) -> Check:
    least = schema["minProperties"]
    return lambda value: not isinstance(value, dict) or len(value) >= least


def _max_properties(schema: dict[str, Any], _: FormatCheck) -> Check:
    most = schema["maxProperties"]
    return lambda value: not isinstance(value, dict) or len(value) <= most


def _items(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    """prefixItems and items together: ``items`` applies to what follows the prefix."""
    prefix = [compile_check(sub, conforms) for sub in schema.get("prefixItems", [])]
    rest = compile_check(schema.get("items", True), conforms)
    start = len(prefix)

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if not all(sub(item) for sub, item in zip(prefix, value, strict=False)):
            return False
        return rest is _valid or all(rest(item) for item in value[start:])

    return check


def _length(keyword: str, fits: Callable[[int, int], bool], kind: type[Sized]) -> Callable[..., Check]:
    def make(schema: dict[str, Any], _: FormatCheck) -> Check:
        limit = schema[keyword]
        return lambda value: not isinstance(value, kind) or fits(len(value), limit)

    return make


def _bound(keyword: str, beyond: Callable[[Any, Any], bool]) -> Callable[..., Check]:
    """A number ``beyond`` the limit is invalid (so NaN, beyond nothing, passes, as in ``jsonschema``)."""

    def make(schema: dict[str, Any], _: FormatCheck) -> Check:
        limit = schema[keyword]
        return lambda value: not _is_number(value) or not beyond(value, limit)

    return make


def _enum(schema: dict[str, Any], _: FormatCheck) -> Check:
    options = list(schema["enum"])
    return lambda value: any(_equal(value, option) for option in options)


def _const(schema: dict[str, Any], _: FormatCheck) -> Check:
    expected = schema["const"]
    return lambda value: _equal(value, expected)


def _pattern(schema: dict[str, Any], _: FormatCheck) -> Check:
    search = re.compile(schema["pattern"]).search
    return lambda value: not isinstance(value, str) or search(value) is not None


def _format(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    name = schema["format"]
    return lambda value: conforms(value, name)


def _any_of(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    subs = [compile_check(sub, conforms) for sub in schema["anyOf"]]
    return lambda value: any(sub(value) for sub in subs)


def _all_of(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    subs = [compile_check(sub, conforms) for sub in schema["allOf"]]
    return lambda value: all(sub(value) for sub in subs)


def _one_of(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    subs = [compile_check(sub, conforms) for sub in schema["oneOf"]]
    return lambda value: sum(1 for sub in subs if sub(value)) == 1


def _not(schema: dict[str, Any], conforms: FormatCheck) -> Check:
    sub = compile_check(schema["not"], conforms)
    return lambda value: not sub(value)


#: Each group of keywords that act together, and how to compile it.
_KEYWORDS: list[tuple[frozenset[str], Callable[[dict[str, Any], FormatCheck], Check]]] = [
    (frozenset({"type"}), _type),
    (frozenset({"properties", "patternProperties", "additionalProperties"}), _object_keywords),
    (frozenset({"propertyNames"}), _property_names),
    (frozenset({"required"}), _required),
    (frozenset({"minProperties"}), _min_properties),
    (frozenset({"maxProperties"}), _max_properties),
    (frozenset({"prefixItems", "items"}), _items),
    (frozenset({"minItems"}), _length("minItems", lambda size, limit: size >= limit, list)),
    (frozenset({"maxItems"}), _length("maxItems", lambda size, limit: size <= limit, list)),
    (frozenset({"minLength"}), _length("minLength", lambda size, limit: size >= limit, str)),
    (frozenset({"maxLength"}), _length("maxLength", lambda size, limit: size <= limit, str)),
    (frozenset({"minimum"}), _bound("minimum", lambda value, limit: value < limit)),
    (frozenset({"maximum"}), _bound("maximum", lambda value, limit: value > limit)),
    (frozenset({"exclusiveMinimum"}), _bound("exclusiveMinimum", lambda value, limit: value <= limit)),
    (frozenset({"exclusiveMaximum"}), _bound("exclusiveMaximum", lambda value, limit: value >= limit)),
    (frozenset({"enum"}), _enum),
    (frozenset({"const"}), _const),
    (frozenset({"pattern"}), _pattern),
    (frozenset({"format"}), _format),
    (frozenset({"anyOf"}), _any_of),
    (frozenset({"allOf"}), _all_of),
    (frozenset({"oneOf"}), _one_of),
    (frozenset({"not"}), _not),
]
_KNOWN = frozenset().union(*(keywords for keywords, _ in _KEYWORDS))
