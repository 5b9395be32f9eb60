"""What replay rebuilds: the decision logs and update answers of the histories being replayed.

Workflow code hands them over only while it replays; ``ombuds replay`` compares
them with what the history recorded.
"""

from __future__ import annotations

from typing import Any

_logs: dict[str, list[object]] | None = None
_answers: dict[str, object] = {}
_texts: dict[str, dict[str, str]] = {}
#: Workflow id → activity id → (activity type, its arguments as JSON), as the code schedules them.
_activities: dict[str, dict[str, tuple[str, list[object]]]] = {}


def start() -> None:
    """Collect the decision logs and update answers rebuilt while replaying (``ombuds replay``)."""
    global _logs
    _logs = {}
    _answers.clear()
    _activities.clear()


def stop() -> None:
    global _logs
    _logs = None
    _answers.clear()
    _activities.clear()
    _texts.clear()


def active() -> bool:
    return _logs is not None


def activity(workflow_id: str, activity_id: str, kind: str, arguments: list[object]) -> None:
    """An activity the code schedules while its history is replayed, with its arguments."""
    if _logs is not None:
        _activities.setdefault(workflow_id, {})[activity_id] = (kind, arguments)


def activities(workflow_id: str) -> dict[str, tuple[str, list[object]]]:
    return dict(_activities.get(workflow_id, {}))


def log(workflow_id: str, entries: list[object], texts: dict[str, str] | None = None) -> None:
    if _logs is not None:
        _logs[workflow_id] = list(entries)
        _texts[workflow_id] = dict(texts or {})


def texts(workflow_id: str) -> dict[str, str]:
    """The texts the rebuilt log refers to by sha256."""
    return dict(_texts.get(workflow_id, {}))


def answer(update_id: str, value: object) -> None:
    """The answer an update gave while its history is replayed."""
    if _logs is not None:
        _answers[update_id] = value


def forget(workflow_id: str, updates: list[str]) -> None:
    """Drop what one replayed history rebuilt (its report is made): a long batch stays small."""
    if _logs is not None:
        _logs.pop(workflow_id, None)
    _activities.pop(workflow_id, None)
    _texts.pop(workflow_id, None)
    for update in updates:
        _answers.pop(update, None)


def logs(workflow_id: str) -> list[Any]:
    return list(_logs.get(workflow_id, [])) if _logs is not None else []


def answers() -> dict[str, object]:
    return dict(_answers)
