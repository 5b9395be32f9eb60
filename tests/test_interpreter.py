"""The pure interpreter core, driven directly: what the workflow shell runs, without Temporal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ombuds.activities.plugin import OutboundMessage
from ombuds.engine.activities import compose
from ombuds.engine.policy.compile import instantiate
from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.model import Complaint
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.workflows.core import Actor, Event, Interpreter, iso, status_view

from .workflow_support import STAFF_AGENT, SUPERVISOR, make_complaint, policy_variant, shipped_policies

DAY = 86_400
CUSTOMER = Actor(kind="customer")


def core_for(
    policy_id: str, complaint: Complaint, policies: list[CompiledPolicy] | None = None
) -> Interpreter:
    policy = next(p for p in policies or shipped_policies() if p.id == policy_id)
    return Interpreter(
        policy, instantiate(policy, complaint.received_at, complaint), complaint, complaint.id or "X"
    )


def started(policy_id: str = "financial-services") -> tuple[Interpreter, int]:
    """The core of the standard test complaint after intake, and its receipt instant."""
    complaint = make_complaint()
    core = core_for(policy_id, complaint)
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    return core, t0


def run_until(core: Interpreter, until: int) -> None:
    while (wake := core.next_wake()) is not None and wake <= until:
        core.tick(wake)


def test_acknowledgement_clock_does_not_restart_on_reopen() -> None:
    core, t0 = started()
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=True), t0 + 3600)
    core.apply(Event(kind="reopen", actor=CUSTOMER), t0 + 7200)
    clocks = core.state.clocks
    assert clocks["acknowledge"].status == "stopped"
    assert clocks["final-response"].status == "running"
    run_until(core, t0 + 20 * DAY)
    assert not [e for e in core.state.log if e.action == "breached" and e.detail["clock"] == "acknowledge"]


def test_extension_promise_is_kept_when_the_clock_stops_in_time() -> None:
    core, t0 = started()
    run_until(core, t0 + 10 * DAY)
    extended = core.apply(
        Event(
            kind="extend",
            actor=SUPERVISOR,
            clock="final-response",
            target="35 business days",
            reason="records",
        ),
        t0 + 10 * DAY,
    )
    assert extended.status == "extended"
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=True), t0 + 12 * DAY)
    (promise,) = [p for p in core.state.promises if p.kind == "final-response"]
    assert promise.kept is True
    run_until(core, t0 + 80 * DAY)
    assert not [e for e in core.state.log if e.action == "promise missed"]


def test_closing_without_resolution_stops_every_clock() -> None:
    core, t0 = started()
    core.apply(Event(kind="close", actor=SUPERVISOR), t0 + 3600)
    assert {c.status for c in core.state.clocks.values()} == {"stopped"}
    assert core.next_wake() is None


def test_clocks_anchor_on_reopen_and_on_other_clocks(tmp_path: Path) -> None:
    extra = """  - id: after-reopen
    kind: custom
    target: 2 business days
    starts: reopened
    stops: [resolved]
  - id: chained
    kind: custom
    target: 1 business day
    starts: clock:after-reopen:started
    stops: [clock:after-reopen:stopped]
dates:"""
    policies = policy_variant(tmp_path, "financial-services.yaml", [("dates:", extra)])
    complaint = make_complaint()
    core = core_for("financial-services", complaint, policies)
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    assert core.state.clocks["after-reopen"].status == "waiting"
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=True), t0 + 3600)
    core.apply(Event(kind="reopen", actor=CUSTOMER), t0 + 7200)
    assert core.state.clocks["after-reopen"].status == "running"
    assert core.state.clocks["chained"].status == "running"
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=True), t0 + 10800)
    assert core.state.clocks["chained"].status == "stopped"


def test_a_message_named_twice_for_one_decision_goes_once() -> None:
    core, t0 = started()
    core.sends.clear()
    core.apply(Event(kind="escalate", actor=CUSTOMER, reason="not happy"), t0 + 60)
    run_until(core, t0 + 2 * 60 + 1)  # the customer's notice waits a minute for a newer one
    templates = [(s.to, s.template) for s in core.sends]
    assert len(templates) == len(set(templates))
    assert ("customer", "escalated") in templates


def test_retail_callback_confirmation_uses_the_event_channels() -> None:
    complaint = make_complaint(
        id="R-9",
        received_at="2027-02-23T10:12:00+01:00",
        channel="phone",
        product="household",
        order_ids=["WEB-1"],
        customer={"account_number": None, "region": None},
    )
    core = core_for("retail", complaint)
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    core.sends.clear()
    answer = core.apply(Event(kind="request_callback", actor=CUSTOMER), t0 + 60)
    assert answer.status == "scheduled"
    (message,) = [s for s in core.sends if s.template == "callback"]
    assert message.channels == ["sms", "email"]


def test_compensation_over_every_limit_is_rejected_with_the_reason() -> None:
    core, t0 = started()
    agent = Actor(kind="staff", id="a", level="agent")
    answer = core.apply(
        Event(kind="propose_compensation", actor=agent, remedy="apology", amount=Decimal(60000)), t0
    )
    assert answer.status == "rejected" and "per-complaint cap" in answer.reason


def test_an_extension_keeps_the_working_time_the_clock_was_paused() -> None:
    """Paused 3 working days waiting on the customer, then extended: the pause still counts."""
    complaint = make_complaint()  # Monday 2027-03-01 10:00 UTC, England
    core = core_for("financial-services", complaint)
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    clock = core.state.clocks["final-response"]
    unpaused_due = clock.due
    assert unpaused_due is not None
    core.apply(Event(kind="request_information", actor=STAFF_AGENT, reason="Which card?"), t0 + DAY)
    assert clock.status == "paused"
    core.apply(Event(kind="customer_message", actor=CUSTOMER, text="The blue one."), t0 + 4 * DAY)
    cal = core.calendar("regional")
    paused = cal.business_seconds_between(unpaused_due, clock.due or 0)
    assert paused == 3 * 8 * 3600 + 30 * 60 * 3  # three working days of 09:00-17:30
    answer = core.apply(
        Event(kind="extend", actor=SUPERVISOR, clock="final-response", target="35 business days", reason="x"),
        t0 + 5 * DAY,
    )
    assert answer.status == "extended"
    plain = cal.due(clock.started_at or 0, parse_duration("35 business days"))
    assert clock.due == cal.add_business_seconds(plain, paused)


def test_a_condition_that_fails_at_run_time_is_recorded_beside_the_log(tmp_path: Path) -> None:
    """`complaint.custom.vulnerable` is absent: the rule counts as not matching, and status says why."""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "when: has(complaint.custom.vulnerable) && complaint.custom.vulnerable == true",
                "when: complaint.custom.vulnerable == true",
            )
        ],
    )
    complaint = make_complaint()
    core = core_for("financial-services", complaint, policies)
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    assert core.state.severity == "medium"  # the default rule, as the failed one counts as false
    (failed,) = core.state.condition_errors
    assert failed.rules == ["classification[2].when"]
    assert failed.condition == "complaint.custom.vulnerable == true"
    assert "vulnerable" in failed.error and failed.count == 1
    assert not [e for e in core.state.log if "vulnerable" in str(e.detail)]  # the log stays as it was
    core.start(t0)  # the same failure again is counted, not repeated
    assert [(e.rules, e.count) for e in core.state.condition_errors] == [(["classification[2].when"], 2)]
    assert status_view(core, t0).condition_errors == core.state.condition_errors


def test_conditions_that_evaluate_leave_no_error() -> None:
    complaint = make_complaint()
    core = core_for("financial-services", complaint)
    core.start(int(complaint.received_at.timestamp()))
    assert core.state.condition_errors == []


@pytest.mark.parametrize(
    ("justified", "decision", "line"),
    [(True, "upheld", "We have upheld your complaint."), (False, "not_upheld", "We have not upheld")],
)
def test_the_final_response_states_the_decision(justified: bool, decision: str, line: str) -> None:
    core, t0 = started()
    core.sends.clear()
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=justified), t0 + DAY)
    (send,) = [s for s in core.sends if s.template == "final-response"]
    assert send.context["decision"] == decision
    _, body = compose(core.compiled, OutboundMessage.model_validate(send.model_dump()))
    assert line in body and "until Thursday, 2 September 2027" in body


def test_without_a_finding_the_final_response_states_no_decision() -> None:
    core, t0 = started()
    core.sends.clear()
    core.apply(Event(kind="resolve", actor=SUPERVISOR), t0 + DAY)
    (send,) = [s for s in core.sends if s.template == "final-response"]
    _, body = compose(core.compiled, OutboundMessage.model_validate(send.model_dump()))
    assert "upheld" not in body


@pytest.mark.parametrize(
    ("required", "patched", "carried"),
    [(True, True, True), (False, True, False), (False, False, True)],
    ids=["required", "optional", "optional-in-a-history-from-before"],
)
def test_handoff_summary_setting(tmp_path: Path, required: bool, patched: bool, carried: bool) -> None:
    """`handoff_summary: false`: no summary is built from the case (a history from before keeps it)."""
    edits = (
        []
        if required
        else [
            (
                '    notify_staff: [handoff]\n    reason: {en: "The customer',
                '    notify_staff: [handoff]\n    handoff_summary: false\n    reason: {en: "The customer',
            )
        ]
    )
    policies = policy_variant(tmp_path, "financial-services.yaml", edits)
    complaint = make_complaint()
    core = core_for("financial-services", complaint, policies)
    core.patched = lambda change: patched
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    core.apply(Event(kind="escalate", actor=CUSTOMER), t0 + 60)
    (entry,) = [e for e in core.state.log if e.action == "escalated"]
    assert ("handoff" in entry.detail or "handoff_sha256" in entry.detail) is carried


def test_status_names_what_falls_due_next_at_its_own_instant() -> None:
    core, t0 = started()
    view = status_view(core, t0)
    assert view.next_deadline_what == "final-response warning"
    core.apply(Event(kind="resolve", actor=SUPERVISOR, justified=True), t0 + DAY)
    view = status_view(core, t0 + DAY)
    assert view.next_deadline_what == "survey"
    wake = core.next_wake()
    assert wake is not None and view.next_deadline == iso(wake)
    run_until(core, t0 + 400 * DAY)
    assert status_view(core, t0 + 400 * DAY).next_deadline is None


def test_a_clock_deadline_is_shown_at_its_instant_not_the_second_after() -> None:
    core, _ = started()
    for cs in core.state.clocks.values():
        cs.warnings_fired = list(range(len(cs.warnings_at)))  # as if every warning had gone out
    due, what = core.next_due() or (0, "")
    clock = core.state.clocks[what.removesuffix(" due")]
    assert what.endswith(" due") and due == clock.due and core.next_wake() == due + 1


def test_the_acknowledgement_gives_the_receipt_in_local_time() -> None:
    complaint = make_complaint(received_at="2027-07-01T16:05:00+00:00")  # 17:05 in London (BST)
    core = core_for("financial-services", complaint)
    core.start(int(complaint.received_at.timestamp()))
    (send,) = [s for s in core.sends if s.template == "acknowledgement"]
    assert send.context["received"]["at"] == "2027-07-01T16:05:00Z"
    _, body = compose(core.compiled, OutboundMessage.model_validate(send.model_dump()))
    assert "received your complaint on Thursday, 1 July 2027, 17:05" in body
