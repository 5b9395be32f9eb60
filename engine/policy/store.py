"""The append-only, content-addressed store of policy snapshots and case calendars.

Every worker and the audit archive hold it: a complaint's history names its
snapshot and calendar by sha256, and ``store.get(sha)`` gives back exactly the
bytes that hash to it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from .snapshot import CompiledPolicy, Instance


class StoreError(LookupError):
    pass


class Store:
    """Files named by the sha256 of their content under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        # content-addressed, so a parsed snapshot never goes stale
        self._policies: dict[str, CompiledPolicy] = {}
        self._instances: dict[str, Instance] = {}

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / f"{sha}.json"

    def put_bytes(self, data: bytes, sha: str | None = None) -> str:
        sha = sha or hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        return sha

    def get(self, sha: str) -> bytes | None:
        try:
            return self.path(sha).read_bytes()
        except FileNotFoundError:
            return None

    def put_policy(self, policy: CompiledPolicy) -> str:
        """Store a compiled policy under its own sha (of its canonical JSON)."""
        return self.put_bytes(policy.canonical_json().encode(), policy.sha256)

    def policy(self, sha: str) -> CompiledPolicy:
        cached = self._policies.get(sha)
        if cached is not None:
            return cached
        data = self.get(sha)
        if data is None:
            raise StoreError(f"no policy snapshot {sha} in {self.root}")
        try:
            policy = CompiledPolicy.from_canonical(data, sha)
        except ValueError as exc:
            raise StoreError(f"policy snapshot {sha}: {exc}") from None
        self._policies[sha] = policy
        return policy

    def put_instance(self, instance: Instance) -> str:
        return self.put_bytes(instance.model_dump_json().encode())

    def instance(self, sha: str) -> Instance:
        cached = self._instances.get(sha)
        if cached is not None:
            return cached
        data = self.get(sha)
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            raise StoreError(f"no case calendar {sha} in {self.root}")
        instance = self._instances[sha] = Instance.model_validate_json(data)
        return instance
