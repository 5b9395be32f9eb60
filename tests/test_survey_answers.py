"""A survey answer per question; the policy says which answer is the score (``low_score.question``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ombuds.engine.policy.validate import validate_file
from ombuds.workflows.core import Actor, Rejected

from .test_settings_act import b2b_resolved, entries
from .workflow_support import ROOT, act_now, policy_variant

CUSTOMER = Actor(kind="customer")
DAY = 86_400


def test_the_answer_the_policy_names_is_the_score(tmp_path: Path) -> None:
    # b2b asks five questions; a low first answer is low (the default), a low second is not
    core, t0 = b2b_resolved(None, True)
    act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, answers=[5, 1, 5, 5, 5])
    (answered,) = entries(core, "survey answered")
    assert answered.detail == {"score": 5, "answers": [5, 1, 5, 5, 5]}
    assert not entries(core, "low score: escalate")

    policies = policy_variant(
        tmp_path, "b2b-support.yaml", [("low_score: {below: 3", "low_score: {question: 2, below: 3")]
    )
    core, t0 = b2b_resolved(policies, True)
    act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, answers=[5, 1, 5, 5, 5])
    assert entries(core, "survey answered")[0].detail["score"] == 1
    assert entries(core, "low score: escalate")


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ([5], "5 questions, not 1 answers"),
        ([5, 9, 5, 5, 5], "each answer must be between 1 and 5"),
        ([0, 5, 5, 5, 5], "each answer must be between 1 and 5"),
    ],
)
def test_answers_that_do_not_fit_the_survey_are_refused(answers: list[int], why: str) -> None:
    core, t0 = b2b_resolved(None, True)
    with pytest.raises(Rejected, match=why):
        act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, answers=answers)
    act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, answers=[4, 4, 4, 4, 4])
    with pytest.raises(Rejected, match="already answered"):
        act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, answers=[4, 4, 4, 4, 4])


def test_a_scored_question_the_survey_lacks_is_a_located_error(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "b2b-support.yaml").read_text()
    text = text.replace("low_score: {below: 3", "low_score: {question: 7, below: 3")
    text = text.replace("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/")
    (tmp_path / "b2b-support.yaml").write_text(text)
    report = validate_file(tmp_path / "b2b-support.yaml").report
    (problem,) = [p for p in report.errors if "low_score.question" in p.path]
    assert "question 7, but the survey has 5 questions" in problem.message
    assert problem.line == text[: text.index("question: 7")].count("\n") + 1


def test_a_score_beside_answers_must_be_the_scored_answer() -> None:
    core, t0 = b2b_resolved(None, True)
    with pytest.raises(Rejected, match="differ"):
        act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, score=5, answers=[1, 5, 5, 5, 5])
    act_now(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, score=1, answers=[1, 5, 5, 5, 5])
    assert entries(core, "survey answered")[0].detail["score"] == 1
