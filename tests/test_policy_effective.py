"""Intake chooses among the policies in effect on the day a complaint was received."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ombuds.engine.cli import app
from ombuds.engine.intake import Intake, IntakeError, load_policies
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.engine.settings import Settings

from .conftest import POLICIES, ROOT
from .workflow_support import make_complaint, policy_variant


def intake(tmp_path: Path, policies: list[CompiledPolicy]) -> Intake:
    return Intake(Settings(home=tmp_path / "home", policies=ROOT / "policies"), policies)


def two_versions(tmp_path: Path) -> list[CompiledPolicy]:
    """financial-services 2026.1 (in effect from 2026-01-01) and 2027.1 (from 2027-04-01)."""
    old = policy_variant(tmp_path / "old", "financial-services.yaml", [])
    new = policy_variant(
        tmp_path / "new",
        "financial-services.yaml",
        [
            ('version: "2026.1"', 'version: "2027.1"'),
            ("effective: 2026-01-01", "effective: 2027-04-01"),
            ("review_by: 2027-01-01", "review_by: 2028-04-01"),
        ],
    )
    return [*old, *new]


@pytest.mark.parametrize(
    ("received", "version"),
    [
        ("2027-03-31T23:30:00+00:00", "2026.1"),
        ("2027-04-01T00:10:00+01:00", "2027.1"),  # the day of receipt is the day where it was received
        ("2027-04-01T00:10:00+02:00", "2027.1"),
        ("2028-01-01T10:00:00+00:00", "2027.1"),
    ],
)
def test_the_version_in_effect_on_the_day_of_receipt_is_chosen(
    tmp_path: Path, received: str, version: str
) -> None:
    chosen = intake(tmp_path, two_versions(tmp_path)).select(make_complaint(received_at=received))
    assert (chosen.id, chosen.version) == ("financial-services", version)


def test_a_policy_not_yet_in_effect_is_not_chosen(tmp_path: Path) -> None:
    policies = policy_variant(tmp_path / "p", "financial-services.yaml", [])
    with pytest.raises(IntakeError, match=r"no policy is in effect on 2025-12-31.*2026-01-01"):
        intake(tmp_path, policies).select(make_complaint(received_at="2025-12-31T16:00:00+00:00"))
    assert intake(tmp_path, policies).select(make_complaint(received_at="2026-01-01T09:00:00+00:00"))


def write_policy(folder: Path, name: str, edits: list[tuple[str, str]]) -> Path:
    text = (ROOT / "policies" / "retail.yaml").read_text("utf-8")
    for old, new in [("  dir: templates/", f"  dir: {ROOT / 'policies' / 'templates'}/"), *edits]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, "utf-8")
    return folder / name


def test_two_versions_taking_effect_on_one_day_are_an_error(tmp_path: Path) -> None:
    write_policy(tmp_path, "a.yaml", [])
    write_policy(tmp_path, "b.yaml", [('version: "2026.1"', 'version: "2026.2"')])
    _, report = load_policies(tmp_path)
    (problem,) = report.errors
    assert (Path(problem.file).name, problem.line, problem.path) == ("b.yaml", 15, "policy.effective")
    assert 'versions 2026.1 and 2026.2 of policy "retail" both take effect on 2026-10-01' in problem.message
    assert "a.yaml:15:14" in problem.message


def test_the_same_version_twice_is_an_error_and_validate_says_so(tmp_path: Path) -> None:
    write_policy(tmp_path, "a.yaml", [])
    write_policy(tmp_path, "copy.yaml", [])
    write_policy(
        tmp_path,
        "next.yaml",
        [('version: "2026.1"', 'version: "2027.1"'), ("effective: 2026-10-01", "effective: 2027-10-01")],
    )
    done = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert done.exit_code == 1
    assert 'copy.yaml:12:12: error: policy.version: policy "retail" version 2026.1 is also in' in done.output
    assert "next.yaml" not in done.output  # a later version on its own date is fine
    assert "3 files checked, 1 error" in done.output


def test_a_file_named_twice_is_checked_once() -> None:
    done = CliRunner().invoke(app, ["validate", str(POLICIES), str(POLICIES / "retail.yaml")])
    assert done.exit_code == 0, done.output
    assert "ok: 3 files checked" in done.output
