"""Golden histories replay through the current code with the same decision log and answers."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from ombuds.engine.policy.store import Store
from ombuds.engine.replay import recorded_log, replay, started_input, with_own_id
from ombuds.workflows.core.state import chain_start

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Oldest version first (v9 before v10).
HISTORIES = sorted(GOLDEN.glob("v*/*.json"), key=lambda p: (int(p.parent.name[1:]), p.name))
#: Histories of a customer's ledgers and aliases (the rest are complaints').
LEDGERS = [p for p in HISTORIES if p.stem.endswith(("-ledger", "-alias"))]
COMPLAINTS = [p for p in HISTORIES if p not in LEDGERS]
STORE = Store(GOLDEN / "store")
SHIPPED = ("financial-services", "retail", "b2b-support")


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text("utf-8"))


def manifest() -> dict[str, str]:
    """Golden file (relative to tests/golden) → the sha256 it was recorded with."""
    lines = (GOLDEN / "MANIFEST").read_text("utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines if line.strip())}


def test_golden_histories_are_write_once() -> None:
    """Every golden is listed with its sha256; a changed, deleted or unlisted file fails the run."""
    listed = manifest()
    present = {p.relative_to(GOLDEN).as_posix() for p in HISTORIES}
    assert sorted(set(listed) - present) == [], "a listed golden history was deleted"
    assert sorted(present - set(listed)) == [], "record goldens with tests.golden.record, which lists them"
    changed = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() != digest
    ]
    assert changed == [], "golden histories are write-once: add new ones beside them behind a patch id"


def test_every_shipped_policy_and_the_ledger_have_goldens() -> None:
    policies = {
        STORE.policy(started.policy_sha).id for path in COMPLAINTS if (started := started_input(load(path)))
    }
    assert set(SHIPPED) <= policies, policies
    assert LEDGERS, "the per-customer ledger needs a golden history"


@pytest.mark.parametrize("path", COMPLAINTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_golden_history_replays_to_the_recorded_decision_log(path: Path) -> None:
    report = await replay(load(path), STORE)
    assert report.deterministic, report.failure
    assert report.recorded, "golden histories are of finished cases"
    assert report.logs_match
    assert len(report.rebuilt) == len(report.recorded) >= 2
    assert report.answers_match is not False, report.answers_differing


@pytest.mark.parametrize("path", LEDGERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_golden_ledger_history_replays_with_the_same_answers(path: Path) -> None:
    report = await replay(load(path), STORE)
    assert report.deterministic, report.failure
    assert report.recorded is None  # a ledger keeps no decision log: its answers are its decisions
    assert len(report.answers_recorded) >= (10 if path.stem.endswith("repeat-customer-ledger") else 2)
    assert report.answers_match, report.answers_differing
    assert report.ok


async def test_a_changed_ledger_answer_is_reported() -> None:
    """A reservation refused in the history but granted by the code (or the reverse) is caught."""
    data = json.loads(LEDGERS[0].read_text("utf-8"))
    completed = [e for e in data["events"] if "workflowExecutionUpdateCompletedEventAttributes" in e]
    payload = next(
        p
        for e in completed
        for p in e["workflowExecutionUpdateCompletedEventAttributes"]["outcome"]["success"]["payloads"]
        if isinstance(json.loads(base64.b64decode(p["data"])), dict)
    )
    answer = json.loads(base64.b64decode(payload["data"]))
    answer["granted"] = not answer["granted"]
    payload["data"] = base64.b64encode(json.dumps(answer).encode()).decode()
    report = await replay(WorkflowHistory.from_json("tampered", json.dumps(data)), STORE)
    assert report.deterministic
    assert report.answers_match is False and len(report.answers_differing) == 1
    assert not report.ok


async def test_a_changed_update_answer_of_a_complaint_is_reported() -> None:
    path = next(p for p in COMPLAINTS if p.stem == "retail-full-path")
    data = json.loads(path.read_text("utf-8"))
    completed = next(e for e in data["events"] if "workflowExecutionUpdateCompletedEventAttributes" in e)
    payload = completed["workflowExecutionUpdateCompletedEventAttributes"]["outcome"]["success"]["payloads"][
        0
    ]
    answer = json.loads(base64.b64decode(payload["data"]))
    answer["status"] = "rejected"
    payload["data"] = base64.b64encode(json.dumps(answer).encode()).decode()
    report = await replay(WorkflowHistory.from_json("tampered", json.dumps(data)), STORE)
    assert report.deterministic and report.logs_match
    assert report.answers_match is False
    assert not report.ok


async def test_a_changed_recorded_log_is_reported() -> None:
    path = next(p for p in HISTORIES if p.stem == "financial-full-path")
    data = json.loads(path.read_text("utf-8"))
    completed = next(e for e in data["events"] if "workflowExecutionCompletedEventAttributes" in e)
    payload = completed["workflowExecutionCompletedEventAttributes"]["result"]["payloads"][0]
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


def test_cli_replays_a_ledger_history_and_checks_its_answers() -> None:
    done = replay_file("retail-repeat-customer-ledger", GOLDEN)
    assert done.returncode == 0, done.stderr
    assert "deterministic" in done.stdout
    assert "update answers: identical to the recorded answers (10)" in done.stdout
    assert "decision log" not in done.stdout  # a ledger keeps none


async def test_histories_from_before_settings_acted_as_written_replay_the_old_way() -> None:
    """v2 predates `settings-act-as-written`: its grant after the cap check is by the system, no
    callback is offered; v3's grant names the approver and the phone customer is offered a callback.
    Each replays to its own log."""

    def grant_and_offer(version: str) -> tuple[str, bool]:
        log = recorded_log(load(GOLDEN / version / "retail-full-path.json")) or []
        granted = next(e for e in log if e.action == "compensation granted")
        return granted.actor, any(e.action == "callback offered" for e in log)

    assert grant_and_offer("v2") == ("system", False)
    assert grant_and_offer("v3") == ("staff:bob@supervisor", True)
    for version in ("v2", "v3"):
        report = await replay(load(GOLDEN / version / "retail-full-path.json"), STORE)
        assert report.ok, (version, report.failure, report.answers_differing)


def test_the_published_golden_took_its_change_and_publishes_and_resends() -> None:
    """v10/financial-published is recorded with `cases-reach-helpdesks`: its decisions went to
    the webhooks, and its bounced acknowledgement went again by letter."""
    from .test_driver import patches_taken

    history = load(GOLDEN / "v10" / "financial-published.json")
    assert "cases-reach-helpdesks" in patches_taken(history)
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert sum(a.activity_type.name == "publish" for a in scheduled) >= 5
    assert any(a.activity_type.name == "deliver" and b".email" in a.input.payloads[1].data for a in scheduled)
    log = recorded_log(history) or []
    assert [e.action for e in log].count("message bounced") == 1


# --------------------------------------------------------------- consistent tamperings (issue 25)


def _edit(name: str, change: Callable[[dict[str, Any]], None]) -> WorkflowHistory:
    """A v11 golden history with ``change`` applied to its JSON events."""
    data = json.loads((GOLDEN / "v11" / f"{name}.json").read_text("utf-8"))
    change(data)
    return with_own_id(WorkflowHistory.from_json(name, json.dumps(data)))


def _payloads(data: dict[str, Any], attributes: str) -> list[dict[str, Any]]:
    """Every payload of the events with these attributes (as JSON values to edit in place)."""
    found = []
    for event in data["events"]:
        holder = event.get(attributes)
        if holder is None:
            continue
        stack: list[Any] = [holder]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if "data" in item and "metadata" in item:
                    found.append(item)
                else:
                    stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return found


def _rewrite(payload: dict[str, Any], change: Callable[[str], str]) -> None:
    payload["data"] = base64.b64encode(change(base64.b64decode(payload["data"]).decode()).encode()).decode()


async def test_a_v11_history_pins_its_activity_inputs_and_chains_its_log() -> None:
    report = await replay(with_own_id(load(GOLDEN / "v11" / "financial-full-path.json")), STORE)
    assert report.ok and not report.inputs_differing
    log = report.recorded or []
    registered = log[0]
    assert registered.action == "registered" and len(registered.detail["complaint_sha256"]) == 64
    previous = chain_start(registered.policy_sha, registered.detail["complaint_sha256"])
    for entry in log:
        assert entry.chain == entry.chained(previous).chain
        previous = entry.chain or ""


@pytest.mark.parametrize(
    ("what", "attributes", "old", "new"),
    [
        # a message's recipient changed in the send the history records
        ("recipient", "activityTaskScheduledEventAttributes", '"to":"customer"', '"to":"staff"'),
        # a ledger reservation's amount changed in the activity input
        ("ledger amount", "activityTaskScheduledEventAttributes", '"amount":"900"', '"amount":"90"'),
        # a template swapped for another in the send
        ("template", "activityTaskScheduledEventAttributes", '"template":"closed"', '"template":"survey"'),
    ],
)
async def test_a_changed_activity_input_is_reported(what: str, attributes: str, old: str, new: str) -> None:
    def change(data: dict[str, Any]) -> None:
        hits = 0
        for payload in _payloads(data, attributes):
            text = base64.b64decode(payload["data"]).decode()
            if old in text:
                _rewrite(payload, lambda t: t.replace(old, new))
                hits += 1
        assert hits, what

    report = await replay(_edit("financial-full-path", change), STORE)
    assert report.deterministic and report.inputs_differing, what
    assert not report.ok


async def test_an_amount_changed_in_the_update_and_the_recorded_log_alike_is_reported() -> None:
    """The amount of the second proposal, changed where staff gave it and where the log recorded
    it (and in the answer): replay rebuilds the same log, but the ledger reservation the code now
    asks for is not the one the history made."""

    def change(data: dict[str, Any]) -> None:
        for attributes in (
            "workflowExecutionUpdateAcceptedEventAttributes",
            "workflowExecutionUpdateCompletedEventAttributes",
            "workflowExecutionCompletedEventAttributes",
        ):
            for payload in _payloads(data, attributes):
                _rewrite(
                    payload,
                    lambda t: t.replace('"900"', '"9000"'),
                )

    report = await replay(_edit("financial-full-path", change), STORE)
    assert report.inputs_differing and any("ledger_reserve" in i for i in report.inputs_differing)
    assert not report.ok


async def test_an_approver_renamed_in_the_update_and_the_log_breaks_the_chain() -> None:
    def change(data: dict[str, Any]) -> None:
        for attributes in (
            "workflowExecutionUpdateAcceptedEventAttributes",
            "workflowExecutionUpdateCompletedEventAttributes",
            "workflowExecutionCompletedEventAttributes",
        ):
            for payload in _payloads(data, attributes):
                _rewrite(
                    payload, lambda t: t.replace('"bob"', '"carol"').replace("staff:bob@", "staff:carol@")
                )

    report = await replay(_edit("financial-full-path", change), STORE)
    # the rebuilt entries name carol too, but their chain links are not the recorded ones
    rebuilt = {e.seq: e for e in report.rebuilt}
    assert any("carol" in e.actor for e in rebuilt.values())
    assert report.logs_match is False and not report.ok


async def test_a_v12_log_refers_to_free_texts_by_their_digest() -> None:
    """`personal-data-by-reference`: what the customer and staff wrote is in the log as a field
    name and a sha256 only, so the log can be kept and checked after an erasure."""
    history = with_own_id(load(GOLDEN / "v12" / "financial-full-path.json"))
    log = recorded_log(history) or []
    written = json.dumps([e.detail for e in log])
    for text in ("here", "unhappy with progress", "fee rule"):
        assert f'"{text}"' not in written, text
    recorded = next(e for e in log if e.action == "customer message recorded")
    assert recorded.detail == {"text_sha256": hashlib.sha256(b"here").hexdigest()}
    resolved = next(e for e in log if e.action == "resolved")
    assert resolved.detail["root_cause_sha256"] == hashlib.sha256(b"fee rule").hexdigest()
    report = await replay(history, STORE)
    assert report.ok and not report.inputs_differing
