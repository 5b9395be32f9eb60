"""Agent commands that fail before reaching Temporal say why, in one line, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import EXAMPLES, ROOT

OMBUDS = str(Path(sys.executable).parent / "ombuds")


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OMBUDS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "OMBUDS_HOME": str(cwd / "home"), "OMBUDS_ADDRESS": "127.0.0.1:9", **env},
        timeout=120,
    )


def test_submit_outside_the_project_folder_names_the_missing_policies_folder(tmp_path: Path) -> None:
    done = run(tmp_path, "submit", "--simulated", str(EXAMPLES / "fs-card-fee.yaml"))
    assert done.returncode == 1
    assert f"no policies folder at {tmp_path / 'policies'}" in done.stderr
    assert "OMBUDS_POLICIES" in done.stderr and "Traceback" not in done.stderr


def test_submit_with_an_empty_policies_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = run(
        tmp_path,
        "submit",
        "--simulated",
        str(EXAMPLES / "fs-card-fee.yaml"),
        OMBUDS_POLICIES=str(tmp_path / "empty"),
    )
    assert done.returncode == 1 and "no policies (*.yaml) in" in done.stderr


def retail_copy(folder: Path, *edits: tuple[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    text = (ROOT / "policies" / "retail.yaml").read_text("utf-8")
    for old, new in edits:
        text = text.replace(old, new, 1)
    text = text.replace("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/")
    (folder / "retail.yaml").write_text(text, "utf-8")


def test_a_worker_starts_whatever_the_policies_folder_holds(tmp_path: Path) -> None:
    """One bad edit lists its problems; the worker still goes on (here to a Temporal that is not there)."""
    folder = tmp_path / "policies"
    retail_copy(folder, ("  owner: Head", "  ownr: Head"))
    done = run(tmp_path, "worker", OMBUDS_POLICIES=str(folder))
    assert 'retail.yaml:14:3: error: policy.ownr: unknown key "ownr" (did you mean "owner"?)' in done.stderr
    assert "no valid snapshot of this file was stored before" in done.stderr
    assert "the worker runs the complaints whose snapshots the store holds" in done.stderr
    assert "cannot connect to Temporal at 127.0.0.1:9" in done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_a_broken_policy_file_keeps_its_last_valid_snapshot_in_effect(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    retail_copy(folder)
    first = run(tmp_path, "worker", OMBUDS_POLICIES=str(folder))
    assert "have problems" not in first.stderr and "cannot connect to Temporal" in first.stderr
    retail_copy(folder, ("  owner: Head", "  ownr: Head"))
    done = run(
        tmp_path,
        "submit",
        "--simulated",
        str(EXAMPLES / "retail-defective-kettle.json"),
        OMBUDS_POLICIES=str(folder),
    )
    assert 'policy.ownr: unknown key "ownr"' in done.stderr
    assert (
        "the last valid snapshot of this file, retail 2026.1" in done.stderr
        and "stays in effect" in done.stderr
    )
    assert "cannot connect to Temporal at 127.0.0.1:9" in done.stderr  # intake went on to submit
    assert "Traceback" not in done.stderr


def test_a_policy_changed_under_the_same_version_is_named_with_both_shas(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    retail_copy(folder)
    run(tmp_path, "worker", OMBUDS_POLICIES=str(folder))
    retail_copy(folder, ("target: 10 hours", "target: 12 hours"))
    done = run(tmp_path, "worker", OMBUDS_POLICIES=str(folder))
    line = next(line for line in done.stderr.splitlines() if "changed since it was stored" in line)
    assert "retail.yaml:12:12: warning: policy.version: retail 2026.1 changed since it was stored" in line
    assert line.count("sha256") == 2 and "raise policy.version" in line


def test_list_aligns_its_columns_and_says_when_more_match() -> None:
    from ombuds.engine.agent_cli import list_lines

    rows = [
        ["FS-1", "open", "stage received", "level agent", "policy financial-services", "next 2027-01-11"],
        [
            "FS-22",
            "resolved",
            "stage closed",
            "level complaints-department",
            "policy financial-services",
            "next -",
        ],
        ["FS-333", "open", "stage received", "level agent", "policy financial-services", "next 2027-01-12"],
    ]
    first, second, count = list_lines(rows, 2)
    assert first.index("stage") == second.index("stage") and first.index("policy") == second.index("policy")
    assert count == "2 complaints (more match: raise --limit)"
    assert list_lines(rows, 3)[-1] == "3 complaints"
    assert list_lines([], 5) == ["0 complaints"]


def test_list_limit_must_be_positive(tmp_path: Path) -> None:
    done = run(tmp_path, "list", "--limit", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_an_event_out_of_bounds_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    """Checked by the client first: nothing reaches the case (here, no server is even asked)."""
    data = '{"text": "' + "x" * 60_000 + '"}'
    done = run(tmp_path, "event", "X-1", "customer_message", "--data", data)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad event: text: 60,000 characters, at most 50,000" in done.stderr
    far = run(tmp_path, "event", "X-1", "request_callback", "--data", '{"at": "2027-03-01T10:00"}')
    assert far.returncode == 2 and "needs its UTC offset" in far.stderr


def test_the_system_actor_is_not_offered(tmp_path: Path) -> None:
    done = run(tmp_path, "event", "X-1", "close", "--actor", "system")
    assert done.returncode == 2 and "system is the engine's own actor" in done.stderr
    assert "system" not in run(tmp_path, "event", "--help").stdout.split("--actor", 1)[1].split("\n")[0]
