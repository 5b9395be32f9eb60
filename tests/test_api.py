"""The HTTP API against a real Temporal dev server and an `ombuds worker`: the actor comes from
the verified token, never from the request, and nothing a caller sends makes a 500."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from ombuds.engine import tokens
from ombuds.engine.api import create_app, openapi_text
from ombuds.engine.cli import SCHEMA_DIR
from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake

from . import money_attack
from .workflow_support import make_complaint, shipped_policies

KEY = b"k" * 32


def token(user: str, level: str, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.create(KEY, user, level, **options)}"}


ALICE = token("alice", "agent")
BOB = token("bob", "supervisor")
DAN = token("dan", "management")


@asynccontextmanager
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, on a real dev server with one worker."""
    settings = money_attack.settings_for(tmp_path)
    async with dev_server(settings, search_attributes=True) as client:
        with money_attack.workers(settings, 1):

            async def connect() -> Any:
                return client

            app = create_app(settings, connect=connect, intake=Intake(settings, shipped_policies()), key=KEY)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                yield http


def complaint(**fields: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    body = make_complaint(received_at=now, **fields).model_dump(mode="json", exclude_none=True)
    body.pop("id", None)
    return body


async def started(http: httpx.AsyncClient, headers: dict[str, str], key: str = "k-1") -> str:
    """Submit the standard complaint; wait for its intake to have run."""
    answer = await http.post("/complaints", json=complaint(), headers={**headers, "Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    complaint_id: str = answer.json()["id"]
    for _ in range(200):
        view = await http.get(f"/complaints/{complaint_id}", headers=headers)
        if view.status_code == 200 and view.json()["stage"]:
            return complaint_id
        await asyncio.sleep(0.05)
    raise AssertionError("intake did not run")


async def test_a_case_is_worked_through_the_api_with_the_actor_from_the_token(tmp_path: Path) -> None:
    async with api(tmp_path) as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        assert (await http.get("/readyz")).json() == {"ok": True}
        cid = await started(http, ALICE)
        # a retried submission with the same key is the same complaint
        again = await http.post("/complaints", json=complaint(), headers={**ALICE, "Idempotency-Key": "k-1"})
        assert again.status_code == 201 and again.json()["id"] == cid and again.json()["duplicate"] is True
        reply = await http.post(
            f"/complaints/{cid}/events/agent_reply", json={"text": "We are on it."}, headers=ALICE
        )
        assert reply.status_code == 200, reply.text
        view = (await http.get(f"/complaints/{cid}", headers=ALICE)).json()
        assert view["status"] == "open" and view["clocks"]
        # the reply is in the decision log as alice's, at her token's level, with its rule's line
        replied = next(e for e in view["log"] if e["action"] == "agent replied")
        assert replied["actor"] == "staff:alice@agent" and replied["source"].startswith(
            "financial-services.yaml:"
        )
        resolved = await http.post(
            f"/complaints/{cid}/events/resolve",
            json={"text": "Fee refunded.", "justified": True},
            headers=BOB,
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved", resolved.text


async def test_nobody_acts_as_someone_else_or_above_their_level(tmp_path: Path) -> None:
    async with api(tmp_path) as http:
        cid = await started(http, ALICE)
        as_bob = await http.post(
            f"/complaints/{cid}/events/agent_reply",
            json={"text": "Hi", "actor": {"kind": "staff", "id": "bob", "level": "supervisor"}},
            headers=ALICE,
        )
        assert as_bob.status_code == 422
        assert as_bob.json()["detail"][0] == {
            "field": "actor",
            "message": "the actor comes from your token: leave it out",
        }
        above = await http.post(
            f"/complaints/{cid}/events/agent_reply?level=management", json={"text": "Hi"}, headers=ALICE
        )
        assert above.status_code == 403 and "acts at agent" in above.text
        # bob's proposal is above his limit: an agent token cannot approve it, nor can bob with a
        # management token (four eyes); dan can
        proposed = await http.post(
            f"/complaints/{cid}/events/propose_compensation",
            json={"remedy": "redress", "amount": "900"},
            headers=BOB,
        )
        assert proposed.json()["status"] == "needs_approval", proposed.text
        approve = {"proposal": proposed.json()["detail"]["proposal"], "approve": True}
        agent = await http.post(f"/complaints/{cid}/events/decide_approval", json=approve, headers=ALICE)
        assert agent.json()["status"] == "not_authorised" and "four eyes" not in agent.text, agent.text
        own = await http.post(
            f"/complaints/{cid}/events/decide_approval", json=approve, headers=token("bob", "management")
        )
        assert own.json()["status"] == "not_authorised" and "four eyes" in own.text, own.text
        view = (await http.get(f"/complaints/{cid}", headers=DAN)).json()
        assert view["proposals"][-1]["status"] == "needs_approval"
        granted = await http.post(f"/complaints/{cid}/events/decide_approval", json=approve, headers=DAN)
        assert granted.json()["status"] == "accepted", granted.text


async def test_expired_forged_and_missing_tokens_are_refused(tmp_path: Path) -> None:
    async with api(tmp_path) as http:
        cid = await started(http, ALICE)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        expired = {"Authorization": f"Bearer {tokens.create(KEY, 'alice', 'agent', days=30, now=past)}"}
        forged = {"Authorization": f"Bearer {tokens.create(b'x' * 32, 'alice', 'management')}"}
        for headers, why in (
            (expired, "expired"),
            (forged, "signature"),
            ({}, "bearer token"),
            ({"Authorization": "Bearer x.y.z"}, "not valid"),
        ):
            answer = await http.post(
                f"/complaints/{cid}/events/agent_reply", json={"text": "Hi"}, headers=headers
            )
            assert answer.status_code == 401 and why in answer.text, (why, answer.text)
        customer = await http.post(
            f"/complaints/{cid}/events/choose_option", json={"option": "x"}, headers=ALICE
        )
        assert customer.status_code == 404  # the customer's events are not on the staff API


async def test_an_unknown_name_lists_the_valid_ones_and_nothing_is_a_500(tmp_path: Path) -> None:
    async with api(tmp_path) as http:
        cid = await started(http, BOB)
        stage = await http.post(
            f"/complaints/{cid}/events/enter_stage", json={"stage": "investigating"}, headers=BOB
        )
        assert stage.status_code == 422, stage.text
        detail = stage.json()["detail"]
        assert detail["message"] == 'unknown stage "investigating"' and "investigation" in detail["valid"]
        assert "investigation" in detail["hint"]
        odd = [
            ("/complaints/%00/events/agent_reply", {"text": "x"}),
            (f"/complaints/{cid}/events/agent_reply", {"text": 5}),
            (f"/complaints/{cid}/events/propose_compensation", {"remedy": "redress", "amount": "1e9"}),
            (f"/complaints/{cid}/events/extend", {"clock": "final-response", "until": "not a date"}),
            ("/complaints/NOPE-1/events/agent_reply", {"text": "x"}),
        ]
        for path, body in odd:
            answer = await http.post(path, json=body, headers=BOB)
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
        big = await http.post(
            "/complaints",
            content=b"{" + b" " * 1_100_000 + b"}",
            headers={**BOB, "Content-Type": "application/json"},
        )
        assert big.status_code == 413
        # a required field left out is named, before the case sees anything
        for kind, body, field in (
            ("resolve", {"text": "Done."}, "justified"),
            ("assign", {}, "assignee"),
            ("enter_stage", {}, "stage"),
            ("propose_compensation", {"remedy": "goodwill"}, "amount"),
            ("decide_approval", {"proposal": 1}, "approve"),
        ):
            answer = await http.post(f"/complaints/{cid}/events/{kind}", json=body, headers=BOB)
            assert answer.status_code == 422, (kind, answer.text)
            assert field in answer.text and "None" not in answer.text, (kind, answer.text)
        # a filter's name no policy has says so, with the valid ones
        typo = await http.get("/complaints?stage=investigaton", headers=BOB)
        assert typo.status_code == 422 and "investigation" in typo.json()["detail"]["hint"]
        assert (await http.get("/complaints?status=bogus", headers=BOB)).status_code == 422
        # an event to a case that has ended says so, and how to work it again
        await http.post(f"/complaints/{cid}/events/resolve", json={"justified": True}, headers=BOB)
        await http.post(f"/complaints/{cid}/events/close", json={}, headers=BOB)
        for _ in range(100):
            late = await http.post(f"/complaints/{cid}/events/agent_reply", json={"text": "hi"}, headers=BOB)
            if late.status_code != 200:
                break
            await asyncio.sleep(0.1)
        assert late.status_code == 409 and "is closed" in late.text and "reopen" in late.text, late.text


def test_the_openapi_document_is_checked_in_and_lists_every_staff_event() -> None:
    generated = openapi_text()
    assert (SCHEMA_DIR / "openapi.json").read_text("utf-8") == generated, "run: ombuds schema --write"
    paths = json.loads(generated)["paths"]
    assert "/complaints/{complaint_id}/events/resolve" in paths
    assert "/complaints/{complaint_id}/events/choose_option" not in paths


def test_token_create_and_serve_from_the_command_line(tmp_path: Path) -> None:
    """`ombuds token create` signs with the home's secret; `ombuds serve` answers over real HTTP
    (and says when Temporal cannot be reached)."""
    import os
    import subprocess
    import sys
    import time

    from typer.testing import CliRunner

    from ombuds.engine.cli import app

    env = {"OMBUDS_HOME": str(tmp_path / "home"), "OMBUDS_ADDRESS": f"127.0.0.1:{money_attack.free_port()}"}
    made = CliRunner().invoke(
        app, ["token", "create", "--user", "alice", "--level", "agent", "--days", "2"], env=env
    )
    assert made.exit_code == 0, made.output
    key = tokens.secret(None, tmp_path / "home")
    verified = tokens.verify(key, made.output.strip())
    assert (verified.user, verified.level, verified.kind) == ("alice", "agent", "staff")
    refused = CliRunner().invoke(
        app, ["token", "create", "--user", "x", "--level", "agent", "--service"], env=env
    )
    assert refused.exit_code == 2 and "--scope" in refused.output
    port = money_attack.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ombuds.engine.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health.json() == {"ok": True}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert ready.status_code == 503 and "not reachable" in ready.text
        anonymous = httpx.get(f"http://127.0.0.1:{port}/complaints/C-1", timeout=5)
        assert anonymous.status_code == 401
        signed = {"Authorization": f"Bearer {made.output.strip()}"}
        down = httpx.get(f"http://127.0.0.1:{port}/complaints/C-1", headers=signed, timeout=30)
        assert down.status_code == 503 and "not reachable" in down.text  # not a 500
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_complaints_are_listed_by_filter_and_page_never_ledgers(tmp_path: Path) -> None:
    async with api(tmp_path) as http:
        first = await started(http, ALICE, key="k-1")
        second = await started(http, ALICE, key="k-2")
        await http.post(
            f"/complaints/{second}/events/enter_stage", json={"stage": "investigation"}, headers=BOB
        )

        async def listed(query: str, until: Any) -> dict[str, Any]:
            for _ in range(100):  # visibility follows the workflows a moment later
                answer = await http.get(f"/complaints?{query}", headers=ALICE)
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                if until(body["complaints"]):
                    return body
                await asyncio.sleep(0.1)
            raise AssertionError(query)

        investigating = await listed("stage=investigation", lambda rows: rows)
        assert [c["id"] for c in investigating["complaints"]] == [second]
        # the work queues: assigned to someone, awaiting a level's approval, a queue
        await http.post(f"/complaints/{first}/events/assign", json={"assignee": "alice"}, headers=ALICE)
        await http.post(
            f"/complaints/{first}/events/propose_compensation",
            json={"remedy": "goodwill", "amount": "100"},
            headers=ALICE,
        )
        mine = await listed("assignee=alice", lambda rows: rows)
        assert [c["id"] for c in mine["complaints"]] == [first] and mine["complaints"][0][
            "assignee"
        ] == "alice"
        awaiting = await listed("awaiting=supervisor", lambda rows: rows)
        assert [c["id"] for c in awaiting["complaints"]] == [first]
        assert "awaiting:supervisor" in awaiting["complaints"][0]["flags"]
        assert (await http.get("/complaints?awaiting=management", headers=ALICE)).json()["complaints"] == []
        queue = next(f for f in awaiting["complaints"][0]["flags"] if f.startswith("queue:"))
        queued = await listed(f"queue={queue.removeprefix('queue:')}", lambda rows: len(rows) == 2)
        assert {c["id"] for c in queued["complaints"]} == {first, second}
        assert (await http.get("/complaints?undelivered=true", headers=ALICE)).json()["complaints"] == []
        await listed("limit=100", lambda rows: len(rows) == 2)
        page = await listed("limit=1", lambda rows: rows)
        assert len(page["complaints"]) == 1 and page["next_page"]
        rest = (await http.get(f"/complaints?limit=1&page={page['next_page']}", headers=ALICE)).json()
        assert {page["complaints"][0]["id"], rest["complaints"][0]["id"]} == {first, second}
        everything = (await http.get("/complaints?limit=100", headers=ALICE)).json()["complaints"]
        assert all(c["id"] in (first, second) for c in everything)  # no ledger workflows
        ledgers = (await http.get("/ledgers", headers=ALICE)).json()["ledgers"]
        assert ledgers and all(row["id"].startswith("ledger") for row in ledgers), ledgers
        assert ledgers[0]["status"] == "running"
        assert "C-" not in str(ledgers)  # digests, never the customer's own ids
        for bad in ("stage=x'%20OR%20'1'='1", "page=%%%", "received_after=2027-01-01T00:00:00", "limit=1000"):
            answer = await http.get(f"/complaints?{bad}", headers=ALICE)
            assert answer.status_code == 422, (bad, answer.text)
