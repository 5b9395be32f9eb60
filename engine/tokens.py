"""Who calls the HTTP API: bearer tokens that name a staff member (or an integration) and the
authority level they act at.

The embedded default signs tokens itself (HS256 with a secret kept in ``<home>/api.key``, or
``OMBUDS_API_KEY``): ``ombuds token create --user alice --level agent``.  A token carries the
user, the level, what kind of caller it is (``staff``, or ``service`` for an integration with
its ``scopes``: the event kinds it may send) and when it expires.  The actor of every event sent
through the API is made from a verified token, never from the request.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from .identity import kept_secret

ISSUER = "ombuds"
AUDIENCE = "ombuds-api"
ALGORITHM = "HS256"
#: A staff id or an integration's name: what a token's ``sub`` may be.
USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}$")
#: Longest a token may live, in days.
MAX_DAYS = 366


class TokenError(ValueError):
    """A token that is missing, malformed, forged, expired or not for this API."""


@dataclass(frozen=True)
class Identity:
    """A verified caller."""

    user: str
    level: str
    kind: str = "staff"
    #: For an integration: the event kinds it may send (``*``: every kind its level may).
    scopes: tuple[str, ...] = field(default=("*",))

    def may_send(self, kind: str) -> bool:
        return "*" in self.scopes or kind in self.scopes


def secret(configured: str | None, home: Path) -> bytes:
    """The signing secret: configured, else kept in ``<home>/api.key``."""
    return kept_secret(configured, home, "api.key")


def create(
    key: bytes,
    user: str,
    level: str,
    *,
    days: int = 30,
    kind: str = "staff",
    scopes: tuple[str, ...] = ("*",),
    now: dt.datetime | None = None,
) -> str:
    """A signed token for ``user`` at ``level``, valid for ``days``."""
    if not USER.match(user):
        raise TokenError(f'"{user}" is not a user id (letters, digits, . _ @ -; at most 128)')
    if not USER.match(level):
        raise TokenError(f'"{level}" is not a level id')
    if not 0 < days <= MAX_DAYS:
        raise TokenError(f"a token lives 1 to {MAX_DAYS} days, not {days}")
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user,
        "lvl": level,
        "knd": kind,
        "scp": list(scopes),
        "iat": int(issued.timestamp()),
        "exp": int((issued + dt.timedelta(days=days)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str) -> Identity:
    """The identity a token names; raises :class:`TokenError` with why it is refused."""
    if len(token) > 4096:
        raise TokenError("the token is too long")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is not valid: {exc}") from None
    user, level, kind = claims.get("sub"), claims.get("lvl"), claims.get("knd", "staff")
    scopes = claims.get("scp", ["*"])
    if (
        not isinstance(user, str)
        or not USER.match(user)
        or not isinstance(level, str)
        or not USER.match(level)
    ):
        raise TokenError("the token names no user and level")
    if (
        kind not in ("staff", "service")
        or not isinstance(scopes, list)
        or not all(isinstance(s, str) for s in scopes)
    ):
        raise TokenError("the token's kind or scopes are not valid")
    return Identity(user=user, level=level, kind=kind, scopes=tuple(scopes))
