"""``classification``: severity, priority, category and queue, set at intake by the first
rule that matches for each."""

from __future__ import annotations

from ombuds.engine.policy.rules import classify

from .case import Case


def apply(case: Case, now: int) -> None:
    """Classify the case and log which rule set each attribute."""
    for attr, match in classify(case.policy, case.variables(), case.evaluator).items():
        setattr(case.state, attr, str(match.value))
        case.log(now, "intake", match.path, "classified", **{attr: match.value})
