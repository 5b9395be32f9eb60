"""What the core decides a message says (``messages-worth-reading``): values, not English text;
what was decided; one complete offer; a sensible pace; a conversation that reaches the customer.

The words themselves are the delivery's (tests/test_messages_read.py reads them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import compose
from ombuds.engine.intake import load_policies
from ombuds.engine.policy.messages import localise
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.workflows.core import Actor, Interpreter, Rejected, Send, status_view, values
from ombuds.workflows.core.patches import MESSAGES_WORTH_READING

from .workflow_support import (
    act_now,
    core_after_intake,
    make_complaint,
    policy_variant,
    retail_complaint,
    run_until,
    running_case,
    time_skipping,
)

HOUR = 3600
DAY = 86_400
CUSTOMER = Actor(kind="customer")
AGENT = Actor(kind="staff", id="eva", level="agent")
SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
MANAGER = Actor(kind="staff", id="max", level="store-manager")
FS_SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")


def start(
    policy_id: str, complaint: Any, policies: list[CompiledPolicy] | None = None, *, new: bool = True
) -> tuple[Interpreter, int]:
    without = frozenset() if new else frozenset({MESSAGES_WORTH_READING})
    return core_after_intake(policy_id, complaint, policies, without=without)


act = act_now


def sent(core: Interpreter, template: str) -> list[Send]:
    return [s for s in core.sends if s.template == template]


def actions(core: Interpreter) -> list[str]:
    return [e.action for e in core.state.log]


# ----------------------------------------------------------------------------- 1. values


def test_a_message_carries_instants_dates_and_labels_not_english_text() -> None:
    core, t0 = start("financial-services", make_complaint())
    (ack,) = sent(core, "acknowledgement")
    received = ack.context["received"]
    assert received == {
        "type": "instant",
        "at": "2027-03-01T10:00:00Z",
        "timezone": "Europe/London",
        "end_of_day": False,
    }
    due = ack.context["deadlines"]["final-response"]
    assert due["type"] == "instant" and due["timezone"] == "Europe/London"
    core.sends.clear()
    act(core, t0 + DAY, "resolve", FS_SUPERVISOR, justified=True, text="We refunded the fee.")
    (final,) = sent(core, "final-response")
    assert final.context["dates"]["ombudsman-referral"]["type"] == "date"


def test_before_the_change_a_message_carries_text_as_it_did() -> None:
    core, _ = start("financial-services", make_complaint(), new=False)
    (ack,) = sent(core, "acknowledgement")
    assert ack.context["received"] == "2027-03-01 10:00 (Europe/London)"


def test_a_level_is_a_label_and_a_handoff_has_no_internal_text() -> None:
    core, t0 = start("financial-services", make_complaint())
    core.sends.clear()
    act(core, t0 + HOUR, "escalate", CUSTOMER, reason="not happy")
    (handoff,) = sent(core, "handoff")
    assert handoff.context["level"] == {"type": "label", "of": "level", "id": "complaints-department"}
    values = handoff.context["handoff"]
    assert values["trigger"] == "customer_request"
    assert values["reason"] == {"type": "label", "of": "reason", "id": "customer-asks"}  # worded per locale
    assert "event:" not in repr(values) and "escalation[" not in repr(values)
    assert all(c["clock"]["type"] == "label" and c["due"]["type"] == "instant" for c in values["clocks"])


def test_the_delay_notice_carries_no_english_reason_of_the_cores() -> None:
    core, t0 = start("financial-services", make_complaint())
    run_until(core, t0 + 70 * DAY)
    delays = [s for s in core.sends if s.template == "delay"]
    assert delays and all("reason" not in s.context for s in delays)
    old, t1 = start("financial-services", make_complaint(), new=False)
    run_until(old, t1 + 70 * DAY)
    assert any(s.context.get("reason") for s in old.sends if s.template == "delay")


# ----------------------------------------------------------------------------- 2. decided


def test_the_final_response_carries_the_resolution_and_what_was_granted() -> None:
    core, t0 = start("financial-services", make_complaint())
    act(core, t0 + HOUR, "propose_compensation", FS_SUPERVISOR, remedy="goodwill", amount=Decimal(120))
    core.sends.clear()
    act(core, t0 + DAY, "resolve", FS_SUPERVISOR, justified=True, text="We refunded the fee of £35.")
    (final,) = sent(core, "final-response")
    assert final.context["resolution"] == "We refunded the fee of £35."
    assert final.context["decision"] == "upheld"
    assert final.context["granted"] == [
        {
            "type": "remedy",
            "id": "goodwill",
            "amount": {"type": "money", "amount": "120.00", "currency": "GBP"},
        }
    ]


# ----------------------------------------------------------------------------- 3. one offer


def test_an_offer_is_one_message_with_every_option_its_amount_and_a_date() -> None:
    core, t0 = start("retail", retail_complaint(amount=Decimal("49.99"), currency="EUR"))
    core.sends.clear()
    act(core, t0 + HOUR, "offer_options", AGENT)
    (offer,) = [s for s in core.sends if s.to == "customer"]
    assert offer.template == "options"
    options = offer.context["options"]
    assert [o["id"] for o in options] == ["replacement", "refund"]
    assert options[0]["amount"] is None
    assert options[1]["amount"] == {"type": "money", "amount": "49.99", "currency": "EUR"}
    assert offer.context["answer_by"]["type"] == "instant"


def test_a_grant_is_told_as_a_grant_and_the_choice_declines_the_other_option() -> None:
    core, t0 = start("retail", retail_complaint(amount=Decimal("49.99"), currency="EUR"))
    act(core, t0 + HOUR, "offer_options", AGENT)
    core.sends.clear()
    act(core, t0 + 2 * HOUR, "propose_compensation", AGENT, remedy="refund", amount=Decimal("49.99"))
    assert not sent(core, "options"), "a grant is not a second offer"
    act(core, t0 + 3 * HOUR, "choose_option", CUSTOMER, option="replacement")
    view = status_view(core, t0 + 3 * HOUR)
    assert [(p.remedy, p.status) for p in view.proposals] == [("refund", "declined")]
    assert view.chosen == "replacement" and core.state.compensation_total == 0
    core.sends.clear()
    act(core, t0 + DAY, "resolve", MANAGER, justified=True, text="A new kettle is on its way.")
    (resolved,) = sent(core, "resolved")
    assert [g["id"] for g in resolved.context["granted"]] == ["replacement"]


# ----------------------------------------------------------------------------- 5. pace


def test_an_approval_step_is_not_announced_to_the_customer_as_an_escalation() -> None:
    core, t0 = start("retail", retail_complaint())
    core.sends.clear()
    answer = act(core, t0 + HOUR, "propose_compensation", AGENT, remedy="refund", amount=Decimal(250))
    assert answer.status == "needs_approval"
    assert "escalated" in actions(core)
    run_until(core, t0 + HOUR + 5 * 60)
    assert [s.template for s in core.sends if s.to == "customer"] == []
    assert any(s.template == "handoff" for s in core.sends if s.to == "staff")


def test_a_newer_escalation_notice_replaces_one_not_yet_sent() -> None:
    core, t0 = start("retail", retail_complaint())
    core.sends.clear()
    act(core, t0 + HOUR, "escalate", CUSTOMER, reason="I want the manager")
    assert not [s for s in core.sends if s.to == "customer" and s.template == "escalated"]
    act(core, t0 + HOUR + 20, "escalate", CUSTOMER, reason="again")  # already there: no move
    run_until(core, t0 + 2 * HOUR)
    notices = [s for s in core.sends if s.template == "escalated"]
    assert len(notices) == 1


def test_two_escalations_seconds_apart_tell_the_customer_only_the_last(tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    to: supervisor\n    notify_staff: [sla-warning]",
                "    to: supervisor\n    notify_customer: escalated\n    notify_staff: [sla-warning]",
            )
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies)
    core.sends.clear()
    run_until(core, t0 + int(7.5 * HOUR) + 1)  # the first-response warning: to the supervisor
    act(core, t0 + int(7.5 * HOUR) + 10, "escalate", CUSTOMER, reason="manager")
    run_until(core, t0 + 9 * HOUR)
    notices = [s for s in core.sends if s.template == "escalated"]
    assert len(notices) == 1
    assert notices[0].context["level"]["id"] == "store-manager"
    assert "message replaced" in actions(core)


def test_messages_within_the_window_go_out_as_one(tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path, "retail.yaml", [("  fallback:", "  combine_within: 2 minutes\n  fallback:")]
    )
    core, t0 = start("retail", retail_complaint(), policies)
    assert not [s for s in core.sends if s.to == "customer"], "held for the window"
    act(core, t0 + 30, "acknowledge", AGENT)
    run_until(core, t0 + 3 * 60)
    customer = [s for s in core.sends if s.to == "customer"]
    assert len(customer) == 1
    combined = customer[0]
    assert combined.also and [combined.template, *(m.template for m in combined.also)][0] == "received"
    assert "messages combined" in actions(core)


# ----------------------------------------------------------------------------- 6. conversation


def test_a_request_for_information_sends_the_customer_the_question() -> None:
    core, t0 = start("retail", retail_complaint())
    core.sends.clear()
    act(core, t0 + HOUR, "request_information", AGENT, question="Which store did you buy it in?")
    (asked,) = sent(core, "information-requested")
    assert asked.to == "customer" and asked.context["question"] == "Which store did you buy it in?"
    with pytest.raises(Rejected, match="question"):
        act(core, t0 + 2 * HOUR, "request_information", AGENT)


def test_a_reply_reaches_the_customer_and_a_note_does_not() -> None:
    core, t0 = start("retail", retail_complaint())
    core.sends.clear()
    act(core, t0 + HOUR, "agent_reply", AGENT, internal=True, text="Checked the order: shipped on time.")
    assert not sent(core, "agent-reply") and "first_response" not in core.state.events
    act(core, t0 + 2 * HOUR, "agent_reply", AGENT, text="We are sending a new kettle today.")
    (reply,) = sent(core, "agent-reply")
    assert reply.context["reply"] == "We are sending a new kettle today."
    assert "first_response" in core.state.events
    with pytest.raises(Rejected, match="text"):
        act(core, t0 + 3 * HOUR, "agent_reply", AGENT)


def test_a_resolution_cancels_an_open_callback() -> None:
    core, t0 = start("retail", retail_complaint())
    act(core, t0 + HOUR, "request_callback", CUSTOMER)
    act(core, t0 + HOUR + 60, "resolve", AGENT, justified=True, text="Replaced in store.")
    run_until(core, t0 + 3 * DAY)
    assert [c.status for c in core.state.callbacks] == ["cancelled"]
    assert "callback missed" not in actions(core) and not core.state.sla_breached
    assert not sent(core, "callback-missed")


# ----------------------------------------------------------------------------- 7. promises


def test_a_promised_time_outside_working_hours_is_told_as_the_last_close_before_it() -> None:
    # Saturday 27 Feb 2027, 17:00 in Berlin: the 10-hour answer falls due Sunday 03:00
    core, t0 = start("retail", retail_complaint(received_at="2027-02-27T17:00:00+01:00"))
    (received,) = sent(core, "received")
    due = core.state.clocks["first-response"].due
    assert due == t0 + 10 * HOUR
    told = received.context["deadlines"]["first-response"]
    assert told["at"] == "2027-02-27T17:00:00Z"  # the stores close at 18:00 (17:00 UTC) on Saturdays
    staff_due = dt.datetime.fromtimestamp(due, dt.UTC).isoformat()
    assert staff_due.startswith("2027-02-28T02:00")


def test_as_counted_tells_the_time_as_counted(tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path, "retail.yaml", [("  fallback:", "  times_outside_hours: as_counted\n  fallback:")]
    )
    core, _ = start("retail", retail_complaint(received_at="2027-02-27T17:00:00+01:00"), policies)
    (received,) = sent(core, "received")
    assert received.context["deadlines"]["first-response"]["at"] == "2027-02-28T02:00:00Z"


def test_a_deadline_at_local_midnight_means_the_end_of_the_day_before() -> None:
    core, _ = start("financial-services", make_complaint())
    # 23 July 2027 00:00 in London is 22 July 23:00 UTC: the end of 22 July
    midnight = int(dt.datetime(2027, 7, 22, 23, 0, tzinfo=dt.UTC).timestamp())
    assert values.instant(core, midnight, due=True)["end_of_day"] is True
    assert values.instant(core, midnight + 60, due=True)["end_of_day"] is False
    assert values.instant(core, midnight + HOUR, due=True)["end_of_day"] is False
    assert values.instant(core, midnight)["end_of_day"] is False  # a fact at midnight is that midnight


async def test_a_combined_message_reaches_the_customer_as_one(tmp_path: Path) -> None:
    """On Temporal, through the delivery: the intake's messages within the window are one message,
    each part from its own template, under the first one's subject."""
    policies = policy_variant(
        tmp_path / "policy", "retail.yaml", [("  fallback:", "  combine_within: 2 minutes\n  fallback:")]
    )
    async with time_skipping() as env, running_case(env, tmp_path / "home", policies) as case:
        await case.submit(retail_complaint())
        await case.skip(dt.timedelta(minutes=3))
        customer = [m for m in case.outbox() if m["to"] == "customer"]
        assert len(customer) == 1, [m["template"] for m in customer]
        (message,) = customer
        assert message["template"] == "received"
        assert "\n---\n" in message["body"]
        assert message["body"].count("Emma Schulz") == 2  # each part greets the customer
        log = await case.log()
        (combined,) = [e for e in log if e.action == "messages combined"]
        assert combined.detail["templates"] == ["received", "callback-offer"]


def test_staff_explain_a_delay_in_their_words_and_later_notices_repeat_them() -> None:
    core, t0 = start("financial-services", make_complaint())
    core.sends.clear()
    answer = act(core, t0 + 40 * DAY, "explain_delay", FS_SUPERVISOR, reason="Wir warten auf Ihre Bank.")
    assert answer.status == "explained"
    (now,) = sent(core, "delay")
    assert now.context["reason"] == "Wir warten auf Ihre Bank."
    assert now.context["new_date"]["type"] == "instant"
    core.sends.clear()
    run_until(core, t0 + 70 * DAY)  # the two-month delay notice
    (later,) = [s for s in core.sends if s.template == "delay"]
    assert later.context["reason"] == "Wir warten auf Ihre Bank."
    with pytest.raises(Rejected, match="reason"):
        act(core, t0 + 71 * DAY, "explain_delay", FS_SUPERVISOR)


def test_a_customer_is_told_only_deadlines_still_to_come() -> None:
    core, t0 = start("financial-services", make_complaint())
    run_until(core, t0 + 30 * DAY)  # the final response breached on 22 March
    assert core.state.clocks["final-response"].status == "breached"
    core.sends.clear()
    run_until(core, t0 + 50 * DAY)
    updates = [s for s in core.sends if s.template == "progress-update"]
    assert updates and all("final-response" not in s.context.get("deadlines", {}) for s in updates)
    new_dates = [s.context["new_date"]["at"] for s in core.sends if s.context.get("new_date")]
    hard = values.instant(core, core.state.clocks["hard-limit"].due or 0)["at"]
    assert all(at <= hard for at in new_dates)


def test_the_escalation_notice_tells_the_new_levels_decision_date_and_the_old_one_is_handed_over() -> None:
    core, t0 = start("retail", retail_complaint())
    act(core, t0 + HOUR, "propose_compensation", AGENT, remedy="refund", amount=Decimal(250))  # to supervisor
    act(core, t0 + 2 * HOUR, "escalate", CUSTOMER, reason="I want the manager")
    run_until(core, t0 + 2 * HOUR + 120)
    (notice,) = [s for s in core.sends if s.template == "escalated"]
    (manager,) = [p for p in core.state.promises if p.rule == "authority[2].decision_within"]
    promised = {"due": values.instant(core, manager.due, promised=True)}
    told = values.worded(core, promised, t0 + 2 * HOUR, "customer")["due"]
    assert notice.context["deadlines"]["decision"] == told  # the store manager's, within working hours
    (supervisor,) = [p for p in core.state.promises if p.rule == "authority[1].decision_within"]
    assert supervisor.superseded
    run_until(core, t0 + 20 * DAY)
    assert not [e for e in core.state.log if e.action == "promise missed" and "Shift" in str(e.detail)]
    assert not supervisor.kept and supervisor.kept is not False


def test_an_escalation_on_a_warning_is_not_announced_to_the_customer() -> None:
    core, t0 = start("retail", retail_complaint())
    core.sends.clear()
    run_until(core, t0 + 9 * HOUR)  # the first-response warning escalates to the supervisor
    assert "escalated" in actions(core)
    assert not [s for s in core.sends if s.to == "customer" and s.template == "escalated"]


def test_the_resolution_letter_tells_a_date_the_resolution_starts() -> None:
    complaint = make_complaint(
        product="platform", customer={"segment": "business"}, custom={"impact": "degraded"}
    )
    core, t0 = start("b2b-support", complaint)
    core.sends.clear()
    act(core, t0 + HOUR, "resolve", Actor(kind="staff", id="g", level="agent"), justified=True, text="Fixed.")
    (resolved,) = sent(core, "resolved")
    assert resolved.context["dates"]["credit-claim"]["type"] == "date"


# ----------------------------------------------------------------------------- what a review found


def test_a_complaints_own_fields_named_like_values_stay_data() -> None:
    """A custom field "type": "instant" (or "money") is the complaint's data: no value of the
    core's, neither read as one by the core nor by the delivery."""
    custom = {"type": "instant", "promised_in": "", "at": "x"}
    core, _ = start("retail", retail_complaint(custom=custom))
    (received,) = sent(core, "received")
    assert received.context["complaint"]["custom"] == custom
    message = OutboundMessage.model_validate(received.model_dump())
    worded = localise(message.context, core.compiled.policy, "de", to="customer")
    assert worded["complaint"]["custom"] == custom
    compose(core.compiled, message)  # renders


def test_a_receipt_at_midnight_is_that_midnight_not_the_day_before() -> None:
    core, _ = start("financial-services", make_complaint(received_at="2027-03-01T00:00:00+00:00"))
    (ack,) = sent(core, "acknowledgement")
    assert ack.context["received"]["end_of_day"] is False
    _, body = compose(core.compiled, OutboundMessage.model_validate(ack.model_dump()))
    assert "Monday, 1 March 2027, 00:00" in body


def test_a_held_message_released_at_night_waits_for_the_quiet_hours_to_end(tmp_path: Path) -> None:
    # retail's quiet hours: SMS not used 21:00-08:00 in the customer's timezone (Berlin)
    by_sms = {"id": "RC-1", "name": "Emma Schulz", "contacts": {"phone": "+49 30 901820"}, "locale": "de"}
    core, t0 = start("retail", retail_complaint(received_at="2027-02-23T20:58:00+01:00", customer=by_sms))
    core.sends.clear()
    act(core, t0 + 90, "escalate", CUSTOMER, reason="manager")  # 20:59:30; the notice waits a minute
    run_until(core, t0 + 5 * 60)
    assert not [s for s in core.sends if s.template == "escalated"], "not by SMS at 21:00:30"
    assert "held for quiet hours" in actions(core)
    run_until(core, t0 + 12 * HOUR)
    assert [s.template for s in core.sends if s.template == "escalated"] == ["escalated"]


def test_a_case_from_before_the_change_refuses_what_it_cannot_do() -> None:
    core, t0 = start("retail", retail_complaint(), new=False)
    with pytest.raises(Rejected, match="internal notes"):
        act(core, t0 + HOUR, "agent_reply", AGENT, internal=True, text="note")
    assert "first_response" not in core.state.events
    with pytest.raises(Rejected, match="explain_delay"):
        act(core, t0 + HOUR, "explain_delay", AGENT, reason="waiting for the supplier")
    act(core, t0 + HOUR, "request_information", AGENT, question="Which store?")
    (entry,) = [e for e in core.state.log if e.action == "waiting on customer"]
    assert entry.detail["reason"] == "Which store?"


def test_an_approval_step_always_tells_the_approver_what_to_approve(tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    trigger: {on: compensation_above_authority}\n    to: next\n",
                "    trigger: {on: compensation_above_authority}\n    to: next\n    handoff_summary: false\n",
            )
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies)
    core.sends.clear()
    act(core, t0 + HOUR, "propose_compensation", AGENT, remedy="refund", amount=Decimal(250))
    (handoff,) = [s for s in core.sends if s.template == "handoff"]
    assert handoff.context["handoff"]["approval"]["remedy"]["id"] == "refund"


def test_a_level_without_a_promise_of_its_own_keeps_the_date_told(tmp_path: Path) -> None:
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    title: {de: Filialleitung, en: Store manager}\n    decision_within: 5 days\n",
                "    title: {de: Filialleitung, en: Store manager}\n",
            )
        ],
    )
    core, t0 = start("retail", retail_complaint(), policies)
    act(core, t0 + HOUR, "propose_compensation", AGENT, remedy="refund", amount=Decimal(250))  # to supervisor
    act(core, t0 + 2 * HOUR, "escalate", CUSTOMER, reason="manager")  # store manager: no promise
    (supervisor,) = [p for p in core.state.promises if p.kind == "decision"]
    assert not supervisor.superseded


def test_validation_warns_when_what_staff_write_or_grant_reaches_no_customer(tmp_path: Path) -> None:
    variant = tmp_path / "variant"
    policy_variant(
        variant, "retail.yaml", [("    compensation_granted: {template: compensation-granted}\n", "")]
    )
    _, report = load_policies(variant)
    warnings = [p.render() for p in report.problems if p.severity == "warning"]
    assert any("a compensation granted is not told to the customer" in w for w in warnings), warnings
