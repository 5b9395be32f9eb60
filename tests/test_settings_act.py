"""Policy settings do what the reference says (change id ``settings-act-as-written``).

Each test runs the pure core twice where it can: with the change (as every new case
does) and without it (as a history recorded before it replays), so it shows the old
behaviour it replaces.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.workflows.core import Actor, Interpreter
from ombuds.workflows.core.patches import SETTINGS_ACT_AS_WRITTEN

from .workflow_support import (
    act_now,
    core_after_intake,
    make_complaint,
    policy_variant,
    retail_complaint,
    run_until,
)

DAY = 86_400
CUSTOMER = Actor(kind="customer")
RETAIL_AGENT = Actor(kind="staff", id="eva", level="agent")
RETAIL_SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
B2B_AGENT = Actor(kind="staff", id="grace", level="agent")
FS_SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")


def start(
    policy_id: str,
    complaint: Any,
    policies: list[CompiledPolicy] | None = None,
    *,
    changed: bool = True,
) -> tuple[Interpreter, int]:
    """A case after intake, with the change applied or not."""
    without = frozenset() if changed else frozenset({SETTINGS_ACT_AS_WRITTEN})
    return core_after_intake(policy_id, complaint, policies, without=without)


act = act_now


def entries(core: Interpreter, action: str) -> list[Any]:
    return [e for e in core.state.log if e.action == action]


@pytest.mark.parametrize("changed", [True, False])
def test_approval_from_next_lets_only_the_next_level_approve(changed: bool) -> None:
    """Retail's default `approval_from: next`: goodwill only the store manager may grant is not
    passed over the supervisor's head."""
    core, t0 = start("retail", retail_complaint(), changed=changed)
    answer = act(core, t0 + 60, "propose_compensation", RETAIL_AGENT, remedy="goodwill", amount=Decimal(50))
    if changed:
        assert answer.status == "rejected"
        assert "above what supervisor may approve (approval_from: next)" in answer.reason
        assert entries(core, "compensation rejected")[0].rule == "compensation.approval_from"
    else:
        assert (answer.status, answer.detail["approval_level"]) == ("needs_approval", "store-manager")


@pytest.mark.parametrize("changed", [True, False])
def test_to_next_for_compensation_is_the_next_level_of_the_case(changed: bool, tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            ("    per_customer: {amount: 5000", "    per_customer: {amount: 5000"),
            ("  caps:\n", "  approval_from: any_higher\n  caps:\n"),
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies, changed=changed)
    answer = act(core, t0 + 60, "propose_compensation", RETAIL_AGENT, remedy="goodwill", amount=Decimal(50))
    assert (answer.status, answer.detail["approval_level"]) == ("needs_approval", "store-manager")
    (escalated,) = entries(core, "escalated")
    assert escalated.detail["to_level"] == ("supervisor" if changed else "store-manager")


@pytest.mark.parametrize("changed", [True, False])
def test_a_low_score_that_only_notifies_fires_no_escalation_rule(changed: bool, tmp_path: Path) -> None:
    policies = policy_variant(tmp_path, "b2b-support.yaml", [("action: escalate", "action: notify")])
    core, t0 = b2b_resolved(policies, changed)
    core.sends.clear()
    act(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, score=1)
    assert not entries(core, "reopened")  # notify does not reopen
    assert bool(entries(core, "escalated")) == (not changed)
    assert [s.template for s in core.sends if s.to == "staff"][:1] == ["low-score"]


def b2b_resolved(policies: list[CompiledPolicy] | None, changed: bool) -> tuple[Interpreter, int]:
    complaint = make_complaint(
        id="B-1",
        received_at="2027-03-02T10:00:00-05:00",
        customer={"id": "ACME-7", "segment": "business", "region": "US-NY"},
        custom={"impact": "degraded"},
        description="Report exports have been timing out for our team since Monday morning.",
    )
    core, t0 = start("b2b-support", complaint, policies, changed=changed)
    act(core, t0 + 60, "assign", B2B_AGENT, assignee="grace")
    act(core, t0 + 120, "resolve", B2B_AGENT, justified=True)
    run_until(core, t0 + 2 * DAY)
    return core, t0


@pytest.mark.parametrize("changed", [True, False])
def test_the_check_in_call_falls_to_the_owner_the_policy_names(changed: bool, tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path, "b2b-support.yaml", [("    owner: assigned_agent", "    owner: level")]
    )
    core, t0 = b2b_resolved(policies, changed)
    act(core, t0 + 3 * DAY, "survey_answer", CUSTOMER, score=5)
    run_until(core, t0 + 40 * DAY)
    (due,) = entries(core, "check-in call due")
    assert due.detail["owner"] == ("agent" if changed else "grace")


@pytest.mark.parametrize("changed", [True, False])
def test_the_survey_reminder_goes_where_its_notification_says(changed: bool, tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    survey_reminder: {template: survey-reminder}",
                "    survey_reminder: {template: survey-reminder, channels: [sms]}",
            )
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies, changed=changed)
    act(core, t0 + 60, "resolve", RETAIL_AGENT, justified=True)
    core.sends.clear()
    run_until(core, t0 + 5 * DAY)
    (reminder,) = [s for s in core.sends if s.template == "survey-reminder"]
    assert reminder.channels == (["sms"] if changed else ["email", "sms", "letter"])


@pytest.mark.parametrize("changed", [True, False])
def test_the_callback_owner_gets_the_policys_reminder_and_the_customer_the_offer(changed: bool) -> None:
    core, t0 = start("retail", retail_complaint(), changed=changed)
    offers = [s.template for s in core.sends if s.to == "customer"]
    assert ("callback-offer" in offers) == changed
    assert bool(entries(core, "callback offered")) == changed
    core.sends.clear()
    act(core, t0 + 60, "assign", RETAIL_AGENT, assignee="eva")
    act(core, t0 + 120, "request_callback", CUSTOMER)  # at the next opening: now, 10:14 in Berlin
    run_until(core, t0 + 600)
    staff = [
        (s.template, s.recipient, s.context.get("callback"))
        for s in core.sends
        if s.to == "staff" and s.rule.startswith("callbacks")
    ]
    if changed:  # reminded before the slot, and when it comes
        slot = {
            "type": "instant",
            "at": "2027-02-23T09:14:00Z",
            "timezone": "Europe/Berlin",
            "end_of_day": False,
        }
        assert staff == [("callback-reminder", "staff:eva", slot)] * 2
    else:
        assert [template for template, _, _ in staff] == ["handoff"]


@pytest.mark.parametrize("changed", [True, False])
def test_a_clock_started_while_the_case_waits_is_logged_started_then_paused(
    changed: bool, tmp_path: Path
) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    target: 10 days\n    starts: submitted\n",
                "    target: 10 days\n    starts: first_response\n",
            )
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies, changed=changed)
    act(core, t0 + 60, "request_information", RETAIL_AGENT, reason="the order number")
    act(core, t0 + 120, "agent_reply", RETAIL_AGENT, text="Which order was it?")
    resolution = [e.action for e in core.state.log if e.detail.get("clock") == "resolution"]
    assert resolution == (["clock started", "clock paused"] if changed else ["clock paused", "clock started"])


@pytest.mark.parametrize("changed", [True, False])
def test_a_grant_after_the_cap_check_is_logged_by_its_approver_with_the_reason(changed: bool) -> None:
    core, t0 = start("retail", retail_complaint(), changed=changed)
    act(core, t0 + 60, "propose_compensation", RETAIL_AGENT, remedy="refund", amount=Decimal("149.90"))
    answer = act(
        core,
        t0 + 120,
        "decide_approval",
        RETAIL_SUPERVISOR,
        proposal=1,
        approve=True,
        reason="a loyal customer",
    )
    assert answer.status == "accepted"
    (granted,) = entries(core, "compensation granted")
    assert granted.trigger == "event:cap_check"
    assert granted.actor == ("staff:bob@supervisor" if changed else "system")
    assert granted.detail.get("approval_reason") == ("a loyal customer" if changed else None)


@pytest.mark.parametrize("changed", [True, False])
def test_a_case_closed_without_a_final_response_says_so(changed: bool) -> None:
    core, t0 = start("financial-services", make_complaint(), changed=changed)
    act(core, t0 + DAY, "close", FS_SUPERVISOR)
    (closed,) = entries(core, "closed")
    assert closed.detail.get("final_response") == (False if changed else None)
    final = next(e for e in entries(core, "clock stopped") if e.detail["clock"] == "final-response")
    assert final.detail["met"] is (not changed)


@pytest.mark.parametrize("changed", [True, False])
def test_an_escalation_fired_by_a_clock_names_the_clock_in_its_messages(changed: bool) -> None:
    core, t0 = start("retail", retail_complaint(), changed=changed)
    core.sends.clear()
    run_until(core, t0 + 8 * 3600)  # the first-response warning at 75 % escalates to the supervisor
    escalated = entries(core, "escalated")
    assert escalated and escalated[0].rule == "escalation[3]"
    staff = [s for s in core.sends if s.rule == "escalation[3]" and s.to == "staff"]
    named = {"type": "label", "of": "clock", "id": "first-response"}  # messages-worth-reading names it
    assert staff and all(s.context.get("clock") == named for s in staff)


@pytest.mark.parametrize("changed", [True, False])
def test_the_reopened_message_names_the_restarted_deadlines(changed: bool) -> None:
    core, t0 = start("retail", retail_complaint(), changed=changed)
    act(core, t0 + 60, "resolve", RETAIL_AGENT, justified=True)
    core.sends.clear()
    act(core, t0 + 120, "reopen", CUSTOMER)
    (reopened,) = [s for s in core.sends if s.template == "reopened"]
    assert ("first-response" in reopened.context["deadlines"]) == changed
