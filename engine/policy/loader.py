"""YAML loading with YAML 1.2 core semantics and the position of every node.

PyYAML resolves plain scalars with YAML 1.1 rules (``17:30`` becomes 1050 and
``no`` becomes False).  Here every plain scalar is resolved with the YAML 1.2
core schema instead, dates stay strings, and each node's line and column are
kept so that any later check can point at the text an author wrote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import PolicyError

Loc = tuple[str | int, ...]

MAX_BYTES = 1_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_BOOL_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_CORE_TAGS = {
    _STR,
    _SEQ,
    _MAP,
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}


class _ComposeOnly(yaml.SafeLoader):
    """A loader whose resolver tags every plain scalar as a string."""


_ComposeOnly.yaml_implicit_resolvers = {}


def format_loc(loc: Loc) -> str:
    """``("escalation", 2, "to")`` → ``escalation[2].to``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus where each node came from."""

    file: str
    data: Any
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """The line and column of ``loc``, or of its nearest located ancestor."""
        probe = tuple(loc)
        while True:
            if key and probe in self.key_positions:
                return self.key_positions[probe]
            if probe in self.positions:
                return self.positions[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def error(
        self,
        loc: Loc,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
        severity: str = "error",
        code: str = "invalid",
    ) -> PolicyError:
        line, col = self.position(loc, key=key)
        return PolicyError(
            file=self.file,
            line=line,
            col=col,
            path=format_loc(loc),
            message=message,
            hint=hint,
            severity=severity,  # type: ignore[arg-type]
            code=code,
        )

    def line_col_of_offset(self, loc: Loc, offset: int) -> tuple[int, int]:
        """Position of the ``offset``-th character inside the scalar at ``loc``."""
        line, col = self.position(loc)
        lines = self.text.splitlines()
        if 0 < line <= len(lines):
            source_line = lines[line - 1]
            start = col - 1
            if start < len(source_line) and source_line[start] in "'\"":
                offset += 1
        return line, col + offset


class LoadFailed(Exception):
    """The text could not be read as a single YAML document."""

    def __init__(self, problem: PolicyError) -> None:
        self.problem = problem
        super().__init__(problem.render())


def _problem(file: str, line: int, col: int, message: str, hint: str | None = None) -> LoadFailed:
    return LoadFailed(PolicyError(file, line, col, "", message, hint, "error", "yaml"))


def _resolve_plain(value: str) -> Any:
    if _NULL.match(value):
        return None
    if _BOOL_TRUE.match(value):
        return True
    if _BOOL_FALSE.match(value):
        return False
    if _INT10.match(value):
        return int(value)
    if _INT8.match(value):
        return int(value[2:], 8)
    if _INT16.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.match(value):
        return math.nan
    return value


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Loc, tuple[int, int]] = {}
        self.key_positions: dict[Loc, tuple[int, int]] = {}
        self.count = 0

    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> LoadFailed:
        mark = node.start_mark
        return _problem(self.file, mark.line + 1, mark.column + 1, message, hint)

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_NODES} nodes",
                "aliases that repeat large structures are not supported; write the values out",
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, f"document is nested more than {MAX_DEPTH} levels deep")
        if node.tag not in _CORE_TAGS:
            raise self.fail(node, f"unsupported YAML tag {node.tag!r}", "remove the tag")
        self.positions.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, depth)
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag != _STR:
            return _resolve_plain(node.value) if node.style is None else node.value
        if node.style is None:
            return _resolve_plain(node.value)
        return node.value

    def _mapping(self, node: yaml.MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or (
                isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and key_node.style is None
            ):
                raise self.fail(key_node, "merge keys (<<) are not supported", "write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain text")
            key = self._scalar(key_node)
            if not isinstance(key, str):
                key = key_node.value
            if key in out:
                first = self.key_positions.get((*loc, key), (0, 0))
                raise self.fail(
                    key_node,
                    f'duplicate key "{key}"',
                    f"first defined at line {first[0]}",
                )
            child = (*loc, key)
            self.key_positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child, depth + 1)
        return out


def decode(raw: bytes, file: str) -> str:
    """UTF-8 text of ``raw``, or a located error at the first bad byte."""
    if len(raw) > MAX_BYTES:
        raise _problem(file, 1, 1, f"file is {len(raw)} bytes; the limit is {MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _problem(file, line, col, "file is not valid UTF-8", "save it as UTF-8") from None
    return text.removeprefix("\ufeff")


def load_text(text: str, file: str = "<string>") -> Document:
    """Parse one YAML document from ``text``; raises :class:`LoadFailed`."""
    if len(text) > MAX_BYTES:
        raise _problem(file, 1, 1, f"text is {len(text)} characters; the limit is {MAX_BYTES}")
    try:
        nodes = list(yaml.compose_all(text, Loader=_ComposeOnly))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "malformed YAML"
        hint = None
        if "\t" in message or "'\\t'" in message:
            hint = "YAML indentation uses spaces, not tabs"
        raise _problem(file, line, col, f"malformed YAML: {message}", hint) from None
    except yaml.YAMLError as exc:
        raise _problem(file, 1, 1, f"malformed YAML: {exc}") from None
    except RecursionError:
        raise _problem(file, 1, 1, "document is nested too deeply") from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise _problem(file, 1, 1, "document is empty")
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        raise _problem(file, mark.line + 1, 1, "expected one YAML document, found several")
    builder = _Builder(file)
    data = builder.build(nodes[0], (), 0)
    return Document(file, data, builder.positions, builder.key_positions, text)


def load_file(path: str | Path) -> Document:
    """Read and parse a YAML (or JSON) file; raises :class:`LoadFailed`."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _problem(file, 1, 1, f"cannot read file: {exc.strerror or exc}") from None
    return load_text(decode(raw, file), file)


def as_mapping(doc: Document, what: str) -> Mapping[str, Any]:
    """The document's top-level mapping, or a located error."""
    if not isinstance(doc.data, dict):
        raise LoadFailed(doc.error((), f"a {what} must be a YAML mapping at the top level"))
    return doc.data
