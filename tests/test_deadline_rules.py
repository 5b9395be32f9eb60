"""Deadline rules of real regimes: the counting defects found by writing published regimes as
policies, each checked against dates worked out by hand in the test's comment."""

from __future__ import annotations

from pathlib import Path

from ombuds.engine.policy.model import Complaint
from ombuds.workflows.core import Event, Interpreter, iso, status_view

from .test_interpreter import core_for, run_until
from .workflow_support import SUPERVISOR, make_complaint, policy_variant, retail_complaint

DAY = 86_400

#: A calendar open around the clock on working days: "within 5 working days" ends at 24:00.
WORKDAYS = """calendar_selectors:"""
WORKDAYS_CALENDAR = """  workdays:
    timezone: Europe/London
    hours:
      mon: ["00:00-24:00"]
      tue: ["00:00-24:00"]
      wed: ["00:00-24:00"]
      thu: ["00:00-24:00"]
      fri: ["00:00-24:00"]
    holidays:
      - country: GB
        subdivision: ENG

calendar_selectors:"""


def _started(complaint: Complaint, policies: list, policy: str = "financial-services") -> Interpreter:  # type: ignore[type-arg]
    core = core_for(policy, complaint, policies)
    core.start(int(complaint.received_at.timestamp()))
    return core


def _utc(text: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(text).timestamp())


# ---------------------------------------------------------------------- 1. event, then message


def test_the_acknowledgement_tells_the_deadline_the_acknowledgement_starts(tmp_path: Path) -> None:
    """The final response counts from the acknowledgement, which goes out at intake: the
    acknowledgement names its date (observed: an empty date, the message went first)."""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "      P1: 5 business days\n    starts: submitted",
                "      P1: 5 business days\n    starts: acknowledged",
            )
        ],
    )
    core = _started(make_complaint(), policies)
    ack = next(s for s in core.take_sends() if s.template == "acknowledgement")
    # received Mon 1 Mar 2027 10:00 GMT, acknowledged then: 15 business days are 2-5, 8-12,
    # 15-19 and 22 March (days 1-15); close of business 17:30 GMT on Mon 22 March
    told = ack.context["deadlines"]["final-response"]
    assert told["at"] == "2027-03-22T17:30:00Z"


def test_a_stage_notice_tells_the_deadline_the_stage_starts(tmp_path: Path) -> None:
    """Retail's resolution clock counted from the investigation stage: the stage's notice names it."""
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "    target: 10 days\n    starts: submitted",
                "    target: 10 days\n    starts: stage:investigation",
            )
        ],
    )
    complaint = retail_complaint()
    core = _started(complaint, policies, "retail")
    core.take_sends()
    t0 = int(complaint.received_at.timestamp())
    core.apply(Event(kind="enter_stage", actor=SUPERVISOR, stage="investigation"), t0 + 3600)
    notice = next(s for s in core.take_sends() if s.template == "investigating")
    assert "resolution" in notice.context["deadlines"]


# ---------------------------------------------------------------------- 2. the end of a day


def _workdays_variant(tmp_path: Path) -> list:  # type: ignore[type-arg]
    extra_clock = """  - id: delay-notice
    kind: delay_notice"""
    return policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (WORKDAYS, WORKDAYS_CALENDAR),
            (
                extra_clock,
                """  - id: working-days
    kind: custom
    title: Answer within 5 working days
    target: 5 business days
    calendar: workdays
    stops: [resolved]
"""
                + extra_clock,
            ),
            (
                "dates:\n",
                "dates:\n  - id: reply-by\n    title: Reply by\n    offset: 5 business days\n"
                "    calendar: workdays\n",
            ),
        ],
    )


def test_the_end_of_a_working_day_is_told_as_that_day(tmp_path: Path) -> None:
    """Received Fri 18 Dec 2026 10:00 GMT; working days are Monday to Friday, 00:00-24:00, English
    holidays: 21 (1), 22 (2), 23 (3), 24 (4) December, then 25 (Christmas) and 28 (Boxing Day
    substitute) are holidays, so 29 December is the 5th; its work ends at 24:00, the instant
    2026-12-30T00:00Z.  Observed: told and shown as 30 December."""
    policies = _workdays_variant(tmp_path)
    complaint = make_complaint(received_at="2026-12-18T10:00:00+00:00")
    core = _started(complaint, policies)
    cs = core.state.clocks["working-days"]
    assert cs.due == _utc("2026-12-30T00:00:00+00:00")  # the instant itself is right
    view = status_view(core, int(complaint.received_at.timestamp()))
    shown = next(c for c in view.clocks if c.id == "working-days")
    assert shown.due_local == "2026-12-29 end of day (Europe/London)"
    assert view.dates["reply-by"] == "2026-12-29"


# ---------------------------------------------------------------------- 3. long legal periods


def test_a_date_years_after_a_late_event_is_computed_not_dropped(tmp_path: Path) -> None:
    """Records kept 6 years after the final response, which comes 2 years after receipt:
    received Mon 1 Mar 2027, final response Wed 1 Mar 2029 12:00 GMT; 6 years later is
    Thu 1 Mar 2035, to the end of that day.  Observed: the date disappears (past the horizon)."""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "dates:\n",
                "dates:\n  - id: records-kept\n    title: Records kept until\n    from: final_response\n"
                "    offset: 6 years\n    calendar: regional\n",
            )
        ],
    )
    complaint = make_complaint()
    core = _started(complaint, policies)
    later = _utc("2029-03-01T12:00:00+00:00")
    core.state.events["final_response"] = later
    assert core.state.events["final_response"] == later
    import datetime as dt

    from ombuds.workflows.core import dates

    assert dates.derived(core)["records-kept"] == "2035-03-01"
    assert dt.date(2035, 3, 1).weekday() == 3


# ---------------------------------------------------------------------- 4. repeating clocks


def test_a_repeating_business_day_clock_does_not_drift() -> None:
    """Financial's progress update, every 10 business days, received Mon 1 Mar 2027 10:00 GMT
    (England): days 2-5, 8-12 and 15 March → Mon 15 Mar 17:30 GMT.  The next period continues
    from that close: 16-19, 22-25 March (8 days), Good Friday 26 March and Easter Monday
    29 March are holidays, 30 (9), 31 (10) → Wed 31 Mar 17:30 BST (16:30Z; the clocks went
    forward on 28 March).  Observed: 1 April (the restart counted as an out-of-hours receipt)."""
    complaint = make_complaint()
    core = _started(complaint, [])  # type: ignore[arg-type]
    cs = core.state.clocks["progress-update"]
    assert iso(cs.due or 0) == "2027-03-15T17:30:00Z"
    run_until(core, _utc("2027-03-16T00:00:00+00:00"))
    assert iso(cs.due or 0) == "2027-03-31T16:30:00Z"


def test_a_clock_started_by_a_breach_counts_on_from_the_deadline(tmp_path: Path) -> None:
    """The final response (15 business days from Mon 1 Mar 2027) is due Mon 22 Mar 17:30 GMT;
    a 2-business-day clock started by its breach continues from that close: Tue 23 (1),
    Wed 24 (2) → Wed 24 Mar 17:30 GMT.  Observed: Thu 25 (the breach counted as a receipt
    out of hours, and its next opening as an excluded receipt day)."""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "  - id: delay-notice\n",
                "  - id: after-breach\n    kind: custom\n    title: Remedy the breach\n"
                "    target: 2 business days\n    calendar: regional\n"
                "    starts: clock:final-response:breached\n    stops: [resolved]\n"
                "  - id: delay-notice\n",
            )
        ],
    )
    core = _started(make_complaint(), policies)
    run_until(core, _utc("2027-03-23T09:00:00+00:00"))
    assert core.state.clocks["final-response"].status == "breached"
    assert iso(core.state.clocks["after-breach"].due or 0) == "2027-03-24T17:30:00Z"


# ---------------------------------------------------------------------- 4b. calendar periods


def test_six_months_from_a_final_response_on_christmas_eve_evening_is_24_june() -> None:
    """A final response sent Thu 24 Dec 2026 at 18:07 (the firm is closed that day): six
    months later is 24 June 2027.  Observed: 29 June (counted from the next opening,
    Tue 29 Dec, after the closed day and the two bank holidays)."""
    complaint = make_complaint(received_at="2026-12-01T10:00:00+00:00")
    core = _started(complaint, [])  # type: ignore[arg-type]
    core.apply(
        Event(kind="resolve", actor=SUPERVISOR, justified=False, final_response=True, text="We checked."),
        _utc("2026-12-24T18:07:00+00:00"),
    )
    from ombuds.workflows.core import dates

    assert dates.derived(core)["ombudsman-referral"] == "2027-06-24"


# ---------------------------------------------------------------------- 5. dates the complaint gives

STATEMENT_WINDOW = [
    (
        "dates:\n",
        "dates:\n  - id: complaint-window\n    title: Complaints about a statement accepted until\n"
        "    from: complaint.custom.statement_date\n    offset: 60 days\n    calendar: regional\n",
    ),
    (
        "      template: refusal-abusive\n",
        "      template: refusal-abusive\n    - id: out_of_time\n      reason: out_of_time\n"
        '      when: dates["complaint-window"].passed_at_receipt\n      template: refusal-incomplete\n',
    ),
    (
        "  - id: delay-notice\n",
        "  - id: claim-limit\n    kind: custom\n    title: A claim may be brought within 2 years of the incident\n"
        "    target: 2 years\n    calendar: regional\n    starts: complaint.incident_date\n"
        "    stops: [resolved]\n  - id: delay-notice\n",
    ),
]


def test_a_date_counts_from_a_date_the_complaint_gives(tmp_path: Path) -> None:
    """Statement sent Fri 1 Jan 2027: 60 days later is 2 March 2027 (31 January days to 1 Feb,
    28 more to 1 March, 1 more to 2 March), to the end of that day.  The complaint, received
    Mon 1 Mar 2027, is inside the window (one day left); the customer is told the date.  The
    incident (15 Feb 2026) starts a 2-year clock: due at the end of 15 Feb 2028."""
    policies = policy_variant(tmp_path, "financial-services.yaml", STATEMENT_WINDOW)
    complaint = make_complaint(custom={"statement_date": "2027-01-01"}, incident_date="2026-02-15")
    core = _started(complaint, policies)
    from ombuds.workflows.core import dates

    assert core.state.status == "open"
    assert dates.derived(core)["complaint-window"] == "2027-03-02"
    assert core.date_values()["complaint-window"] == {
        "day": "2027-03-02",
        "passed_at_receipt": False,
        "days_from_receipt": 1,
    }
    cs = core.state.clocks["claim-limit"]
    assert cs.status == "running"
    assert iso(cs.due or 0) == "2028-02-15T23:59:59Z"


def test_intake_refuses_a_complaint_outside_a_window_the_complaint_date_starts(tmp_path: Path) -> None:
    """Statement sent 15 Dec 2026: the window ended on 13 Feb 2027 (16 days to 31 Dec, 31 in
    January, 13 in February = 60), before the complaint came on 1 Mar 2027: refused, with the
    policy's reason."""
    policies = policy_variant(tmp_path, "financial-services.yaml", STATEMENT_WINDOW)
    core = _started(make_complaint(custom={"statement_date": "2026-12-15"}), policies)
    assert core.state.status == "refused"
    refused = next(e for e in core.state.log if e.action == "refused")
    assert refused.detail["reason"] == "out_of_time"
    assert core.date_values()["complaint-window"]["days_from_receipt"] == -16


def test_without_the_date_nothing_is_counted_and_nothing_refused(tmp_path: Path) -> None:
    policies = policy_variant(tmp_path, "financial-services.yaml", STATEMENT_WINDOW)
    core = _started(make_complaint(), policies)
    from ombuds.workflows.core import dates

    assert core.state.status == "open"
    assert "complaint-window" not in dates.derived(core)
    assert core.state.clocks["claim-limit"].status == "waiting"


def test_a_period_from_a_complaint_date_in_business_days_is_refused_at_its_line(tmp_path: Path) -> None:
    from ombuds.engine.intake import load_policies

    from .workflow_support import ROOT

    text = (ROOT / "policies" / "financial-services.yaml").read_text("utf-8")
    text = text.replace(
        "dates:\n",
        "dates:\n  - id: window\n    title: W\n    from: complaint.incident_date\n    offset: 10 business days\n"
        "  - id: other\n    title: O\n    offset: 1 day\n",
        1,
    ).replace("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/")
    text = text.replace(
        "      template: refusal-abusive\n",
        '      template: refusal-abusive\n    - id: late\n      reason: late\n      when: dates["windw"].passed_at_receipt\n'
        '    - id: later\n      reason: later\n      when: dates["other"].passed\n',
    )
    (tmp_path / "fs.yaml").write_text(text, "utf-8")
    _, report = load_policies(tmp_path)
    messages = [(p.path, p.message, p.hint) for p in report.problems if p.severity == "error"]
    assert any(
        path == "dates[0].offset" and "from complaint.incident_date" in message
        for path, message, _ in messages
    ), messages
    assert any(
        'unknown date "windw"' in message and "window" in (hint or "") for _, message, hint in messages
    )
    assert any('unknown field "passed" of a date' in message for _, message, _ in messages)
