"""Callbacks, surveys, thank-you messages and priorities: the retail and B2B policies on the time-skipping server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError

from ombuds.workflows.core import Actor

from .workflow_support import CUSTOMER, make_complaint, retail_complaint, running_case, time_skipping

pytestmark = pytest.mark.workflow
DAY = dt.timedelta(days=1)
RETAIL_AGENT = Actor(kind="staff", id="eva", level="agent")


async def test_retail_answer_clock_is_ten_elapsed_hours(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        view = await case.status()
        assert view.policy_id == "retail"
        answer = next(c for c in view.clocks if c.kind == "first_response")
        assert answer.due == "2027-02-23T19:12:00Z"  # 10:12 CET + 10 hours = 20:12 CET


async def test_missed_callback_after_three_attempts_escalates(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        answer = await case.act("request_callback", CUSTOMER)
        assert answer.status == "scheduled"
        await case.act("callback_outcome", RETAIL_AGENT, reached=False)
        await case.act("callback_outcome", RETAIL_AGENT, reached=False)
        final = await case.act("callback_outcome", RETAIL_AGENT, reached=False)
        assert final.status == "missed"
        view = await case.status()
        assert view.level != "agent"
        log = await case.log()
        escalated = next(e for e in log if e.action == "escalated")
        assert escalated.trigger == "event:callback_outcome"
        await case.skip(dt.timedelta(minutes=2))  # the customer's escalation notice waits a minute
        templates = [m["template"] for m in case.outbox()]
        assert "callback" in templates and "callback-missed" in templates


async def test_unreported_callback_is_missed_by_the_clock(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        await case.act("request_callback", CUSTOMER)
        await case.skip(DAY)
        log = await case.log()
        actions = [e.action for e in log]
        assert "callback due" in actions and "callback missed" in actions
        assert any(e.action == "escalated" and e.trigger.startswith("deadline:callback") for e in log)


async def test_low_score_reopens_and_very_low_score_escalates_to_store_manager(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        await case.act(
            "resolve",
            RETAIL_AGENT,
            justified=True,
            root_cause="faulty batch",
            corrective_actions=["recall batch"],
        )
        await case.skip(2 * DAY)
        survey = [m for m in case.outbox() if m["template"] == "survey"]
        assert len(survey) == 1 and survey[0]["locale"] == "de"
        await case.act("survey_answer", CUSTOMER, score=2)
        view = await case.status()
        assert view.status == "open" and view.level == "store-manager"


async def test_survey_then_thank_you_after_sixty_days_then_the_case_ends(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        await case.act("resolve", RETAIL_AGENT, justified=True)
        await case.skip(2 * DAY)
        await case.act("survey_answer", CUSTOMER, score=9)
        await case.skip(61 * DAY)
        result = await case.result()
        assert result.status == "closed"
        thanks = next(e for e in result.log if e.action == "thank-you sent")
        resolved = next(e for e in result.log if e.action == "resolved")
        # 60 calendar days at the same Berlin wall-clock time: 23 Feb 10:12 CET → 24 Apr 10:12 CEST
        assert resolved.at == "2027-02-23T09:12:00Z"
        assert thanks.at == "2027-04-24T08:12:00Z"
        assert [m["template"] for m in case.outbox()].count("thank-you") == 1


async def test_b2b_priority_sets_first_response_target(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(
            make_complaint(
                id="B-1",
                received_at="2027-03-02T10:00:00-05:00",
                product="platform",
                customer={"segment": "business", "region": "US-NY", "account_number": None},
                custom={"impact": "outage"},
                description="The whole platform is down for all our users since 09:40.",
            )
        )
        view = await case.status()
        assert view.policy_id == "b2b-support"
        assert view.priority == "P1"
        first = next(c for c in view.clocks if c.kind == "first_response")
        assert first.target == "1 business hour"


async def test_sms_waits_for_the_end_of_quiet_hours(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        # 22:30 in Berlin, the customer can only be reached by SMS
        await case.submit(
            retail_complaint(
                received_at="2027-02-23T22:30:00+01:00",
                customer={"contacts": {"phone": "+49 30 901820", "email": None}, "timezone": "Europe/Berlin"},
            )
        )
        held = await case.log_entry("held for quiet hours")
        assert held.detail["until"] == "2027-02-24T07:00:00Z"  # 08:00 in Berlin
        assert not case.outbox()
        await case.skip(DAY)
        released = await case.log_entry("sent after quiet hours")
        assert released.at == "2027-02-24T07:00:00Z"
        assert [m["channel"] for m in case.outbox()][:1] == ["sms"]


async def test_customer_chooses_among_offered_remedies(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(retail_complaint())
        await case.act("assign", RETAIL_AGENT, assignee="eva")
        await case.act("finding", RETAIL_AGENT, justified=True, root_cause="faulty heating element")
        offered = await case.act("offer_options", RETAIL_AGENT)
        assert offered.status == "offered"
        options = offered.detail["options"]
        assert "replacement" in options and "refund" in options
        with pytest.raises(WorkflowUpdateFailedError):
            await case.act("choose_option", CUSTOMER, option="a-new-car")
        chosen = await case.act("choose_option", CUSTOMER, option="refund")
        assert chosen.status == "chosen"
        view = await case.status()
        assert (view.chosen, view.assignee) == ("refund", "eva")
        log = await case.log()
        (finding,) = [e for e in log if e.action == "finding recorded"]
        assert await case.text(finding.detail, "root_cause") == "faulty heating element"
        (message,) = [m for m in case.outbox() if m["template"] == "options"]
        assert message["locale"] == "de"


async def test_a_message_with_no_contact_is_recorded_as_undelivered(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(
            retail_complaint(customer={"contacts": {"social": "@emma"}, "id": "RC-2"}, channel="social")
        )
        failed = await case.log_entry("delivery failed")
        assert "no contact for" in failed.detail["error"]
        view = await case.status()
        assert view.undelivered >= 1 and not view.sla_breached
        assert not case.outbox()
