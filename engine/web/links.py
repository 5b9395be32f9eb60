"""Signed, expiring links that let a customer act on their own case, and nothing else.

A link carries a token signed with HMAC-SHA256 (a JWT, ``HS256``): the complaint's id, what the
link is for (``status`` or ``survey``) and when it expires; never a name, an address or any
other customer data.  The header names the key (``kid``) that signed it, so keys rotate:
``ombuds links rotate`` adds a key that signs every new link, and the keys before it still
verify the links they signed until the last of those has expired (a key is dropped once the
key after it has signed for longer than the longest life of a link).

The keys are kept in ``<home>/links.keys`` (one ``<id> <secret> <since>`` a line, the newest
last), made at first use and readable by the owner only; the worker (which writes the links
into messages, reading the file for each) and the HTTP service (which reads them) share the
file, or ``OMBUDS_LINK_KEYS`` (``id:secret,id:secret``, the newest last).  A secret is at
least :data:`MIN_SECRET` bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jwt

from ..identity import kept_secret

Use = Literal["status", "survey"]
#: The shortest secret a key may have, in bytes.
MIN_SECRET = 32
#: How long a link lives, in days, by what it is for.
LIVES: dict[str, int] = {"status": 190, "survey": 30}
_AUDIENCE = "ombuds-customer"


class LinkError(Exception):
    """A link that is not ours, was altered, is for something else, or has expired."""

    def __init__(self, reason: Literal["forged", "expired", "other"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """What a verified link lets its holder do."""

    complaint_id: str
    use: Use
    expires: dt.datetime


class Links:
    """Makes and checks customer links with a deployment's keys."""

    def __init__(self, keys: list[tuple[str, bytes]], base_url: str) -> None:
        if not keys:
            raise ValueError("no key to sign links with")
        short = [kid for kid, secret in keys if len(secret) < MIN_SECRET]
        if short:
            raise ValueError(f"the link key {short[0]} is shorter than {MIN_SECRET} bytes")
        self.keys = keys
        self.base_url = base_url.rstrip("/")

    @classmethod
    def of(cls, home: Path, base_url: str, configured: str | None = None) -> Links:
        """The keys of ``OMBUDS_LINK_KEYS`` (or ``configured``), else of ``<home>/links.keys``."""
        text = configured or os.environ.get("OMBUDS_LINK_KEYS")
        if text:
            pairs = [part.split(":", 1) for part in text.split(",") if ":" in part]
            return cls([(kid.strip(), secret.strip().encode()) for kid, secret in pairs], base_url)
        return cls([(kid, secret) for kid, secret, _since in read_keys(home)], base_url)

    def token(self, complaint_id: str, use: Use, *, now: dt.datetime | None = None) -> str:
        issued = now or dt.datetime.now(dt.UTC)
        kid, secret = self.keys[-1]
        claims = {
            "sub": complaint_id,
            "use": use,
            "aud": _AUDIENCE,
            "iat": int(issued.timestamp()),
            "exp": int((issued + dt.timedelta(days=LIVES[use])).timestamp()),
        }
        return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})

    def url(self, complaint_id: str, use: Use, *, now: dt.datetime | None = None) -> str:
        """The absolute address of a customer page: ``/my/<token>`` or ``/my/<token>/survey``."""
        token = self.token(complaint_id, use, now=now)
        return f"{self.base_url}/my/{token}" + ("/survey" if use == "survey" else "")

    def console_url(self, complaint_id: str) -> str:
        """The case's page in the staff console (staff sign in to open it)."""
        return f"{self.base_url}/console/cases/{complaint_id}"

    def check(self, token: str, use: Use) -> Link:
        """The link ``token`` makes, if we signed it for ``use`` and it has not expired."""
        if len(token) > 1000:
            raise LinkError("forged", "not a link of ours")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise LinkError("forged", "not a link of ours") from None
        secret = dict(self.keys).get(str(kid))
        if secret is None:
            raise LinkError("forged", "signed with a key we do not have")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=_AUDIENCE,
                options={"require": ["sub", "exp", "use"]},
            )
        except jwt.ExpiredSignatureError:
            raise LinkError("expired", "the link has expired") from None
        except jwt.PyJWTError:
            raise LinkError("forged", "not a link of ours") from None
        if claims.get("use") != use:
            raise LinkError("other", f"this link is for {claims.get('use')}, not {use}")
        return Link(
            complaint_id=str(claims["sub"]),
            use=use,
            expires=dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
        )


#: The keys last read from each home's file, by the file's modification time.
_READ: dict[tuple[Path, str], tuple[tuple[int, int, int], Links]] = {}


def current(home: Path, base_url: str) -> Links:
    """The links of ``home`` as its keys are now: the file is read again only when it changed
    (a rotation), not for every page and message."""
    if os.environ.get("OMBUDS_LINK_KEYS"):
        return Links.of(home, base_url)
    path = home / "links.keys"
    try:
        stamp: tuple[int, int, int] | None = _stamp(path)
    except FileNotFoundError:
        stamp = None
    known = _READ.get((home, base_url))
    if known is not None and stamp is not None and known[0] == stamp:
        return known[1]
    links = Links.of(home, base_url)
    _READ[(home, base_url)] = (_stamp(path), links)
    return links


def _stamp(path: Path) -> tuple[int, int, int]:
    """What changes when the file is written again (a rotation replaces it: a new inode)."""
    found = path.stat()
    return found.st_mtime_ns, found.st_ino, found.st_size


_IN_PATH = re.compile(r"/my/[^/?\s\"]+")


class HiddenLinks(logging.Filter):
    """Keeps the customers' link tokens out of access logs: ``/my/<token>`` is logged as
    ``/my/…`` (a token is a credential to the case for months)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_IN_PATH.sub("/my/…", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _IN_PATH.sub("/my/…", record.msg)
        return True


def hide_links_in_access_logs() -> None:
    """Install :class:`HiddenLinks` on the server's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HiddenLinks) for f in access.filters):
        access.addFilter(HiddenLinks())


def read_keys(home: Path) -> list[tuple[str, bytes, dt.date]]:
    """The keys in ``<home>/links.keys`` with the day each began to sign, made with a first key
    when there is none."""
    path = home / "links.keys"
    if not path.exists():
        first = kept_secret(None, home, "links.first")
        # the day of the first start, the same in every process that races to make it
        made = dt.datetime.fromtimestamp((home / "links.first").stat().st_mtime, dt.UTC).date()
        if not path.exists():
            _write_private(path, f"k1 {first.decode()} {made.isoformat()}\n")
    keys = []
    for line in path.read_text().splitlines():
        kid, secret, since = [*line.split(), "", "", ""][:3]
        if kid and secret:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                day = dt.date.today()
            keys.append((kid, secret.encode(), day))
    return keys


def rotate(home: Path, today: dt.date | None = None) -> str:
    """Add a key that signs every link from now on; the id of the new key.  A key whose
    successor has signed for longer than a link lives is dropped: every link it signed expired."""
    day = today or dt.date.today()
    keys = read_keys(home)
    kid = f"k{max((int(k[1:]) for k, _s, _d in keys if k[1:].isdigit()), default=0) + 1}"
    keys.append((kid, secrets.token_hex(32).encode(), day))
    longest = dt.timedelta(days=max(LIVES.values()))
    kept = [
        key
        for key, after in zip(keys, [*keys[1:], None], strict=True)
        if after is None or day - after[2] <= longest
    ]
    lines = [f"{k} {s.decode()} {d.isoformat()}" for k, s, d in kept]
    _write_private(home / "links.keys", "\n".join(lines) + "\n")
    return kid


def _write_private(path: Path, text: str) -> None:
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(draft, path)
