"""Who may call the HTTP API, and how much: tokens from an OIDC provider verified against its
JWKS (served here by a local HTTP server, as the provider would), the intake rate limit, CORS
closed, no customer data in URLs."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ombuds.engine import tokens
from ombuds.engine.api import create_app
from ombuds.engine.limits import RateLimit
from ombuds.engine.settings import Directory, Oidc, Settings, StaffMember

from .http_server import serving
from .workflow_support import ROOT, make_complaint

KEY = b"k" * 32
AUDIENCE = "ombuds-staff"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def provider(key: rsa.RSAPrivateKey) -> Iterator[str]:
    """An OIDC provider's discovery document and JWKS on a local port; yields its issuer."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    served: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {}).encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        issuer = f"{base}/realms/staff"
        served["/realms/staff/.well-known/openid-configuration"] = {
            "issuer": issuer,
            "jwks_uri": issuer + "/certs",
        }
        served["/realms/staff/certs"] = jwks
        yield issuer


def signed(key: Any, issuer: str, algorithm: str = "RS256", **claims: Any) -> str:
    now = dt.datetime.now(dt.UTC)
    body = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "0f3c-uuid",
        "email": "alice@example.com",
        "ombuds_level": "agent",
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(minutes=5)).timestamp()),
        **claims,
    }
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": "k1"})


def app_with(tmp_path: Path, **settings: Any) -> httpx.AsyncClient:
    async def unreachable() -> Any:
        raise ConnectionRefusedError("no Temporal here")

    app = create_app(
        Settings(home=tmp_path, policies=ROOT / "policies", **settings), connect=unreachable, key=KEY
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


DIRECTORY = Directory(
    staff=[
        StaffMember(id="alice", name="Alice", email="alice@example.com", levels=["agent"]),
        StaffMember(id="bob", name="Bob", email="bob@example.com", levels=["agent", "supervisor"]),
    ]
)


async def test_oidc_tokens_are_verified_against_the_providers_keys(tmp_path: Path) -> None:
    key, other = rsa_key(), rsa_key()
    with provider(key) as issuer:
        oidc = Oidc(issuer=issuer, audience=AUDIENCE, user_claim="email")
        async with app_with(tmp_path, oidc=oidc, directory=DIRECTORY) as http:

            async def me(token: str) -> httpx.Response:
                return await http.get("/me", headers={"Authorization": f"Bearer {token}"})

            # the provider's user, by email, is the directory's staff id; the level from the claim
            alice = await me(signed(key, issuer))
            assert alice.status_code == 200, alice.text
            assert alice.json()["user"] == "alice" and alice.json()["level"] == "agent"
            bob = await me(signed(key, issuer, email="BOB@example.com", ombuds_level=["supervisor"]))
            assert bob.json()["user"] == "bob" and bob.json()["level"] == "supervisor"
            # the locally signed tokens still work beside the provider's
            local = await me(tokens.create(KEY, "carol", "agent"))
            assert local.json()["user"] == "carol"

            refused = {
                "another key": signed(other, issuer),
                "another audience": signed(key, issuer, aud="someone-else"),
                "expired": signed(key, issuer, exp=int(dt.datetime.now(dt.UTC).timestamp()) - 60),
                "a level the directory does not give": signed(key, issuer, ombuds_level="supervisor"),
                "someone not in the directory": signed(key, issuer, email="mallory@example.com"),
                "no level": signed(key, issuer, ombuds_level=None),
                # an HMAC token under the provider's issuer: only the configured algorithms count
                "HS256 under the provider's issuer": signed(b"x" * 32, issuer, algorithm="HS256"),
            }
            for why, token in refused.items():
                answer = await me(token)
                assert answer.status_code == 401, (why, answer.text)
                assert "Traceback" not in answer.text
            answer = await me(signed(key, issuer, ombuds_level="supervisor"))
            assert "does not give alice the level supervisor" in answer.text


async def test_an_unreachable_provider_is_a_401_with_the_reason(tmp_path: Path) -> None:
    oidc = Oidc(issuer="http://127.0.0.1:9/realms/staff", audience=AUDIENCE)
    async with app_with(tmp_path, oidc=oidc) as http:
        answer = await http.get("/me", headers={"Authorization": f"Bearer {signed(rsa_key(), oidc.issuer)}"})
        assert answer.status_code == 401 and "configuration cannot be read" in answer.text


async def test_intake_is_rate_limited_per_caller(tmp_path: Path) -> None:
    """The third submission in a minute is 429 with Retry-After; another caller is not held up."""
    async with app_with(tmp_path, intake_per_minute=2) as http:
        alice = {"Authorization": f"Bearer {tokens.create(KEY, 'alice', 'agent')}"}
        bob = {"Authorization": f"Bearer {tokens.create(KEY, 'bob', 'agent')}"}
        body = make_complaint(received_at=dt.datetime.now(dt.UTC).isoformat()).model_dump(
            mode="json", exclude_none=True
        )
        statuses = [(await http.post("/complaints", json=body, headers=alice)).status_code for _ in range(3)]
        assert statuses == [503, 503, 429]  # Temporal is not there: the first two still count
        limited = await http.post("/complaints", json=body, headers=alice)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "at most 2 a minute" in limited.text
        assert (await http.post("/complaints", json=body, headers=bob)).status_code != 429


def test_the_rate_limit_slides_with_time() -> None:
    now = [0.0]
    limit = RateLimit(2, per_seconds=60, clock=lambda: now[0])
    assert [limit.wait("a"), limit.wait("a")] == [0, 0]
    assert limit.wait("a") == 60 and limit.wait("b") == 0
    now[0] = 30.5
    assert limit.wait("a") == 30
    now[0] = 60.0
    assert [limit.wait("a"), limit.wait("a"), limit.wait("a")] == [0, 0, 60]


async def test_cors_is_closed_by_default(tmp_path: Path) -> None:
    async with app_with(tmp_path) as http:
        preflight = await http.options(
            "/complaints",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        simple = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_no_customer_data_goes_into_a_url() -> None:
    """Every path and query parameter of the OpenAPI document is an id, a filter word, a date or
    a page token: a complaint's personal data travels in bodies only."""
    from ombuds.engine.api import openapi_text

    document = json.loads(openapi_text())
    personal = ("name", "email", "phone", "description", "text", "address", "account", "customer")
    for path, operations in document["paths"].items():
        placeholders = re.findall(r"{([^}]+)}", path)
        assert not any(word in p for p in placeholders for word in personal), path
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query"):
                    assert not any(word in parameter["name"] for word in personal), (path, parameter["name"])


@pytest.mark.parametrize("size", [1_000_001, 5_000_000])
async def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path, size: int) -> None:
    async with app_with(tmp_path) as http:
        answer = await http.post(
            "/complaints",
            content=b"{" + b" " * size + b"}",
            headers={
                "Authorization": f"Bearer {tokens.create(KEY, 'a', 'agent')}",
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 413


async def test_an_amount_with_a_fraction_must_be_text(tmp_path: Path) -> None:
    """A JSON number with a fraction has been through a float before anyone sees it
    (49.999999999999999999 reads as 50.0): refused, naming the field; text is taken."""
    async with app_with(tmp_path) as http:
        headers = {
            "Authorization": f"Bearer {tokens.create(KEY, 'a', 'agent')}",
            "Content-Type": "application/json",
        }
        for amount in ("49.999999999999999999", "49.0", "1e5"):
            answer = await http.post(
                "/complaints/X-1/events/propose_compensation",
                content=f'{{"remedy": "goodwill", "amount": {amount}}}',
                headers=headers,
            )
            assert answer.status_code == 422, amount
            assert answer.json()["detail"] == [
                {
                    "field": "amount",
                    "message": 'an amount is text ("49.99") or a whole number, never a number with a fraction',
                }
            ]
        as_text = await http.post(
            "/complaints/X-1/events/propose_compensation",
            json={"remedy": "goodwill", "amount": "49.99"},
            headers=headers,
        )
        assert as_text.status_code == 503  # past the body's checks, to Temporal, which is not there
