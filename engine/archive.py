"""The archive: every closed complaint kept for its retention years, replayable and tamper-evident.

A folder (``<home>/archive`` by default) or an S3-compatible bucket holds, for each
closed complaint, its histories exactly as Temporal kept them (payloads still sealed),
the policy snapshots and case calendars they pin (``snapshots/``, named by sha256 as in
the home's store), and a manifest: the sha256 of each file, the dates and the policy,
and the anonymous figures the monthly review needs.

The manifests form a chain.  ``chain/<sequence>.json`` is the manifest of the
sequence-th archived case, and records the sha256 of the manifest before it: a case
changed, removed or moved breaks the chain at that place.  Writing the chain entry is
the commit point of archiving a case (create-only, so two archivers never take the
same place); what was written before it is written again by the next run.  Each run
ends with a checkpoint (``checkpoints/``) signed with the home's Ed25519 archive key,
so that the chain cannot be rewritten from some case on without the key either.

Retention reduces a case whose keeping period is over: its histories are deleted, its
manifest (no personal data) stays, and ``cases/<id>/reduced.json`` records what was
removed, when and under which rule.  A legal hold on the customer keeps everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from .policy.store import Store
from .settings import Settings

FORMAT = 1


class ArchiveError(Exception):
    """The archive cannot be reached or read."""


class Backend(Protocol):
    """Named blobs: a folder or a bucket."""

    where: str

    def put(self, key: str, data: bytes, *, create: bool = False) -> bool:
        """Write ``data``; with ``create``, only when ``key`` does not exist (False then)."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...


class Folder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ArchiveError(f"not an archive name: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes, *, create: bool = False) -> bool:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if create:
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return True
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
        return True

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def keys(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class Bucket:
    """An S3-compatible bucket through obstore; credentials, region and endpoint from AWS_*."""

    def __init__(self, url: str) -> None:
        from obstore.store import S3Store

        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        self.where = url
        try:
            self.store = S3Store.from_url(
                url, client_options={"allow_http": endpoint.startswith("http://"), "timeout": "60s"}
            )
        except Exception as exc:  # obstore raises its own error kinds for a bad URL or config
            raise ArchiveError(f"cannot use the archive {url}: {exc}") from None

    def put(self, key: str, data: bytes, *, create: bool = False) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError

        try:
            obstore.put(self.store, key, data, mode="create" if create else "overwrite")
        except AlreadyExistsError:
            return False
        except Exception as exc:
            raise ArchiveError(f"cannot write {key} to {self.where}: {exc}") from None
        return True

    def get(self, key: str) -> bytes | None:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            return bytes(obstore.get(self.store, key).bytes())
        except (NotFoundError, FileNotFoundError):
            return None
        except Exception as exc:
            raise ArchiveError(f"cannot read {key} from {self.where}: {exc}") from None

    def keys(self, prefix: str) -> list[str]:
        import obstore

        try:
            return sorted(m["path"] for batch in obstore.list(self.store, prefix=prefix) for m in batch)
        except Exception as exc:
            raise ArchiveError(f"cannot list {self.where}/{prefix}: {exc}") from None

    def delete(self, key: str) -> None:
        import obstore

        try:
            obstore.delete(self.store, key)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise ArchiveError(f"cannot delete {key} from {self.where}: {exc}") from None


def backend(settings: Settings) -> Backend:
    where = settings.archive or str(settings.home / "archive")
    if where.startswith("s3://"):
        return Bucket(where)
    if "://" in where:
        raise ArchiveError(f"archive {where}: give a folder or an s3:// URL")
    return Folder(Path(where))


class Manifest(BaseModel):
    """One archived complaint: what its files are, when it closed, how long it is kept."""

    model_config = ConfigDict(frozen=True)

    format: int = FORMAT
    sequence: int
    previous: str = Field(description="sha256 of the manifest before this one ('' for the first).")
    workflow_id: str
    runs: list[str] = Field(description="Run ids, oldest first; each run's history is a file.")
    files: dict[str, str] = Field(description="Archive name → sha256 of its bytes.")
    snapshots: list[str] = Field(description="sha256 of each policy snapshot and case calendar pinned.")
    policy_id: str
    policy_version: str
    policy_sha: str
    received_at: str
    closed_at: str
    outcome: str
    retention_years: int
    keep_until: str
    figures: dict[str, Any] = Field(description="Anonymous figures kept after retention.")
    archived_at: str

    def canonical(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def chain_key(sequence: int) -> str:
    return f"chain/{sequence:012d}.json"


def history_key(workflow_id: str, run_id: str) -> str:
    return f"cases/{workflow_id}/{run_id}.history.json"


def snapshot_key(sha: str) -> str:
    return f"snapshots/{sha[:2]}/{sha}.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class CaseFiles:
    """What archiving one complaint writes: its histories (by run id) and pinned snapshots."""

    workflow_id: str
    histories: list[tuple[str, bytes]]
    snapshots: dict[str, bytes]
    policy_id: str
    policy_version: str
    policy_sha: str
    received_at: str
    closed_at: str
    outcome: str
    retention_years: int
    figures: dict[str, Any]


@dataclass
class Problem:
    """Something ``archive verify`` found: where, and what."""

    where: str
    what: str


@dataclass
class Verified:
    cases: int
    checkpoints: int
    problems: list[Problem] = field(default_factory=list)


class Archive:
    def __init__(self, store: Backend) -> None:
        self.store = store
        self._chain: list[tuple[Manifest, str]] = []

    @property
    def where(self) -> str:
        return self.store.where

    # ------------------------------------------------------------------ reading

    def chain(self) -> list[tuple[Manifest, str]]:
        """Every manifest in chain order, with the sha256 of its bytes (read once, then new ones)."""
        names = self.store.keys("chain/")
        for name in names[len(self._chain) :]:
            data = self.store.get(name)
            if data is None:
                break
            self._chain.append((Manifest.model_validate_json(data), sha256(data)))
        return list(self._chain)

    def manifests(self) -> dict[str, Manifest]:
        return {m.workflow_id: m for m, _ in self.chain()}

    def reduced(self, workflow_id: str) -> dict[str, Any] | None:
        data = self.store.get(f"cases/{workflow_id}/reduced.json")
        return json.loads(data) if data is not None else None

    def histories(self, manifest: Manifest) -> list[tuple[str, bytes]]:
        """The case's histories as archived (run id, JSON bytes); an ArchiveError when gone."""
        out = []
        for run in manifest.runs:
            key = history_key(manifest.workflow_id, run)
            data = self.store.get(key)
            if data is None:
                why = "reduced after its retention" if self.reduced(manifest.workflow_id) else "missing"
                raise ArchiveError(f"{key} is {why}")
            out.append((run, data))
        return out

    def copy_snapshots(self, shas: list[str], store: Store) -> list[str]:
        """Put the archived snapshots into ``store`` (each verified by its sha256); the ones missing."""
        missing = []
        for sha in shas:
            if store.get(sha) is not None:
                continue
            data = self.store.get(snapshot_key(sha))
            if data is None or sha256(data) != sha:
                missing.append(sha)
                continue
            store.put_bytes(data, sha)
        return missing

    def snapshots_like(self, prefix: str) -> list[str]:
        return [
            k.rsplit("/", 1)[-1].removesuffix(".json") for k in self.store.keys(f"snapshots/{prefix[:2]}/")
        ]

    # ------------------------------------------------------------------ writing

    def add(self, case: CaseFiles, now: dt.datetime) -> Manifest:
        """Archive one complaint: its files first, then its place in the chain (the commit)."""
        files: dict[str, str] = {}
        for run, data in case.histories:
            key = history_key(case.workflow_id, run)
            self.store.put(key, data)
            files[key] = sha256(data)
        for sha, data in case.snapshots.items():
            if self.store.get(snapshot_key(sha)) is None:
                self.store.put(snapshot_key(sha), data)
        closed = dt.datetime.fromisoformat(case.closed_at)
        while True:
            chain = self.chain()
            previous = chain[-1][1] if chain else ""
            manifest = Manifest(
                sequence=len(chain) + 1,
                previous=previous,
                workflow_id=case.workflow_id,
                runs=[run for run, _ in case.histories],
                files=files,
                snapshots=sorted(case.snapshots),
                policy_id=case.policy_id,
                policy_version=case.policy_version,
                policy_sha=case.policy_sha,
                received_at=case.received_at,
                closed_at=case.closed_at,
                outcome=case.outcome,
                retention_years=case.retention_years,
                keep_until=years_after(closed, case.retention_years).isoformat(),
                figures=case.figures,
                archived_at=now.isoformat(timespec="seconds"),
            )
            if self.store.put(chain_key(manifest.sequence), manifest.canonical(), create=True):
                self._chain.append((manifest, sha256(manifest.canonical())))
                return manifest
            # another archiver took this place: read the chain again and take the next one

    def checkpoint(self, signer: Signer, now: dt.datetime) -> dict[str, Any] | None:
        """Sign the chain's head; None when the archive is empty or the head is signed already."""
        chain = self.chain()
        if not chain:
            return None
        manifest, head = chain[-1]
        key = f"checkpoints/{manifest.sequence:012d}.json"
        if self.store.get(key) is not None:
            return None
        body = {"sequence": manifest.sequence, "head": head, "at": now.isoformat(timespec="seconds")}
        signed = {**body, "key": signer.kid, "signature": signer.sign(_canonical(body)).hex()}
        self.store.put(key, json.dumps(signed, indent=1).encode(), create=True)
        self.store.put(f"keys/{signer.kid}.pub", signer.public_pem())
        return signed

    # ------------------------------------------------------------------ retention

    def expired(self, now: dt.datetime) -> Iterator[Manifest]:
        for manifest, _ in self.chain():
            if (
                dt.datetime.fromisoformat(manifest.keep_until) <= now
                and self.reduced(manifest.workflow_id) is None
            ):
                yield manifest

    def reduce(self, manifest: Manifest, now: dt.datetime) -> dict[str, Any]:
        """Delete the case's histories, keeping its manifest; the record says what went and why."""
        record = {
            "workflow_id": manifest.workflow_id,
            "at": now.isoformat(timespec="seconds"),
            "rule": f"records.retention_years = {manifest.retention_years} (policy {manifest.policy_id} "
            f"{manifest.policy_version}, {manifest.policy_sha[:12]})",
            "kept_until": manifest.keep_until,
            "removed": {k: v for k, v in manifest.files.items()},
        }
        self.store.put(f"cases/{manifest.workflow_id}/reduced.json", json.dumps(record, indent=1).encode())
        for key in manifest.files:
            self.store.delete(key)
        return record

    # ------------------------------------------------------------------ verifying

    def verify(self, trusted: list[Ed25519PublicKey]) -> Verified:
        """Check every case's files, the chain's links and the signed checkpoints."""
        problems: list[Problem] = []
        heads: dict[int, str] = {}
        previous = ""
        names = self.store.keys("chain/")
        for position, name in enumerate(names, start=1):
            data = self.store.get(name) or b""
            try:
                manifest = Manifest.model_validate_json(data)
            except ValueError:
                problems.append(Problem(name, "is not a manifest"))
                previous = sha256(data)
                continue
            if name != chain_key(position) or manifest.sequence != position:
                problems.append(
                    Problem(
                        name,
                        f"is out of place: the case at position {position} says it is #{manifest.sequence} (a case removed or moved)",
                    )
                )
            if manifest.previous != previous:
                problems.append(
                    Problem(
                        name,
                        f"does not follow the case before it ({manifest.workflow_id}): the chain was changed before #{manifest.sequence}",
                    )
                )
            previous = heads[position] = sha256(data)
            problems += self._check_files(manifest)
        checkpoints = self.store.keys("checkpoints/")
        for name in checkpoints:
            problems += _check_checkpoint(name, self.store.get(name) or b"", heads, trusted)
        return Verified(len(names), len(checkpoints), problems)

    def _check_files(self, manifest: Manifest) -> list[Problem]:
        problems = []
        reduced = self.reduced(manifest.workflow_id)
        removed = dict(reduced.get("removed", {})) if reduced else {}
        if reduced and dt.datetime.fromisoformat(str(reduced.get("at"))) < dt.datetime.fromisoformat(
            manifest.keep_until
        ):
            problems.append(
                Problem(
                    f"cases/{manifest.workflow_id}/reduced.json",
                    "reduces the case before its retention ended",
                )
            )
        for key, expected in manifest.files.items():
            data = self.store.get(key)
            if data is None:
                if removed.get(key) != expected:
                    problems.append(Problem(key, "is missing"))
            elif sha256(data) != expected:
                problems.append(
                    Problem(key, f"was changed (sha256 {sha256(data)[:12]}, archived {expected[:12]})")
                )
        for sha in manifest.snapshots:
            data = self.store.get(snapshot_key(sha))
            if data is None:
                problems.append(Problem(snapshot_key(sha), "is missing"))
            elif sha256(data) != sha:
                problems.append(
                    Problem(snapshot_key(sha), "was changed (its content does not match its name)")
                )
        return problems


def _check_checkpoint(
    name: str, data: bytes, heads: dict[int, str], trusted: list[Ed25519PublicKey]
) -> list[Problem]:
    try:
        signed = json.loads(data)
        body = {k: signed[k] for k in ("sequence", "head", "at")}
        signature = bytes.fromhex(signed["signature"])
    except (ValueError, KeyError, TypeError):
        return [Problem(name, "is not a checkpoint")]
    if not any(_verifies(key, signature, _canonical(body)) for key in trusted):
        return [Problem(name, "is not signed by a trusted archive key")]
    sequence = int(body["sequence"])
    if sequence not in heads:
        return [
            Problem(
                name, f"signs case #{sequence}, which the chain no longer has (cases removed from the end)"
            )
        ]
    if heads[sequence] != body["head"]:
        return [Problem(name, f"signed a different case #{sequence}: the chain was rewritten up to it")]
    return []


def _verifies(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def years_after(at: dt.datetime, years: int) -> dt.datetime:
    """The same date ``years`` later (28 February for a 29 February in a common year)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


class Signer:
    """The home's archive key (Ed25519) that signs checkpoints: ``<home>/archive-signing.pem``."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.kid = sha256(raw)[:16]

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def of_home(cls, home: Path) -> Signer:
        path = home / "archive-signing.pem"
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ArchiveError(f"{path} is not an Ed25519 key")
            return cls(key)
        home.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return cls(key)


def public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ArchiveError("the archive key is not an Ed25519 public key")
    return key


def open_archive(settings: Settings) -> Archive:
    return Archive(backend(settings))


def fetch_snapshot(settings: Settings, prefix: str, store: Store) -> None:
    """Copy the archived snapshots whose sha256 starts with ``prefix`` into ``store``."""
    try:
        archive = open_archive(settings)
        shas = [sha for sha in archive.snapshots_like(prefix) if sha.startswith(prefix)]
        archive.copy_snapshots(shas, store)
    except ArchiveError:
        return
