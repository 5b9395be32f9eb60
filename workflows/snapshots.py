"""Policy snapshots and case calendars by sha256, as the worker loaded them for its workflows.

A running complaint names its compiled policy and its case calendar by sha256
(invariant 1): the history stays small, and a history plus the content-addressed
store replays exactly.  The worker reads and verifies every snapshot a workflow
task names *before* the workflow code runs (``ombuds.engine.temporal``); workflow
code only looks them up here, and a sha that is not here fails the task, which
Temporal retries.  Content addressing makes the look-up deterministic: a sha
names exactly one content.
"""

from __future__ import annotations

import hashlib

from ombuds.engine.policy.snapshot import CompiledPolicy, Instance

_policies: dict[str, CompiledPolicy] = {}
_instances: dict[str, Instance] = {}


class SnapshotMissing(LookupError):
    """No snapshot with this sha256 was loaded; the workflow task retries until a worker has it."""


def loaded(sha: str) -> bool:
    return sha in _policies or sha in _instances


def load(sha: str, data: bytes, kind: type[CompiledPolicy] | type[Instance]) -> None:
    """Verify ``data`` against its sha256 and keep it; content that does not match is not kept."""
    if hashlib.sha256(data).hexdigest() != sha:
        return
    if kind is CompiledPolicy:
        _policies[sha] = CompiledPolicy.from_canonical(data, sha)
    else:
        _instances[sha] = Instance.model_validate_json(data)


def policy(sha: str) -> CompiledPolicy:
    found = _policies.get(sha)
    if found is None:
        raise SnapshotMissing(f"no policy snapshot {sha} was loaded from the store")
    return found


def instance(sha: str) -> Instance:
    found = _instances.get(sha)
    if found is None:
        raise SnapshotMissing(f"no case calendar {sha} was loaded from the store")
    return found
