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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from .identity import kept_secret
from .settings import Directory, Oidc

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
    #: When the token expires (ISO 8601, UTC).
    expires: str = ""

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
    seconds: int | None = None,
) -> str:
    """A signed token for ``user`` at ``level``, valid for ``days`` (or ``seconds``: a console
    session)."""
    if not USER.match(user):
        raise TokenError(f'"{user}" is not a user id (letters, digits, . _ @ -; at most 128)')
    if not USER.match(level):
        raise TokenError(f'"{level}" is not a level id')
    if not 0 < days <= MAX_DAYS:
        raise TokenError(f"a token lives 1 to {MAX_DAYS} days, not {days}")
    if seconds is not None and not 0 < seconds <= MAX_DAYS * 86_400:
        raise TokenError(f"a token lives 1 second to {MAX_DAYS} days, not {seconds} seconds")
    lifetime = dt.timedelta(seconds=seconds) if seconds is not None else dt.timedelta(days=days)
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user,
        "lvl": level,
        "knd": kind,
        "scp": list(scopes),
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str) -> Identity:
    """The identity a token names; raises :class:`TokenError` with why it is refused."""
    if len(token) > 4096:
        raise TokenError("the token is too long")
    claims = _claims(
        token,
        lambda: key,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        require=["exp", "iat", "sub", "iss", "aud"],
    )
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
    return Identity(user=user, level=level, kind=kind, scopes=tuple(scopes), expires=_expiry(claims))


def _claims(
    token: str,
    key: Callable[[], Any],
    *,
    algorithms: list[str],
    audience: str,
    issuer: str,
    require: list[str],
) -> dict[str, Any]:
    """A token's verified claims (``key`` gives the key to verify with, and may have to fetch
    it); raises :class:`TokenError` with why it is refused."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key(),
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            options={"require": require},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature does not verify") from None
    except jwt.PyJWKClientConnectionError:
        raise TokenError("the identity provider's keys cannot be fetched") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is not valid: {exc}") from None
    return claims


def _expiry(claims: dict[str, Any]) -> str:
    return dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC).isoformat(timespec="seconds")


class Verifier:
    """Verifies the tokens of one deployment: the locally signed ones, and, when the settings
    name an OIDC provider, that provider's (against its JWKS, with the level from the configured
    claim and the staff id mapped onto the staff directory)."""

    def __init__(self, key: bytes, oidc: Oidc | None = None, directory: Directory | None = None) -> None:
        self.key = key
        self.oidc = oidc
        self.directory = directory
        self._jwks: jwt.PyJWKClient | None = None

    def verify(self, token: str) -> Identity:
        if len(token) > 8192:
            raise TokenError("the token is too long")
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None  # refused below, with the reason
        if self.oidc is not None and issuer == self.oidc.issuer:
            return self._from_provider(token, self.oidc)
        return verify(self.key, token)

    def _keys(self, oidc: Oidc) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = oidc.jwks_url or _discovered_jwks(oidc.issuer)
            self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=10)
        return self._jwks

    def _from_provider(self, token: str, oidc: Oidc) -> Identity:
        claims = _claims(
            token,
            lambda: self._keys(oidc).get_signing_key_from_jwt(token).key,
            algorithms=[a for a in oidc.algorithms if not a.upper().startswith("HS")],
            audience=oidc.audience,
            issuer=oidc.issuer,
            require=["exp", "iss", "aud"],
        )
        user, level = claims.get(oidc.user_claim), claims.get(oidc.level_claim)
        if isinstance(level, list) and len(level) == 1:
            level = level[0]
        if not isinstance(user, str) or not isinstance(level, str) or not USER.match(level):
            raise TokenError(f"the token names no user ({oidc.user_claim}) and level ({oidc.level_claim})")
        user = self._staff_id(user, level)
        return Identity(user=user, level=level, kind="staff", expires=_expiry(claims))

    def _staff_id(self, user: str, level: str) -> str:
        """The staff directory's id for the provider's user (by id, or by email), when the
        directory lists staff; a level the directory does not give them is refused."""
        staff = self.directory.staff if self.directory else []
        if not staff:
            if not USER.match(user):
                raise TokenError("the token's user is not a staff id")
            return user
        person = next((p for p in staff if p.id == user), None) or next(
            (p for p in staff if p.email and p.email.lower() == user.lower()), None
        )
        if person is None:
            raise TokenError(f"{user} is not in the staff directory")
        if person.levels and level not in person.levels:
            raise TokenError(f"the staff directory does not give {person.id} the level {level}")
        return person.id


def _discovered_jwks(issuer: str) -> str:
    """The ``jwks_uri`` of the issuer's OpenID configuration."""
    import json
    import urllib.request

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            found = json.loads(answer.read(1_000_000)).get("jwks_uri")
    except (OSError, ValueError) as exc:
        raise TokenError(
            f"the identity provider's configuration cannot be read ({type(exc).__name__})"
        ) from None
    if not isinstance(found, str) or not found.startswith(("https://", "http://")):
        raise TokenError("the identity provider's configuration names no jwks_uri")
    return found
