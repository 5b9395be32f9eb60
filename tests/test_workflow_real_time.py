"""Case time is real time (change id ``cases-keep-moving``): a complaint entered late counts from
its receipt, what fell due before it was entered or while no worker ran is handled at once and
in order, and a receipt in the future is refused.  On the time-skipping server, whose clock is
the real one until a test skips it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ombuds.engine.intake import IntakeError
from ombuds.engine.policy.compile import instantiate
from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.rules import clock_calendar
from ombuds.workflows.core import LogEntry, iso

from .workflow_support import ROOT, Case, make_complaint, running_case, shipped_policies, time_skipping

DAY = dt.timedelta(days=1)


def financial_due(received: dt.datetime, clock_id: str) -> int:
    """When a financial-services clock that starts at receipt falls due, by the policy's calendar."""
    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    complaint = make_complaint(received_at=received.isoformat())
    instance = instantiate(policy, received, complaint)
    clock = next(c for c in policy.policy.clocks if c.id == clock_id)
    calendar = instance.calendar(clock_calendar(policy.policy, clock))
    return calendar.due(int(received.timestamp()), parse_duration(clock.target))


async def submit_real(case: Case, complaint_id: str, received: dt.datetime) -> None:
    """Submitted on the real clock (not simulated), as ``ombuds submit`` does."""
    complaint = make_complaint(id=complaint_id, received_at=received.isoformat())
    _complaint, _policy, workflow_input = case.intake.prepare(complaint, search_attributes=False)
    assert not workflow_input.simulated
    case.handle = await case.client.start_workflow(
        "Complaint", workflow_input, id=complaint_id, task_queue=case.settings.task_queue
    )
    case.complaint_id = complaint_id
    await case.wait_for(lambda view: view.stage != "")


def entries(log: list[LogEntry], action: str, clock: str) -> list[LogEntry]:
    return [e for e in log if e.action == action and e.detail.get("clock") == clock]


async def test_a_complaint_entered_late_counts_from_its_receipt(tmp_path: Path) -> None:
    """Observed: received 25 days before it was entered, it ran its timers as if received at
    entry: breaches fired weeks late while the customer was told the true dates."""
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        entered = (await env.get_current_time()).replace(microsecond=0)
        received = entered - 25 * DAY
        await submit_real(case, "LATE-1", received)
        await case.log_entry("breached")
        log = await case.log()
    due = financial_due(received, "final-response")
    started = entries(log, "clock started", "final-response")[0]
    assert started.detail["due"] == iso(due)  # from receipt, not from entry
    breached = entries(log, "breached", "final-response")[0]
    assert breached.detail["due"] == iso(due)
    handled = dt.datetime.fromisoformat(breached.at.replace("Z", "+00:00"))
    assert handled >= entered  # handled when entered, logged with the instant it fell due
    skipped = entries(log, "warning skipped", "final-response")
    assert len(skipped) == 2 and all("fell_due" in e.detail for e in skipped)
    registered = next(e for e in log if e.action == "registered")
    assert dt.datetime.fromisoformat(registered.at.replace("Z", "+00:00")) >= entered
    # the acknowledgement was due before the complaint was entered: breached, then sent
    actions = [(e.action, e.detail.get("clock")) for e in log]
    assert actions.index(("breached", "acknowledge")) < actions.index(("acknowledgement sent", None))
    notice = entries(log, "customer notified", "progress-update")[0]
    assert notice.detail["fell_due"] == iso(financial_due(received, "progress-update"))


def test_a_receipt_in_the_future_is_refused_unless_simulated(tmp_path: Path) -> None:
    from ombuds.engine.intake import Intake
    from ombuds.engine.settings import Settings

    intake = Intake(Settings(home=tmp_path, policies=ROOT / "policies"), shipped_policies())
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    complaint = make_complaint(received_at=ahead.isoformat())
    with pytest.raises(IntakeError, match=r"is in the future \(2 hours ahead of this machine's clock"):
        intake.prepare(complaint)
    _complaint, _policy, workflow_input = intake.prepare(complaint, simulated=True)
    assert workflow_input.simulated
    skewed = make_complaint(received_at=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat())
    assert not intake.prepare(skewed)[2].simulated  # a clock a little ahead is allowed


def test_status_shows_time_left_as_of_the_moment_it_is_asked() -> None:
    """Observed: `ombuds status` showed the time left as of the case's last event (the query
    runs at the last workflow task's time), however long ago that was."""
    from ombuds.workflows.core import Interpreter, status_view
    from ombuds.workflows.core.status import as_of

    policy = next(p for p in shipped_policies() if p.id == "financial-services")
    complaint = make_complaint()
    instance = instantiate(policy, complaint.received_at, complaint)
    core = Interpreter(policy, instance, complaint, "NOW-1")
    t0 = int(complaint.received_at.timestamp())
    core.start(t0)
    asked = t0 + 2 * 86_400 + 3_600
    last_task = status_view(core, t0, real_time=True)
    shown = {c.id: c.remaining for c in as_of(last_task, policy.policy, instance, asked).clocks}
    then = {c.id: c.remaining for c in status_view(core, asked).clocks}
    assert shown["final-response"] == then["final-response"] != last_task.clocks[1].remaining
    simulated = status_view(core, t0)
    assert as_of(simulated, policy.policy, instance, asked) == simulated  # its own clock


def test_list_says_how_far_off_the_next_deadline_is() -> None:
    from ombuds.engine.staff_cli import next_deadline

    now = dt.datetime(2027, 1, 18, 9, 0, tzinfo=dt.UTC)
    assert (
        next_deadline(dt.datetime(2027, 1, 21, 13, 30, tzinfo=dt.UTC), now) == "2027-01-21T13:30Z (in 3d 4h)"
    )
    assert (
        next_deadline(dt.datetime(2027, 1, 18, 7, 45, tzinfo=dt.UTC), now)
        == "2027-01-18T07:45Z (1h 15m overdue)"
    )
    assert next_deadline(None, now) == "-"
