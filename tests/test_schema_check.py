"""The quick yes/no schema check agrees with ``jsonschema`` on every document.

``schema_problems`` trusts the quick check for valid documents and asks
``jsonschema`` only when it says "invalid", so a disagreement would hide a
problem.  These tests hold the two to the same answer: on the shipped policies
and example complaints, on random damage to them, and keyword by keyword.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ombuds.engine.policy.loader import load_file, load_text
from ombuds.engine.policy.schema import quick_check, schema_problems, validator
from ombuds.engine.policy.schema_check import Unsupported, compile_check

from .conftest import EXAMPLES, POLICIES
from .test_policy_mutations_property import DOCUMENTS, SETTINGS, mutate, values

COMPLAINTS = sorted([*EXAMPLES.glob("*.json"), *EXAMPLES.glob("*.yaml")])


def agree(kind: str, data: Any) -> bool:
    """Whether the quick check and the full validator give the same answer (and which)."""
    check = quick_check(kind)
    assert check is not None, f"the {kind} schema uses a keyword the quick check lacks"
    full = validator(kind).is_valid(data)
    assert check(data) == full, json.dumps(data, default=str)[:500]
    return full


def test_the_generated_schemas_are_within_the_quick_check() -> None:
    assert quick_check("policy") is not None
    assert quick_check("complaint") is not None


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_shipped_policies_pass_both(name: str) -> None:
    assert agree("policy", DOCUMENTS[name].data)


@pytest.mark.parametrize("path", COMPLAINTS, ids=lambda path: path.name)
def test_example_complaints_pass_both(path: Path) -> None:
    assert agree("complaint", load_file(path).data)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(sorted(DOCUMENTS)), changes=st.integers(1, 3))
def test_damaged_policies_get_the_same_answer(data: Any, name: str, changes: int) -> None:
    document = copy.deepcopy(DOCUMENTS[name].data)
    for _ in range(changes):
        mutate(data.draw, document)
    agree("policy", document)


@SETTINGS
@given(data=st.data(), index=st.integers(0, len(COMPLAINTS) - 1))
def test_damaged_complaints_get_the_same_answer(data: Any, index: int) -> None:
    document = copy.deepcopy(load_file(COMPLAINTS[index]).data)
    mutate(data.draw, document)
    agree("complaint", document)


def test_an_invalid_policy_still_gets_every_located_problem() -> None:
    document = copy.deepcopy(DOCUMENTS["retail.yaml"])
    document.data["policy"]["version"] = True
    document.data["calendars"] = "none"
    problems = schema_problems(document, "policy")
    assert {problem.path for problem in problems} >= {"policy.version", "calendars"}


def test_a_block_scalar_gets_the_answer_jsonschema_gives() -> None:
    """A YAML block scalar ends in a newline, and Python's ``$`` matches before a final one.

    So ``jsonschema`` takes ``"retail\n"`` as a name and the quick check must too; a checker
    on Rust's regex crate (jsonschema-rs), whose ``$`` is the very end, says invalid.
    """
    text = (POLICIES / "retail.yaml").read_text(encoding="utf-8")
    block = text.replace("\n  id: retail\n", "\n  id: |\n    retail\n", 1)
    document = load_text(block, "retail.yaml")
    assert document.data["policy"]["id"] == "retail\n"
    assert agree("policy", document.data)


@pytest.mark.parametrize("space", ["\ufeff", "\x1c", "\x85", "\u2028", "\xa0"])
def test_unusual_white_space_in_a_duration_gets_the_answer_jsonschema_gives(space: str) -> None:
    """``\\s`` is Python's: U+FEFF is not white space (an ECMA-262 regex says it is), U+001C is."""
    document = copy.deepcopy(DOCUMENTS["retail.yaml"].data)
    document["clocks"][0]["target"] = f"{space}1 day"
    agree("policy", document)


# --------------------------------------------------------------------------- keyword by keyword

CASES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None, 10**400, float("inf"), float("nan")]),
    ({"type": ["number", "null"]}, [1, 2.5, None, False, "x"]),
    ({"enum": [1, "a", [1, True], {"k": 0}]}, [1, 1.0, True, "a", [1, True], [1, 1], {"k": 0}, {"k": False}]),
    ({"const": False}, [False, 0, None, []]),
    ({"minimum": 1, "exclusiveMaximum": 3}, [0, 1, 2.9, 3, float("nan"), "x", True]),
    ({"exclusiveMinimum": 0, "maximum": 2}, [0, 0.1, 2, 2.1]),
    ({"pattern": "^[a-z]+$", "minLength": 2, "maxLength": 3}, ["ab", "a", "abcd", "aB", 5]),
    ({"pattern": "^[a-z]+$"}, ["abc", "abc\n", "abc\n\n", "abc\r\n", "abc\u2028"]),
    ({"pattern": "^\\s*[0-9]+\\s*%\\s*$"}, ["75%", " 75% \n", "\ufeff75%", "\x1c75%", "\x8575%", "7 5%"]),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "patternProperties": {"^x-": {"type": "string"}},
            "additionalProperties": False,
            "required": ["a"],
        },
        [{"a": 1}, {"a": 1, "x-y": "s"}, {"a": 1, "x-y": 2}, {"a": 1, "b": 1}, {}, [], "s"],
    ),
    ({"additionalProperties": {"type": "string"}, "minProperties": 1}, [{"k": "v"}, {"k": 1}, {}]),
    ({"maxProperties": 1}, [{"k": "v"}, {}, {"k": 1, "l": 2}, "s"]),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, [{"ok": 1}, {"Not": 1}, {}]),
    (
        {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False, "minItems": 1},
        [["a", 1], ["a"], [], ["a", 1, 2], [1, 1], "ab"],
    ),
    ({"items": {"type": "string"}, "maxItems": 2}, [["a"], ["a", "b", "c"], [1]]),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, ["x", None, 1]),
    ({"oneOf": [{"minimum": 0}, {"maximum": 10}]}, [-1, 5, 11]),
    ({"allOf": [{"minimum": 0}, {"maximum": 10}], "not": {"const": 5}}, [-1, 4, 5, 11]),
    ({"format": "date"}, ["2026-01-31", "2026-02-30", "31/01/2026", 7]),
    ({"title": "only words", "description": "d", "examples": [1], "default": 2}, [1, "x", None]),
    (True, [1, None]),
    (False, [1, None]),
]


@pytest.mark.parametrize(("schema", "instances"), CASES, ids=[json.dumps(case[0])[:40] for case in CASES])
def test_each_keyword_matches_jsonschema(schema: Any, instances: list[Any]) -> None:
    full = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    check = compile_check(schema, full.format_checker.conforms)  # type: ignore[union-attr]
    answers = [(instance, check(instance)) for instance in instances]
    assert answers == [(instance, full.is_valid(instance)) for instance in instances]
    assert len({answer for _, answer in answers}) == 2 or schema in (True, False) or "title" in schema


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x"},
        {"uniqueItems": True},
        {"if": {}, "then": {}},
        {"properties": {"a": {"contains": {}}}},
    ],
)
def test_keywords_it_lacks_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_check(schema, lambda value, name: True)


@given(value=values)
def test_any_value_gets_the_same_answer_from_the_complaint_schema(value: Any) -> None:
    agree("complaint", value)
    agree("complaint", {"id": "C-1", "extra": value})
