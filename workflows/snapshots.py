"""Policy snapshots and case calendars by sha256, as every worker holds them.

A running complaint names its compiled policy and its case calendar by sha256
(invariant 1): the history stays small, and a history plus the content-addressed
store replays exactly.  The worker fills this registry (and installs a loader
for misses); workflow code only looks things up.  Content addressing makes the
look-up deterministic: a sha names exactly one content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ombuds.engine.policy.snapshot import CompiledPolicy, Instance

Loader = Callable[[str], bytes | None]

_policies: dict[str, CompiledPolicy] = {}
_instances: dict[str, Instance] = {}
_loader: Loader | None = None


class SnapshotMissing(LookupError):
    """No worker store holds this sha256; the workflow task retries until one does."""


def set_loader(loader: Loader | None) -> None:
    global _loader
    _loader = loader


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load(sha: str) -> bytes:
    data = _loader(sha) if _loader else None
    if data is None:
        raise SnapshotMissing(f"no snapshot {sha} in the store")
    return data


def add_policy(policy: CompiledPolicy) -> None:
    _policies[policy.sha256] = policy


def policy(sha: str) -> CompiledPolicy:
    found = _policies.get(sha)
    if found is None:
        try:
            found = CompiledPolicy.from_canonical(_load(sha), sha)
        except ValueError as exc:
            raise SnapshotMissing(str(exc)) from None
        _policies[sha] = found
    return found


def add_instance(sha: str, instance: Instance) -> None:
    _instances[sha] = instance


def instance(sha: str) -> Instance:
    found = _instances.get(sha)
    if found is None:
        data = _load(sha)
        if sha256(data) != sha:
            raise SnapshotMissing(f"calendar {sha} does not match its content")
        found = Instance.model_validate_json(data)
        _instances[sha] = found
    return found


_capture: dict[str, list[object]] | None = None
_answers: dict[str, object] = {}


def start_capture() -> None:
    """Collect the decision logs and update answers rebuilt while replaying (``ombuds replay``)."""
    global _capture
    _capture = {}
    _answers.clear()


def stop_capture() -> None:
    global _capture
    _capture = None
    _answers.clear()


def capture(workflow_id: str, log: list[object]) -> None:
    if _capture is not None:
        _capture[workflow_id] = list(log)


def capture_answer(update_id: str, answer: object) -> None:
    """The answer an update gave while its history is replayed."""
    if _capture is not None:
        _answers[update_id] = answer


def captured(workflow_id: str) -> list[Any]:
    return list(_capture.get(workflow_id, [])) if _capture is not None else []


def captured_answers() -> dict[str, object]:
    return dict(_answers)
