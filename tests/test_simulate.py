"""``ombuds simulate``: a complaint under a shipped policy with timed events, on the pure core:
events land where their times say, each decision names its rule and line, the messages are
composed as the delivery composes them, a refused event is reported naming it (never a crash),
a malformed events file gets located errors, and the HTML page draws the clocks in a browser."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .web_support import browser, shot

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")
POLICY = ROOT / "policies" / "financial-services.yaml"
COMPLAINT = ROOT / "examples" / "complaints" / "fs-card-fee.yaml"
EVENTS = ROOT / "examples" / "simulations" / "fs-card-fee.events.yaml"
LONDON = ZoneInfo("Europe/London")


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OMBUDS, "simulate", str(POLICY), "--complaint", str(COMPLAINT), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def local(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(LONDON)


def test_the_shipped_example_runs_its_events_at_their_times(tmp_path: Path) -> None:
    done = simulate("--events", str(EVENTS), "--until", "+3 months", "--format", "json")
    assert done.returncode == 0, done.stderr
    timeline = json.loads(done.stdout)
    rows = timeline["timeline"]
    received = local(timeline["received"])
    # fs-card-fee.yaml: received Thursday 24 December 2026, 18:05 in London (after hours)
    assert (received.date(), received.hour, received.minute) == (dt.date(2026, 12, 24), 18, 5)
    first = {r["action"]: r for r in reversed(rows)}  # the first row of each action
    # "+2h": exactly two hours after receipt
    assert local(first["compensation needs approval"]["at"]) == received + dt.timedelta(hours=2)
    # "at next opening" after the approval (Thursday 21:05): Friday 25 and Monday 28 December are
    # bank holidays in England (Christmas, Boxing Day moved), so Tuesday 29 December at 09:00
    message = local(first["customer message recorded"]["at"])
    assert (message.date(), message.hour) == (dt.date(2026, 12, 29), 9)
    # "+6 business days": counted as a 6-business-day deadline is, from the next opening (Tuesday
    # 29 Dec, the day of receipt not counted): 30, 31 Dec, 4, 5, 6, 7... England's 1 January only
    resolved = local(first["resolved"]["at"])
    assert resolved.hour == 17 and resolved.minute == 30 and resolved.weekday() < 5
    assert resolved.date() == dt.date(2027, 1, 8)
    # every decision names its rule and the line of the policy it was written on
    assert all(
        r["rule"] and r["source"].startswith("financial-services.yaml:")
        for r in rows
        if r["rule"] != "policy"
    )
    final = next(m for r in rows for m in r["messages"] if m["template"] == "final-response")
    assert "Morag Campbell" in final["body"] and final["subject"]
    # the events' answers: each accepted, in order
    assert [a["kind"] for a in timeline["events"]] == [
        "propose_compensation",
        "decide_approval",
        "customer_message",
        "resolve",
        "survey_answer",
    ]
    assert all("refused" not in a for a in timeline["events"])


def test_an_event_the_policy_refuses_is_reported_by_its_line(tmp_path: Path) -> None:
    events = tmp_path / "events.yaml"
    events.write_text(
        '- at: "+1h"\n  kind: propose_compensation\n  by: alice@agent\n  remedy: goodwill\n  amount: 120\n'
        '- at: "+2h"\n  kind: decide_approval\n  by: alice@agent\n  proposal: 1\n  approve: true\n',
        "utf-8",
    )
    done = simulate("--events", str(events), "--until", "+1 day")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "event at line 6 (decide_approval" in done.stdout


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ('- at: "+1h"\n  kind: teleport\n', ':2:9: error: 0.kind: "teleport" is no event kind'),
        ("- kind: resolve\n", ":1:3: error: 0: an event needs `at`"),
        ("at: 1\n", ":1:1: error: an events file is a list"),
    ],
)
def test_a_malformed_events_file_gets_located_errors(tmp_path: Path, text: str, located: str) -> None:
    events = tmp_path / "events.yaml"
    events.write_text(text, "utf-8")
    done = simulate("--events", str(events))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert located in done.stderr, done.stderr


async def test_the_timeline_page_draws_stages_clocks_and_deadlines(tmp_path: Path) -> None:
    page_file = tmp_path / "timeline.html"
    done = simulate("--events", str(EVENTS), "--until", "+3 months", "--html", str(page_file))
    assert done.returncode == 0, done.stderr
    async with browser() as chromium:
        page = await (await chromium.new_context()).new_page()
        await page.goto(page_file.as_uri())
        assert await page.locator("svg rect").count() >= 6  # the stage lane and the five clocks
        assert await page.locator("svg line.due").count() >= 5  # each clock's deadline
        lanes = await page.locator("svg text.lane").all_text_contents()
        assert lanes[:2] == ["stage", "acknowledge"] and "hard-limit" in lanes
        rows = await page.locator("tbody tr").count()
        assert rows == len(
            json.loads(simulate("--events", str(EVENTS), "--until", "+3 months", "-f", "json").stdout)[
                "timeline"
            ]
        )
        await shot(page, "simulate-timeline")


def _suite_cases() -> list[tuple[Path, int, str]]:
    from ombuds.engine.suites import discover, load_suite

    found = []
    for path in discover([], ROOT / "policies"):
        suite, problems = load_suite(path)
        assert suite is not None, problems
        found += [(path, i, case.name) for i, case in enumerate(suite.cases)]
    return found


@pytest.mark.workflow
@pytest.mark.parametrize(("path", "index", "name"), _suite_cases(), ids=[c[2][:60] for c in _suite_cases()])
async def test_the_workflow_takes_the_decisions_of_the_pure_core(path: Path, index: int, name: str) -> None:
    """Every case of the shipped suites, run by the real workflow on the time-skipping server and
    by the pure core: the same decisions (in the order activities completed, so as a multiset)."""
    from collections import Counter

    from ombuds.engine.simulate import Timed, simulate
    from ombuds.engine.simulate_temporal import simulate_on_temporal
    from ombuds.engine.suites import _complaint, load_suite

    suite, _ = load_suite(path)
    assert suite is not None
    case = suite.cases[index]
    complaint = _complaint(path, case)
    events = [Timed(e.at, e.model_dump(exclude={"at"}), n + 1) for n, e in enumerate(case.events)]
    policy = path.parent / suite.policy
    core = simulate(policy, complaint, events, case.until)
    log, answers, _ = await simulate_on_temporal(policy, complaint, events, case.until)

    def decisions(entries: list[dict[str, object]]) -> Counter[str]:
        return Counter(
            json.dumps({k: v for k, v in e.items() if k not in ("seq", "chain")}, sort_keys=True, default=str)
            for e in entries
        )

    on_core = [
        {
            "at": r.at,
            "action": r.action,
            "rule": r.rule,
            "source": r.source,
            "actor": r.actor,
            "detail": r.detail,
        }
        for r in core.rows
    ]
    on_temporal = [
        {
            "at": e.at,
            "action": e.action,
            "rule": e.rule,
            "source": e.source,
            "actor": e.actor,
            "detail": e.detail,
        }
        for e in log
    ]
    assert decisions(on_temporal) == decisions(on_core)
    assert [a.get("status", "refused") for a in answers] == [
        a.get("status", "refused") for a in core.answers if "line" in a
    ]
