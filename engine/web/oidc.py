"""Signing in to the console with the organisation's identity provider: OpenID Connect's
authorization code flow with PKCE.

The console sends the browser to the provider's authorization endpoint with a fresh
``state`` and a PKCE challenge, both kept in a short-lived cookie signed by us; the provider
sends the browser back to ``/console/sign-in/callback`` with a code, which the console
exchanges (with the PKCE verifier, and the client secret when there is one) for the provider's
tokens.  The token the settings name (``console_token``: the access token by default) is then
verified exactly as an API call's is (issuer, audience, signature against the provider's
keys, the level claim, the staff directory) and becomes the console's sign-in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import httpx

from ..settings import Oidc
from .pages import same

#: How long a sign-in at the provider may take, in seconds.
PENDING_SECONDS = 600


class SignInError(Exception):
    """The provider's answer cannot sign anyone in (said in a sentence)."""


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str


_found: dict[str, Endpoints] = {}


def endpoints(oidc: Oidc) -> Endpoints:
    """The provider's authorization and token endpoints, from its OpenID configuration."""
    if oidc.issuer in _found:
        return _found[oidc.issuer]
    url = oidc.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            document = json.loads(answer.read(1_000_000))
    except (OSError, ValueError) as exc:
        raise SignInError(
            f"the identity provider's configuration cannot be read ({type(exc).__name__})"
        ) from None
    authorization, token = document.get("authorization_endpoint"), document.get("token_endpoint")
    if not all(isinstance(u, str) and _safe(u) for u in (authorization, token)):
        raise SignInError(
            "the identity provider's configuration names no authorization or token endpoint over https"
        )
    _found[oidc.issuer] = Endpoints(str(authorization), str(token))
    return _found[oidc.issuer]


def _safe(url: str) -> bool:
    """An endpoint the code and the client's secret may travel to: https, or this machine."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, f"oidc:{text}".encode(), hashlib.sha256).hexdigest()[:32]


def start(oidc: Oidc, redirect_uri: str, key: bytes) -> tuple[str, str]:
    """Where to send the browser, and the cookie that remembers this sign-in until it returns."""
    assert oidc.client_id is not None
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": redirect_uri,
            "scope": oidc.scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    pending = f"{state}.{verifier}.{int(time.time())}"
    return f"{endpoints(oidc).authorization}?{query}", f"{pending}.{_mac(key, pending)}"


def started_here(key: bytes, pending: str, state: str) -> str | None:
    """The PKCE verifier of the sign-in this browser started, if ``state`` is its state and it
    is recent; else None."""
    remembered, _, mac = pending.rpartition(".")
    expected_state, _, rest = remembered.partition(".")
    verifier, _, issued = rest.partition(".")
    if not (mac and same(_mac(key, remembered), mac) and same(expected_state, state)):
        return None
    if not issued.isascii() or not issued.isdigit() or not 0 <= time.time() - int(issued) <= PENDING_SECONDS:
        return None
    return verifier


async def finish(oidc: Oidc, redirect_uri: str, key: bytes, pending: str, state: str, code: str) -> str:
    """The provider's token for the code it sent back, if this browser started the sign-in."""
    verifier = started_here(key, pending, state)
    if verifier is None:
        raise SignInError("this sign-in was not started here, or it took too long; please sign in again")
    if not code or len(code) > 4000:
        raise SignInError("the identity provider sent no code")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": oidc.client_id or "",
        "code_verifier": verifier,
    }
    # a confidential client says who it is with its secret
    auth = httpx.BasicAuth(oidc.client_id or "", oidc.client_secret) if oidc.client_secret else None
    where = await asyncio.to_thread(endpoints, oidc)  # read once, not on the event loop
    try:
        async with httpx.AsyncClient(timeout=10, auth=auth) as http:
            answer = await http.post(where.token, data=form)
    except httpx.HTTPError as exc:
        raise SignInError(f"the identity provider cannot be reached ({type(exc).__name__})") from None
    try:
        tokens = answer.json()
    except ValueError:
        tokens = {}
    if answer.status_code != 200 or not isinstance(tokens, dict):
        said = tokens.get("error_description") or tokens.get("error") if isinstance(tokens, dict) else None
        raise SignInError(f"the identity provider refused the code ({said or answer.status_code})")
    token = tokens.get(oidc.console_token)
    if not isinstance(token, str) or not token:
        raise SignInError(f"the identity provider sent no {oidc.console_token}")
    return token
