"""Signing in to the console at the organisation's identity provider (the authorization code
flow with PKCE), against a local provider that checks what a real one checks."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest

from ombuds.engine.settings import Directory, Oidc, StaffMember

from .http_server import serving
from .test_api_security import AUDIENCE, rsa_key, signed
from .web_support import browser, shot, web

pytestmark = pytest.mark.integration
CLIENT = "ombuds-console"


@contextmanager
def provider(key: Any, refuse: bool = False) -> Iterator[str]:
    """Discovery, keys, an authorization endpoint that signs alice in at once, and a token
    endpoint that hands out her token only for its code, the right client and redirect, and
    the PKCE verifier of the challenge."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    codes: dict[str, dict[str, str]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict[str, Any], location: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            asked = dict(urllib.parse.parse_qsl(query))
            if path.endswith("/.well-known/openid-configuration"):
                self.answer(
                    200,
                    {
                        "issuer": issuer,
                        "jwks_uri": issuer + "/certs",
                        "authorization_endpoint": issuer + "/auth",
                        "token_endpoint": issuer + "/token",
                    },
                )
            elif path.endswith("/certs"):
                self.answer(200, {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
            elif path.endswith("/auth"):
                assert asked["response_type"] == "code" and asked["code_challenge_method"] == "S256"
                back = asked["redirect_uri"]
                if refuse:
                    self.answer(
                        302,
                        {},
                        f"{back}?error=access_denied&error_description=no+access&state={asked['state']}",
                    )
                    return
                code = secrets.token_urlsafe(16)
                codes[code] = asked
                self.answer(302, {}, f"{back}?code={code}&state={asked['state']}")
            else:
                self.answer(404, {})

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            sent = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            asked = codes.pop(sent.get("code", ""), None)
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(sent.get("code_verifier", "").encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                asked is None
                or sent.get("grant_type") != "authorization_code"
                or sent.get("client_id") != CLIENT
                or sent.get("redirect_uri") != asked["redirect_uri"]
                or challenge != asked["code_challenge"]
            ):
                self.answer(400, {"error": "invalid_grant"})
                return
            self.answer(200, {"access_token": signed(key, issuer), "token_type": "Bearer"})

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        issuer = f"{base}/realms/staff"  # the handler answers with it
        yield issuer


DIRECTORY = Directory(
    staff=[StaffMember(id="alice", name="Alice", email="alice@example.com", levels=["agent"])]
)


async def test_staff_sign_in_at_the_identity_provider(tmp_path: Path) -> None:
    key = rsa_key()
    with provider(key) as issuer:
        oidc = Oidc(issuer=issuer, audience=AUDIENCE, user_claim="email", client_id=CLIENT)
        async with web(tmp_path, oidc=oidc, directory=DIRECTORY) as site, browser() as chromium:
            context = await chromium.new_context()
            page = await context.new_page()
            await page.goto(f"{site.url}/console")
            await page.get_by_role("link", name="Sign in with your organisation's account").click()
            await page.wait_for_url(f"{site.url}/console?lang=en")
            assert "alice" in await page.locator("header").inner_text()
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["ombuds_staff"]["httpOnly"] and cookies["ombuds_staff"]["sameSite"] == "Strict"
            assert "ombuds_provider" not in cookies  # used once
            await shot(page, "console-signed-in-at-provider")

            # a return nobody started here, or with another state, signs nobody in
            stranger = await (await chromium.new_context()).new_page()
            answer = await stranger.goto(f"{site.url}/console/sign-in/callback?code=x&state=y")
            assert answer is not None and answer.status == 401
            assert "was not started here" in await stranger.locator("main").inner_text()
            assert not [c for c in await stranger.context.cookies() if c["name"] == "ombuds_staff"]
            # nor does anyone put words of their own on our page through the provider's error
            planted = "Call+0900+123+456+to+unlock+your+account"
            await stranger.goto(
                f"{site.url}/console/sign-in/callback?error=x&error_description={planted}&state=y"
            )
            assert "0900" not in await stranger.locator("main").inner_text()


async def test_a_refusal_at_the_provider_is_said_on_the_sign_in_page(tmp_path: Path) -> None:
    key = rsa_key()
    with provider(key, refuse=True) as issuer:
        oidc = Oidc(issuer=issuer, audience=AUDIENCE, user_claim="email", client_id=CLIENT)
        async with web(tmp_path, oidc=oidc, directory=DIRECTORY) as site, browser() as chromium:
            page = await (await chromium.new_context()).new_page()
            await page.goto(f"{site.url}/console/sign-in")
            async with page.expect_response(lambda r: "/callback" in r.url) as returned:
                await page.get_by_role("link", name="Sign in with your organisation's account").click()
            assert (await returned.value).status == 401
            assert "no access" in await page.locator(".problems").inner_text()
