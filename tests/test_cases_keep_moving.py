"""No input stops a case (change id ``cases-keep-moving``): every input has bounds, an input the
core cannot apply is refused and logged with the case left as it was, an input that needs the
case calendar past its horizon gets a longer calendar, and a signal that is no event is logged
as refused.  Each attack is run with the change and without it (as a history recorded before
it replays): without it, the case fails."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from ombuds.engine.policy.business_time import HorizonExceeded
from ombuds.engine.policy.compile import instantiate
from ombuds.workflows.core import Actor, Event, Interpreter, NeedsLongerCalendar, Rejected, bounds, iso
from ombuds.workflows.core import driver as core_driver
from ombuds.workflows.core.patches import CASES_KEEP_MOVING

from .workflow_support import CUSTOMER, MANAGEMENT, make_complaint, retail_complaint, shipped_policies

RETAIL_AGENT = Actor(kind="staff", id="eva", level="agent")


def case_of(policy_id: str, changed: bool, **complaint: Any) -> tuple[Interpreter, int]:
    policy = next(p for p in shipped_policies() if p.id == policy_id)
    made = retail_complaint(**complaint) if policy_id == "retail" else make_complaint(**complaint)
    core = Interpreter(
        policy,
        instantiate(policy, made.received_at, made),
        made,
        made.id or "X",
        patched=lambda change: changed or change != CASES_KEEP_MOVING,
    )
    t0 = int(made.received_at.timestamp())
    core.start(t0)
    return core, t0


def attempt(core: Interpreter, event: Event, now: int) -> str:
    """What became of an input: its answer's status, or why it was refused."""
    try:
        return core.act(event, now).status
    except Rejected as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize(
    ("at", "refusal"),
    [
        ("2031-01-01T10:00:00+00:00", 'at: "2031-01-01T10:00:00+00:00" is beyond the case calendar'),
        ("9999-12-31T23:59:59+00:00", "is beyond the case calendar"),
        ("2027-02-23T15:00:00", "needs its UTC offset"),
        ("soon", 'at: "soon" is not an ISO 8601 time'),
        ("1999-01-01T10:00:00+00:00", "is before the complaint was received"),
    ],
)
def test_a_callback_time_outside_the_case_is_refused(at: str, refusal: str) -> None:
    """Observed: a callback in 2031 or 9999 (as the customer) failed every workflow task."""
    core, t0 = case_of("retail", True)
    outcome = attempt(core, Event(kind="request_callback", actor=CUSTOMER, at=at), t0 + 60)
    assert outcome.startswith("refused: ") and refusal in outcome


def test_before_the_change_a_far_callback_broke_the_case() -> None:
    core, t0 = case_of("retail", False)
    with pytest.raises(HorizonExceeded):
        core.act(Event(kind="request_callback", actor=CUSTOMER, at="2031-01-01T10:00:00+00:00"), t0 + 60)


def test_a_callback_time_past_the_latest_slot_is_the_latest_slot() -> None:
    core, t0 = case_of("retail", True)
    near_horizon = core.instance.horizon_end() - 86_400
    at = iso(near_horizon)
    answer = core.act(Event(kind="request_callback", actor=CUSTOMER, at=at), t0 + 60)
    assert answer.status == "scheduled"
    assert core.state.callbacks[-1].due < t0 + 10 * 86_400  # within the policy's `within`


@pytest.mark.parametrize(
    ("kind", "actor", "fields", "refusal"),
    [
        (
            "customer_message",
            CUSTOMER,
            {"text": "x" * 3_000_000},
            "text: 3,000,000 characters, at most 50,000",
        ),
        (
            "resolve",
            MANAGEMENT,
            {"justified": True, "corrective_actions": ["fix"] * 30_000},
            "corrective_actions: 30,000 items, at most 100",
        ),
        (
            "resolve",
            MANAGEMENT,
            {"justified": True, "corrective_actions": ["y" * 6_000]},
            "corrective_actions[0]: 6,000 characters",
        ),
        (
            "extend",
            MANAGEMENT,
            {"clock": "final-response", "target": "999999 business days", "reason": "r"},
            'target: "999999 business days" is longer than 1,830 calendar days',
        ),
        ("escalate", CUSTOMER, {"reason": "r" * 5_001}, "reason: 5,001 characters, at most 5,000"),
        (
            "decide_approval",
            MANAGEMENT,
            {"proposal": 10**12, "approve": True},
            "proposal: 1000000000000 is out of range",
        ),
        (
            "propose_compensation",
            MANAGEMENT,
            {"remedy": "redress", "amount": Decimal("1000000000000")},
            "amount: 1000000000000 has more than 12 digits",
        ),
    ],
)
def test_an_input_out_of_bounds_is_refused_naming_the_field(
    kind: str, actor: Actor, fields: dict[str, Any], refusal: str
) -> None:
    """Observed: a 3 MB message, 30,000 corrective actions and a 999,999-day extension each
    stopped a case; now each is refused before anything is applied, and the case goes on."""
    core, t0 = case_of("financial-services", True)
    log_before = len(core.state.log)
    outcome = attempt(core, Event(kind=kind, actor=actor, **fields), t0 + 60)
    assert outcome.startswith("refused: ") and refusal in outcome
    assert len(core.state.log) == log_before
    assert (
        attempt(core, Event(kind="customer_message", actor=CUSTOMER, text="still here"), t0 + 120)
        == "recorded"
    )


def test_bounds_need_no_case_so_a_client_checks_them_first() -> None:
    with pytest.raises(Rejected, match="text: 60,000 characters"):
        bounds.check_event(Event(kind="agent_reply", actor=RETAIL_AGENT, text="z" * 60_000))
    bounds.check_event(Event(kind="agent_reply", actor=RETAIL_AGENT, text="z" * 50_000))


@pytest.fixture
def faulty_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A handler with a fault half-way: it changes the case, then raises."""

    def broken(case: Interpreter, event: Any, now: int) -> Any:
        case.state.stage = "half-done"
        case.log(now, "event:agent_reply", "stages", "half applied")
        raise KeyError("a fault of the core")

    monkeypatch.setitem(core_driver.HANDLERS, "agent_reply", core_driver.Handler(broken))
    yield


@pytest.mark.usefixtures("faulty_handler")
def test_an_input_the_core_cannot_apply_is_refused_and_changes_nothing() -> None:
    core, t0 = case_of("financial-services", True)
    stage, log = core.state.stage, len(core.state.log)
    outcome = attempt(core, Event(kind="agent_reply", actor=MANAGEMENT, text="hello"), t0 + 60)
    assert outcome == "refused: agent_reply could not be applied: KeyError: 'a fault of the core'"
    assert (core.state.stage, len(core.state.log)) == (stage, log)
    core.receive(Event(kind="agent_reply", actor=MANAGEMENT, text="hello"), t0 + 61)
    assert core.state.log[-1].action == "input refused"
    assert "could not be applied: KeyError" in core.state.log[-1].detail["reason"]
    assert core.state.stage == stage


@pytest.mark.usefixtures("faulty_handler")
def test_before_the_change_a_fault_of_the_core_failed_the_case() -> None:
    core, t0 = case_of("financial-services", False)
    with pytest.raises(KeyError):
        core.act(Event(kind="agent_reply", actor=MANAGEMENT, text="hello"), t0 + 60)


def test_an_input_that_needs_a_longer_calendar_asks_for_one_and_applies_nothing() -> None:
    core, t0 = case_of("financial-services", True)
    log = len(core.state.log)
    # a deadline 400 business days out: within the bounds, past the case calendar
    event = Event(
        kind="extend", actor=MANAGEMENT, clock="final-response", target="400 business days", reason="r"
    )
    with pytest.raises(NeedsLongerCalendar) as need:
        core.apply(event, t0 + 60)
    assert need.value.needed > core.instance.horizon_end()
    assert len(core.state.log) == log


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {
                "kind": "resolve",
                "actor": {"kind": "staff", "id": "dan", "level": "management"},
                "justified": "maybe",
            },
            "not an event: justified: Input should be a valid boolean",
        ),
        ({"kind": "teleport", "actor": {"kind": "customer"}}, "not an event"),
        ("just text", "not an event"),
        ({"kind": "close", "actor": {"kind": "alien"}}, "not an event: actor.kind"),
    ],
)
def test_a_signal_that_is_no_event_is_logged_as_refused(payload: Any, reason: str) -> None:
    """Observed: the SDK dropped such a signal unseen; now the decision log says what came."""
    core, t0 = case_of("financial-services", True)
    core.receive(payload, t0 + 60)
    last = core.state.log[-1]
    assert last.action == "input refused" and reason in last.detail["reason"]
    before, _ = case_of("financial-services", False)
    count = len(before.state.log)
    before.receive(payload, t0 + 60)
    assert len(before.state.log) == count  # before the change: nothing (the SDK dropped it)


@pytest.mark.parametrize("changed", [True, False])
def test_what_fell_due_while_nothing_could_act_is_handled_at_once_in_order(changed: bool) -> None:
    """Observed: every warning due while the server was down was dropped without a trace.  A
    case woken 40 days late (its worker or server down) handles all of it, in order."""
    core, t0 = case_of("financial-services", changed)
    core.tick(t0 + 40 * 86_400)
    handled = [e for e in core.state.log if e.trigger.startswith("deadline:")]
    skipped = [e for e in handled if e.action == "warning skipped"]
    breaches = [e for e in handled if e.action == "breached"]
    assert breaches and all(e.detail["due"] < e.at for e in breaches)
    if not changed:
        assert skipped == []  # dropped unseen
        return
    # the final response's two warnings (at 50% and 75%): its deadline passed before either went out
    assert [(e.detail["clock"], e.rule) for e in skipped] == [
        ("final-response", "clocks[1].warnings[0]"),
        ("final-response", "clocks[1].warnings[1]"),
    ]
    assert all(e.detail["fell_due"] < e.at and "had passed" in e.detail["reason"] for e in skipped)
    order = [
        e.detail.get("fell_due") or e.detail["due"]
        for e in handled
        if e.action in ("warning", "warning skipped", "breached")
    ]
    assert order == sorted(order), "handled out of the order it fell due"


def test_a_warning_handled_late_but_before_its_deadline_goes_out_with_both_instants() -> None:
    core, _t0 = case_of("financial-services", True)
    clock = core.state.clocks["final-response"]
    first_warning = clock.warnings_at[0]
    core.tick(first_warning + 3_600)  # an hour late, long before the deadline
    sent = [e for e in core.state.log if e.action == "warning" and e.detail.get("clock") == "final-response"]
    assert len(sent) == 1 and sent[0].detail["fell_due"] == iso(first_warning)
    assert sent[0].at == iso(first_warning + 3_600)
