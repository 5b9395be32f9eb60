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


def _safe(name: str) -> str:
    """A name as a file name: letters, digits and ``-._``, the rest as ``_``."""
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name) or "_"


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

    def remember(self, policy: CompiledPolicy, file: str) -> list[str]:
        """Keep a valid policy's snapshot, as the last valid one of its file and under its id and
        version; returns the other shas stored before under the same id and version."""
        self.put_policy(policy)
        versions = self.root / "index" / "versions" / _safe(policy.id) / f"{_safe(policy.version)}.txt"
        versions.parent.mkdir(parents=True, exist_ok=True)
        known = versions.read_text("utf-8").split() if versions.exists() else []
        if policy.sha256 not in known:
            with versions.open("a", encoding="utf-8") as handle:  # appends of one line do not interleave
                handle.write(policy.sha256 + "\n")
        latest = self.root / "index" / "files" / _safe(file)
        latest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=latest.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(policy.sha256)
        os.replace(tmp, latest)
        return [sha for sha in known if sha != policy.sha256]

    def last_valid(self, file: str) -> CompiledPolicy | None:
        """The last valid snapshot of a policy file, if one was ever stored."""
        latest = self.root / "index" / "files" / _safe(file)
        try:
            return self.policy(latest.read_text("utf-8").strip())
        except (OSError, StoreError):
            return None

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
