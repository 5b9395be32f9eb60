"""Deadline rules of real regimes: the counting defects found by writing published regimes as
policies, each checked against dates worked out by hand in the test's comment."""

from __future__ import annotations

from pathlib import Path

from ombuds.engine.policy.model import Complaint
from ombuds.workflows.core import Actor, Event, Interpreter, iso, status_view

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


def _errors(folder: Path, policy: str, edits: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
    """The errors ``ombuds validate`` reports for a shipped policy with ``edits``: (path, message,
    hint), each at its line."""
    from ombuds.engine.intake import load_policies

    from .workflow_support import ROOT

    text = (ROOT / "policies" / policy).read_text("utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / policy).write_text(
        text.replace("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/"), "utf-8"
    )
    _, report = load_policies(folder)
    return {(p.path, p.message, p.hint or "") for p in report.problems if p.severity == "error"}


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
    return policy_variant(tmp_path, "financial-services.yaml", _workdays_edits())


def _workdays_edits() -> list[tuple[str, str]]:
    extra_clock = """  - id: delay-notice
    kind: delay_notice"""
    return [
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
    ]


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
    # the `deadlines` a message reads: the end of 29 December, in the reader's words
    from ombuds.engine.policy.messages import localise
    from ombuds.workflows.core.notifications import typed_values

    told = localise(typed_values(core, frozenset({"deadlines"})), core.policy, "en", to="staff")
    assert str(told["deadlines"]["working-days"]) == "Tuesday, 29 December 2026"


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
    import pytest

    from ombuds.engine.policy.business_time import HorizonExceeded
    from ombuds.engine.policy.compile import extended
    from ombuds.workflows.core import dates

    complaint = make_complaint()
    core = _started(complaint, policies)
    later = _utc("2029-03-01T12:00:00+00:00")
    core.state.events["final_response"] = later  # two years on: past the case calendar
    with pytest.raises(HorizonExceeded):  # the case asks for a longer calendar, as for a clock
        dates.derived(core)
    assert "records-kept" not in status_view(core, later).dates  # a view leaves it out meanwhile
    core.instance = extended(core.compiled, core.instance, later)
    assert dates.derived(core)["records-kept"] == "2035-03-01"


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
    found = _errors(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "dates:\n",
                "dates:\n  - id: window\n    title: W\n    from: complaint.incident_date\n    offset: 10 business days\n"
                "  - id: other\n    title: O\n    offset: 1 day\n",
            ),
            (
                "      template: refusal-abusive\n",
                '      template: refusal-abusive\n    - id: late\n      reason: other\n      when: dates["windw"].passed_at_receipt\n'
                '    - id: later\n      reason: other\n      when: dates["other"].passed\n',
            ),
        ],
    )
    assert any(path == "dates[0].offset" and "from complaint.incident_date" in m for path, m, _ in found), (
        found
    )
    assert any('unknown date "windw"' in m and "window" in hint for _, m, hint in found), found
    assert any('unknown field "passed" of a date' in m for _, m, _ in found), found


# ---------------------------------------------------------------------- 6. later-of, earlier-of, fixed

LATER_OF = [
    (
        "dates:\n",
        "dates:\n  - id: fos-limit\n    title: Refer to the ombudsman until\n    later_of:\n"
        "      - {from: final_response, offset: 6 months}\n"
        "      - {from: complaint.incident_date, offset: 12 months}\n    calendar: regional\n",
    )
]


def _resolve(core: Interpreter, at: str) -> None:
    core.apply(
        Event(kind="resolve", actor=SUPERVISOR, justified=False, final_response=True, text="We checked."),
        _utc(at),
    )


def test_the_later_of_six_months_after_the_answer_and_twelve_after_the_event(tmp_path: Path) -> None:
    """Incident 1 Oct 2026, final response Wed 10 Mar 2027: 6 months after the answer is
    10 Sep 2027, 12 months after the incident 1 Oct 2027; the later is 1 Oct 2027.  Before the
    answer the date is not known (one of its dates is not)."""
    policies = policy_variant(tmp_path, "financial-services.yaml", LATER_OF)
    core = _started(make_complaint(incident_date="2026-10-01"), policies)
    from ombuds.workflows.core import dates

    assert "fos-limit" not in dates.derived(core)
    _resolve(core, "2027-03-10T12:00:00+00:00")
    assert dates.derived(core)["fos-limit"] == "2027-10-01"


def test_the_later_of_when_the_answer_comes_last(tmp_path: Path) -> None:
    """Incident 5 Jan 2026: 12 months later is 5 Jan 2027, before 10 Sep 2027 (6 months after
    the answer of 10 Mar 2027): the later is 10 Sep 2027."""
    policies = policy_variant(tmp_path, "financial-services.yaml", LATER_OF)
    core = _started(make_complaint(incident_date="2026-01-05"), policies)
    _resolve(core, "2027-03-10T12:00:00+00:00")
    from ombuds.workflows.core import dates

    assert dates.derived(core)["fos-limit"] == "2027-09-10"


RETURNS = [
    (
        "dates:\n",
        "dates:\n  - id: return-by\n    title: Return it by\n    later_of:\n      - {on: 2027-01-14}\n"
        "      - {from: complaint.custom.purchase_date, offset: 15 days}\n    calendar: stores\n"
        "  - id: season-end\n    title: End of the season\n    on: 2027-02-26\n    calendar: stores\n",
    ),
    (
        "    target: 10 days\n    starts: submitted",
        "    target: 10 days\n    at_latest: season-end\n    starts: submitted",
    ),
]


def test_a_fixed_date_or_fifteen_days_after_purchase_whichever_is_later(tmp_path: Path) -> None:
    """Bought 20 Dec 2026: 15 days later is 4 Jan 2027, before 14 January: return by 14 January.
    Bought 10 Jan 2027: 25 January, the later.  The resolution (10 days from Tue 23 Feb 2027 =
    5 March) is due by the end of the season, Fri 26 Feb 2027, at the latest."""
    policies = policy_variant(tmp_path, "retail.yaml", RETURNS)
    from ombuds.workflows.core import dates

    early = _started(retail_complaint(custom={"purchase_date": "2026-12-20"}), policies, "retail")
    assert dates.derived(early)["return-by"] == "2027-01-14"
    late = _started(retail_complaint(custom={"purchase_date": "2027-01-10"}), policies, "retail")
    assert dates.derived(late)["return-by"] == "2027-01-25"
    cs = late.state.clocks["resolution"]
    assert iso(cs.due or 0) == "2027-02-26T22:59:59Z"  # 23:59:59 in Berlin (UTC+1)
    started = next(
        e for e in late.state.log if e.action == "clock started" and e.detail["clock"] == "resolution"
    )
    assert started.detail["by_date"] == "season-end"


def test_a_date_needs_one_form_and_a_clock_a_known_date(tmp_path: Path) -> None:
    found = _errors(
        tmp_path,
        "retail.yaml",
        [
            (
                "dates:\n",
                "dates:\n  - id: both\n    title: B\n    offset: 1 day\n    on: 2027-01-01\n"
                "  - id: lonely\n    title: L\n    later_of:\n      - {on: 2027-01-01}\n",
            ),
            (
                "    target: 10 days\n    starts: submitted",
                "    target: 10 days\n    at_latest: seasonend\n    starts: submitted",
            ),
        ],
    )
    assert any(path == "dates[0]" and "exactly one of `offset`" in m for path, m, _ in found), found
    assert any(path == "dates[1].later_of" and "two or more" in m for path, m, _ in found), found
    assert any(path == "clocks[2].at_latest" and 'unknown date "seasonend"' in m for path, m, _ in found), (
        found
    )


def test_an_extension_to_the_date_the_holding_reply_names(tmp_path: Path) -> None:
    """The final response of a complaint of Mon 1 Mar 2027 is due Mon 22 Mar 17:30 GMT.  Staff
    extend it to Thu 1 Apr 2027: due at its close, 17:30 BST (16:30Z), inside the cap of 35
    business days (Thu 22 Apr).  Sat 3 Apr is no working day: refused."""
    core = _started(make_complaint(), [])  # type: ignore[arg-type]
    t0 = _utc("2027-03-01T10:00:00+00:00")
    weekend = core.apply(
        Event(
            kind="extend",
            actor=SUPERVISOR,
            clock="final-response",
            until="2027-04-03",
            reason="We wait for the bank.",
        ),
        t0 + 3 * DAY,
    )
    assert weekend.status == "rejected" and "not a working day" in weekend.reason
    done = core.apply(
        Event(
            kind="extend",
            actor=SUPERVISOR,
            clock="final-response",
            until="2027-04-01",
            reason="We wait for the bank.",
        ),
        t0 + 3 * DAY,
    )
    assert done.status == "extended", done.reason
    assert iso(core.state.clocks["final-response"].due or 0) == "2027-04-01T16:30:00Z"


def test_an_extension_without_a_cap_where_the_rule_has_none(tmp_path: Path) -> None:
    """60 business days from Mon 1 Mar 2027 is past the shipped cap of 35; without `max_total`
    it is granted.  Days: March 2-5, 8-12, 15-19, 22-25, 30-31 (Good Friday 26 and Easter
    Monday 29 are holidays) = 20; April 1, 2, 5-9, 12-16, 19-23, 26-30 = 22 (42); May 4-7 (3 May
    is a bank holiday), 10-14, 17-21, 24-28 (31 May is a holiday) = 19 (61): day 60 is Thu 27 May."""
    capped = _started(make_complaint(), [])  # type: ignore[arg-type]
    t0 = _utc("2027-03-01T10:00:00+00:00")
    event = Event(
        kind="extend", actor=SUPERVISOR, clock="final-response", target="60 business days", reason="Bank."
    )
    assert capped.apply(event, t0 + DAY).status == "rejected"
    policies = policy_variant(
        tmp_path, "financial-services.yaml", [("      max_total: 35 business days\n", "")]
    )
    free = _started(make_complaint(), policies)
    done = free.apply(event, t0 + DAY)
    assert done.status == "extended", done.reason
    assert iso(free.state.clocks["final-response"].due or 0) == "2027-05-27T16:30:00Z"


# ---------------------------------------------------------------------- 8. clock state and due actions

SILENCE = [
    (
        "  - id: delay-notice\n",
        "  - id: customer-silence\n    kind: custom\n    title: The customer answers within 8 weeks\n"
        "    target: 8 weeks\n    calendar: regional\n    starts: information_requested\n"
        "    stops: [information_received, customer_reply, resolved, withdrawn]\n"
        "    when_due: {action: close, notify: closed}\n"
        "  - id: delay-notice\n",
    )
]


def test_a_customer_who_does_not_answer_within_8_weeks_has_the_case_closed(tmp_path: Path) -> None:
    """Staff ask on Tue 2 Mar 2027 at 10:00 GMT; 8 weeks (56 days) later is Tue 27 Apr 2027, to
    the end of that day: 23:59:59 BST, 22:59:59Z.  Nothing comes: on 28 April the case closes and
    the customer is sent the policy's message.  The clock fell due: neither met nor breached."""
    policies = policy_variant(tmp_path, "financial-services.yaml", SILENCE)
    core = _started(make_complaint(), policies)
    core.apply(
        Event(kind="request_information", actor=SUPERVISOR, question="Please send the statement."),
        _utc("2027-03-02T10:00:00+00:00"),
    )
    cs = core.state.clocks["customer-silence"]
    assert iso(cs.due or 0) == "2027-04-27T22:59:59Z"
    run_until(core, _utc("2027-04-27T22:59:59+00:00"))
    assert core.state.status == "open"
    core.take_sends()  # the progress updates meanwhile
    run_until(core, _utc("2027-04-28T09:00:00+00:00"))
    assert core.state.status == "closed"
    fell = next(e for e in core.state.log if e.action == "clock fell due")
    assert fell.detail == {"clock": "customer-silence", "then": "close"}
    assert cs.status == "stopped" and cs.met is False
    # one letter: the clock's own, not the closed stage's as well
    assert [s.template for s in core.take_sends() if s.to == "customer"] == ["closed"]


def test_an_answer_stops_the_wait_and_a_new_question_starts_it_again(tmp_path: Path) -> None:
    policies = policy_variant(tmp_path, "financial-services.yaml", SILENCE)
    core = _started(make_complaint(), policies)
    ask = Event(kind="request_information", actor=SUPERVISOR, question="Please send the statement.")
    core.apply(ask, _utc("2027-03-02T10:00:00+00:00"))
    core.apply(
        Event(kind="customer_message", actor=Actor(kind="customer"), text="Here it is.", information=True),
        _utc("2027-03-03T10:00:00+00:00"),
    )
    cs = core.state.clocks["customer-silence"]
    assert cs.status == "stopped" and cs.met is True
    core.apply(ask, _utc("2027-03-10T10:00:00+00:00"))  # 10 Mar + 56 days = 5 May
    assert cs.status == "running" and iso(cs.due or 0) == "2027-05-05T22:59:59Z"


def test_conditions_read_a_clocks_state(tmp_path: Path) -> None:
    """The final response of a complaint of Mon 1 Mar 2027 breaches after Mon 22 Mar 17:30 GMT.
    (A policy whose conditions read `clocks`: one escalates on the final response's breach.)"""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "trigger: {on: repeat_complaint, when: case.previous_complaints >= 2}",
                "trigger: {on: repeat_complaint, when: 'case.previous_complaints >= 2 || clocks[\"final-response\"].breached'}",
            )
        ],
    )
    core = _started(make_complaint(), policies)
    assert core.plan.roots == {"clocks"}
    breached = 'clocks["final-response"].breached'
    assert core.when(
        'clocks["final-response"].running && clocks["final-response"].due == "2027-03-22T17:30:00Z"'
    )
    assert not core.when(breached)
    run_until(core, _utc("2027-03-23T09:00:00+00:00"))
    assert core.when(breached) and not core.when('clocks["final-response"].met')


def test_a_clock_moves_the_case_to_a_stage_when_due(tmp_path: Path) -> None:
    """Retail: the customer has 14 days from the resolution stage (entered Tue 23 Feb 2027
    11:12 Berlin) to choose; on 9 March (23 Feb + 14), at the end of the day, the case moves on
    to the closed stage."""
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "  - id: delay-notice\n",
                "  - id: choice\n    kind: custom\n    title: Choose within 14 days\n    calendar: stores\n"
                "    target: 14 days\n    starts: stage:resolution\n    stops: [resolved]\n"
                "    when_due: {action: enter_stage, stage: closed}\n  - id: delay-notice\n",
            )
        ],
    )
    complaint = retail_complaint()
    core = _started(complaint, policies, "retail")
    core.apply(
        Event(kind="enter_stage", actor=SUPERVISOR, stage="resolution"), _utc("2027-02-23T11:12:00+01:00")
    )
    assert iso(core.state.clocks["choice"].due or 0) == "2027-03-09T22:59:59Z"
    run_until(core, _utc("2027-03-10T08:00:00+01:00"))
    assert core.state.stage == "closed"


def test_when_due_and_clock_references_are_checked_at_their_lines(tmp_path: Path) -> None:
    found = _errors(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "  - id: delay-notice\n",
                "  - id: silence\n    kind: custom\n    target: 8 weeks\n    starts: information_requested\n"
                "    when_due: {action: enter_stage, stage: clsoed}\n  - id: delay-notice\n",
            ),
            (
                "      template: refusal-abusive\n",
                '      template: refusal-abusive\n    - id: late\n      reason: other\n      when: clocks["final-respons"].breached\n'
                '    - id: later\n      reason: other\n      when: clocks["final-response"].late\n',
            ),
        ],
    )
    assert any(path.endswith("when_due.stage") and 'unknown stage "clsoed"' in m for path, m, _ in found), (
        found
    )
    assert any('unknown clock "final-respons"' in m and "final-response" in hint for _, m, hint in found), (
        found
    )
    assert any('unknown field "late" of a clock' in m for _, m, _ in found), found


# ---------------------------------------------------------------------- 10. separation of duties

REVIEW = [
    (
        "  - id: escalated\n",
        "  - id: review\n    title: {en: Review, de: Überprüfung}\n    decided_apart_from: [investigation]\n"
        "  - id: escalated\n",
    )
]


def test_a_review_is_decided_by_someone_other_than_who_decided_the_first_stage(tmp_path: Path) -> None:
    """Alice finds in the investigation; the review is someone else's to decide: alice is refused
    whatever level she acts at, bob may resolve it."""
    from ombuds.workflows.core import Rejected

    policies = policy_variant(tmp_path, "financial-services.yaml", REVIEW)
    core = _started(make_complaint(), policies)
    t = _utc("2027-03-02T10:00:00+00:00")
    alice = Actor(kind="staff", id="alice", level="agent")
    core.apply(Event(kind="enter_stage", actor=alice, stage="investigation"), t)
    core.apply(Event(kind="finding", actor=alice, justified=False, root_cause="fee rule"), t + 60)
    core.apply(Event(kind="enter_stage", actor=alice, stage="review"), t + 120)
    for as_level in ("agent", "supervisor"):
        try:
            core.apply(
                Event(kind="resolve", actor=Actor(kind="staff", id="alice", level=as_level), text="Upheld."),
                t + 180,
            )
        except Rejected as exc:
            assert 'alice decided in stage "investigation"' in str(exc)
            assert "stages[2].decided_apart_from" in str(exc)
        else:
            raise AssertionError("alice decided her own review")
    assert core.state.status == "open"
    done = core.apply(Event(kind="resolve", actor=SUPERVISOR, text="Not upheld after review."), t + 240)
    assert done.status == "resolved"
    assert core.state.deciders == {"investigation": ["alice"], "review": ["bob"]}


# ---------------------------------------------------------------------- 9. computed amounts, bundles

AMOUNTS = [
    (
        "    goodwill: {kind: goodwill, title: {de: Kulanzzahlung, en: Goodwill payment}}\n",
        "    goodwill: {kind: goodwill, title: {de: Kulanzzahlung, en: Goodwill payment}}\n"
        "    delay-compensation:\n      kind: goodwill\n      title: {de: Entschädigung, en: Compensation for the delay}\n"
        "      amounts:\n"
        "        - {when: has(complaint.custom.distance_km) && complaint.custom.distance_km <= 1500, amount: 250}\n"
        "        - {when: has(complaint.custom.distance_km) && complaint.custom.distance_km <= 3500, amount: 400}\n"
        "        - {amount: 600}\n"
        "    share-back:\n      kind: refund\n      title: {de: 10 % zurück, en: 10 % of the order back}\n"
        "      amounts:\n        - {amount: complaint.amount * 0.1}\n"
        "  bundles:\n    care-and-compensation:\n"
        "      title: {de: Gutschein und Entschädigung, en: A coupon and compensation}\n"
        "      remedies: [coupon, delay-compensation]\n",
    ),
    (
        "    - id: replace-or-refund\n",
        "    - id: delayed\n      when: has(complaint.custom.distance_km)\n"
        "      options: [care-and-compensation, share-back]\n      template: options\n"
        "    - id: replace-or-refund\n",
    ),
    (
        "      remedies: [apology, replacement, repair, refund, delivery-refund, discount, coupon, free-delivery, loyalty-bonus, goodwill]\n  - id: management",
        "      remedies: [apology, replacement, repair, refund, delivery-refund, discount, coupon, free-delivery, loyalty-bonus, goodwill, delay-compensation, share-back]\n  - id: management",
    ),
    (
        "      remedies: [apology, replacement, repair, refund, delivery-refund, discount, coupon, free-delivery, loyalty-bonus, goodwill]\n\nescalation:",
        "      remedies: [apology, replacement, repair, refund, delivery-refund, discount, coupon, free-delivery, loyalty-bonus, goodwill, delay-compensation, share-back]\n\nescalation:",
    ),
]

MANAGER = Actor(kind="staff", id="mia", level="store-manager")


def _retail_amounts(tmp_path: Path, **fields: object) -> Interpreter:
    policies = policy_variant(tmp_path, "retail.yaml", AMOUNTS)
    return _started(retail_complaint(**fields), policies, "retail")


def test_an_amount_from_a_table_by_distance(tmp_path: Path) -> None:
    """2,000 km: not within 1,500, within 3,500: the second row, 400.00 EUR; granted by the store
    manager (limit 1,000) without an amount typed in."""
    core = _retail_amounts(tmp_path, custom={"distance_km": 2000})
    t = _utc("2027-02-23T12:00:00+01:00")
    done = core.apply(Event(kind="propose_compensation", actor=MANAGER, remedy="delay-compensation"), t)
    assert done.status == "pending_cap_check", done.reason  # granted once the ledger agrees
    assert str(core.state.proposals[-1].amount) == "400.00"


def test_a_share_of_the_order_rounded_to_the_cent(tmp_path: Path) -> None:
    """10 % of 123.45 EUR is 12.345, rounded half up to 12.35."""
    core = _retail_amounts(tmp_path, amount="123.45", currency="EUR", custom={"distance_km": 10})
    t = _utc("2027-02-23T12:00:00+01:00")
    done = core.apply(Event(kind="propose_compensation", actor=MANAGER, remedy="share-back"), t)
    assert done.status == "pending_cap_check", done.reason
    assert str(core.state.proposals[-1].amount) == "12.35"


def test_a_complaint_in_another_currency_is_refused_or_converted(tmp_path: Path) -> None:
    """100 USD with no rate: the amount is refused with the reason (staff give it).  With
    `other_currency: convert` and 0.92 EUR per USD: 10 % of 100 USD = 10 USD = 9.20 EUR."""
    core = _retail_amounts(tmp_path / "a", amount="100", currency="USD", custom={"distance_km": 10})
    t = _utc("2027-02-23T12:00:00+01:00")
    refused = core.apply(Event(kind="propose_compensation", actor=MANAGER, remedy="share-back"), t)
    assert refused.status == "rejected" and "complaint is in USD" in refused.reason
    policies = policy_variant(
        tmp_path / "b",
        "retail.yaml",
        [
            *AMOUNTS,
            (
                "  option_sets:\n",
                "  other_currency: convert\n  exchange_rates: {USD: 0.92}\n  option_sets:\n",
            ),
        ],
    )
    core = _started(
        retail_complaint(amount="100", currency="USD", custom={"distance_km": 10}), policies, "retail"
    )
    done = core.apply(Event(kind="propose_compensation", actor=MANAGER, remedy="share-back"), t)
    assert done.status == "pending_cap_check" and str(core.state.proposals[-1].amount) == "9.20"


def test_an_offer_of_a_bundle_lists_its_remedies_with_amounts_and_the_choice_gives_both(
    tmp_path: Path,
) -> None:
    """4,000 km: past 3,500, the last row, 600; the coupon's face value is 10.  The customer
    chooses the bundle: the letters say both were granted."""
    from ombuds.engine.policy.messages import localise
    from ombuds.workflows.core import values

    core = _retail_amounts(tmp_path, custom={"distance_km": 4000})
    core.take_sends()
    t = _utc("2027-02-23T12:00:00+01:00")
    core.apply(Event(kind="offer_options", actor=MANAGER), t)
    offer = next(s for s in core.take_sends() if s.template == "options")
    words = localise(offer.context, core.policy, "en", to="customer")
    assert [str(o) for o in words["options"]] == [
        # English as written in Germany (the stores' calendar): 10,00 €
        "A coupon and compensation: Shopping coupon (10,00\xa0€) + Compensation for the delay (600,00\xa0€)",
        "10 % of the order back",  # no amount disputed: nothing to take 10 % of
    ]
    core.apply(
        Event(kind="choose_option", actor=Actor(kind="customer"), option="care-and-compensation"), t + 60
    )
    assert [g["id"] for g in values.granted(core)] == ["coupon", "delay-compensation"]


def test_amount_tables_and_bundles_are_checked_at_their_lines(tmp_path: Path) -> None:
    found = _errors(
        tmp_path,
        "retail.yaml",
        [
            (
                "  option_sets:\n",
                "    by-name:\n      kind: goodwill\n      title: X\n      amounts:\n        - {amount: complaint.subject}\n"
                "  bundles:\n    both:\n      title: B\n      remedies: [coupon, refnd]\n  other_currency: convert\n"
                "  option_sets:\n",
            )
        ],
    )
    assert any(path.endswith("amounts[0].amount") and "not a number" in m for path, m, _ in found), found
    assert any(
        path.endswith("bundles.both.remedies[1]") and 'unknown remedy "refnd"' in m for path, m, _ in found
    ), found
    assert any(path == "compensation.other_currency" and "exchange_rates" in m for path, m, _ in found), found


# ---------------------------------------------------------------------- ombuds deadline


def test_ombuds_deadline_answers_every_clock_and_date_kind(tmp_path: Path) -> None:
    """One policy with each kind, for a complaint received Sat 6 Mar 2027 11:00 GMT (England),
    incident 15 Feb 2026, statement 1 Jan 2027:

    - ``working-days`` (5 business days on 00:00-24:00 weekdays): Mon 8 is the day of receipt
      (the next opening), days 9-12 and 15: the end of Mon 15 March;
    - ``by-receipt-date`` (5 business days, ``receipt_date``): Sat 6 is the day of receipt, days
      8-12: Fri 12 March at 17:30;
    - ``claim-limit`` (2 years from the incident): the end of 15 Feb 2028;
    - ``bounded`` (3 months, ``at_latest: season-end`` = 31 Mar 2027): 6 June, so 31 March;
    - dates: ``complaint-window`` (60 days from the statement) 2 March 2027; ``season-end`` a
      fixed 31 March 2027; ``fos-limit`` the later of 6 months after the final response (shown
      as if at receipt: 6 Sep 2027) and 12 months after the incident (15 Feb 2027): 6 Sep 2027."""
    import json

    from typer.testing import CliRunner

    from ombuds.engine.cli import app

    extra_clocks = (
        "  - id: by-receipt-date\n    kind: custom\n    title: R\n    target: 5 business days\n    calendar: regional\n"
        "    counting: {out_of_hours: receipt_date}\n"
        "  - id: bounded\n    kind: custom\n    title: B\n    target: 3 months\n    calendar: regional\n"
        "    at_latest: season-end\n"
        "  - id: delay-notice\n"
    )
    edits = [
        *_workdays_edits(),
        *[e for e in STATEMENT_WINDOW if "refusal" not in e[1]],
        ("  - id: delay-notice\n", extra_clocks),
        (
            "dates:\n",
            "dates:\n  - id: season-end\n    title: S\n    on: 2027-03-31\n"
            "  - id: fos-limit\n    title: F\n    later_of:\n      - {from: final_response, offset: 6 months}\n"
            "      - {from: complaint.incident_date, offset: 12 months}\n",
        ),
    ]
    policies_dir = tmp_path / "p"
    policy_variant(policies_dir, "financial-services.yaml", edits)
    complaint = make_complaint(
        received_at="2027-03-06T11:00:00+00:00",
        incident_date="2026-02-15",
        custom={"statement_date": "2027-01-01"},
    )
    (tmp_path / "c.json").write_text(complaint.model_dump_json(), "utf-8")
    result = CliRunner().invoke(
        app,
        [
            "deadline",
            str(policies_dir / "financial-services.yaml"),
            "--complaint",
            str(tmp_path / "c.json"),
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    clocks = {c["clock"]: c for c in out["clocks"]}
    assert (clocks["working-days"]["due_day"], clocks["working-days"]["end_of_day"]) == ("2027-03-15", True)
    assert clocks["by-receipt-date"]["due_local"] == "2027-03-12T17:30:00+00:00"
    assert clocks["claim-limit"]["due_day"] == "2028-02-15"
    assert "from complaint.incident_date" in clocks["claim-limit"]["note"]
    assert clocks["bounded"]["due_day"] == "2027-03-31" and "season-end" in clocks["bounded"]["note"]
    dates = {d["date"]: d for d in out["dates"]}
    assert dates["complaint-window"]["day"] == "2027-03-02"
    assert dates["season-end"]["day"] == "2027-03-31"
    assert dates["fos-limit"]["day"] == "2027-09-06"
    assert dates["fos-limit"]["rule"].startswith("the later of 6 months after")
    only = CliRunner().invoke(
        app,
        [
            "deadline",
            str(policies_dir / "financial-services.yaml"),
            "--complaint",
            str(tmp_path / "c.json"),
            "--clock",
            "claim-limit",
            "-f",
            "json",
        ],
    )
    payload = json.loads(only.output)
    assert [c["clock"] for c in payload["clocks"]] == ["claim-limit"] and payload["dates"] == []


def test_the_shipped_time_limit_is_the_later_of_six_years_and_three_years_from_awareness(
    tmp_path: Path,
) -> None:
    """Incident 28 Jul 2026: + 6 years = 28 Jul 2032 (no awareness date: left out).  An incident
    of 10 Jan 2019 learned of on 1 Mar 2025: 6 years end 10 Jan 2025, before the complaint
    (31 Jul 2026); 3 years from awareness is 1 Mar 2028, the later: still in time."""
    import json

    from typer.testing import CliRunner

    from ombuds.engine.cli import app

    from .conftest import EXAMPLES, POLICIES

    def limit(complaint: Path) -> str:
        result = CliRunner().invoke(
            app,
            [
                "deadline",
                str(POLICIES / "financial-services.yaml"),
                "--complaint",
                str(complaint),
                "-f",
                "json",
            ],
        )
        assert result.exit_code == 0, result.output
        dates = {d["date"]: d for d in json.loads(result.output)["dates"]}
        return str(dates["complaint-time-limit"]["day"])

    assert limit(EXAMPLES / "fs-scottish-friday-evening.yaml") == "2032-07-28"
    text = (EXAMPLES / "fs-scottish-friday-evening.yaml").read_text("utf-8")
    aware = tmp_path / "aware.yaml"
    text = text.replace("incident_date: 2026-07-28", "incident_date: 2019-01-10")
    aware.write_text(text.rstrip("\n") + "\ncustom: {became_aware: '2025-03-01'}\n", "utf-8")
    assert limit(aware) == "2028-03-01"


def test_an_extension_date_is_bounded_and_one_past_the_calendar_asks_for_a_longer_one() -> None:
    """A date more than 1,830 days after receipt is refused before anything is applied; one a
    year ahead (past the case calendar of 218 days) makes the case ask for a longer calendar."""
    import pytest

    from ombuds.workflows.core import NeedsLongerCalendar, Rejected

    core = _started(make_complaint(), [])  # type: ignore[arg-type]
    t = _utc("2027-03-02T10:00:00+00:00")
    far = Event(kind="extend", actor=SUPERVISOR, clock="final-response", until="2032-03-10", reason="Bank.")
    with pytest.raises(Rejected, match="until: 2032-03-10 is more than 1,830 days after"):
        core.bounded(far, t)
    before = Event(
        kind="extend", actor=SUPERVISOR, clock="final-response", until="2027-02-01", reason="Bank."
    )
    with pytest.raises(Rejected, match="before the complaint was received"):
        core.bounded(before, t)
    year = Event(kind="extend", actor=SUPERVISOR, clock="final-response", until="2028-03-01", reason="Bank.")
    with pytest.raises(NeedsLongerCalendar):
        core.apply(year, t)
    assert core.state.clocks["final-response"].extended is False  # nothing was applied


def test_a_clock_stops_when_the_customer_accepts_whichever_comes_first(tmp_path: Path) -> None:
    """ "Resolve within 15 days or when the customer accepts": the customer chooses on day 3."""
    policies = policy_variant(
        tmp_path,
        "retail.yaml",
        [
            (
                "  - id: delay-notice\n",
                "  - id: settle\n    kind: custom\n    title: S\n    calendar: stores\n    target: 15 days\n"
                "    stops: [option_chosen, resolved]\n  - id: delay-notice\n",
            )
        ],
    )
    core = _started(retail_complaint(), policies, "retail")
    t = _utc("2027-02-26T12:00:00+01:00")
    core.apply(Event(kind="offer_options", actor=SUPERVISOR), t)
    core.apply(Event(kind="choose_option", actor=Actor(kind="customer"), option="refund"), t + 60)
    cs = core.state.clocks["settle"]
    assert cs.status == "stopped" and cs.met is True


def test_a_monthly_clock_keeps_its_day_after_a_short_month(tmp_path: Path) -> None:
    """A monthly notice from Wed 31 Mar 2027 10:00 BST: 30 April (April has 30 days), then
    31 May (the second month from 31 March), not 30 May (a month from 30 April)."""
    policies = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [
            (
                "  - id: delay-notice\n",
                "  - id: monthly\n    kind: periodic_update\n    title: M\n    target: 1 month\n    calendar: regional\n"
                "    repeat: true\n    stops: [resolved]\n    notify_customer: progress-update\n  - id: delay-notice\n",
            )
        ],
    )
    core = _started(make_complaint(received_at="2027-03-31T10:00:00+01:00"), policies)
    cs = core.state.clocks["monthly"]
    assert iso(cs.due or 0) == "2027-04-30T22:59:59Z"
    run_until(core, _utc("2027-05-01T09:00:00+01:00"))
    assert iso(cs.due or 0) == "2027-05-31T22:59:59Z"
    run_until(core, _utc("2027-06-01T09:00:00+01:00"))
    assert iso(cs.due or 0) == "2027-06-30T22:59:59Z"


def test_a_date_the_complaint_gives_out_of_range_is_bounded() -> None:
    """The shipped time limit counts from `became_aware`: a date in year 9999 is the receipt
    (1 Mar 2027 + 3 years = 1 Mar 2030, the later of it and nothing), one before 1900 is no date;
    neither stops intake (observed: ValueError: year 10003)."""
    from ombuds.workflows.core import dates

    future = _started(make_complaint(custom={"became_aware": "9999-12-31"}), [])  # type: ignore[arg-type]
    assert future.state.status == "open"
    assert dates.derived(future)["complaint-time-limit"] == "2030-03-01"
    ancient = _started(make_complaint(custom={"became_aware": "0001-01-01T00:00:00+14:00"}), [])  # type: ignore[arg-type]
    assert ancient.state.status == "open" and "complaint-time-limit" not in dates.derived(ancient)


def test_ombuds_deadline_shows_a_clock_from_an_incident_long_before_receipt(tmp_path: Path) -> None:
    """Incident 15 Feb 2024: the 2-year clock fell due at the end of 15 Feb 2026, before the
    complaint came (observed: 'calendar has no data past ...' after doubling to 150 years)."""
    import json

    from typer.testing import CliRunner

    from ombuds.engine.cli import app

    edits = [e for e in STATEMENT_WINDOW if "refusal" not in e[1]]
    policy_variant(tmp_path / "p", "financial-services.yaml", edits)
    (tmp_path / "c.json").write_text(make_complaint(incident_date="2024-02-15").model_dump_json(), "utf-8")
    result = CliRunner().invoke(
        app,
        [
            "deadline",
            str(tmp_path / "p" / "financial-services.yaml"),
            "--complaint",
            str(tmp_path / "c.json"),
            "--clock",
            "claim-limit",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["clocks"][0]
    assert (row["due_day"], row["business_time"]) == ("2026-02-15", "0h00m")


def test_a_question_tells_the_reply_by_date_of_the_clock_it_starts(tmp_path: Path) -> None:
    """The wait for the answer starts with the question, so the question can name its date:
    asked Tue 2 Mar 2027, answer within 8 weeks: by the end of 27 April."""
    policies = policy_variant(tmp_path, "financial-services.yaml", SILENCE)
    core = _started(make_complaint(), policies)
    core.take_sends()
    from ombuds.workflows.core.notifications import typed_values

    core.apply(
        Event(kind="request_information", actor=SUPERVISOR, question="Please send the statement."),
        _utc("2027-03-02T10:00:00+00:00"),
    )
    assert "customer-silence" in typed_values(core, frozenset({"deadlines"}), "customer")["deadlines"]
    asked = [s for s in core.take_sends() if s.to == "customer"]
    assert asked and asked[0].context.get("question") == "Please send the statement."


def test_dot_forms_and_amounts_that_are_no_number_are_caught(tmp_path: Path) -> None:
    """`clocks.x.breachd` is checked like `clocks["x"].breached`; an amount that divides by a
    zero field gives no amount, with the reason, never a failed input."""
    found = _errors(
        tmp_path / "v",
        "financial-services.yaml",
        [
            (
                "      template: refusal-abusive\n",
                "      template: refusal-abusive\n    - id: late\n      reason: other\n"
                "      when: clocks.acknowledge.breachd\n",
            )
        ],
    )
    assert any('unknown field "breachd" of a clock' in m for _, m, _ in found), found
    nights = [
        *AMOUNTS,
        (
            "        - {amount: complaint.amount * 0.1}\n",
            "        - {amount: complaint.amount / complaint.custom.nights}\n",
        ),
    ]
    policies = policy_variant(tmp_path / "n", "retail.yaml", nights)
    core = _started(
        retail_complaint(amount="50", custom={"nights": 0.0, "distance_km": 1}), policies, "retail"
    )
    done = core.apply(
        Event(kind="propose_compensation", actor=MANAGER, remedy="share-back"),
        _utc("2027-02-23T12:00:00+01:00"),
    )
    assert done.status == "rejected" and "came out as inf" in done.reason
