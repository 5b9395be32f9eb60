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
