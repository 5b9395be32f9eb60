"""Policy snapshots and case calendars by sha256, as the worker loaded them for its workflows.

A running complaint names its compiled policy and its case calendar by sha256
(invariant 1): the history stays small, and a history plus the content-addressed
store replays exactly.  The worker's runner (``ombuds.engine.runner``) reads and
verifies every snapshot a workflow task names *before* the workflow code runs;
workflow code only looks them up here, and a sha that is not here fails the
task, which Temporal retries.  Content addressing makes the look-up
deterministic: a sha names exactly one content.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Generic, TypeVar

from ombuds.engine.policy.snapshot import CompiledPolicy, Instance

_T = TypeVar("_T")


class SnapshotMissing(LookupError):
    """No snapshot with this sha256 was loaded; the workflow task retries until a worker has it."""


class _Recent(Generic[_T]):
    """The most recently loaded snapshots of one kind, at most ``size`` of them.

    A dropped one is loaded again by the runner when an activation names it:
    workflows already running keep the objects they hold.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, _T] = OrderedDict()

    def get(self, sha: str) -> _T | None:
        found = self.items.get(sha)
        if found is not None:
            self.items.move_to_end(sha)
        return found

    def put(self, sha: str, item: _T) -> None:
        self.items[sha] = item
        self.items.move_to_end(sha)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


_policies: _Recent[CompiledPolicy] = _Recent(256)
_instances: _Recent[Instance] = _Recent(4096)
#: Why a sha could not be loaded (its content does not match it), for the task's failure message.
_refused: dict[str, str] = {}


def loaded(sha: str) -> bool:
    return sha in _policies.items or sha in _instances.items


def load(sha: str, data: bytes, kind: type[CompiledPolicy] | type[Instance]) -> None:
    """Verify ``data`` against its sha256 and keep it; content that does not match is refused."""
    if hashlib.sha256(data).hexdigest() != sha:
        _refused[sha] = f"the store's content for {sha} does not match its sha256"
        return
    if kind is CompiledPolicy:
        _policies.put(sha, CompiledPolicy.model_validate_json(data).model_copy(update={"sha256": sha}))
    else:
        _instances.put(sha, Instance.model_validate_json(data))
    _refused.pop(sha, None)


def refuse(sha: str, reason: str) -> None:
    """Remember why a sha could not be loaded (the runner could not read or parse it)."""
    _refused[sha] = reason


def policy(sha: str) -> CompiledPolicy:
    found = _policies.get(sha)
    if found is None:
        raise SnapshotMissing(_refused.get(sha) or f"no policy snapshot {sha} was loaded from the store")
    return found


def instance(sha: str) -> Instance:
    found = _instances.get(sha)
    if found is None:
        raise SnapshotMissing(_refused.get(sha) or f"no case calendar {sha} was loaded from the store")
    return found
