"""The keys that seal the cases' payloads: system keys, one data key per customer, and which
customer each complaint belongs to.

* **System keys** seal every payload Temporal stores.  The newest seals; the older stay to
  open what they sealed (``ombuds keys rotate``).
* **Data keys** seal the personal data inside a payload (the customer, the texts they wrote):
  one per customer, kept wrapped by a system key.  Destroying a customer's data key
  (``ombuds erase``) leaves their personal data unreadable everywhere it was sealed, and
  nothing else.
* A customer is named by a keyed hash of their first identifier (``subject``); each of their
  identifiers (id, email, phone, account) points at it, so an erasure asked for by any of
  them finds every complaint.

The embedded default keeps them in ``<home>/keys.sqlite`` (``ombuds dev`` makes it at first
start and says to back it up: without it no case can be read).  :class:`KeyProvider` is what
a production key service implements (docs/records.md: a KMS wraps the data keys).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Bytes of a key (AES-256).
KEY_BYTES = 32
NONCE_BYTES = 12
#: Seconds a key read from the store is used before it is read again.
CACHED = 5.0


class KeyMissing(Exception):
    """A key that sealed something is not in this key store (another home, or a lost file)."""


class Erased(Exception):
    """The customer's data key was destroyed: their personal data cannot be opened any more."""


@dataclass(frozen=True)
class DataKey:
    kid: str
    key: bytes


class KeyProvider(Protocol):
    """What the codec asks of a key service."""

    def sealing_key(self) -> tuple[str, bytes]:
        """The newest system key: (key id, key)."""
        ...

    def system_key(self, kid: str) -> bytes:
        """A system key by id; :class:`KeyMissing` when it is not known here."""
        ...

    def data_key(self, subject: str, identifiers: list[str]) -> DataKey:
        """The customer's data key, made at their first complaint (and again after an erasure)."""
        ...

    def open_data_key(self, kid: str) -> bytes:
        """A data key by id; :class:`Erased` once destroyed, :class:`KeyMissing` when unknown."""
        ...

    def subject_for(self, identifiers: list[str]) -> str:
        """The customer a complaint's identifier hashes name (one already known, else the first)."""
        ...

    def remember_case(self, workflow_id: str, subject: str) -> None: ...

    def subject_of(self, workflow_id: str) -> str | None: ...


_SCHEMA = """
create table if not exists system_keys (kid text primary key, secret blob not null, created text not null);
create table if not exists data_keys (
    kid text primary key, subject text not null, wrapped blob not null, wrapped_by text not null,
    created text not null, destroyed text);
create unique index if not exists live_data_keys on data_keys (subject) where destroyed is null;
create table if not exists identifiers (identifier text primary key, subject text not null);
create table if not exists cases (workflow_id text primary key, subject text not null);
create table if not exists holds (subject text primary key, reason text not null, by text not null, since text not null);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class LocalKeys:
    """The embedded key store: one SQLite file, shared by every process of the home."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if not path.exists() and not create:
            raise KeyMissing(f"no key store at {path}: this home has no keys to open the cases' payloads")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # readable by its owner from the start
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        with self._lock:
            # a destroyed key is overwritten in the file, not left in a free page
            self._db.execute("pragma secure_delete = on")
            self._db.executescript(_SCHEMA)
        os.chmod(path, 0o600)
        self._system: dict[str, bytes] = {}
        #: Keys read a moment ago (a rotation or an erasure elsewhere is seen within CACHED seconds).
        self._sealing: tuple[float, str, bytes] | None = None
        self._data: dict[str, tuple[float, bytes]] = {}
        self._customers: dict[str, tuple[float, DataKey]] = {}
        self._subjects: dict[str, str] = {}
        if create and not self._db.execute("select 1 from system_keys").fetchone():
            self.rotate()

    # ------------------------------------------------------------------ system keys

    def rotate(self) -> str:
        """A new system key that seals from now on; returns its id."""
        with self._lock:
            count = self._db.execute("select count(*) from system_keys").fetchone()[0]
            kid = f"sk{count + 1}-{secrets.token_hex(4)}"
            self._db.execute(
                "insert into system_keys values (?, ?, ?)", (kid, secrets.token_bytes(KEY_BYTES), _now())
            )
        return kid

    def system_keys(self) -> list[tuple[str, str]]:
        """(key id, created) of every system key, oldest first."""
        rows = self._db.execute("select kid, created from system_keys order by rowid").fetchall()
        return [(str(k), str(c)) for k, c in rows]

    def sealing_key(self) -> tuple[str, bytes]:
        if self._sealing is not None and self._sealing[0] > time.monotonic():
            return self._sealing[1], self._sealing[2]
        row = self._db.execute("select kid, secret from system_keys order by rowid desc limit 1").fetchone()
        if row is None:
            raise KeyMissing(f"the key store {self.path} has no system key (ombuds keys rotate makes one)")
        self._system[str(row[0])] = bytes(row[1])
        self._sealing = (time.monotonic() + CACHED, str(row[0]), bytes(row[1]))
        return str(row[0]), bytes(row[1])

    def system_key(self, kid: str) -> bytes:
        if kid not in self._system:
            row = self._db.execute("select secret from system_keys where kid = ?", (kid,)).fetchone()
            if row is None:
                raise KeyMissing(f"system key {kid} is not in {self.path}")
            self._system[kid] = bytes(row[0])
        return self._system[kid]

    # ------------------------------------------------------------------ data keys

    def data_key(self, subject: str, identifiers: list[str]) -> DataKey:
        cached = self._customers.get(subject)
        if cached is not None and cached[0] > time.monotonic() and not identifiers:
            return cached[1]
        live = "select kid, wrapped, wrapped_by, destroyed from data_keys where subject = ? and destroyed is null"
        with self._lock:
            row = self._db.execute(live, (subject,)).fetchone()
            # none yet, or the customer was erased and complains again: a new key (another process
            # may make it at the same moment: the first one stays)
            if row is None:
                kid = f"dk-{secrets.token_hex(8)}"
                by, wrapping = self.sealing_key()
                wrapped = _seal(wrapping, secrets.token_bytes(KEY_BYTES), kid.encode())
                self._db.execute(
                    "insert or ignore into data_keys values (?, ?, ?, ?, ?, null)",
                    (kid, subject, wrapped, by, _now()),
                )
                row = self._db.execute(live, (subject,)).fetchone()
            for identifier in identifiers:
                self._db.execute("insert or ignore into identifiers values (?, ?)", (identifier, subject))
        kid, wrapped, by, _destroyed = row
        found = DataKey(str(kid), self._unwrap(str(kid), bytes(wrapped), str(by)))
        self._customers[subject] = (time.monotonic() + CACHED, found)
        return found

    def open_data_key(self, kid: str) -> bytes:
        cached = self._data.get(kid)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        row = self._db.execute(
            "select wrapped, wrapped_by, destroyed from data_keys where kid = ?", (kid,)
        ).fetchone()
        if row is None:
            raise KeyMissing(f"data key {kid} is not in {self.path}")
        if row[2]:
            raise Erased(f"erased on {row[2]}")
        return self._unwrap(kid, bytes(row[0]), str(row[1]))

    def _unwrap(self, kid: str, wrapped: bytes, by: str) -> bytes:
        key = _open(self.system_key(by), wrapped, kid.encode())
        self._data[kid] = (time.monotonic() + CACHED, key)
        return key

    def destroy(self, subject: str) -> bool:
        """Destroy a customer's data key (the wrapped key is overwritten); False when none was kept."""
        with self._lock:
            done = self._db.execute(
                "update data_keys set wrapped = zeroblob(48), destroyed = ? where subject = ? and destroyed is null",
                (_now(), subject),
            ).rowcount
        self._data.clear()
        self._customers.clear()
        return bool(done)

    def subject_for(self, identifiers: list[str]) -> str:
        """The customer these identifier hashes name: the one any of them already points at (a
        complaint giving only an email finds the customer an earlier one named by id and email),
        else a new one named after the first."""
        for identifier in identifiers:
            row = self._db.execute(
                "select subject from identifiers where identifier = ?", (identifier,)
            ).fetchone()
            if row is not None:
                return str(row[0])
        return identifiers[0]

    def subjects_of(self, identifiers: list[str]) -> list[str]:
        """The customers any of these identifier hashes points at."""
        found = {
            str(row[0])
            for identifier in identifiers
            for row in self._db.execute("select subject from identifiers where identifier = ?", (identifier,))
        }
        return sorted(found)

    def cases_of(self, subject: str) -> list[str]:
        rows = self._db.execute(
            "select workflow_id from cases where subject = ? order by workflow_id", (subject,)
        )
        return [str(r[0]) for r in rows]

    def destroyed(self, subject: str) -> str | None:
        row = self._db.execute("select destroyed from data_keys where subject = ?", (subject,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def hold(self, subject: str, reason: str, by: str) -> None:
        """A legal hold: the customer's data may not be erased until it is released."""
        with self._lock:
            self._db.execute(
                "insert or replace into holds values (?, ?, ?, ?)", (subject, reason, by, _now())
            )

    def release(self, subject: str) -> None:
        with self._lock:
            self._db.execute("delete from holds where subject = ?", (subject,))

    def held(self, subject: str) -> str | None:
        """Why a hold is on the customer (the reason, who placed it, since when), or None."""
        row = self._db.execute("select reason, by, since from holds where subject = ?", (subject,)).fetchone()
        return f"{row[0]} (placed by {row[1]} on {row[2][:10]})" if row else None

    # ------------------------------------------------------------------ cases

    def remember_case(self, workflow_id: str, subject: str) -> None:
        if self._subjects.get(workflow_id) == subject:
            return
        with self._lock:
            self._db.execute("insert or ignore into cases values (?, ?)", (workflow_id, subject))
        self._subjects[workflow_id] = subject

    def subject_of(self, workflow_id: str) -> str | None:
        if workflow_id not in self._subjects:
            row = self._db.execute(
                "select subject from cases where workflow_id = ?", (workflow_id,)
            ).fetchone()
            if row is None:
                return None
            self._subjects[workflow_id] = str(row[0])
        return self._subjects[workflow_id]


def _seal(key: bytes, plain: bytes, associated: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, associated)


def _open(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)


def key_store(home: Path, *, create: bool = False) -> LocalKeys:
    """The key store of a home (``create``: make it, with its first system key, if missing)."""
    return LocalKeys(home / "keys.sqlite", create=create)
