"""The YAML loader: YAML 1.2 core semantics, positions, and located failures.

Whatever the input, the loader either returns a document or raises
``LoadFailed`` carrying one problem with a file, a line and a column; it never
lets another exception out.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ombuds.engine.cli import app
from ombuds.engine.policy import loader
from ombuds.engine.policy.errors import PolicyError
from ombuds.engine.policy.loader import (
    MAX_BYTES,
    MAX_DEPTH,
    Document,
    LoadFailed,
    decode,
    load_file,
    load_text,
)
from ombuds.engine.policy.validate import validate_file, validate_text

FILE = "policy.yaml"


def load(text: str) -> Any:
    return load_text(text, FILE).data


def failure(text: str) -> PolicyError:
    with pytest.raises(LoadFailed) as caught:
        load_text(text, FILE)
    problem = caught.value.problem
    assert problem.file == FILE and problem.line >= 1 and problem.col >= 1 and problem.message
    assert problem.severity == "error"
    return problem


def byte_failure(raw: bytes) -> PolicyError:
    with pytest.raises(LoadFailed) as caught:
        decode(raw, FILE)
    return caught.value.problem


# --------------------------------------------------------------------------- YAML 1.2 core scalars


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("17:30", "17:30"),  # YAML 1.1: 1050 (sexagesimal)
        ("09:00-17:30", "09:00-17:30"),
        ("no", "no"),  # YAML 1.1: False
        ("No", "No"),
        ("off", "off"),
        ("on", "on"),  # YAML 1.1: True
        ("yes", "yes"),
        ("y", "y"),
        ("n", "n"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("0o17", 15),
        ("0x1F", 31),
        ("0x1f", 31),
        ("017", 17),  # YAML 1.1: octal 15
        ("-42", -42),
        ("+7", 7),
        ("0b101", "0b101"),  # no binary integers in YAML 1.2 core
        ("1_000", "1_000"),  # no digit separators either
        ("1e3", 1000.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-1.5E-2", -0.015),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("+.INF", math.inf),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
        ("2026-01-01", "2026-01-01"),  # YAML 1.1: a date object
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"),
        ("'no'", "no"),
        ('"17:30"', "17:30"),
        ('"1e3"', "1e3"),
        ("'~'", "~"),
        ("!!str 5", "5"),
        ("!!str true", "true"),
        ('!!int "7"', 7),
        ("!!float 1", 1.0),
        ('!!bool "false"', False),
        ("!!null ''", None),
        ("5 business days", "5 business days"),
        ("50%", "50%"),
    ],
)
def test_yaml_1_2_core_scalars(text: str, value: object) -> None:
    loaded = load(f"value: {text}\n")["value"]
    assert loaded == value
    assert type(loaded) is type(value)


def test_nan_is_a_float() -> None:
    assert math.isnan(load("value: .nan\n")["value"])
    assert math.isnan(load("value: .NaN\n")["value"])


def test_keys_are_always_text() -> None:
    data = load("1: a\ntrue: b\nnull: c\n17:30: d\n'x': e\n")
    assert data == {"1": "a", "true": "b", "null": "c", "17:30": "d", "x": "e"}


def test_tag_that_does_not_fit_its_value() -> None:
    problem = failure("a: 1\nb: !!int twelve\n")
    assert (problem.line, problem.col) == (2, 4)
    assert '"twelve" is not a valid !!int' in problem.message


def test_number_with_too_many_digits_is_located() -> None:
    problem = failure("a: 1\nb: " + "9" * 5000 + "\n")
    assert (problem.line, problem.col) == (2, 4)
    assert "too many digits" in problem.message and "quote" in (problem.hint or "")


# --------------------------------------------------------------------------- positions

NESTED = """\
# a comment
policy:
  id: x
calendars:
  england:
    hours:
      mon: ["09:00-12:30", "13:30-17:30"]
escalation:
  - id: first
    trigger: {on: customer_request, clock: c}
  -   id: second
      to: next
"""


def test_positions_of_nested_nodes() -> None:
    doc = load_text(NESTED, FILE)
    assert doc.position(("policy", "id")) == (3, 7)
    assert doc.position(("calendars", "england", "hours", "mon")) == (7, 12)
    assert doc.position(("calendars", "england", "hours", "mon", 1)) == (7, 28)
    assert doc.position(("escalation", 0)) == (9, 5)
    assert doc.position(("escalation", 0, "trigger", "clock")) == (10, 44)
    assert doc.position(("escalation", 1, "to")) == (12, 11)
    assert doc.position(("escalation", 1)) == (11, 7)


def test_key_positions() -> None:
    doc = load_text(NESTED, FILE)
    assert doc.position(("calendars", "england", "hours"), key=True) == (6, 5)
    assert doc.position(("escalation", 0, "trigger", "on"), key=True) == (10, 15)
    assert doc.position(("escalation",), key=True) == (8, 1)


def test_missing_node_is_shown_at_its_nearest_ancestor_key() -> None:
    doc = load_text(NESTED, FILE)
    # `policy.title` is not written: show the `policy:` key, not the line inside it
    assert doc.position(("policy", "title")) == (2, 1)
    assert doc.position(("escalation", 1, "limits", "max_amount")) == (11, 7)
    assert doc.position(("nowhere",)) == doc.position(()) == (2, 1)  # the top-level mapping


def test_error_carries_file_path_and_position() -> None:
    doc = load_text(NESTED, FILE)
    problem = doc.error(("escalation", 1, "to"), "bad", "fix it")
    assert (problem.file, problem.line, problem.col, problem.path) == (FILE, 12, 11, "escalation[1].to")
    assert problem.render() == f"{FILE}:12:11: error: escalation[1].to: bad (fix it)"


def test_positions_with_crlf_and_bom() -> None:
    raw = "\ufeffa: 1\r\nb:\r\n  c: [x, y]\r\n".encode()
    doc = load_text(decode(raw, FILE), FILE)
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert doc.position(("b", "c", 1)) == (3, 10)


SCALARS = """\
conds:
  plain: complaint.custmer == 1
  double: "case.x == \\"a\\" && complaint.custmer"
  single: 'case.x == ''a'' && complaint.custmer'
  folded-plain: complaint.a == 1 &&
    complaint.custmer == 2
  literal: |
    complaint.a == 1 &&
      complaint.custmer == 2
  folded: >-
    complaint.a == 1 &&
    complaint.custmer == 2
  escaped: "\\x41\\t\\u00e9 complaint.custmer"
  after-tab: "\\tcomplaint.custmer"
"""


@pytest.mark.parametrize(
    "key", ["plain", "double", "single", "folded-plain", "literal", "folded", "escaped", "after-tab"]
)
def test_offsets_inside_scalars_map_to_the_source(key: str) -> None:
    """A character of a condition is found in the file whatever the scalar style."""
    doc = load_text(SCALARS, FILE)
    value = doc.data["conds"][key]
    line, col = doc.line_col_of_offset(("conds", key), value.index("custmer"))
    assert SCALARS.split("\n")[line - 1][col - 1 :].startswith("custmer"), (line, col)


def test_offset_past_the_end_stays_on_the_scalar_line() -> None:
    doc = load_text(SCALARS, FILE)
    for key, value in doc.data["conds"].items():
        line, col = doc.line_col_of_offset(("conds", key), len(value))
        start_line, _ = doc.position(("conds", key))
        assert start_line <= line <= len(SCALARS.split("\n")), key
        assert col >= 1


# --------------------------------------------------------------------------- duplicate keys


def test_duplicate_key_located_at_the_second_key() -> None:
    problem = failure("policy:\n  id: a\n  title: t\n  id: b\n")
    assert (problem.line, problem.col) == (4, 3)
    assert problem.message == 'duplicate key "id"'
    assert "first defined at line 2" in (problem.hint or "")


def test_duplicate_key_in_flow_mapping() -> None:
    problem = failure("trigger: {on: a, clock: b, on: c}\n")
    assert (problem.line, problem.col) == (1, 28)
    assert "first defined at line 1, column 11" in (problem.hint or "")


def test_quoted_and_plain_spellings_of_a_key_are_the_same_key() -> None:
    problem = failure("a: 1\n'a': 2\n")
    assert (problem.line, problem.col, problem.message) == (2, 1, 'duplicate key "a"')


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load("a: {id: 1}\nb: {id: 2}\n") == {"a": {"id": 1}, "b": {"id": 2}}


def test_collected_duplicate_keys_keep_the_first_value_and_the_load_goes_on() -> None:
    doc = load_text("a: 1\nb: {x: 1, x: 2}\na: 3\nc: [1]\n", FILE, collect=True)
    assert doc.data == {"a": 1, "b": {"x": 1}, "c": [1]}
    assert [(p.line, p.col, p.message) for p in doc.problems] == [
        (2, 11, 'duplicate key "x"'),
        (3, 1, 'duplicate key "a"'),
    ]
    assert doc.position(("c",)) == (4, 4)


def test_a_duplicate_key_does_not_hide_the_other_problems_of_a_policy() -> None:
    text = (ROOT / "policies" / "retail.yaml").read_text("utf-8")
    text = text.replace(
        "  owner: Head of Customer Service\n", "  owner: Head of Customer Service\n  owner: X\n", 1
    )
    text = text.replace(
        "  title: Complaint handling procedure (retail stores and web shop)\n", "  title: 5\n", 1
    )
    result = validate_text(text, FILE, base_dir=ROOT / "policies", today=dt.date(2026, 11, 1))
    assert not result.ok
    assert sorted((p.line, p.col, p.path, p.message) for p in result.report.errors) == [
        (13, 10, "policy.title", "expected text, found a number 5"),
        (15, 3, "policy.owner", 'duplicate key "owner"'),
    ]


# --------------------------------------------------------------------------- aliases and nesting

BILLION_LAUGHS = "".join(
    f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10 if prev else ["lol"] * 10) + "]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)


def test_alias_bomb_is_rejected_quickly() -> None:
    started = time.perf_counter()
    problem = failure(BILLION_LAUGHS)
    assert time.perf_counter() - started < 5
    assert "document expands to more than" in problem.message
    assert "aliases" in (problem.hint or "")
    assert problem.line <= BILLION_LAUGHS.count("\n")


def test_alias_text_bomb_is_rejected() -> None:
    text = "a: &a " + "x" * 900_000 + "\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    problem = failure(text)
    assert "characters" in problem.message


def test_ordinary_aliases_work_and_an_anchor_may_be_redefined() -> None:
    data = load("base: &h [x]\nuse: *h\nagain: &h [y]\nlater: *h\n")
    assert data == {"base": ["x"], "use": ["x"], "again": ["y"], "later": ["y"]}


def test_alias_value_is_located_where_the_alias_is_written() -> None:
    doc = load_text("hours: &h\n  mon: [a]\nother:\n  hours: *h\n", FILE)
    assert doc.position(("other", "hours")) == (4, 10)


def test_undefined_alias() -> None:
    problem = failure("a: 1\nb: *nothing\n")
    assert (problem.line, problem.col) == (2, 4)
    assert problem.message == "unknown alias *nothing"
    assert "&nothing" in (problem.hint or "")


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a\n  b: *a\n", "x:\n  - &loop {child: [*loop]}\n"])
def test_recursive_alias(text: str) -> None:
    problem = failure(text)
    assert "an alias refers to a node that contains it" in problem.message


def test_deep_flow_nesting_is_located_without_recursion_error() -> None:
    problem = failure("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert problem.message == f"document is nested more than {MAX_DEPTH} levels deep"
    assert (problem.line, problem.col) == (1, 4 + MAX_DEPTH - 1)


def test_deep_block_nesting_is_located() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(200))
    problem = failure(text)
    assert "nested more than" in problem.message
    # mapping number n starts on line n; the keys of the 64th are the 65th level
    assert (problem.line, problem.col) == (MAX_DEPTH, 2 * (MAX_DEPTH - 1) + 1)


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    assert load("[" * depth + "]" * depth) is not None


# --------------------------------------------------------------------------- size and encoding


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: '" + b"x" * MAX_BYTES + b"'\n")
    with pytest.raises(LoadFailed) as caught:
        load_file(path)
    problem = caught.value.problem
    assert (problem.file, problem.line, problem.col) == (str(path), 1, 1)
    assert f"the limit is {MAX_BYTES}" in problem.message


def test_text_over_the_size_limit() -> None:
    problem = failure("a: " + "x" * MAX_BYTES)
    assert "the limit is" in problem.message


def test_non_utf8_byte_is_located_by_character_column() -> None:
    raw = "a: 1\nb: 2\ncafé: caf".encode() + b"\xe9\n"
    problem = byte_failure(raw)
    assert (problem.line, problem.col) == (3, 10)  # "café: caf" is 9 characters (10 bytes)
    assert problem.message == "file is not valid UTF-8 (byte 0xE9)"
    assert "UTF-8" in (problem.hint or "")


def test_utf16_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("a: 1\n".encode("utf-16"))
    with pytest.raises(LoadFailed) as caught:
        load_file(path)
    assert "UTF-16" in (caught.value.problem.hint or "")


def test_forbidden_character_is_located() -> None:
    problem = failure("a: 1\nb: x\x00y\n")
    assert (problem.line, problem.col) == (2, 5)
    assert problem.message == "character U+0000 is not allowed in YAML"
    assert "\n" not in problem.message


def test_missing_file() -> None:
    with pytest.raises(LoadFailed) as caught:
        load_file("/nonexistent/policy.yaml")
    assert "cannot read file" in caught.value.problem.message


# --------------------------------------------------------------------------- malformed YAML


def test_tab_in_indentation_hints_at_spaces() -> None:
    problem = failure("policy:\n  id: a\n\ttitle: b\n")
    assert (problem.line, problem.col) == (3, 1)
    assert "tab" in problem.message or "'\\t'" in problem.message
    assert "spaces, not tabs" in (problem.hint or "")


def test_tab_after_spaces_in_indentation() -> None:
    problem = failure("a:\n  b: 1\n  \tc: 2\n")
    assert problem.line == 3
    assert "spaces, not tabs" in (problem.hint or "")


def test_unclosed_bracket_points_at_its_start() -> None:
    problem = failure("a: 1\nb: [x, y\n")
    assert problem.message.startswith("malformed YAML:")
    assert problem.line == 2  # clamped inside the file, not past its end
    assert "line 2, column 4" in (problem.hint or "")


def test_unclosed_quote() -> None:
    problem = failure("a: 'x\n")
    assert problem.line == 1
    assert "quoted scalar at line 1, column 4" in (problem.hint or "")


def test_bad_indentation() -> None:
    problem = failure("a: 1\n b: 2\n")
    assert (problem.line, problem.col) == (2, 3)
    assert problem.message == '"b" is indented 1 space, deeper than "a" on line 1, which has 0'
    assert problem.hint == (
        'indent it by 0 spaces, like "a", if it belongs to the same block: YAML reads it as part of the value of "a"'
    )


@pytest.mark.parametrize(
    "text",
    ["a: 1\n---\nb: 2\n", "---\na: 1\n---\nb: 2\n", "a: 1\n...\n---\nb: 2\n", "a: 1\n---\n"],
)
def test_several_documents(text: str) -> None:
    problem = failure(text)
    assert problem.message == "expected one YAML document, found several"
    second = [i for i, line in enumerate(text.split("\n"), 1) if line == "---"][-1]
    assert (problem.line, problem.col) == (second, 1)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_document(text: str) -> None:
    problem = failure(text)
    assert (problem.line, problem.col, problem.message) == (1, 1, "document is empty")


def test_top_level_list_loads_but_is_not_a_policy() -> None:
    assert load("- a\n- b\n") == ["a", "b"]
    report = validate_text("- a\n- b\n", FILE).report
    (problem,) = report.problems
    assert (problem.line, problem.col) == (1, 1)
    assert problem.message == "a policy must be a YAML mapping at the top level, found a list"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: !!python/object:os.system x\n", "!!python/object:os.system"),
        ("a: !!python/object/apply:os.system [ls]\n", "!!python/object/apply:os.system"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!timestamp 2026-01-01\n", "!!timestamp"),
        ("a: !!set {x: null}\n", "!!set"),
        ("a: !custom x\n", "!custom"),
        ("!!python/name:os.system\n", "!!python/name:os.system"),
    ],
)
def test_unsupported_tags(text: str, shown: str) -> None:
    problem = failure(text)
    assert problem.message == f"unsupported YAML tag {shown}"
    assert problem.line == 1 and problem.col in (1, 4)
    assert "remove the tag" in (problem.hint or "")


def test_merge_keys_are_rejected_at_the_merge_key() -> None:
    problem = failure("base: &b {x: 1}\nthing:\n  y: 2\n  <<: *b\n")
    assert (problem.line, problem.col) == (4, 3)
    assert "merge keys (<<) are not supported" in problem.message
    assert "write the keys out" in (problem.hint or "")


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    assert load("'<<': 1\n") == {"<<": 1}


def test_complex_key() -> None:
    problem = failure("? [a, b]\n: 1\n")
    assert problem.message == "mapping keys must be plain text"


# --------------------------------------------------------------------------- whole-policy entry points


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00",
        b"policy:\n\tid: x\n",
        b"a: 1\na: 2\n",
        BILLION_LAUGHS.encode(),
        b"a: " + b"[" * 500 + b"]" * 500,
        b"a: !!python/object:os.system x\n",
        b"a: 1\n---\nb: 2\n",
        b"- just\n- a list\n",
        b"x: <<\n<<: 1\n",
        b"a: [\n",
        b"just text\n",
        b"42\n",
    ],
)
def test_validate_file_reports_bad_input_without_raising(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(raw)
    result = validate_file(path)
    assert not result.ok
    assert result.report.errors
    for problem in result.report.problems:
        assert problem.file == str(path) and problem.line >= 1 and problem.col >= 1 and problem.message


def test_cli_reports_a_load_failure(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"policy:\n  id: caf\xe9\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2:10: error: file is not valid UTF-8 (byte 0xE9) (save it as UTF-8)" in result.output
    assert "Traceback" not in result.output


def test_document_type() -> None:
    doc = load_text("a: [1]\n", FILE)
    assert isinstance(doc, Document)
    assert doc.value(("a", 0)) == 1 and doc.value(("a", 5)) is None and doc.value(("b",)) is None


def test_dates_stay_text_until_the_model_reads_them() -> None:
    path = Path(__file__).resolve().parent.parent / "policies" / "financial-services.yaml"
    doc = load_file(path)
    assert doc.data["policy"]["effective"] == "2026-01-01"
    assert doc.data["calendars"]["england"]["closed"] == ["2026-12-24"]
    assert doc.data["calendars"]["england"]["hours"]["mon"] == ["09:00-17:30"]
    result = validate_file(path)
    assert result.policy is not None, result.report.render_text()
    assert result.policy.policy.effective == dt.date(2026, 1, 1)
    assert result.policy.calendars["england"].closed == [dt.date(2026, 12, 24)]


# --------------------------------------------------------------------------- one pass and composer agree

ROOT = Path(__file__).resolve().parent.parent


def _both(text: str) -> tuple[Any, Any]:
    """What ``load_text`` (one pass over events when it can) and the composer make of ``text``."""

    def run(load: Any) -> Any:
        try:
            doc = load(text, FILE)
        except LoadFailed as exc:
            return exc.problem
        return (doc.data, doc.positions, doc.key_positions, doc.spans)

    return run(load_text), run(loader._load_composed)


@pytest.mark.parametrize(
    "path",
    sorted(
        [*ROOT.glob("policies/*.yaml"), *ROOT.glob("examples/**/*.yaml")],
        key=str,
    ),
    ids=lambda path: path.name,
)
def test_shipped_yaml_loads_the_same_in_one_pass_as_composed(path: Path) -> None:
    fast, composed = _both(path.read_text(encoding="utf-8"))
    assert not isinstance(fast, PolicyError)
    assert fast == composed


_yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.sampled_from("ab<-:1 '"), min_size=1, max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    value=_yaml_values,
    flow=st.sampled_from([None, True, False]),
    tail=st.sampled_from(["", "\n---\nx: 1\n", "\n&a x: *a\n", "\n!!str y: 1\n", "\n<<: {}\n"]),
)
def test_one_pass_and_composer_agree_on_any_yaml(value: Any, flow: bool | None, tail: str) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True) + tail
    fast, composed = _both(text)
    assert fast == composed


@pytest.mark.parametrize("depth", [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
def test_one_pass_and_composer_agree_at_the_depth_limit(depth: int) -> None:
    for text in (
        "[" * depth + "1" + "]" * depth,
        "".join(f"{'  ' * i}k:\n" for i in range(depth)) + "  " * depth + "v\n",
    ):
        fast, composed = _both(text)
        assert fast == composed


def test_a_lone_surrogate_in_text_is_located() -> None:
    problem = failure("a: 1\nb: \ud800\n")
    assert (problem.line, problem.col) == (2, 4) and "U+D800" in problem.message


def test_a_key_indented_deeper_than_the_key_above_says_which_and_by_how_much() -> None:
    text = "clocks:\n  - id: answer\n    kind: resolution\n      target: 10 hours\n"
    problem = failure(text)
    assert (problem.line, problem.col) == (4, 13)
    assert problem.message == '"target" is indented 6 spaces, deeper than "kind" on line 3, which has 4'
    assert problem.hint is not None and problem.hint.startswith('indent it by 4 spaces, like "kind"')
