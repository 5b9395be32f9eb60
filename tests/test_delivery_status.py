"""A message's fate reported later by its channel: a bounced email goes on the policy's next
channel (a letter); a message with no channel left is surfaced as undelivered; a delivered
report is noted; reports of no message of the case, or no report at all, change nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError

from ombuds.engine.delivery_status import complaint_of, twilio_signature
from ombuds.workflows import names

from .workflow_support import SUPERVISOR, make_complaint, running_case, time_skipping

pytestmark = pytest.mark.workflow


async def sent(case: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = await case.handle.query(names.MESSAGES_QUERY)
    return messages


async def settled(case: Any, check: Any) -> list[dict[str, Any]]:
    """The case's messages once ``check`` holds of them (the signal is read by the main loop)."""
    for _ in range(300):
        found = await sent(case)
        if check(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"never settled: {found}")


async def acknowledgement(case: Any) -> list[dict[str, Any]]:
    def found(ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in ms if m["send"]["template"] == "acknowledgement"]

    return found(await settled(case, found))


async def test_a_bounced_acknowledgement_goes_by_letter_and_a_bounced_letter_is_undelivered(
    tmp_path: Path,
) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        contacts = {"email": "ana@example.org", "postal_address": "1 High Street, Leeds LS1 1AA"}
        complaint_id = await case.submit(make_complaint(id="DS-1", customer={"contacts": contacts}))
        (ack,) = await acknowledgement(case)
        assert ack["channel"] == "email" and ack["status"] == "sent"
        key = ack["send"]["key"]
        # noise first: none of it is a report of a message of this case
        for junk in ("bounced", {"key": "DS-1:999:0", "status": "bounced"}, {"key": key, "status": "lost"}):
            await case.handle.signal(names.DELIVERY_SIGNAL, junk)
        await case.handle.signal(
            names.DELIVERY_SIGNAL, {"key": key, "status": "bounced", "reason": "5.1.1 user unknown"}
        )
        messages = await settled(case, lambda ms: any(m["channel"] == "letter" for m in ms))
        letter = next(m for m in messages if m["channel"] == "letter")
        assert letter["send"]["key"] == f"{key}.email" and letter["send"]["channels"] == ["letter"]
        assert next(m for m in messages if m["send"]["key"] == key)["status"] == "bounced"
        log = await case.log()
        (bounced,) = [e for e in log if e.action == "message bounced"]
        assert bounced.detail["channel"] == "email" and bounced.detail["then"] == ["letter"]
        assert bounced.detail["reason"] == "5.1.1 user unknown"
        assert bounced.rule == "notifications.events.acknowledged" and bounced.source
        assert bounced.trigger == f"delivery:{key.split(':', 1)[1]}"  # no complaint id in the log
        # the same report again, and the letter reported lost: no channel is left
        await case.handle.signal(names.DELIVERY_SIGNAL, {"key": key, "status": "bounced"})
        await case.handle.signal(
            names.DELIVERY_SIGNAL, {"key": f"{key}.email", "status": "failed", "reason": "returned by post"}
        )
        await settled(case, lambda ms: any(m["status"] == "failed" for m in ms))
        log = await case.log()
        assert [e.action for e in log].count("message bounced") == 1
        (failed,) = [e for e in log if e.action == "delivery failed"]
        assert failed.detail["error"] == "letter: returned by post"
        assert (await case.status()).undelivered == 1
        await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
        assert complaint_id == "DS-1"


async def test_a_delivered_report_is_noted_and_logs_nothing(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(id="DS-2"))
        (ack,) = await acknowledgement(case)
        key = ack["send"]["key"]
        await case.handle.signal(names.DELIVERY_SIGNAL, {"key": key, "status": "delivered"})
        await settled(case, lambda ms: any(m["status"] == "delivered" for m in ms))
        assert not [e for e in await case.log() if e.trigger.startswith("delivery:")]


def test_a_key_names_its_complaint_even_one_with_colons_and_nothing_else_does() -> None:
    assert complaint_of("C-20270104-abc:12:0") == "C-20270104-abc"
    assert complaint_of("C:with:colons:3:1.email") == "C:with:colons"
    for junk in ("", "C-1", "C-1:x:0", "../C-1:1:0", "C-1:1:0.EMAIL", "C-1:1:0\n"):
        assert complaint_of(junk) is None, junk


def test_the_twilio_signature_covers_the_address_and_every_field() -> None:
    fields = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    url = "https://ombuds.example.com/deliveries/sms/twilio?key=C-1%3A4%3A0"
    signature = twilio_signature("token", url, fields)
    assert signature == twilio_signature("token", url, dict(reversed(list(fields.items()))))
    assert signature != twilio_signature("token", url.replace("4", "5"), fields)
    assert signature != twilio_signature("token", url, {**fields, "MessageStatus": "delivered"})
    assert signature != twilio_signature("other", url, fields)


async def test_a_bounce_after_the_case_continued_as_new_still_finds_its_message(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        contacts = {"email": "ana@example.org", "postal_address": "1 High Street, Leeds LS1 1AA"}
        await case.submit(make_complaint(id="DS-3", customer={"contacts": contacts}), history_limit=20)
        (ack,) = await acknowledgement(case)
        first_run = (await case.handle.describe()).run_id
        for n in range(6):  # a few decisions: the history passes its limit and the case continues
            await case.act("agent_reply", SUPERVISOR, text=f"We are on it ({n}).", internal=True)
        for _ in range(300):
            if (await case.client.get_workflow_handle("DS-3").describe()).run_id != first_run:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the case did not continue as new")
        latest = case.client.get_workflow_handle("DS-3")
        await latest.signal(names.DELIVERY_SIGNAL, {"key": ack["send"]["key"], "status": "bounced"})
        for _ in range(300):
            try:
                log = await latest.query("log")
            except RPCError:  # the new run's first task may not have run yet: ask again
                log = []
            if any(e["action"] == "message bounced" for e in log):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the bounce found no message after continue-as-new")
