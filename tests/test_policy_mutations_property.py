"""Random damage to the shipped policies never escapes as an exception.

Each example takes a shipped policy, damages it at the data level (then dumps
it with ``yaml.safe_dump``), at the text level, or at the byte level, and
validates the result.  The outcome must be a valid policy or a report whose
every problem names a file and a line and column inside it, with a message.

The second half checks that every condition of the shipped policies can be
located: every problem the shipped policies produce lies inside their file,
and a broken field name in any condition is reported at that field name.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ombuds.engine.policy.errors import PolicyError
from ombuds.engine.policy.loader import Document, Loc, load_file
from ombuds.engine.policy.validate import Validated, _conditions, validate_file, validate_text

from .conftest import POLICIES

SHIPPED = sorted(POLICIES.glob("*.yaml"))
TODAY = dt.date(2026, 6, 1)
FILE = "mutated.yaml"
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Strings that mean something to some part of a policy.
MEANINGFUL = [
    "",
    " ",
    "next",
    "5 bizness days",
    "5 business days",
    "0 business days",
    "09:00-17:30",
    "17:30-09:00",
    "24:00",
    "50%",
    "150%",
    "GB",
    "XX",
    "2026-02-30",
    "2026-01-01",
    "Europe/Nowhere",
    "stage:nowhere",
    "clock:nowhere:started",
    "complaint.custmer == 1",
    "complaint.amount >=",
    "case.level_rank == 0",
    "((",
    "a" * 5000,
    "x" * 65,
    "complaint." * 500,
    "{{ customer.name",
    "no",
    "on",
    "17:30",
    "~",
    "<<",
    "&a",
    "*a",
    "!!python/object:os.system",
    "\t",
    "é😀",
    "\u2028",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(MEANINGFUL),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(
        st.one_of(st.text(max_size=10), st.sampled_from(["id", "when", "to", "at"])), scalars, max_size=3
    ),
)
#: Characters that change how YAML reads the text around them.
YAML_NOISE = st.one_of(
    st.sampled_from(
        [
            *":-[]{}&*!|>'\"#%@`,?~\\\t\n ",
            "\x00",
            "\x07",
            "\ufeff",
            "\x85",
            "\u2028",
            "\r\n",
            "---\n",
            "...\n",
            "<<: ",
            "!!python/object ",
            "&a ",
            "*a ",
        ]
    ),
    st.text(max_size=5),
)


def _documents() -> dict[str, Document]:
    return {path.name: load_file(path) for path in SHIPPED}


DOCUMENTS = _documents()


def line_count(text: str) -> int:
    return max(1, len(re.split(r"\r\n|[\n\r\x85\u2028\u2029]", text.rstrip("\n\r\x85\u2028\u2029"))))


def assert_well_formed(result: Validated, text: str | None, file: str) -> None:
    """A valid policy, or problems that each have a file, a position and a message."""
    if result.ok:
        assert result.policy is not None
        assert not result.report.errors
    else:
        assert result.report.errors
    for problem in result.report.problems:
        assert isinstance(problem, PolicyError)
        assert problem.file, problem
        assert problem.line >= 1 and problem.col >= 1, problem.render()
        assert problem.message and problem.message.strip(), problem
        assert problem.severity in ("error", "warning")
        problem.render()  # renders without error
        if text is not None and problem.file == file:
            assert problem.line <= line_count(text), f"{problem.render()} is past the end of the text"


def locations(data: Any, loc: Loc = ()) -> list[Loc]:
    """Every node below the root."""
    out: list[Loc] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*loc, key))
            out.extend(locations(value, (*loc, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append((*loc, i))
            out.extend(locations(value, (*loc, i)))
    return out


def parent_of(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc[:-1]:
        node = node[part]
    return node


def mutate(draw: Any, data: Any) -> None:
    """Apply one random change to ``data`` in place."""
    places = locations(data)
    if not places:
        return
    loc = draw(st.sampled_from(places))
    parent, key = parent_of(data, loc), loc[-1]
    action = draw(st.sampled_from(["delete", "replace", "rename", "duplicate", "retype"]))
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = draw(values)
    elif action == "retype":
        old = parent[key]
        parent[key] = draw(
            st.sampled_from([None, str(old), [old], {"value": old}, 1, True, 1.5]).filter(
                lambda v: type(v) is not type(old)
            )
        )
    elif action == "rename" and isinstance(parent, dict):
        value = parent.pop(key)
        name = draw(
            st.one_of(
                st.text(min_size=1, max_size=12),
                st.sampled_from(
                    [key[:-1] or "x", key + "s", key.upper(), key.replace("_", "-"), "when", "<<"]
                ),
            )
        )
        parent[name] = value
    elif isinstance(parent, list):
        parent.insert(int(key), copy.deepcopy(parent[int(key)]))
    else:  # duplicating a mapping entry: give the copy a new key
        parent[f"{key}2"] = copy.deepcopy(parent[key])


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(st.data())
def test_data_mutations_give_a_result_or_located_problems(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(DOCUMENTS)), label="policy")
    policy = copy.deepcopy(DOCUMENTS[name].data)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="changes")):
        mutate(data.draw, policy)
    text = yaml.safe_dump(policy, sort_keys=False, allow_unicode=True)
    result = validate_text(text, FILE, base_dir=POLICIES, today=TODAY)
    assert_well_formed(result, text, FILE)


@SETTINGS
@given(st.data())
def test_text_mutations_give_a_result_or_located_problems(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(DOCUMENTS)), label="policy")
    text = DOCUMENTS[name].text
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="changes")):
        at = data.draw(st.integers(min_value=0, max_value=len(text)), label="at")
        action = data.draw(st.sampled_from(["truncate", "insert", "delete", "duplicate-line", "indent"]))
        if action == "truncate":
            text = text[:at]
        elif action == "insert":
            text = text[:at] + data.draw(YAML_NOISE, label="noise") + text[at:]
        elif action == "delete":
            size = data.draw(st.integers(min_value=1, max_value=40), label="size")
            text = text[:at] + text[at + size :]
        else:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end < 0 else end + 1
            line = text[start:end]
            text = text[:start] + (line + line if action == "duplicate-line" else " " + line) + text[end:]
    result = validate_text(text, FILE, base_dir=POLICIES, today=TODAY)
    assert_well_formed(result, text, FILE)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bytes")
    shutil.copytree(POLICIES / "templates", folder / "templates")
    return folder


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_byte_damage_gives_located_problems(scratch: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(DOCUMENTS)), label="policy")
    raw = (POLICIES / name).read_bytes()
    at = data.draw(st.integers(min_value=0, max_value=len(raw)), label="at")
    junk = data.draw(
        st.one_of(
            st.binary(min_size=1, max_size=4), st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80\x80"])
        ),
        label="bytes",
    )
    path = scratch / name
    damaged = raw[:at] + junk + raw[at:]
    path.write_bytes(damaged)
    result = validate_file(path, today=TODAY)
    assert_well_formed(result, damaged.decode("utf-8", errors="replace"), str(path))


# --------------------------------------------------------------------------- shipped policies stay inside their files


def test_there_are_shipped_policies() -> None:
    assert len(SHIPPED) >= 1 and all(doc.data for doc in DOCUMENTS.values())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_policy_problems_lie_inside_the_file(path: Path) -> None:
    result = validate_file(path, today=TODAY)
    assert result.ok, result.report.render_text()
    lines = line_count(path.read_text("utf-8"))
    for problem in result.report.problems:
        if problem.file == str(path):
            assert 1 <= problem.line <= lines, problem.render()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_condition_character_maps_into_the_file(path: Path) -> None:
    doc = DOCUMENTS[path.name]
    lines = doc.text.split("\n")
    conditions = list(_conditions(doc.data))
    assert conditions, "the shipped policies have conditions"
    for loc, source in conditions:
        for offset in range(len(source) + 1):
            line, col = doc.line_col_of_offset(loc, offset)
            assert 1 <= line <= line_count(doc.text) and col >= 1, (loc, offset)
            if offset < len(source) and not source[offset].isspace():
                assert lines[line - 1][col - 1 : col] == source[offset], (loc, offset, line, col)


def _break_field_names(doc: Document) -> tuple[str, int]:
    """The policy text with ``qq`` glued to every field name in every condition, and how many."""
    text = doc.text
    count = 0
    spans = sorted((doc.spans[loc][:2] for loc, _ in _conditions(doc.data)), reverse=True)
    for start, end in spans:
        piece, n = re.subn(r"\b(complaint|case)\.(?=[a-z])", r"\1.qq", text[start:end])
        text = text[:start] + piece + text[end:]
        count += n
    return text, count


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_unknown_field_in_any_condition_is_reported_at_the_field(path: Path) -> None:
    text, broken = _break_field_names(DOCUMENTS[path.name])
    assert broken >= 1
    result = validate_text(text, path.name, base_dir=path.parent, today=TODAY)
    unknown = [p for p in result.report.problems if p.code == "cel" and "unknown field" in p.message]
    assert len(unknown) == broken, result.report.render_text()
    lines = text.split("\n")
    for problem in unknown:
        assert lines[problem.line - 1][problem.col - 1 :].startswith("qq"), problem.render()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_syntax_error_at_the_end_of_any_condition_is_inside_the_file(path: Path) -> None:
    """Every condition made to end too early, dumped with PyYAML's own line folding and quoting."""
    data = copy.deepcopy(DOCUMENTS[path.name].data)
    conditions = list(_conditions(data))
    for loc, source in conditions:
        parent_of(data, loc)[loc[-1]] = source + " &&"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=60)
    result = validate_text(text, path.name, base_dir=path.parent, today=TODAY)
    errors = [p for p in result.report.problems if p.code == "cel"]
    assert len(errors) == len(conditions), result.report.render_text()
    lines = text.split("\n")
    for problem in errors:
        assert "ends too early" in problem.message
        assert 1 <= problem.line <= line_count(text), problem.render()
        before = lines[problem.line - 1][: problem.col - 1]
        assert before.rstrip(" '\"").endswith("&&"), problem.render()
