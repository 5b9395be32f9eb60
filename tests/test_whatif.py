"""``ombuds whatif NEW``: archived cases re-run on the pure core.  Under the policy they ran under,
nothing changes (the inputs taken back from the archive reproduce every decision); under a
policy with a shorter deadline, the cases say what would change and which rule caused it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

from temporalio.client import WorkflowHistory

from ombuds.engine.archive import Archive, CaseFiles, Folder
from ombuds.engine.policy.store import Store
from ombuds.engine.replay import pinned_snapshots, recorded_log, started_input

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
OMBUDS = str(Path(sys.executable).parent / "ombuds")
CASES = ("financial-full-path", "financial-breach-and-delay", "financial-refused", "financial-entered-late")


def archived_goldens(home: Path, copies: int = 1) -> list[str]:
    """The current golden histories of the financial policy, archived as the sweep archives them
    (``copies`` times each, under ids of their own)."""
    store = Store(GOLDEN / "store")
    archive = Archive(Folder(home / "archive"))
    ids = []
    for name in [n for n in CASES for _ in range(copies)]:
        data = (GOLDEN / "v12" / f"{name}.json").read_bytes()
        history = WorkflowHistory.from_json(name, data.decode())
        started = started_input(history)
        log = recorded_log(history) or []
        assert started is not None and log
        policy = store.policy(started.policy_sha)
        archive.add(
            CaseFiles(
                workflow_id=f"{name}-{len(ids)}" if copies > 1 else name,
                histories=[("run-1", data)],
                snapshots={sha: store.get(sha) or b"" for sha in pinned_snapshots(history)},
                policy_id=policy.id,
                policy_version=policy.version,
                policy_sha=started.policy_sha,
                received_at=started.complaint.received_at.isoformat(),
                closed_at=log[-1].at.replace("Z", "+00:00"),
                outcome=log[-1].action,
                retention_years=5,
                figures={},
            ),
            dt.datetime.now(dt.UTC),
        )
        ids.append(f"{name}-{len(ids)}" if copies > 1 else name)
    shutil.copytree(GOLDEN / "store", home / "store", dirs_exist_ok=True)
    return ids


def whatif(home: Path, policy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OMBUDS_HOME": str(home), "PATH": "/usr/bin:/bin", "OMBUDS_ENCRYPTION": "false"}
    return subprocess.run(
        [OMBUDS, "whatif", str(policy), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_the_policy_a_case_ran_under_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    archived_goldens(home)
    done = whatif(home, ROOT / "policies" / "financial-services.yaml", "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["cases"] == len(CASES) and summary["not_run"] == {}
    assert summary["changed"] == 0, done.stdout
    assert summary["breach_rate_before"] == summary["breach_rate_after"] > 0


def test_a_shorter_deadline_says_what_would_change_and_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    archived_goldens(home)
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    policy = policies / "financial-services.yaml"
    policy.write_text(
        policy.read_text("utf-8").replace("target: 15 business days", "target: 10 business days", 1), "utf-8"
    )
    page = tmp_path / "whatif.html"
    done = whatif(home, policy, "--html", str(page))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "financial-breach-and-delay: final-response due" in out
    assert "[clocks[1].target (financial-services.yaml:129)]" in out
    assert f"of {len(CASES)} archived case(s) of financial-services would change" in out
    assert "breach rate" in out
    assert "<svg" in page.read_text("utf-8") and "final-response due" in page.read_text("utf-8")


def test_the_batch_replay_shares_the_archive_among_processes_and_names_what_differs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = archived_goldens(home, copies=30)  # 120 cases: 3 chunks for 2 replayer processes
    # one archived history whose recorded decision log was changed in the archive
    victim = next((home / "archive" / "cases" / ids[0]).glob("*.history.json"))
    data = json.loads(victim.read_text("utf-8"))
    completed = next(e for e in data["events"] if "workflowExecutionCompletedEventAttributes" in e)
    payload = completed["workflowExecutionCompletedEventAttributes"]["result"]["payloads"][0]
    result = json.loads(base64.b64decode(payload["data"]))
    result["log"][3]["action"] = "something else"
    payload["data"] = base64.b64encode(json.dumps(result).encode()).decode()
    victim.write_text(json.dumps(data), "utf-8")
    env = {"OMBUDS_HOME": str(home), "PATH": "/usr/bin:/bin", "OMBUDS_ENCRYPTION": "false"}
    done = subprocess.run(
        [OMBUDS, "replay", "--archive", "--jobs", "2", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["replayed"] == len(ids) == 120 and report["identical"] == 119
    assert list(report["differing"]) == [ids[0]] and "decision log differs" in report["differing"][ids[0]]
    assert report["unreadable"] == {}
