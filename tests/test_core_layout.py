"""The interpreter core's shape: pure imports, one handler per event kind, one module per policy
section of readable size, each vocabulary declared once and documented."""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ombuds.engine.policy.vocabulary import CASE_EVENTS, CASE_FIELDS, SENT_WITH, TEMPLATE_VARIABLES
from ombuds.workflows.core import Event
from ombuds.workflows.core.driver import HANDLERS
from ombuds.workflows.core.events import KINDS, Resolve

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "workflows" / "core"
DOCS = (ROOT / "docs" / "policy-language.md").read_text("utf-8")
GOLDEN = Path(__file__).resolve().parent / "golden"


def test_importing_the_core_loads_no_yaml_json_schema_or_templates() -> None:
    code = (
        "import sys, ombuds.workflows.core, ombuds.workflows.complaint, ombuds.workflows.ledger\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'jsonschema', 'jinja2', 'holidays'))\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_event_kind_has_exactly_one_handler() -> None:
    assert HANDLERS.keys() == KINDS.keys()


def test_no_core_module_is_over_four_hundred_lines() -> None:
    sizes = {
        p.relative_to(CORE).as_posix(): len(p.read_text("utf-8").splitlines()) for p in CORE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_core_processes_only_declared_case_events() -> None:
    """Every literal case event handed to ``running.process`` is in the vocabulary (so in the docs)."""
    processed = set()
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "process"
                and len(node.args) >= 3
                and isinstance(node.args[2], ast.Constant)
            ):
                processed.add(node.args[2].value)
    assert processed, "the scan found no case events"
    assert sorted(processed - CASE_EVENTS.keys()) == []


@pytest.mark.parametrize(
    ("vocabulary", "written"),
    [
        (CASE_EVENTS, "`{}`"),
        (CASE_FIELDS, "`case.{}`"),
        (TEMPLATE_VARIABLES, "| `{}` |"),
        (SENT_WITH, "| `{}` |"),
    ],
    ids=["case events", "case fields", "template variables", "template settings"],
)
def test_the_policy_language_reference_names_every_word(vocabulary: dict[str, object], written: str) -> None:
    assert [name for name in vocabulary if written.format(name) not in DOCS] == []


def single_shape_payloads() -> list[dict[str, object]]:
    """The event payloads of the v1 goldens: every kind in one shape, every field present."""
    found = []
    for path in sorted((GOLDEN / "v1").glob("*.json")):
        for event in json.loads(path.read_text("utf-8"))["events"]:
            accepted = event.get("workflowExecutionUpdateAcceptedEventAttributes")
            if accepted:
                payload = accepted["acceptedRequest"]["input"]["args"]["payloads"][0]["data"]
                found.append(json.loads(base64.b64decode(payload)))
    return found


def test_events_of_the_single_shape_decode_to_their_kind() -> None:
    payloads = single_shape_payloads()
    assert len(payloads) >= 8 and all({"final_response", "information"} <= p.keys() for p in payloads)
    for payload in payloads:
        event = Event.model_validate(payload)
        assert type(event.root) is KINDS[str(payload["kind"])]
        assert event.root.model_dump(exclude={"kind", "actor"}).keys() <= payload.keys()


def test_a_resolution_of_the_single_shape_keeps_its_fields() -> None:
    event = Event.model_validate(
        {
            "kind": "resolve",
            "actor": {"kind": "staff", "id": "dan", "level": "management"},
            "justified": True,
            "corrective_actions": ["fix rule"],
            "final_response": False,
            "information": False,
            "score": 3,
        }
    )
    assert isinstance(event.root, Resolve)
    assert (event.root.justified, event.root.corrective_actions, event.root.final_response) == (
        True,
        ["fix rule"],
        False,
    )


def test_a_field_its_kind_does_not_take_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"resolve\.score"):
        Event(kind="resolve", actor={"kind": "staff", "id": "dan", "level": "management"}, score=3)
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        Event(kind="resolved", actor={"kind": "customer"})


def test_an_event_is_written_with_its_own_fields_only() -> None:
    event = Event(kind="agent_reply", actor={"kind": "staff", "id": "eva", "level": "agent"}, text="Hello")
    assert json.loads(event.model_dump_json()) == {
        "kind": "agent_reply",
        "actor": {"kind": "staff", "id": "eva", "level": "agent"},
        "text": "Hello",
    }


def test_the_section_modules_are_named_as_in_the_policy() -> None:
    sections = {"intake", "classification", "stages", "dates", "escalation", "callbacks"}
    sections |= {"notifications", "follow_up"}
    assert sections <= {p.stem for p in CORE.glob("*.py")}
    assert (CORE / "clocks").is_dir() and (CORE / "compensation").is_dir()
    assert re.search(r"^def on_propose\b", (CORE / "compensation" / "proposals.py").read_text("utf-8"), re.M)


def test_workflow_code_reads_no_file() -> None:
    """Snapshots reach workflow code through the worker's runner, never through a file read."""
    io = re.compile(r"\bopen\(|read_bytes|read_text|\bpathlib\b|\bimport os\b|\.store\b|\bStore\b")
    found = {
        p.relative_to(ROOT).as_posix(): io.findall(p.read_text("utf-8"))
        for p in (ROOT / "workflows").rglob("*.py")
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_the_snapshot_registry_never_fetches_on_a_miss() -> None:
    from ombuds.workflows import snapshots

    unknown = "0" * 64
    with pytest.raises(snapshots.SnapshotMissing):
        snapshots.instance(unknown)
    assert not [name for name in vars(snapshots) if "loader" in name.lower() and not name.startswith("__")]


def test_a_state_an_earlier_version_carried_over_still_decodes() -> None:
    """Continue-as-new carries the state: fields earlier versions wrote and nothing read are dropped."""
    from ombuds.workflows.core import CaseState

    state = CaseState.model_validate(
        {
            "complaint_id": "T-1",
            "policy_sha": "0" * 64,
            "received": 1,
            "clocks": {
                "ack": {
                    "id": "ack",
                    "status": "stopped",
                    "due": 9,
                    "original_due": 9,
                    "stopped_at": 5,
                    "cycles": 1,
                },
                "final": {"id": "final", "status": "breached", "due": 9, "breached_at": 10, "cycles": 1},
            },
        }
    )
    assert (state.clocks["ack"].status, state.clocks["final"].due) == ("stopped", 9)
    with pytest.raises(ValidationError):
        CaseState.model_validate({"complaint_id": "T-1", "policy_sha": "0", "received": 1, "colour": "red"})


def test_every_change_id_is_in_the_architecture_table() -> None:
    from ombuds.workflows.core.patches import PATCHES

    architecture = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert [change for change in PATCHES if f"| `{change}` |" not in architecture] == []


def test_every_problem_code_is_declared_once_and_documented() -> None:
    import typing

    from ombuds.engine.policy.errors import CODES, ErrorCode

    assert list(typing.get_args(ErrorCode)) == list(CODES)
    assert [code for code in CODES if f"| `{code}` |" not in DOCS] == []


def test_the_snapshot_runner_forwards_every_method_the_sdk_calls() -> None:
    """A method a later SDK adds to the runner or instance interface must be forwarded too."""
    from temporalio.worker import WorkflowInstance, WorkflowRunner

    from ombuds.engine.runner import SnapshotLoadingRunner, _Loading

    for base, wrapper in ((WorkflowRunner, SnapshotLoadingRunner), (WorkflowInstance, _Loading)):
        public = {name for name, value in vars(base).items() if callable(value) and not name.startswith("_")}
        assert public, base
        assert sorted(public - set(vars(wrapper))) == [], wrapper


def test_a_snapshot_whose_content_does_not_match_its_sha_is_refused_and_says_so() -> None:
    from ombuds.workflows import snapshots

    sha = "1" * 64
    snapshots.load(sha, b'{"not": "the content"}', snapshots.Instance)
    with pytest.raises(snapshots.SnapshotMissing, match="does not match its sha256"):
        snapshots.instance(sha)
