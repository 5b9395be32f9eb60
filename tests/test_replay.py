"""Golden histories replay through the current code with the same decision log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from ombuds.engine.policy.store import Store
from ombuds.engine.replay import recorded_log, replay

GOLDEN = Path(__file__).resolve().parent / "golden"
HISTORIES = sorted(GOLDEN.glob("v*/*.json"))
STORE = Store(GOLDEN / "store")


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))


def test_golden_histories_exist() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_golden_history_replays_to_the_recorded_decision_log(path: Path) -> None:
    report = await replay(load(path), STORE)
    assert report.deterministic, report.failure
    assert report.recorded, "golden histories are of finished cases"
    assert report.logs_match
    assert len(report.rebuilt) == len(report.recorded) >= 2


async def test_a_changed_recorded_log_is_reported() -> None:
    path = next(p for p in HISTORIES if p.stem == "financial-full-path")
    data = json.loads(path.read_text("utf-8"))
    completed = next(e for e in data["events"] if "workflowExecutionCompletedEventAttributes" in e)
    payload = completed["workflowExecutionCompletedEventAttributes"]["result"]["payloads"][0]
    import base64

    result = json.loads(base64.b64decode(payload["data"]))
    result["log"][3]["action"] = "something else"
    payload["data"] = base64.b64encode(json.dumps(result).encode()).decode()
    report = await replay(WorkflowHistory.from_json("tampered", json.dumps(data)), STORE)
    assert report.deterministic
    assert report.logs_match is False
    assert not report.ok


async def test_a_history_the_code_cannot_produce_is_nondeterministic() -> None:
    path = next(p for p in HISTORIES if p.stem == "financial-full-path")
    data = json.loads(path.read_text("utf-8"))
    # the first message send disappears from the history: the code would schedule it
    index = next(i for i, e in enumerate(data["events"]) if "activityTaskScheduledEventAttributes" in e)
    scheduled_id = data["events"][index]["eventId"]
    data["events"] = [
        e
        for e in data["events"]
        if e["eventId"] != scheduled_id
        and not any(isinstance(v, dict) and v.get("scheduledEventId") == scheduled_id for v in e.values())
    ]
    report = await replay(WorkflowHistory.from_json("broken", json.dumps(data)), STORE)
    assert not report.deterministic
    assert not report.ok


def replay_file(name: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``ombuds replay --history`` on a golden history, with ``home`` as OMBUDS_HOME."""
    path = next(p for p in HISTORIES if p.stem == name)
    return subprocess.run(
        [str(Path(sys.executable).parent / "ombuds"), "replay", "--history", str(path)],
        capture_output=True,
        text=True,
        env={"OMBUDS_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_cli_replays_a_history_file() -> None:
    done = replay_file("financial-refused", GOLDEN)
    assert done.returncode == 0, done.stderr
    assert "refused" in done.stdout
    assert "decision log: identical to the recorded log" in done.stdout
    assert "replayed G-FS-2:" in done.stdout  # named by the workflow id it records, not the file


def test_cli_replay_without_the_snapshots_says_so(tmp_path: Path) -> None:
    """A store that lacks the pinned snapshots is a setup problem, not a changed history."""
    done = replay_file("financial-refused", tmp_path)
    assert done.returncode == 1
    assert "does not hold the snapshot(s) this history names" in done.stderr
    assert "OMBUDS_HOME" in done.stderr
    assert "NONDETERMINISTIC" not in done.stdout + done.stderr and "Traceback" not in done.stderr


async def test_a_history_from_before_a_change_replays_with_the_old_behaviour() -> None:
    """v1 predates `extension-keeps-paused-time`: its extension ignores the pause, v2's keeps it.

    Both replay to their own recorded log, so the change is gated by ``workflow.patched``.
    """

    def extended(version: str) -> tuple[str, str]:
        history = load(GOLDEN / version / "financial-full-path.json")
        markers = [
            e.marker_recorded_event_attributes.marker_name
            for e in history.events
            if e.HasField("marker_recorded_event_attributes")
        ]
        assert ("core_patch" in markers) == (version != "v1"), markers
        recorded = {e["action"]: e for e in (entry.model_dump() for entry in recorded_log(history) or [])}
        return recorded["extended"]["detail"]["previous_due"], recorded["extended"]["detail"]["due"]

    old_previous, old_due = extended("v1")
    new_previous, new_due = extended("v2")
    assert old_previous == new_previous  # the deadline after the pause is the same
    assert new_due > old_due  # the extension now keeps the two paused days
    for version in ("v1", "v2"):
        report = await replay(load(GOLDEN / version / "financial-full-path.json"), STORE)
        assert report.deterministic and report.logs_match
