"""What replay rebuilds: the decision logs and update answers of the histories being replayed.

Workflow code hands them over only while it replays; ``ombuds replay`` compares
them with what the history recorded.
"""

from __future__ import annotations

from typing import Any

_logs: dict[str, list[object]] | None = None
_answers: dict[str, object] = {}


def start() -> None:
    """Collect the decision logs and update answers rebuilt while replaying (``ombuds replay``)."""
    global _logs
    _logs = {}
    _answers.clear()


def stop() -> None:
    global _logs
    _logs = None
    _answers.clear()


def log(workflow_id: str, entries: list[object]) -> None:
    if _logs is not None:
        _logs[workflow_id] = list(entries)


def answer(update_id: str, value: object) -> None:
    """The answer an update gave while its history is replayed."""
    if _logs is not None:
        _answers[update_id] = value


def logs(workflow_id: str) -> list[Any]:
    return list(_logs.get(workflow_id, [])) if _logs is not None else []


def answers() -> dict[str, object]:
    return dict(_answers)
