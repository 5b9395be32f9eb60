"""Condition evaluation: one CEL context per evaluator, updated when the variables change.

The evaluator converts a variable into CEL's form only when a call passes a
different value for it, so these tests check that it never answers from a
stale value and always answers as a fresh evaluation over a plain dict would.
"""

from __future__ import annotations

from typing import Any

import cel
import pytest

from ombuds.engine.policy.expressions import Evaluator, case_variables, complaint_variables, program
from ombuds.engine.policy.model import Complaint

COMPLAINT = complaint_variables(
    Complaint.model_validate(
        {
            "id": "C-1",
            "received_at": "2026-03-02T10:00:00+00:00",
            "channel": "email",
            "customer": {"id": "K1", "name": "Ana", "segment": "premium"},
            "amount": "120.50",
            "currency": "EUR",
        }
    )
)

CONDITIONS = [
    'complaint.channel == "email" && case.level_rank == 0',
    "complaint.amount > 100.0 && case.escalations < 2",
    'case.status == "open"',
    'complaint.customer.segment == "premium" || case.survey_score <= 2',
    "case.escalations + 1",  # not a bool
    "complaint.nothing == 1",  # no such key: an error, so false
]


def fresh(source: str, variables: dict[str, Any]) -> tuple[bool, str | None]:
    """What a plain-dict evaluation answers, with no context kept between calls."""
    try:
        result = cel.compile(source).execute(variables)
    except Exception as exc:
        return False, str(exc).strip().splitlines()[0][:200]
    if not isinstance(result, bool):
        return False, f"condition gave {type(result).__name__}, not a bool"
    return result, None


def test_the_answer_follows_the_case_as_it_changes() -> None:
    evaluator = Evaluator()
    states = [
        case_variables(),
        case_variables({"level_rank": 1, "escalations": 1}),
        case_variables({"status": "resolved", "survey_score": 1, "escalations": 2}),
        case_variables(),
    ]
    for case in states:
        variables = {"complaint": COMPLAINT, "case": case}
        for source in CONDITIONS:
            assert evaluator.truth(source, variables) == fresh(source, variables), (source, case)


def test_a_value_replaced_in_the_outer_mapping_is_seen() -> None:
    evaluator = Evaluator()
    variables = {"complaint": COMPLAINT, "case": case_variables()}
    assert evaluator.truth('case.priority == "P1"', variables) == (False, None)
    variables["case"] = case_variables({"priority": "P1"})
    assert evaluator.truth('case.priority == "P1"', variables) == (True, None)


def test_a_variable_that_disappears_is_gone() -> None:
    evaluator = Evaluator()
    assert evaluator.truth("case.escalations == 0", {"complaint": COMPLAINT, "case": case_variables()})[0]
    hit, error = evaluator.truth("case.escalations == 0", {"complaint": COMPLAINT})
    assert not hit and error


@pytest.mark.parametrize("source", CONDITIONS)
def test_programs_are_compiled_once_per_source(source: str) -> None:
    assert program(source) is program(source)


@pytest.mark.parametrize(
    ("first", "then"),
    [(1, True), (1, 1.0), ({"n": 1}, {"n": True}), ([1], [1.0]), ("1", 1)],
)
def test_a_value_equal_in_python_but_of_another_type_is_set_again(first: Any, then: Any) -> None:
    evaluator = Evaluator()
    source = "type(case.x) == int"
    for value in (first, then):
        variables = {"complaint": COMPLAINT, "case": {"x": value}}
        assert evaluator.truth(source, variables) == fresh(source, variables), (first, then)


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("complaint.product == 5", True),
        ("(5 == complaint.product)", True),
        ('case.acknowledged != "yes"', True),
        ('case.level_rank == "abc".size()', False),  # the literal is part of the operand
        ("1 < 2 == case.acknowledged", False),
        ("complaint.amount == 5", False),  # int and double compare as numbers
        ("case.level_rank == 1", False),
        ('complaint.custom.tier == "gold"', False),  # custom fields have no known type
    ],
)
def test_equality_between_types_is_flagged_only_where_it_is_certain(source: str, flagged: bool) -> None:
    from ombuds.engine.policy.expressions import check

    problems = [p.message for p in check(source) if "this is always" in p.message]
    assert bool(problems) is flagged, problems
