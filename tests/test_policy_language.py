"""The checked-in schemas, the example complaints, compile stability and `ombuds explain`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ombuds.engine import cli
from ombuds.engine.policy import schema
from ombuds.engine.policy.compile import compile_file, instantiate
from ombuds.engine.policy.loader import load_file
from ombuds.engine.policy.snapshot import calendar_to_data
from ombuds.engine.policy.validate import validate_complaint_data
from ombuds.workflows.core import Interpreter

from .conftest import EXAMPLES, POLICIES, ROOT
from .workflow_support import shipped_policies

runner = CliRunner()
COMPLAINTS = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml"))


@pytest.mark.parametrize("kind", ["policy", "complaint"])
def test_checked_in_schema_matches_the_models(kind: str) -> None:
    checked_in = (ROOT / "schemas" / f"{kind}.schema.json").read_text("utf-8")
    assert checked_in == schema.render(schema.generated(kind)), "run: ombuds schema --write"


def test_schema_check_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("policy", "complaint"):
        shutil.copy(ROOT / "schemas" / f"{kind}.schema.json", tmp_path)
    shutil.copy(ROOT / "schemas" / "openapi.json", tmp_path)
    shutil.copy(ROOT / "schemas" / "policy-test.schema.json", tmp_path)
    monkeypatch.setattr(cli, "SCHEMA_DIR", tmp_path)
    assert runner.invoke(cli.app, ["schema", "--check"]).exit_code == 0
    drifted = json.loads((tmp_path / "policy.schema.json").read_text("utf-8"))
    drifted["properties"].pop("escalation")
    (tmp_path / "policy.schema.json").write_text(json.dumps(drifted), "utf-8")
    result = runner.invoke(cli.app, ["schema", "--check"])
    assert result.exit_code == 1 and "schema drift" in result.output


def test_schema_has_descriptions_and_examples_for_editors() -> None:
    policy = schema.generated("policy")
    clock = policy["$defs"]["Clock"]["properties"]
    assert clock["target"]["description"] and clock["target"]["examples"]
    assert policy["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_examples_come_in_json_and_yaml_for_every_policy() -> None:
    for prefix in ("fs-", "retail-", "b2b-"):
        suffixes = {p.suffix for p in COMPLAINTS if p.name.startswith(prefix)}
        assert suffixes == {".json", ".yaml"}, prefix


@pytest.mark.parametrize("path", COMPLAINTS, ids=lambda p: p.name)
def test_example_complaint_goes_where_its_name_says(path: Path) -> None:
    complaint, problems = validate_complaint_data(load_file(path))
    assert complaint is not None, problems

    from ombuds.engine.policy.expressions import case_variables, complaint_variables
    from ombuds.engine.policy.rules import select_policy

    policies = shipped_policies()
    chosen = select_policy([p.policy for p in policies], complaint_variables(complaint), case_variables())
    assert chosen is not None
    expected = {"fs": "financial-services", "retail": "retail", "b2b": "b2b-support"}[path.name.split("-")[0]]
    assert chosen.policy.id == expected
    compiled = next(p for p in policies if p.policy is chosen)
    core = Interpreter(
        compiled, instantiate(compiled, complaint.received_at, complaint), complaint, complaint.id or "X"
    )
    state = core.start(int(complaint.received_at.timestamp()))
    if "-refused-" in path.name:
        rule_name = path.stem.split("-refused-")[1].removesuffix("-de")
        refusal = next(e for e in state.log if e.action == "refused")
        index = int(refusal.rule.split("[")[1].rstrip("]"))
        assert state.status == "refused"
        rule = compiled.policy.intake.refusals[index]
        assert rule_name in (rule.id, rule.reason.replace("_", "-"))
    else:
        assert state.status == "open", [e.action for e in state.log]


def test_sha_is_the_same_wherever_the_policy_lives(tmp_path: Path) -> None:
    shutil.copytree(POLICIES, tmp_path / "elsewhere")
    here = compile_file(POLICIES / "financial-services.yaml")
    there = compile_file(tmp_path / "elsewhere" / "financial-services.yaml")
    assert here.sha256 == there.sha256
    edited = tmp_path / "elsewhere" / "templates" / "financial" / "received.en.txt"
    edited.write_text(edited.read_text("utf-8") + "P.S.\n", "utf-8")
    assert compile_file(tmp_path / "elsewhere" / "financial-services.yaml").sha256 != here.sha256


def test_case_calendar_is_explicit_compact_and_versioned() -> None:
    compiled = compile_file(POLICIES / "financial-services.yaml")
    complaint, _ = validate_complaint_data(load_file(EXAMPLES / "fs-card-fee.yaml"))
    assert complaint is not None
    instance = instantiate(compiled, complaint.received_at, complaint)
    assert instance.selected == {"regional": "scotland"}
    assert instance.holidays_version and instance.tzdata_version
    assert instance.horizon_days >= 180  # the 6-month referral date fits
    size = len(instance.model_dump_json())
    assert size < 40_000, size
    scotland = instance.calendar("regional")
    # Christmas and 2 January are closed in Scotland
    closed = dict(scotland.closed_days)
    names = set(closed.values())
    assert "Christmas Day" in names and "New Year Holiday" in names
    assert calendar_to_data(scotland)["deltas"], "working time is stored as explicit intervals"


def explain(name: str) -> str:
    result = runner.invoke(cli.app, ["explain", str(POLICIES / name)])
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_financial_services_matches_the_regulated_procedure() -> None:
    text = explain("financial-services.yaml")
    for fragment in (
        "within 5 business days",
        "ends at close of business on the 5th working day; the day of receipt does not count",
        "within 2 months",
        "within 3 months",
        'may be extended when case.severity != "critical" to at most 35 business days',
        "records kept 5 years",
        "on customer request: to complaints-department, with a hand-off summary",
        "refused as abusive",
        "refused as unidentifiable",
    ):
        assert fragment in text, fragment


def test_explain_retail_matches_the_retail_guide() -> None:
    text = explain("retail.yaml")
    for fragment in (
        "within 10 hours",
        "elapsed clock time, nights and weekends included",
        "discount up to 15%",
        "discount up to 30%",
        "satisfaction survey 24 hours after resolution",
        "thank-you message 60 days after resolution",
        "no sms between 21:00 and 08:00",
        "the customer chooses one of",
    ):
        assert fragment in text, fragment


def test_explain_b2b_lists_targets_per_priority() -> None:
    text = explain("b2b-support.yaml")
    for fragment in (
        "priority P1: within 1 business hour",
        "priority P4: within 2 business days",
        "America/New_York",
    ):
        assert fragment in text, fragment
    # an hour target is counted differently from the day target next to it: explain says how
    assert "priority P1: within 1 business hour (working time only" in text
    assert "priority P4: within 2 business days\n" in text  # counted like the default: nothing added


def test_the_zone_data_version_names_where_zoneinfo_reads_it(tmp_path: Path) -> None:
    from ombuds.engine.policy.calendar import zone_data_version

    system = tmp_path / "zoneinfo"
    system.mkdir()
    (system / "UTC").write_bytes(b"TZif")
    (system / "tzdata.zi").write_text("# version 2031z\n", "utf-8")
    assert zone_data_version([str(tmp_path / "empty"), str(system)]) == f"system 2031z ({system})"
    assert zone_data_version([str(tmp_path / "empty")]).startswith("tzdata ")
