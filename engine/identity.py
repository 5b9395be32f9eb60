"""Who a customer is, across complaints: normalised identifiers and their keyed hashes.

A customer is known by their id, email, phone number and account number.  Each
is normalised — case and spaces for ids, emails and account numbers, E.164 for
phone numbers (``phonenumbers``, the customer's region as the default country) —
and turned into a keyed hash (HMAC-SHA256 with the ledger key), so the id of a
customer's ledger names no email or phone number and cannot be found by hashing
guesses.  The ledger key is ``OMBUDS_LEDGER_KEY``, else a random key kept in
``<home>/ledger.key`` (every worker shares the home).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from .policy.hygiene import e164

#: The identifiers, in the order a ledger is named after the first one present.
KINDS = ("id", "email", "phone", "account")


def normalised(kind: str, value: str, region: str | None = None) -> str | None:
    """An identifier as every spelling of it is written, or None when nothing is left."""
    text = " ".join(str(value).split())
    if not text:
        return None
    if kind == "email":
        return text.replace(" ", "").casefold()
    if kind == "phone":
        number = e164(text, region)
        if number is not None:
            return number
        digits = "".join(c for c in text if c.isdigit() or c == "+")
        # the digits alone may read as a number ("0:1" is "01"): normalising twice changes nothing
        return (e164(digits, region) or digits) if digits else None
    if kind == "account":
        return "".join(text.split()).upper()
    return text.casefold()


def identifiers(customer: dict[str, Any]) -> dict[str, str]:
    """The normalised identifiers of a customer (``id``, ``email``, ``phone``, ``account``, ``region``)."""
    region = customer.get("region")
    found = {}
    for kind in KINDS:
        value = customer.get(kind)
        if value:
            normal = normalised(kind, str(value), region)
            if normal:
                found[kind] = normal
    return found


def keys(secret: bytes, customer: dict[str, Any]) -> list[str]:
    """The keyed hash of each identifier of a customer, in :data:`KINDS` order."""
    return [
        hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
        for kind, value in identifiers(customer).items()
    ]


def ledger_key(configured: str | None, home: Path) -> bytes:
    """The secret of the keyed hashes: configured, else kept in ``<home>/ledger.key`` (made once)."""
    return kept_secret(configured, home, "ledger.key")


def kept_secret(configured: str | None, home: Path, name: str) -> bytes:
    """A secret: configured, else kept in ``<home>/<name>`` (made once, readable by the owner only;
    processes racing to make it end with the same one)."""
    if configured:
        return configured.encode()
    path = home / name
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32).encode()
    draft = home / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(fresh)
    try:
        os.link(draft, path)  # whole or not at all, and only once
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    finally:
        draft.unlink()
    return fresh
