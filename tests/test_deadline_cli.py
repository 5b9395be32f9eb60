"""`ombuds deadline`: the date a careful person computes by hand, with the convention named."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ombuds.engine.cli import app

from .conftest import EXAMPLES, POLICIES

FS = str(POLICIES / "financial-services.yaml")
FRIDAY = EXAMPLES / "fs-scottish-friday-evening.yaml"
runner = CliRunner()


def deadline(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["deadline", FS, *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def clock(payload: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in payload["clocks"] if c["clock"] == name)


def test_scottish_friday_evening_before_the_bank_holiday() -> None:
    out = deadline("--complaint", str(FRIDAY))
    ack = clock(out, "acknowledge")
    # after close on Fri 31 Jul; Mon 3 Aug is a Scottish bank holiday, so counting starts
    # Tue 4 Aug (receipt day, not counted); day 5 is Tue 11 Aug, close 17:30 BST
    assert ack["due_local"] == "2026-08-11T17:30:00+01:00"
    assert ack["due_utc"] == "2026-08-11T16:30:00+00:00"
    assert ack["calendar"] == "regional → scotland"
    assert "close of business on the 5th working day" in ack["convention"]
    assert "day of receipt does not count" in ack["convention"]
    assert "next opening" in ack["convention"]
    final = clock(out, "final-response")
    assert final["due_local"] == "2026-08-25T17:30:00+01:00"
    assert final["extended_max_local"] == "2026-09-22T17:30:00+01:00"


def test_the_same_complaint_in_england_counts_the_monday(tmp_path: Path) -> None:
    english = tmp_path / "england.yaml"
    english.write_text(FRIDAY.read_text("utf-8").replace("region: GB-SCT", "region: GB-ENG"), "utf-8")
    ack = clock(deadline("--complaint", str(english)), "acknowledge")
    assert ack["due_local"] == "2026-08-10T17:30:00+01:00"
    assert ack["calendar"] == "regional → england"


def test_text_output_names_calendar_convention_and_working_time() -> None:
    result = runner.invoke(app, ["deadline", FS, "--complaint", str(FRIDAY), "--clock", "acknowledge"])
    assert result.exit_code == 0, result.output
    assert "due        2026-08-11T17:30:00+01:00  (Europe/London)" in result.output
    assert "calendar   regional → scotland" in result.output
    assert "spans      51h00m of working time" in result.output  # 6 days of 8.5 h from Tue 09:00


def test_bad_input_gets_clear_errors() -> None:
    no_offset = runner.invoke(app, ["deadline", FS, "--received", "2026-07-31T18:05"])
    assert no_offset.exit_code == 2 and "no UTC offset" in no_offset.output
    malformed = runner.invoke(app, ["deadline", FS, "--received", "last friday"])
    assert malformed.exit_code == 2 and "not an ISO 8601 time" in malformed.output
    unknown = runner.invoke(
        app, ["deadline", FS, "--received", "2026-07-31T18:05:00Z", "--clock", "acknowledg"]
    )
    assert unknown.exit_code == 2 and 'did you mean "acknowledge"' in unknown.output
    nothing = runner.invoke(app, ["deadline", FS])
    assert nothing.exit_code == 2 and "--received" in nothing.output


def test_a_complaint_the_policy_would_not_get_or_would_refuse_is_noted() -> None:
    retail = str(POLICIES / "retail.yaml")
    elsewhere = runner.invoke(app, ["deadline", retail, "--complaint", str(EXAMPLES / "fs-card-fee.yaml")])
    assert "note: this policy's applies_to.when does not select this complaint" in elsewhere.output
    refused = runner.invoke(
        app, ["deadline", retail, "--complaint", str(EXAMPLES / "retail-refused-abusive.json"), "-f", "json"]
    )
    (note,) = json.loads(refused.output)["notes"]
    assert note.startswith("intake refuses it (intake.refusals[")
    assert deadline("--complaint", str(FRIDAY))["notes"] == []


def test_a_complaint_received_before_the_policy_takes_effect_is_noted(tmp_path: Path) -> None:
    early = tmp_path / "early.yaml"
    early.write_text(FRIDAY.read_text("utf-8").replace("2026-07-", "2025-07-"), "utf-8")  # incident too
    notes = deadline("--complaint", str(early))["notes"]
    assert "received 2025-07-31, before this policy takes effect (2026-01-01)" in notes[0]
