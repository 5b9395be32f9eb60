"""Clock anchors: a clock that starts and stops on stage events, and resumes or restarts on reopen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from .workflow_support import (
    CUSTOMER,
    SUPERVISOR,
    make_complaint,
    policy_variant,
    running_case,
    time_skipping,
)

pytestmark = pytest.mark.workflow
DAY = dt.timedelta(days=1)

INVESTIGATION_CLOCK = """  - id: investigation
    kind: custom
    title: Investigation
    calendar: regional
    target: 3 business days
    starts: stage:investigation
    stops: [stage:resolution]
    on_reopen: resume
dates:"""


def clock(view, name):  # type: ignore[no-untyped-def]
    return next(c for c in view.clocks if c.id == name)


async def test_stage_anchored_clock_starts_stops_and_resumes_on_reopen(tmp_path: Path) -> None:
    policies = policy_variant(tmp_path / "p", "financial-services.yaml", [("dates:", INVESTIGATION_CLOCK)])
    async with time_skipping() as env, running_case(env, tmp_path / "home", policies) as case:
        await case.submit(make_complaint())  # Mon 1 Mar 2027 10:00, England
        assert clock(await case.status(), "investigation").status == "waiting"
        await case.skip(DAY)  # Tue 2 Mar 10:00
        await case.act("enter_stage", SUPERVISOR, stage="investigation")
        running = clock(await case.status(), "investigation")
        # started Tue 2 Mar 10:00: day 3 after it is Fri 5 Mar, close 17:30
        assert (running.status, running.due) == ("running", "2027-03-05T17:30:00Z")
        await case.skip(DAY)  # Wed 3 Mar 10:00: 8.5 h used
        await case.act("enter_stage", SUPERVISOR, stage="resolution")
        assert clock(await case.status(), "investigation").status == "stopped"
        await case.act("resolve", SUPERVISOR, justified=True)
        await case.skip(DAY)  # Thu 4 Mar 10:00
        await case.act("reopen", CUSTOMER)
        view = await case.status()
        resumed = clock(view, "investigation")
        # the clock spanned 33 working hours (Tue 10:00 to Fri 17:30) and 8.5 were used by Wed 10:00;
        # the 24.5 left run from Thu 10:00: Thu 7.5, Fri 8.5, Mon 8.5 → Mon 8 Mar 17:30
        assert (resumed.status, resumed.due) == ("running", "2027-03-08T17:30:00Z")
        restarted = clock(view, "final-response")
        # final response restarts on reopen: 15 working days after Thu 4 Mar → Thu 25 Mar 17:30
        assert (restarted.status, restarted.due) == ("running", "2027-03-25T17:30:00Z")
        log = await case.log()
        assert any(e.action == "clock resumed" and e.rule == "clocks[5].on_reopen" for e in log)
