"""Promises: a date the case owes — a level's decision (``authority[].decision_within``) or an
extended deadline (``clocks[].extension``).  Kept when what was promised happens; missed,
a breach, when its date passes first.
"""

from __future__ import annotations

from collections.abc import Iterator

from .case import Case


def keep_decisions(case: Case) -> None:
    """A decision was taken: every open decision promise is kept."""
    for promise in case.state.promises:
        if promise.kind == "decision" and promise.kept is None:
            promise.kept = True


def miss(case: Case, now: int) -> None:
    """A promise whose date passed is missed: a breach."""
    s = case.state
    for promise in s.promises:
        if promise.kept is None and not promise.superseded and now > promise.due:
            promise.kept = False
            s.sla_breached = True
            case.log(now, f"deadline:{promise.kind}", promise.rule, "promise missed", text=promise.text)


def upcoming(case: Case) -> Iterator[tuple[int, int, str]]:
    """Open promises: (their date, when to wake: just after it, what)."""
    for p in case.state.promises:
        if p.kept is None and not p.superseded:
            yield p.due, p.due + 1, f"promise: {p.kind}"
