"""Agent commands that fail before reaching Temporal say why, in one line, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

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


def test_a_worker_outside_the_project_folder_names_the_missing_policies_folder(tmp_path: Path) -> None:
    done = run(tmp_path, "worker")
    assert done.returncode == 1
    assert f"no policies folder at {tmp_path / 'policies'}" in done.stderr
    assert "OMBUDS_POLICIES" in done.stderr and "Traceback" not in done.stderr


def test_a_worker_with_an_empty_policies_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = run(tmp_path, "worker", OMBUDS_POLICIES=str(tmp_path / "empty"))
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
    done = run(tmp_path, "worker", OMBUDS_POLICIES=str(folder))
    assert 'policy.ownr: unknown key "ownr"' in done.stderr
    assert (
        "the last valid snapshot of this file, retail 2026.1" in done.stderr
        and "stays in effect" in done.stderr
    )
    assert "cannot connect to Temporal at 127.0.0.1:9" in done.stderr  # the worker went on
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
    from ombuds.engine.staff_cli import list_lines

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
    assert count == "2 complaints (more match: raise --limit, or page with --format json)"
    assert list_lines(rows, 3)[-1] == "3 complaints"
    assert list_lines([], 5) == ["0 complaints"]


def test_list_limit_must_be_positive(tmp_path: Path) -> None:
    done = run(tmp_path, "list", "--limit", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_an_event_out_of_bounds_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    """Checked by the client first: nothing reaches the case (here, no server is even asked)."""
    done = run(tmp_path, "event", "X-1", "customer_message", "--text", "x" * 60_000)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad event: text: 60,000 characters, at most 50,000" in done.stderr
    far = run(tmp_path, "event", "X-1", "request_callback", "--at", "2027-03-01T10:00")
    assert far.returncode == 2 and "needs its UTC offset" in far.stderr
    money = run(tmp_path, "event", "X-1", "propose_compensation", "--remedy", "refund", "--amount", "1e5")
    assert money.returncode == 2 and '"1e5" is not an amount' in money.stderr


def test_the_actor_cannot_be_named_on_the_command_line(tmp_path: Path) -> None:
    """The actor is the token's: no option names it, for any kind."""
    done = run(tmp_path, "event", "X-1", "close", "--actor", "system")
    assert done.returncode == 2 and "--actor" in done.stderr and "Traceback" not in done.stderr
    assert "--actor" not in run(tmp_path, "event", "X-1", "propose_compensation", "--help").stdout


def test_event_help_lists_every_staff_kind_with_its_fields(tmp_path: Path) -> None:
    from ombuds.engine.event_bodies import STAFF_KINDS

    shown = run(tmp_path, "event", "--help", COLUMNS="200").stdout
    for kind in STAFF_KINDS:
        assert kind in shown
    assert "--remedy, --amount" in shown and "survey_answer, withdraw) come through" in shown
    assert "--no-justified" in run(tmp_path, "event", "X-1", "resolve", "--help", COLUMNS="200").stdout


def test_a_required_field_left_out_is_asked_for_before_anything_is_sent(tmp_path: Path) -> None:
    resolve = run(tmp_path, "event", "X-1", "resolve", "--text", "Done.")
    assert resolve.returncode == 2 and "--justified" in resolve.stderr
    money = run(tmp_path, "event", "X-1", "propose_compensation", "--remedy", "goodwill")
    assert money.returncode == 2 and "propose_compensation needs --amount" in money.stderr
    assert "[required]" in run(tmp_path, "event", "X-1", "assign", "--help", COLUMNS="200").stdout


def test_an_empty_token_is_an_error_never_the_admins(tmp_path: Path) -> None:
    """``export OMBUDS_TOKEN=$(ombuds token create ...)`` with a failed create leaves it empty."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "admin.token").write_text("admin-token\n")
    done = run(tmp_path, "whoami", OMBUDS_TOKEN="", OMBUDS_API_URL="http://127.0.0.1:9")
    assert done.returncode == 2 and "OMBUDS_TOKEN is empty" in done.stderr


def test_a_token_names_a_level_the_policies_have(tmp_path: Path) -> None:
    made = run(
        tmp_path,
        "token",
        "create",
        "--user",
        "carol",
        "--level",
        "supervisr",
        OMBUDS_POLICIES=str(ROOT / "policies"),
    )
    assert made.returncode == 2 and 'did you mean "supervisor"' in made.stderr and not made.stdout


def test_staff_commands_say_what_is_missing_not_a_traceback(tmp_path: Path) -> None:
    """No token: where to get one. No API: how to start it."""
    (tmp_path / "home").mkdir()
    bare = run(tmp_path, "status", "X-1", OMBUDS_HOME=str(tmp_path / "home"))
    assert bare.returncode == 2 and "OMBUDS_TOKEN" in bare.stderr and "admin.token" in bare.stderr
    down = run(tmp_path, "list", OMBUDS_TOKEN="t", OMBUDS_API_URL="http://127.0.0.1:9")
    assert down.returncode == 1 and "cannot reach the ombuds API at http://127.0.0.1:9" in down.stderr
    assert "Traceback" not in bare.stderr + down.stderr
