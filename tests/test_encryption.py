"""Payloads sealed: the customer's name, contacts and texts appear nowhere in what Temporal
stores, staff still read them, a rotated key keeps old cases readable, a process without the
key says so, and an erased customer's data opens as ``[erased]`` of the same shape."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import WorkflowSerializationContext

from ombuds.engine.codec import ERASED, CodecError, Sealing
from ombuds.engine.keys import key_store
from ombuds.engine.temporal import binary
from ombuds.workflows.core import Actor, Event

from .test_api import complaint
from .web_support import web
from .workflow_support import make_complaint

OMBUDS = str(Path(sys.executable).parent / "ombuds")
NAME, EMAIL = "Ana Novak", "ana@example.org"
SECRET = b"l" * 32


def codec(home: Path, workflow_id: str | None = "C-1") -> Sealing:
    sealing = Sealing(key_store(home, create=True), SECRET)
    if workflow_id is None:
        return sealing
    return sealing.with_context(WorkflowSerializationContext(namespace="default", workflow_id=workflow_id))


def payload(value: Any) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


async def round_trip(sealing: Sealing, value: Any) -> tuple[Payload, dict[str, Any]]:
    (sealed,) = await sealing.encode([payload(value)])
    (opened,) = await sealing.decode([sealed])
    return sealed, json.loads(opened.data)


def intake_input(**customer: Any) -> dict[str, Any]:
    made = make_complaint(id="C-1", customer=customer) if customer else make_complaint(id="C-1")
    return {"complaint": made.model_dump(mode="json"), "policy_sha": "p" * 64, "calendar_sha": "c" * 64}


async def test_a_complaint_is_sealed_whole_and_its_personal_data_with_the_customers_key(
    tmp_path: Path,
) -> None:
    sealing = codec(tmp_path)
    value = intake_input()
    sealed, opened = await round_trip(sealing, value)
    assert opened == value
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert sealed.metadata["encryption-key-id"].startswith(b"sk1-")
    for clear in (NAME.encode(), EMAIL.encode(), b"overdraft", b"99887766"):
        assert clear not in sealed.data
    # the complaint's later payloads (a customer's message) are sealed with the same customer's key
    message = Event(kind="customer_message", actor=Actor(kind="customer"), text="It was my current account.")
    sealed_message, opened_message = await round_trip(sealing, message.model_dump(mode="json"))
    assert opened_message["text"] == "It was my current account."
    assert b"current account" not in sealed_message.data


async def test_a_rotated_key_seals_new_payloads_and_old_ones_stay_readable(tmp_path: Path) -> None:
    sealing = codec(tmp_path)
    old, _ = await round_trip(sealing, intake_input())
    kid = key_store(tmp_path).rotate()
    fresh = codec(tmp_path)  # another process, which reads the newest key
    new, _ = await round_trip(fresh, intake_input())
    assert new.metadata["encryption-key-id"] == kid.encode() != old.metadata["encryption-key-id"]
    (opened,) = await fresh.decode([old])
    assert json.loads(opened.data)["complaint"]["customer"]["name"] == NAME


async def test_a_process_without_the_key_cannot_open_a_case_and_says_which_key(tmp_path: Path) -> None:
    (sealed,) = await codec(tmp_path / "a").encode([payload(intake_input())])
    with pytest.raises(CodecError, match=r"system key sk1-\w+ is not in .*/b/keys.sqlite"):
        await codec(tmp_path / "b").decode([sealed])


async def test_an_erased_customer_opens_as_erased_of_the_same_shape_and_others_do_not(tmp_path: Path) -> None:
    ana = codec(tmp_path, "C-1")
    bob = codec(tmp_path, "C-2")
    (ana_sealed,) = await ana.encode([payload(intake_input())])
    bob_input = intake_input(
        id="CUST-2", name="Bob Ross", contacts={"email": "bob@example.org"}, account_number=None
    )
    (bob_sealed,) = await bob.encode([payload(bob_input)])
    store = key_store(tmp_path)
    (subject,) = store.subjects_of([store.subject_of("C-1") or ""])
    assert store.destroy(subject)
    (ana_opened,) = await codec(tmp_path, None).decode([ana_sealed])
    erased = json.loads(ana_opened.data)["complaint"]
    # as long as it was (a rule may count it), naming nothing
    assert erased["customer"]["name"] == "[erased]." and len(erased["description"]) == len(
        make_complaint().description
    )
    assert erased["description"].startswith(ERASED)
    assert erased["customer"]["contacts"]["email"] == "erased@erased.invalid"
    # what decides a case is not personal data: it is still there
    assert erased["received_at"] == "2027-03-01T10:00:00Z" and erased["product"] == "current_account"
    (bob_opened,) = await codec(tmp_path, None).decode([bob_sealed])
    assert json.loads(bob_opened.data)["complaint"]["customer"]["name"] == "Bob Ross"


async def test_unsealed_payloads_written_before_pass_through(tmp_path: Path) -> None:
    plain = payload({"complaint_id": "C-1"})
    assert (await codec(tmp_path).decode([plain]))[0] == plain


@pytest.mark.integration
async def test_nothing_personal_reaches_temporal_but_staff_read_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with web(home) as site:
        staff = site.token("bob", "supervisor")
        bearer = {"Authorization": f"Bearer {staff}"}
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
            made = await http.post("/complaints", json=complaint(), headers=bearer)
            assert made.status_code == 201, made.text
            complaint_id = made.json()["id"]
            await site.mail("acknowledgement")
            view = (await http.get(f"/complaints/{complaint_id}", headers=bearer)).json()
            assert view["customer"]["name"] == NAME and view["customer"]["contacts"]["email"] == EMAIL
            # the Temporal UI opens payloads through the console's codec endpoint, for staff only
            history = await site.client.get_workflow_handle(complaint_id).fetch_history()
            first = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
            body = {
                "payloads": [
                    {
                        "metadata": {k: base64.b64encode(v).decode() for k, v in first.metadata.items()},
                        "data": base64.b64encode(first.data).decode(),
                    }
                ]
            }
            refused = await http.post("/console/codec/decode", json=body)
            assert refused.status_code == 401
            ui = {"Origin": f"http://127.0.0.1:{site.settings.ui_port}"}
            opened = await http.post("/console/codec/decode", json=body, headers={**bearer, **ui})
            assert opened.status_code == 200, opened.text
            assert opened.headers["access-control-allow-origin"] == ui["Origin"]
            data = base64.b64decode(opened.json()["payloads"][0]["data"])
            assert NAME.encode() in data
            stranger = await http.post(
                "/console/codec/decode", json=body, headers={**bearer, "Origin": "https://evil.example"}
            )
            assert stranger.status_code == 403
        env = {**os.environ, "OMBUDS_HOME": str(home), "OMBUDS_API_URL": site.url, "OMBUDS_TOKEN": staff}
        shown = await asyncio.to_thread(
            subprocess.run,
            [OMBUDS, "status", complaint_id],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert NAME in shown.stdout and EMAIL in shown.stdout
        exported = subprocess.run(
            [
                str(binary("temporal")),
                "workflow",
                "show",
                "--workflow-id",
                complaint_id,
                "--address",
                site.settings.address,
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert exported.returncode == 0, exported.stderr
        assert complaint_id in exported.stdout
        for clear in (NAME, EMAIL, "overdraft fee"):
            assert clear not in exported.stdout
    stored = b"".join(f.read_bytes() for f in home.glob("temporal.db*"))
    assert stored and NAME.encode() not in stored and EMAIL.encode() not in stored
    assert complaint_id.encode() in stored  # the database is the one the case ran in


def test_ombuds_keys_rotate_and_list(tmp_path: Path) -> None:
    env = {**os.environ, "OMBUDS_HOME": str(tmp_path)}
    first = subprocess.run([OMBUDS, "keys", "rotate"], capture_output=True, text=True, env=env, timeout=60)
    second = subprocess.run([OMBUDS, "keys", "rotate"], capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == second.returncode == 0
    listed = subprocess.run(
        [OMBUDS, "keys", "list"], capture_output=True, text=True, env=env, timeout=60
    ).stdout
    lines = listed.splitlines()
    assert len(lines) == 3 and lines[-1].endswith("(seals new payloads)")  # the first, and two rotations


@pytest.mark.integration
async def test_a_worker_without_the_key_cannot_run_a_case_and_says_which_key(tmp_path: Path) -> None:
    from ombuds.engine.devserver import dev_server
    from ombuds.engine.intake import Intake

    from . import money_attack

    settings = money_attack.settings_for(tmp_path / "a")
    stranger = settings.model_copy(update={"home": tmp_path / "b"})
    stranger.home.mkdir(parents=True)
    async with dev_server(settings, search_attributes=False) as client:
        with money_attack.workers(settings, 1):
            now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            done = await Intake(settings).submit(
                client, make_complaint(id="ENC-1", received_at=now), search_attributes=False
            )
            handle = client.get_workflow_handle(done.complaint_id)
            for _ in range(200):
                if (await handle.query("status"))["stage"]:
                    break
                await asyncio.sleep(0.05)
        with money_attack.workers(stranger, 1):
            await handle.signal(
                "event", {"kind": "customer_message", "actor": {"kind": "customer"}, "text": "hi"}
            )
            log = stranger.home / "workers.log"
            for _ in range(300):
                said = log.read_text("utf-8", "replace") if log.exists() else ""
                if "is not in" in said:
                    break
                await asyncio.sleep(0.1)
    assert "system key sk1-" in said and f"is not in {stranger.home}/keys.sqlite" in said


async def test_an_erased_customer_who_complains_again_gets_a_new_key_and_old_cases_still_answer(
    tmp_path: Path,
) -> None:
    first = codec(tmp_path, "C-1")
    (old,) = await first.encode([payload(intake_input())])
    store = key_store(tmp_path)
    assert store.destroy(store.subject_of("C-1") or "")
    # the old case's query answers are sealed again (with the erased values) and nothing fails (a
    # process sees an erasure within seconds: this one is new)
    later = codec(tmp_path, "C-1")
    (answer,) = await later.decode(await later.encode(await later.decode([old])))
    assert json.loads(answer.data)["complaint"]["customer"]["name"].startswith(ERASED)
    again = codec(tmp_path, "C-9")
    value = intake_input()
    value["complaint"]["id"] = "C-9"
    (new,) = await again.encode([payload(value)])
    (opened,) = await again.decode([new])
    assert json.loads(opened.data)["complaint"]["customer"]["name"] == NAME


async def test_a_complaint_giving_fewer_identifiers_is_the_same_customer(tmp_path: Path) -> None:
    await codec(tmp_path, "C-1").encode([payload(intake_input())])  # by id, email and phone
    by_email = intake_input(id=None, contacts={"email": "ANA@example.org"}, account_number=None)
    await codec(tmp_path, "C-2").encode([payload(by_email)])
    store = key_store(tmp_path)
    assert store.subject_of("C-1") == store.subject_of("C-2")
    assert store.cases_of(store.subject_of("C-1") or "") == ["C-1", "C-2"]


async def test_numbers_keep_their_value_after_an_erasure(tmp_path: Path) -> None:
    sealing = codec(tmp_path)
    await sealing.encode([payload(intake_input())])
    answer = Event(kind="survey_answer", actor=Actor(kind="customer"), score=2, answers=[2, 4])
    (sealed,) = await sealing.encode([payload(answer.model_dump(mode="json"))])
    store = key_store(tmp_path)
    store.destroy(store.subject_of("C-1") or "")
    (opened,) = await codec(tmp_path, None).decode([sealed])
    assert json.loads(opened.data)["answers"] == [2, 4]  # a score decides what follows: it stays


async def test_a_changed_payload_is_refused_as_changed_not_with_a_traceback(tmp_path: Path) -> None:
    sealing = codec(tmp_path)
    (sealed,) = await sealing.encode([payload(intake_input())])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(CodecError, match="it was changed"):
        await sealing.decode([tampered])


async def test_the_key_store_is_its_owners_alone_and_a_destroyed_key_leaves_no_copy(tmp_path: Path) -> None:
    sealing = codec(tmp_path)
    await sealing.encode([payload(intake_input())])
    store = key_store(tmp_path)
    path = tmp_path / "keys.sqlite"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    (wrapped,) = store._db.execute("select wrapped from data_keys").fetchone()
    assert store.destroy(store.subject_of("C-1") or "")
    store._db.execute("pragma wal_checkpoint(truncate)")
    kept = b"".join(f.read_bytes() for f in tmp_path.glob("keys.sqlite*"))
    assert bytes(wrapped) not in kept
