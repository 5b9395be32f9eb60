"""A customer's erasure and their copy of their data: refused while a record must be kept or a
legal hold is on, then their personal data unreadable in every store while each case still
replays to the same decisions."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import mailbox
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ombuds.engine.codec import opened

from .test_api import complaint
from .web_support import Web, web
from .workflow_support import policy_variant

pytestmark = pytest.mark.integration
OMBUDS = str(Path(sys.executable).parent / "ombuds")
ANA = "email:ana@example.org"


async def cli(site: Web, home: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OMBUDS_HOME": str(home),
        "OMBUDS_API_URL": site.url,
        "OMBUDS_TOKEN": token,
        "OMBUDS_ADDRESS": site.settings.address,
    }
    return await asyncio.to_thread(
        subprocess.run, [OMBUDS, *args], capture_output=True, text=True, env=env, timeout=120
    )


def payload_texts(node: Any) -> str:
    """Every payload of an exported history, decoded, as one text."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "data" in item and "metadata" in item:
                found.append(base64.b64decode(item["data"]).decode("utf-8", "replace"))
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(found)


async def until(check: Any, what: str) -> Any:
    for _ in range(200):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def test_erasure_waits_for_retention_and_holds_then_leaves_nothing_readable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # the financial policy as it was in effect since 2019 (the shipped one takes effect in 2026)
    since_2019 = policy_variant(
        tmp_path / "policies", "financial-services.yaml", [("effective: 2026-01-01", "effective: 2019-01-01")]
    )
    async with web(home, policies=since_2019) as site:
        admin = site.token("root", "management")
        bearer = {"Authorization": f"Bearer {admin}"}
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            # Ana's complaint of 2019, closed then (its own clock): kept 5 years, until 2024
            old = {**complaint(), "received_at": "2019-03-04T10:00:00+00:00"}
            made = await http.post("/complaints", params={"simulated": "true"}, json=old, headers=bearer)
            assert made.status_code == 201, made.text
            ana = made.json()["id"]
            for kind, body in (("resolve", {"justified": True, "root_cause": "fee rule"}), ("close", {})):
                done = await http.post(f"/complaints/{ana}/events/{kind}", json=body, headers=bearer)
                assert done.status_code == 200, done.text
            # Bob's complaint is open: his records are kept
            bobs = complaint(
                customer={
                    "id": "CUST-2",
                    "name": "Bob Ross",
                    "contacts": {"email": "bob@example.org"},
                    "account_number": "11223344",
                }
            )
            made = await http.post("/complaints", json=bobs, headers=bearer)
            bob = made.json()["id"]

            async def mailed() -> bool:
                return any(
                    m["X-Ombuds-Complaint"] == ana for m in mailbox.Maildir(home / "mail", create=False)
                )

            await until(mailed, "no mail of Ana's complaint")
            # clear-text copies elsewhere: an SMS line, a reply kept for staff, an attachment
            (home / "sms").mkdir(exist_ok=True)
            (home / "sms" / "messages.jsonl").write_text(
                json.dumps(
                    {"key": f"{ana}:9:0", "to": "+447700900123", "complaint": ana, "text": "Ana, we call"}
                )
                + "\n"
                + json.dumps({"key": f"{bob}:9:0", "to": "+447700900456", "complaint": bob, "text": "Bob"})
                + "\n",
                "utf-8",
            )
            kept = mailbox.Maildir(home / "inbound", create=True)
            kept.add(b"From: Ana Novak <ana@example.org>\nTo: replies+x@ombuds.localhost\n\nMy card again.\n")
            (home / "attachments" / ana).mkdir(parents=True)
            (home / "attachments" / ana / "ab12-statement.pdf").write_bytes(b"%PDF ana")

            exported = await cli(site, home, admin, "export-customer", ANA)
            assert exported.returncode == 0, exported.stderr
            copy = json.loads(exported.stdout)
            assert [c["id"] for c in copy["complaints"]] == [ana]
            assert copy["complaints"][0]["complaint"]["customer"]["name"] == "Ana Novak"
            assert copy["complaints"][0]["decisions"] and copy["complaints"][0]["attachments"] == [
                "statement.pdf"
            ]
            # the messages kept of hers: the mail sent, her SMS line, her reply kept for staff
            kept = {m["where"].split("/")[0]: m["text"] for m in copy["messages_kept"]}
            assert "Ana, we call" in kept["sms"] and "My card again." in kept["inbound"]
            assert ana in kept["mail"] and "Bob" not in json.dumps(copy["messages_kept"])

            refused = await cli(
                site, home, admin, "erase", "email:bob@example.org", "--reason", "asked by phone"
            )
            assert refused.returncode == 1
            assert (
                f"{bob}: the complaint is open" in refused.stderr
                and "records.retention_years" in refused.stderr
            )

            held = await cli(site, home, admin, "hold", ANA, "--reason", "litigation 2026-17")
            assert held.returncode == 0, held.stderr
            blocked = await cli(site, home, admin, "erase", ANA, "--reason", "asked by letter")
            assert (
                blocked.returncode == 1
                and "legal hold" in blocked.stderr
                and "litigation 2026-17" in blocked.stderr
            )
            released = await cli(site, home, admin, "hold", ANA, "--release")
            assert released.returncode == 0, released.stderr

            not_staff = site.token("eve", "agent")
            denied = await cli(site, home, not_staff, "erase", ANA, "--reason", "x")
            assert denied.returncode == 1 and "highest level" in denied.stderr

            erased = await cli(
                site, home, admin, "erase", ANA, "--reason", "asked by letter", "--format", "json"
            )
            assert erased.returncode == 0, erased.stderr
            outcome = json.loads(erased.stdout)
            assert outcome["erased"] and outcome["complaints"] == [ana]

            view = (await http.get(f"/complaints/{ana}", headers=bearer)).json()
            assert view["customer"]["name"] == "[erased]." and view["status"] == "closed"
            assert view["customer"]["contacts"]["email"] == "erased@erased.invalid"
            assert any(e["action"] == "closed" for e in view["log"])  # the decisions stay readable
            bob_view = (await http.get(f"/complaints/{bob}", headers=bearer)).json()
            assert bob_view["customer"]["name"] == "Bob Ross"

        # every store: no mail of hers, her SMS line gone (Bob's kept), her reply and attachment gone
        assert not [m for m in mailbox.Maildir(home / "mail", create=False) if m["X-Ombuds-Complaint"] == ana]
        sms = (home / "sms" / "messages.jsonl").read_text("utf-8")
        assert ana not in sms and bob in sms
        assert not list(mailbox.Maildir(home / "inbound", create=False))
        assert not (home / "attachments" / ana).exists()
        records = (home / "erasures.jsonl").read_text("utf-8")
        assert "ana@example.org" not in records and '"erased"' in records and "erasure refused" in records
        stored = b"".join(f.read_bytes() for f in home.glob("temporal.db*"))
        assert b"Ana Novak" not in stored

        replayed = await cli(site, home, admin, "replay", ana)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert "deterministic" in replayed.stdout
        # opened with every key this home has: nothing of hers is readable in her history any more,
        # the identifiers her complaint gave its ledger included
        raw = await site.client.get_workflow_handle(ana).fetch_history()
        readable = payload_texts(
            json.loads((await opened(raw, site.client.data_converter.payload_codec)).to_json())
        )
        for hers in ("Ana Novak", "ana@example.org", "99887766", "+442079460000", "7946 0000"):
            assert hers not in readable, hers
        assert '"registered"' in readable and "erased@erased.invalid" in readable
    assert dt.date.today().year >= 2026


def test_scrubbing_one_complaint_leaves_another_whose_id_starts_alike(tmp_path: Path) -> None:
    from ombuds.activities.outbox import file_stem
    from ombuds.engine.erasure import scrub

    (tmp_path / "letters").mkdir()
    for key in ("C-1:4:0", "C-10:4:0"):
        (tmp_path / "letters" / f"{file_stem(key)}.txt").write_text("Ana Novak\n1 High Street", "utf-8")
    removed = scrub(tmp_path, ["C-1"], [])
    assert removed == [f"letters/{file_stem('C-1:4:0')}.txt"]
    assert (tmp_path / "letters" / f"{file_stem('C-10:4:0')}.txt").exists()
