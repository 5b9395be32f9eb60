"""Every rule kind and trigger of the financial-services policy, on the time-skipping server.

Deadlines below were worked out by hand from the England calendar
(09:00-17:30 Mon-Fri, England and Wales bank holidays; Easter 2027 is 28 March,
so 26 and 29 March are holidays; BST starts 28 March).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from .workflow_support import (
    CUSTOMER,
    DEPARTMENT,
    MANAGEMENT,
    STAFF_AGENT,
    SUPERVISOR,
    make_complaint,
    running_case,
    time_skipping,
)

pytestmark = pytest.mark.workflow
DAY = dt.timedelta(days=1)


def clock(view, name):  # type: ignore[no-untyped-def]
    return next(c for c in view.clocks if c.id == name)


async def test_abusive_complaint_is_refused_and_customer_told_why(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(description="You idiots took my money again, fix this now please."))
        result = await case.result()
        assert result.status == "refused"
        refusal = next(e for e in result.log if e.action == "refused")
        assert refusal.rule == "intake.refusals[2]" and refusal.detail["reason"] == "abusive"
        (message,) = [m for m in case.outbox() if m["template"] == "refusal-abusive"]
        assert message["recipient"] == "Ana Novak <ana@example.org>"
        assert "insulting language" in message["body"]


async def test_unidentifiable_customer_is_refused_with_the_reason(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(
            make_complaint(customer={"account_number": None, "contacts": {"messenger": "@ana"}})
        )
        result = await case.result()
        refusal = next(e for e in result.log if e.action == "refused")
        assert (refusal.rule, refusal.detail["reason"]) == ("intake.refusals[1]", "unidentifiable")


async def test_missing_required_field_refuses_naming_the_field(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(customer={"name": None}))
        result = await case.result()
        refusal = next(e for e in result.log if e.action == "refused")
        assert refusal.detail["reason"] == "missing customer.name"
        assert [m["template"] for m in case.outbox()] == ["refusal-incomplete"]


async def test_final_response_deadline_counts_fifteen_working_days_excluding_receipt(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        view = await case.status()
        # received Mon 1 Mar 10:00: day 1 is Tue 2 Mar, day 15 is Mon 22 Mar, close 17:30 GMT
        assert clock(view, "final-response").due == "2027-03-22T17:30:00Z"
        assert clock(view, "hard-limit").due == "2027-06-01T22:59:59Z"  # 1 June 23:59:59 BST
        received = next(m for m in case.outbox() if m["template"] == "received")
        assert "Monday, 22 March 2027, 17:30" in received["body"]


async def test_warnings_then_breach_escalate_by_rule(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(30 * DAY)
        view = await case.status()
        assert clock(view, "final-response").status == "breached"
        assert view.sla_breached
        log = await case.log()
        warnings = [e for e in log if e.action == "warning" and e.detail.get("clock") == "final-response"]
        assert [w.rule for w in warnings] == ["clocks[1].warnings[0]", "clocks[1].warnings[1]"]
        escalations = [e for e in log if e.action == "escalated"]
        assert [e.rule for e in escalations] == ["escalation[4]", "escalation[5]"]
        assert escalations[0].detail["to_level"] == "supervisor"
        assert escalations[1].detail["to_level"] == "complaints-department"
        assert view.level == "complaints-department"
        breach = next(e for e in log if e.action == "breached" and e.detail["clock"] == "final-response")
        assert breach.at == "2027-03-22T17:30:01Z"
        staff = [m["template"] for m in case.outbox() if m["to"] == "staff"]
        assert "sla-warning" in staff and "sla-breach" in staff and "handoff" in staff


async def test_waiting_on_customer_pauses_and_resumes_in_working_time(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(DAY)  # Tue 2 Mar 10:00
        answer = await case.act("request_information", STAFF_AGENT, reason="statement for February")
        assert answer.status == "waiting_on_customer"
        assert clock(await case.status(), "final-response").status == "paused"
        await case.skip(7 * DAY)  # Tue 9 Mar 10:00: five working days paused
        await case.act("customer_message", CUSTOMER, text="statement attached", information=True)
        view = await case.status()
        final = clock(view, "final-response")
        assert final.status == "running"
        # 126.5 working hours were left; from 9 Mar 10:00 they end on Wed 31 Mar 17:30 BST
        assert final.due == "2027-03-31T16:30:00Z"
        assert clock(view, "acknowledge").status == "stopped"


async def test_extension_before_deadline_is_granted_with_notice(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(10 * DAY)
        over = await case.act(
            "extend", SUPERVISOR, clock="final-response", target="40 business days", reason="x"
        )
        assert over.status == "rejected" and "cap of 35 business days" in over.reason
        answer = await case.act(
            "extend",
            SUPERVISOR,
            clock="final-response",
            target="35 business days",
            reason="we await the card scheme",
        )
        assert answer.status == "extended"
        # 35 working days after 1 Mar, skipping Good Friday and Easter Monday: Wed 21 Apr 17:30 BST
        assert answer.detail["due"] == "2027-04-21T16:30:00Z"
        view = await case.status()
        assert clock(view, "final-response").extended
        assert any(p.kind == "final-response" and p.kept is None for p in view.promises)
        (notice,) = [m for m in case.outbox() if m["template"] == "extension"]
        assert (
            "we await the card scheme" in notice["body"]
            and "Wednesday, 21 April 2027, 17:30" in notice["body"]
        )


async def test_extension_after_the_deadline_is_rejected(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(25 * DAY)
        answer = await case.act(
            "extend", SUPERVISOR, clock="final-response", target="35 business days", reason="late"
        )
        assert answer.status == "rejected"
        assert "has passed" in answer.reason
        assert not [m for m in case.outbox() if m["template"] == "extension"]


async def test_delay_notice_at_two_months_and_hard_limit_at_three(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.skip(95 * DAY)
        log = await case.log()
        delay = next(
            e for e in log if e.action == "customer notified" and e.detail["clock"] == "delay-notice"
        )
        assert delay.at == "2027-05-01T23:00:00Z"  # the second after 1 May 23:59:59 BST
        hard = next(e for e in log if e.action == "breached" and e.detail["clock"] == "hard-limit")
        assert hard.at == "2027-06-01T23:00:00Z"
        (notice,) = [m for m in case.outbox() if m["template"] == "delay"]
        assert "our investigation is not yet complete" in notice["body"]


async def test_customer_request_goes_to_complaints_department_with_handoff(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        answer = await case.act("escalate", CUSTOMER, reason="not satisfied with the answer")
        assert answer.status == "escalated"
        view = await case.status()
        assert view.level == "complaints-department"
        assert any(p.kind == "decision" for p in view.promises)
        entry = next(e for e in await case.log() if e.action == "escalated")
        assert entry.rule == "escalation[0]" and entry.actor == "customer"
        assert "not satisfied" in (await case.text(entry.detail, "handoff") or "")
        handoff = next(m for m in case.outbox() if m["template"] == "handoff")
        assert handoff["to"] == "staff" and "Summary:" in handoff["body"]


async def test_agent_escalation_without_summary_is_refused_by_the_validator(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await case.act("escalate", STAFF_AGENT)
        assert "hand-off summary" in str(failed.value.cause)
        answer = await case.act(
            "escalate", STAFF_AGENT, summary="Customer disputes the fee; statement checked."
        )
        assert answer.status == "escalated" and answer.detail["level"] == "supervisor"


async def test_compensation_limits_by_level_and_per_complaint_cap(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        capped = await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(60000))
        assert capped.status == "rejected" and "per-complaint cap" in capped.reason
        wrong = await case.act("propose_compensation", STAFF_AGENT, remedy="redress", amount=Decimal(10))
        assert wrong.status == "needs_approval" and wrong.detail["approval_level"] == "complaints-department"
        big = await case.act("propose_compensation", STAFF_AGENT, remedy="redress", amount=Decimal(10000))
        assert big.status == "needs_approval" and big.detail["approval_level"] == "management"
        refused = await case.act("decide_approval", DEPARTMENT, proposal=3, approve=True)
        assert refused.status == "not_authorised"
        granted = await case.act("decide_approval", MANAGEMENT, proposal=3, approve=True)
        assert granted.status == "accepted"
        view = await case.status()
        assert view.compensation_total == Decimal(10000)
        assert [p.status for p in view.proposals] == ["rejected", "needs_approval", "accepted"]


async def test_per_customer_cap_holds_across_complaints(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint(id="A-1"))
        first = await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(40000))
        assert first.status == "accepted"
        await case.submit(make_complaint(id="A-2", received_at="2027-03-05T10:00:00+00:00"))
        counted = await case.log_entry("earlier complaints counted")
        assert counted.detail["previous"] == 1
        second = await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(30000))
        assert second.status == "rejected"
        assert "above the cap of 60000" in second.reason
        third = await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(20000))
        assert third.status == "accepted"


async def test_fraud_is_escalated_at_intake_by_classification(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(
            make_complaint(description="Unauthorised card payments were taken from my account.")
        )
        view = await case.status()
        assert (view.category, view.priority, view.level) == ("fraud", "P1", "complaints-department")
        # P1 target: 5 working days, Mon 8 Mar 17:30
        assert clock(view, "final-response").due == "2027-03-08T17:30:00Z"


async def test_low_survey_score_reopens_and_escalates(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        await case.act("resolve", STAFF_AGENT, justified=False, root_cause="fee applied correctly")
        await case.skip(3 * DAY)
        answer = await case.act("survey_answer", CUSTOMER, score=1)
        assert answer.status == "recorded"
        view = await case.status()
        assert view.status == "open" and view.level == "supervisor"
        log = await case.log()
        assert any(e.action == "low score: escalate" for e in log)
        assert any(e.action == "reopened" for e in log)
        assert "low-score" in [m["template"] for m in case.outbox()]


async def test_withdrawal_closes_and_stops_clocks(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        answer = await case.act("withdraw", CUSTOMER, reason="sorted out in branch")
        assert answer.status == "withdrawn"
        result = await case.result()
        assert result.status == "withdrawn"
        assert "withdrawn" in [m["template"] for m in case.outbox()]
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await case.act("resolve", STAFF_AGENT)


async def test_malformed_input_refused_and_case_continues(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())
        for kind, actor, fields, message in [
            (
                "propose_compensation",
                STAFF_AGENT,
                {"remedy": "cash", "amount": Decimal(5)},
                'unknown remedy "cash"',
            ),
            ("resolve", CUSTOMER, {}, "is for staff"),
            ("survey_answer", CUSTOMER, {"score": 3}, "no survey was sent"),
            ("decide_approval", SUPERVISOR, {"proposal": 9, "approve": True}, "not waiting for approval"),
            (
                "extend",
                SUPERVISOR,
                {"clock": "nope", "target": "5 days", "reason": "x"},
                'unknown clock "nope"',
            ),
        ]:
            with pytest.raises(WorkflowUpdateFailedError) as failed:
                await case.act(kind, actor, **fields)
            assert message in str(failed.value.cause), kind
        view = await case.status()
        assert view.status == "open"
        assert not any(e.action == "input refused" for e in await case.log())


async def test_dates_the_customer_must_know_are_computed_and_told(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(make_complaint())  # Mon 1 Mar 2027 10:00
        assert (await case.status()).dates == {"ombudsman-eligible": "2027-04-26"}  # 8 weeks
        await case.act("resolve", SUPERVISOR, justified=False, root_cause="fee applied correctly")
        view = await case.status()
        # six months after the final response, the day of the response not counted
        assert view.dates["ombudsman-referral"] == "2027-09-01"
        (final,) = [m for m in case.outbox() if m["template"] == "final-response"]
        assert "until Wednesday, 1 September 2027" in final["body"]
