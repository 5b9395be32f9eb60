"""Webhooks: a case's decisions reach a helpdesk's receiver, signed as Standard Webhooks sign,
retried while the receiver fails, each taken once by its id."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from ombuds.activities.deliveries import DeliveryLedger
from ombuds.engine.policy.store import Store
from ombuds.engine.settings import Settings, Webhook
from ombuds.engine.webhooks import Publisher, new_secret, signed
from ombuds.workflows.core.publications import EVENT_TYPES

from .webhook_receiver import receiver
from .workflow_support import (
    CUSTOMER,
    STAFF_AGENT,
    SUPERVISOR,
    make_complaint,
    running_case,
    shipped_policies,
    time_skipping,
)

DAY = dt.timedelta(days=1)


@pytest.mark.workflow
async def test_a_helpdesk_hears_of_the_hand_off_the_breach_and_the_resolution(tmp_path: Path) -> None:
    with receiver(fail_first=2) as helpdesk:
        hooks = {"helpdesk": Webhook(url=helpdesk.url, secret=helpdesk.secret)}
        async with time_skipping() as env, running_case(env, tmp_path, webhooks=hooks) as case:
            complaint_id = await case.submit(make_complaint(id="WH-1"))
            await case.act("assign", STAFF_AGENT, assignee="alice")
            await case.act("escalate", STAFF_AGENT, summary="The fee was charged twice; needs a refund.")
            await case.skip(100 * DAY)
            await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
            await case.skip(3 * DAY)
            await case.act("survey_answer", CUSTOMER, score=4)
            result = await case.result()
    # the first two requests failed (503) and were tried again; every event arrived once
    assert [status for _, status in helpdesk.requests[:2]] == [503, 503]
    taken = [event_id for event_id, status in helpdesk.requests if status == 204]
    assert len(taken) == len(set(taken)) == len(helpdesk.events)
    kinds = [e["type"] for e in helpdesk.events.values()]
    for kind in ("complaint.received", "complaint.assigned", "complaint.escalated", "clock.breached"):
        assert kind in kinds, kinds
    assert "complaint.resolved" in kinds and "complaint.closed" in kinds
    # the hand-off the next level reads, worded; the decision with its rule and policy line
    by_staff, by_breach = helpdesk.of_type("complaint.escalated")
    data = by_staff["data"]
    assert data["complaint_id"] == complaint_id
    assert data["handoff"]["summary"] == "The fee was charged twice; needs a refund."
    assert data["handoff"]["trigger"] == "agent_request"
    assert by_breach["data"]["handoff"]["trigger"] == "sla_breach"
    clocks = {c["clock"]: c for c in by_breach["data"]["handoff"]["clocks"]}
    assert clocks["Final response"]["status"] == "breached"  # worded as the hand-off email words it
    assert clocks["Final response"]["due"] == "Monday, 22 March 2027, 17:30"
    assert data["case"]["level"] == data["decision"]["detail"]["to_level"]
    assert data["decision"]["rule"].startswith("escalation[")
    assert data["decision"]["source"].startswith("financial-services.yaml:")
    assert data["console_url"].endswith(f"/console/cases/{complaint_id}")
    assert data["policy"]["sha256"] == result.policy_sha
    breached = helpdesk.of_type("clock.breached")
    assert {b["data"]["decision"]["detail"]["clock"] for b in breached} >= {"final-response"}
    # each event is one decision of the log, by its sequence number
    by_seq = {e.seq: e for e in result.log}
    for event_id, event in helpdesk.events.items():
        seq = int(event_id.rsplit(":", 1)[1])
        assert EVENT_TYPES[by_seq[seq].action] == event["type"]
        assert event["timestamp"] == by_seq[seq].at


@pytest.mark.workflow
async def test_a_receiver_that_wants_breaches_only_gets_breaches(tmp_path: Path) -> None:
    with receiver() as chat:
        hooks = {"chat": Webhook(url=chat.url, secret=chat.secret, events=["clock.breached"])}
        async with time_skipping() as env, running_case(env, tmp_path, webhooks=hooks) as case:
            await case.submit(make_complaint(id="WH-2"))
            await case.skip(100 * DAY)
            await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
            await case.skip(3 * DAY)
            await case.act("survey_answer", CUSTOMER, score=4)
            await case.result()
    assert chat.events and {e["type"] for e in chat.events.values()} == {"clock.breached"}


@pytest.mark.workflow
async def test_without_webhooks_a_case_publishes_nothing(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(id="WH-3"))
        await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
        assert case.handle is not None
        history = await case.handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "publish" not in scheduled and "deliver" in scheduled


async def test_a_retry_reaches_only_the_receivers_that_did_not_take_the_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    store.put_policy(policy)
    event = {
        "id": "C-1:7",
        "type": "complaint.assigned",
        "timestamp": "2027-01-04T10:00:00Z",
        "data": {"complaint_id": "C-1", "case": {"level": {"type": "label", "of": "level", "id": "agent"}}},
    }
    with receiver() as up, receiver(fail_first=1) as down:
        publisher = Publisher(
            store,
            {"up": Webhook(url=up.url, secret=up.secret), "down": Webhook(url=down.url, secret=down.secret)},
            ledger=DeliveryLedger(tmp_path / "deliveries.sqlite"),
        )
        with pytest.raises(Exception, match="down: answered 503"):
            await publisher.publish(policy.sha256, event)
        assert await publisher.publish(policy.sha256, event) == ["down"]
        assert await publisher.publish(policy.sha256, event) == []
    assert len(up.requests) == 1 and [s for _, s in down.requests] == [503, 204]
    # the level's label worded in the policy's language, not the typed value
    assert up.events["C-1:7"]["data"]["case"]["level"] == "Customer Support agent"


def test_a_signature_made_with_another_secret_or_body_does_not_verify() -> None:
    from standardwebhooks import Webhook as Verifier
    from standardwebhooks import WebhookVerificationError

    hook = Webhook(url="https://helpdesk.example.com/hooks", secret=new_secret())
    body = json.dumps({"type": "complaint.assigned"}).encode()
    headers = signed(hook, "C-1:7", body, dt.datetime.now(dt.UTC))
    assert Verifier(hook.secret.get_secret_value()).verify(body, headers)["type"] == "complaint.assigned"
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(hook.secret.get_secret_value()).verify(body.replace(b"assigned", b"resolved"), headers)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"url": "ftp://x", "secret": new_secret()}, "starts with https://"),
        ({"url": "https://x", "secret": "whsec_c2hvcnQ="}, "at least 24 bytes"),
        ({"url": "https://x", "secret": new_secret(), "events": ["complaint.eaten"]}, "unknown event type"),
    ],
)
def test_a_webhook_badly_set_is_refused_with_the_reason(fields: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        Settings(webhooks={"helpdesk": fields})


def test_the_cli_makes_a_secret_and_says_which_setting_is_wrong(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    ombuds = str(Path(sys.executable).parent / "ombuds")
    base = {**os.environ, "OMBUDS_HOME": str(tmp_path)}
    made = subprocess.run(
        [ombuds, "webhooks", "secret"], capture_output=True, text=True, env=base, timeout=60
    )
    assert made.returncode == 0 and Webhook(url="https://x", secret=made.stdout.strip())
    bad = {**base, "OMBUDS_WEBHOOKS__HD__URL": "ftp://x", "OMBUDS_WEBHOOKS__HD__SECRET": made.stdout.strip()}
    listed = subprocess.run([ombuds, "webhooks", "list"], capture_output=True, text=True, env=bad, timeout=60)
    assert listed.returncode == 2 and "Traceback" not in listed.stderr
    assert "webhooks.hd.url: Value error, a webhook's url starts with https://" in listed.stderr


@pytest.mark.workflow
async def test_a_receiver_that_never_takes_an_event_is_given_up_on_and_that_is_logged(tmp_path: Path) -> None:
    with receiver(fail_first=10_000) as down:
        hooks = {"down": Webhook(url=down.url, secret=down.secret, events=["complaint.assigned"])}
        async with time_skipping() as env, running_case(env, tmp_path, webhooks=hooks) as case:
            await case.submit(make_complaint(id="WH-4"))
            await case.act("assign", STAFF_AGENT, assignee="alice")
            await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
            await case.skip(3 * DAY)
            await case.act("survey_answer", CUSTOMER, score=4)
            result = await case.result()
    assigned = next(e for e in result.log if e.action == "assigned")
    (gave_up,) = [e for e in result.log if e.action == "publication failed"]
    assert gave_up.trigger == f"publish:{assigned.seq}" and gave_up.detail["type"] == "complaint.assigned"
    assert "down: answered 503" in gave_up.detail["error"]
    assert len(down.requests) == 18  # every attempt of the retry policy
    assert not down.events


@pytest.mark.workflow
async def test_publications_under_way_go_on_after_the_case_continues_as_new(tmp_path: Path) -> None:
    with receiver(fail_first=3) as helpdesk:
        hooks = {"helpdesk": Webhook(url=helpdesk.url, secret=helpdesk.secret)}
        async with time_skipping() as env, running_case(env, tmp_path, webhooks=hooks) as case:
            await case.submit(make_complaint(id="WH-5"), history_limit=20)
            assert case.handle is not None
            first_run = (await case.handle.describe()).run_id
            await case.act("assign", STAFF_AGENT, assignee="alice")
            for n in range(6):
                await case.act("agent_reply", SUPERVISOR, text=f"Looking into it ({n}).", internal=True)
            latest = case.client.get_workflow_handle("WH-5")
            for _ in range(300):  # the history passed its limit: the case continues as new
                if (await latest.describe()).run_id != first_run:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the case did not continue as new")
            await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
            await case.act("close", SUPERVISOR)
            result = await case.result()
    kinds = sorted(e["type"] for e in helpdesk.events.values())
    for kind in ("complaint.received", "complaint.assigned", "complaint.resolved", "complaint.closed"):
        assert kind in kinds, kinds
    taken = [event_id for event_id, status in helpdesk.requests if status == 204]
    assert len(taken) == len(set(taken)), "an event was taken twice"
    assert not [e for e in result.log if e.action == "publication failed"]
