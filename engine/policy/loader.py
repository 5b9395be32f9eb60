"""YAML loading with YAML 1.2 core semantics and the position of every node.

PyYAML resolves plain scalars with YAML 1.1 rules (``17:30`` becomes 1050 and
``no`` becomes False).  Here every plain scalar is resolved with the YAML 1.2
core schema instead, dates stay strings, and each node's line and column are
kept so that any later check can point at the text an author wrote.

Bad input never escapes as an exception other than :class:`LoadFailed`, which
carries one located problem: malformed YAML, characters YAML forbids, tabs in
indentation, duplicate keys, unsupported tags and merge keys, aliases that
expand to huge documents or refer to themselves, nesting deeper than
:data:`MAX_DEPTH`, several documents, an empty document, and files over
:data:`MAX_BYTES`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from .errors import ErrorCode, PolicyError

Loc = tuple[str | int, ...]

MAX_BYTES = 1_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64
#: Characters of scalar text a document may expand to through aliases.
MAX_EXPANDED_CHARS = 10 * MAX_BYTES

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_BOOL_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")

_PREFIX = "tag:yaml.org,2002:"
_STR = _PREFIX + "str"
_SEQ = _PREFIX + "seq"
_MAP = _PREFIX + "map"
_NULL_TAG = _PREFIX + "null"
_BOOL_TAG = _PREFIX + "bool"
_INT_TAG = _PREFIX + "int"
_FLOAT_TAG = _PREFIX + "float"
#: Plain scalars without a tag; resolved with the YAML 1.2 core schema.
_PLAIN = "tag:ombuds,2026:plain"
_CORE_TAGS = {_PLAIN, _STR, _SEQ, _MAP, _NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG}


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


def _event_loader() -> type[Any]:
    """libyaml's C parser for events when PyYAML has it (several times faster), else PyYAML's own."""
    try:
        from yaml.composer import Composer
        from yaml.constructor import SafeConstructor
        from yaml.cyaml import CParser  # type: ignore[attr-defined]
        from yaml.resolver import Resolver
    except ImportError:  # PyYAML built without libyaml
        return yaml.SafeLoader

    class _CLoader(CParser, Composer, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return _CLoader


class _ComposeOnly(_event_loader()):  # type: ignore[misc]
    """A composer whose resolver tags every plain scalar as a string.

    It also limits nesting while composing (so deep input cannot exhaust the
    Python stack), lets an anchor be redefined as YAML 1.2 allows (an alias
    refers to the most recent node with that anchor), and remembers where
    each alias was written.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.alias_marks: dict[tuple[str, int, int], Any] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        untyped: Any = self  # PyYAML's event methods carry no annotations
        event = untyped.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = cast(yaml.Node, super().compose_node(parent, index))
            if parent is not None:
                slot = ("s", id(parent), index) if isinstance(index, int) else ("m", id(parent), id(index))
                self.alias_marks[slot] = event.start_mark
            return node
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.anchors.pop(anchor, None)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep(event.start_mark)
        try:
            node = cast(yaml.Node, super().compose_node(parent, index))
        finally:
            self.depth -= 1
        return node

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        base: Any = super()
        return str(base.resolve(kind, value, implicit))


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


def _advance(text: str, start: int, line: int, col: int, end: int) -> tuple[int, int]:
    """Line and column of ``text[end]``, counting line breaks as YAML does from a known point."""
    last = None
    count = 0
    for match in _BREAK.finditer(text, start, end):
        count += 1
        last = match
    if last is None:
        return line, col + (end - start)
    return line + count, end - last.end() + 1


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus where each node came from."""

    file: str
    data: Any
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    text: str = ""
    #: For every scalar: (start index, end index, line, column) of its source text.
    spans: dict[Loc, tuple[int, int, int, int]] = field(default_factory=dict)
    #: Problems that left the document readable (a repeated key: its first value is kept).
    problems: list[PolicyError] = field(default_factory=list)

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """The line and column of ``loc``, or of its nearest located ancestor.

        With ``key`` the position of the key that names ``loc`` is preferred.  When
        ``loc`` itself is not in the document (an attribute left at its default),
        the nearest ancestor is shown by its key, e.g. ``limits:`` rather than the
        first line inside it.
        """
        probe = tuple(loc)
        while True:
            if (key or probe != tuple(loc)) and probe in self.key_positions:
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
        code: ErrorCode = "semantic",
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

    def value(self, loc: Loc) -> Any:
        """The data at ``loc``, or None."""
        node = self.data
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def line_col_of_offset(self, loc: Loc, offset: int) -> tuple[int, int]:
        """Position of the ``offset``-th character of the string at ``loc`` in the source text.

        Works for every scalar style: plain and quoted scalars over one or several
        lines, escapes, and literal or folded blocks.  The result always lies
        inside the scalar's source text.
        """
        span = self.spans.get(tuple(loc))
        value = self.value(loc)
        if span is None or not isinstance(value, str):
            return self.position(loc)
        start, end, line, col = span
        index = _source_index(self.text, start, end, value, max(offset, 0))
        return _advance(self.text, start, line, col, index)


_SKIPPABLE = " \t\r\n\x85\u2028\u2029'\"\\"
_SPACE = " \t\r\n\x85\u2028\u2029"
_ESCAPE_LENGTH = {"x": 4, "u": 6, "U": 10}


def _same(ch: str, source: str) -> bool:
    return ch == source or (ch in _SPACE and source in _SPACE)


def _source_index(text: str, start: int, end: int, value: str, offset: int) -> int:
    """Index in ``text`` of character ``offset`` of ``value``, whose source is ``text[start:end]``.

    The characters of the value are matched in order against the source,
    skipping quotes, indentation and line folds; a double-quoted escape maps to
    the one character it stands for.
    """
    quoted = text[start : start + 1] == '"'
    j = start
    if j < end and text[j] in "|>":
        header = _BREAK.search(text, j, end)  # the block header line holds no content
        j = header.end() if header else end
    for i, ch in enumerate(value[: offset + 1]):
        k = j
        found, after = -1, j
        while k < end:
            c = text[k]
            if quoted and c == "\\" and k + 1 < end:
                if text[k + 1] in "\r\n":  # an escaped line break stands for nothing
                    k += 2
                    continue
                found, after = k, min(k + _ESCAPE_LENGTH.get(text[k + 1], 2), end)
                break
            if _same(ch, c):
                found, after = k, k + 1
                break
            if c not in _SKIPPABLE:
                found, after = k, k + 1  # something unexpected: assume one character each
                break
            k += 1
        if found < 0:
            found, after = j, j
        if i == offset:
            return min(found, max(end - 1, start))
        j = after
    index = min(j, end)
    while index > start and text[index - 1] in "\r\n":
        index -= 1  # the end of a block scalar: stay on its last line
    return index


class LoadFailed(Exception):
    """The text could not be read as a single YAML document."""

    def __init__(self, problem: PolicyError) -> None:
        self.problem = problem
        super().__init__(problem.render())


def _problem(file: str, line: int, col: int, message: str, hint: str | None = None) -> LoadFailed:
    return LoadFailed(PolicyError(file, max(line, 1), max(col, 1), "", message, hint, "error", "yaml"))


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


_TAG_TYPES: dict[str, tuple[type, ...]] = {
    _NULL_TAG: (type(None),),
    _BOOL_TAG: (bool,),
    _INT_TAG: (int,),
    _FLOAT_TAG: (float, int),
}


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


class _Builder:
    def __init__(
        self, file: str, text: str, alias_marks: dict[tuple[str, int, int], Any], collect: bool = False
    ) -> None:
        self.file = file
        self.collect = collect
        self.problems: list[PolicyError] = []
        self.text = text
        self.alias_marks = alias_marks
        self.positions: dict[Loc, tuple[int, int]] = {}
        self.key_positions: dict[Loc, tuple[int, int]] = {}
        self.spans: dict[Loc, tuple[int, int, int, int]] = {}
        self.count = 0
        self.chars = 0
        self.active: set[int] = set()

    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> LoadFailed:
        mark = node.start_mark
        return _problem(self.file, mark.line + 1, mark.column + 1, message, hint)

    def build(self, node: yaml.Node, loc: Loc, depth: int, mark: Any = None) -> Any:
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
            raise self.fail(
                node,
                f"unsupported YAML tag {_shown_tag(node.tag)}",
                "remove the tag; only plain data is read",
            )
        at = mark or node.start_mark
        self.positions.setdefault(loc, (at.line + 1, at.column + 1))
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
            if self.chars > MAX_EXPANDED_CHARS:
                raise self.fail(
                    node,
                    f"document expands to more than {MAX_EXPANDED_CHARS} characters",
                    "aliases that repeat long text are not supported; write the values out",
                )
            start, end = node.start_mark, node.end_mark
            self.spans.setdefault(loc, (start.index, end.index, start.line + 1, start.column + 1))
            return self._scalar(node)
        if id(node) in self.active:
            raise self.fail(node, "an alias refers to a node that contains it", "aliases cannot be recursive")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    self.build(item, (*loc, i), depth + 1, self.alias_marks.get(("s", id(node), i)))
                    for i, item in enumerate(node.value)
                ]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc, depth)
        finally:
            self.active.discard(id(node))
        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        try:
            value = _resolve_plain(node.value)
        except ValueError:
            raise self.fail(node, "number has too many digits", "quote it if it is text") from None
        if node.tag == _PLAIN:
            return value
        wanted = _TAG_TYPES.get(node.tag)
        if wanted and (not isinstance(value, wanted) or (node.tag == _INT_TAG and isinstance(value, bool))):
            raise self.fail(node, f'"{node.value}" is not a valid {_shown_tag(node.tag)}', "remove the tag")
        if node.tag == _FLOAT_TAG and isinstance(value, int):
            return float(value)
        return value

    def _mapping(self, node: yaml.MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _PREFIX + "merge" or (
                isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style
            ):
                raise self.fail(key_node, "merge keys (<<) are not supported", "write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "mapping keys must be plain text", "write the key as a plain word")
            if key_node.tag not in _CORE_TAGS:
                raise self.fail(
                    key_node, f"unsupported YAML tag {_shown_tag(key_node.tag)}", "remove the tag"
                )
            key = key_node.value
            if key in out:
                first = self.key_positions.get((*loc, key), (0, 0))
                repeated = self.fail(
                    key_node,
                    f'duplicate key "{key}"',
                    f"first defined at line {first[0]}, column {first[1]}; remove one of them",
                )
                if not self.collect:
                    raise repeated
                self.problems.append(dataclasses.replace(repeated.problem, path=format_loc((*loc, key))))
                continue
            child = (*loc, key)
            self.key_positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            mark = self.alias_marks.get(("m", id(node), id(key_node)))
            out[key] = self.build(value_node, child, depth + 1, mark)
        return out


def decode(raw: bytes, file: str) -> str:
    """UTF-8 text of ``raw``, or a located error at the first bad byte."""
    if len(raw) > MAX_BYTES:
        raise _problem(file, 1, 1, f"file is {len(raw)} bytes; the limit is {MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        line = len(_BREAK.findall(before.decode("utf-8"))) + 1
        col = len(raw[line_start : exc.start].decode("utf-8")) + 1
        hint = "save it as UTF-8"
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = "the file looks like UTF-16; save it as UTF-8"
        byte = raw[exc.start]
        raise _problem(file, line, col, f"file is not valid UTF-8 (byte 0x{byte:02X})", hint) from None
    return text.removeprefix("\ufeff")


def _clamp(text: str, line: int, col: int) -> tuple[int, int]:
    """A position inside ``text``: past-the-end marks move to the end of the last line."""
    lines = _BREAK.split(text)
    if text and not lines[-1]:
        lines.pop()
    if not lines:
        return 1, 1
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    return line, col


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _misindented(lines: list[str], line: int, message: str) -> tuple[str, str] | None:
    """A key indented deeper than the key before it in its block: say which and by how much."""
    if "mapping values are not allowed" not in message or not 1 < line <= len(lines):
        return None
    here = lines[line - 1]
    before = next(
        (
            (n, text)
            for n, text in reversed(list(enumerate(lines[: line - 1], start=1)))
            if text.strip() and not text.lstrip().startswith("#")
        ),
        None,
    )
    if before is None:
        return None
    n, previous = before
    key = here.strip().split(":", 1)[0].lstrip("- ")
    above = previous.strip().split(":", 1)[0].lstrip("- ")
    if _indent(here) <= _indent(previous) or previous.rstrip().endswith(":"):
        return None
    return (
        f'"{key}" is indented {_spaces(_indent(here))}, deeper than "{above}" on line {n}, '
        f"which has {_indent(previous)}",
        f'indent it by {_spaces(_indent(previous))}, like "{above}", if it belongs to the same block: '
        f'YAML reads it as part of the value of "{above}"',
    )


def _spaces(n: int) -> str:
    return "1 space" if n == 1 else f"{n} spaces"


def _yaml_problem(text: str, file: str, exc: yaml.YAMLError) -> LoadFailed:
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        # libyaml counts bytes, PyYAML characters: locate the character itself
        found = text.find(chr(char))
        position = found if found >= 0 else min(exc.position, len(text))
        line, col = _advance(text, 0, 1, 1, position)
        return _problem(
            file,
            line,
            col,
            f"character U+{char:04X} is not allowed in YAML",
            "remove it, or write it as an escape in a double-quoted string",
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        return _problem(file, 1, 1, f"malformed YAML: {str(exc).splitlines()[0] if str(exc) else 'error'}")
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    line, col = _clamp(text, line, col)
    message = exc.problem or exc.context or "malformed YAML"
    undefined = re.match(r"found undefined alias '(.*)'$", message)
    if undefined:
        name = undefined.group(1)
        return _problem(file, line, col, f"unknown alias *{name}", f"define it first with &{name}")
    lines = _BREAK.split(text)
    misindented = _misindented(lines, line, message)
    if misindented is not None:
        return _problem(file, line, col, *misindented)
    hints = []
    if exc.context and exc.problem and exc.context_mark:
        cline, ccol = _clamp(text, exc.context_mark.line + 1, exc.context_mark.column + 1)
        hints.append(f"{exc.context} at line {cline}, column {ccol}")
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    if "\t" in indent or "'\\t'" in message:
        hints.append("YAML indentation uses spaces, not tabs")
    return _problem(file, line, col, f"malformed YAML: {message}", "; ".join(hints) or None)


def load_text(text: str, file: str = "<string>", *, collect: bool = False) -> Document:
    """Parse one YAML document from ``text``; raises :class:`LoadFailed`.

    With ``collect`` a repeated key does not stop the load: it is kept in
    :attr:`Document.problems` (with the key's first value in the data), so the
    rest of the document can still be checked.
    """
    if len(text) > MAX_BYTES:
        raise _problem(file, 1, 1, f"text is {len(text)} characters; the limit is {MAX_BYTES}")
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:  # only text built in code can hold one; a file is decoded strictly
        line, col = _advance(text, 0, 1, 1, surrogate.start())
        raise _problem(file, line, col, f"character U+{ord(surrogate.group()):04X} is not allowed in YAML")
    text = _json_pairs(text)
    if _CParser is not None:
        try:
            return _load_plain_events(text, file)
        except (_NotPlain, yaml.YAMLError, ValueError, RecursionError):
            pass  # composed below, which explains what is wrong or handles what is unusual
    return _load_composed(text, file, collect)


#: A JSON surrogate pair escape (``"\\ud83d\\ude00"``, as ``json.dumps`` writes an emoji), its
#: backslash not itself escaped.  YAML reads only single ``\\u`` escapes, so a JSON file with one
#: would not load.
_JSON_PAIR = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _json_pairs(text: str) -> str:
    """A JSON document with each surrogate pair escape written as the one ``\\U`` escape YAML reads
    (two characters shorter: a problem further along that line is shown two columns early)."""
    if "\\u" not in text or text.lstrip()[:1] not in ("{", "["):
        return text

    def one(match: re.Match[str]) -> str:
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return f"{match.group(1)}\\U{code:08X}"

    return _JSON_PAIR.sub(one, text)


class _NotPlain(Exception):
    """The text needs the composer: aliases, anchors, tags, odd keys, or a problem to explain."""


def _c_parser() -> type[Any] | None:
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:  # PyYAML built without libyaml
        return None
    return cast(type[Any], CParser)


_CParser = _c_parser()


def _load_plain_events(text: str, file: str) -> Document:
    """The common case in one pass over libyaml's events, without composing nodes.

    Only plain data qualifies: no anchors, aliases or tags, scalar keys that are
    neither repeated nor ``<<``, one non-empty document, within the size and depth
    limits.  Anything else raises :class:`_NotPlain` and goes through
    :func:`_load_composed`, which gives the same result or the located problem.
    """
    assert _CParser is not None
    parser = _CParser(text)
    positions: dict[Loc, tuple[int, int]] = {}
    key_positions: dict[Loc, tuple[int, int]] = {}
    spans: dict[Loc, tuple[int, int, int, int]] = {}
    get = parser.get_event
    count = 0

    def build(event: Any, loc: Loc, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES or depth >= MAX_DEPTH or event.anchor is not None or event.tag is not None:
            raise _NotPlain
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        positions[loc] = (line, col)
        kind = type(event)
        if kind is yaml.ScalarEvent:
            spans[loc] = (mark.index, event.end_mark.index, line, col)
            return _resolve_plain(event.value) if event.implicit[0] else event.value
        if kind is yaml.SequenceStartEvent:
            items: list[Any] = []
            while type(item := get()) is not yaml.SequenceEndEvent:
                items.append(build(item, (*loc, len(items)), depth + 1))
            return items
        if kind is not yaml.MappingStartEvent:
            raise _NotPlain
        out: dict[str, Any] = {}
        while type(key_event := get()) is not yaml.MappingEndEvent:
            if (
                type(key_event) is not yaml.ScalarEvent
                or key_event.anchor is not None
                or key_event.tag is not None
            ):
                raise _NotPlain
            key = key_event.value
            if key in out or (key == "<<" and not key_event.style):
                raise _NotPlain
            child = (*loc, key)
            key_mark: Any = key_event.start_mark
            key_positions[child] = (key_mark.line + 1, key_mark.column + 1)
            out[key] = build(get(), child, depth + 1)
        return out

    try:
        if type(get()) is not yaml.StreamStartEvent or type(get()) is not yaml.DocumentStartEvent:
            raise _NotPlain
        root = get()
        if type(root) is yaml.ScalarEvent and root.implicit[0] and not root.value:
            raise _NotPlain  # an empty document
        data = build(root, (), 0)
        if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
            raise _NotPlain
    finally:
        parser.dispose()
    return Document(file, data, positions, key_positions, text, spans)


def _load_composed(text: str, file: str, collect: bool = False) -> Document:
    try:
        loader = _ComposeOnly(text)
        try:
            root = _compose_single(loader, text, file)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_problem(text, file, exc) from None
    except _TooDeep as exc:
        raise _problem(
            file,
            exc.mark.line + 1,
            exc.mark.column + 1,
            f"document is nested more than {MAX_DEPTH} levels deep",
        ) from None
    except RecursionError:
        raise _problem(file, 1, 1, "document is nested too deeply") from None
    builder = _Builder(file, text, loader.alias_marks, collect)
    data = builder.build(root, (), 0)
    return Document(
        file, data, builder.positions, builder.key_positions, text, builder.spans, builder.problems
    )


def _compose_single(composer: _ComposeOnly, text: str, file: str) -> yaml.Node:
    loader: Any = composer  # PyYAML's event methods carry no annotations
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        raise _problem(file, 1, 1, "document is empty", "a policy is a YAML mapping of sections")
    root = cast(yaml.Node, loader.compose_document())
    if not loader.check_event(yaml.StreamEndEvent):
        mark = loader.peek_event().start_mark
        line, col = _clamp(text, mark.line + 1, mark.column + 1)
        raise _problem(
            file,
            line,
            col,
            "expected one YAML document, found several",
            "remove the `---` line and everything after it, or put each document in its own file",
        )
    if isinstance(root, yaml.ScalarNode) and root.tag == _PLAIN and not root.value:
        raise _problem(file, 1, 1, "document is empty", "a policy is a YAML mapping of sections")
    return root


def load_file(path: str | Path, *, collect: bool = False) -> Document:
    """Read and parse a YAML (or JSON) file; raises :class:`LoadFailed` (see :func:`load_text`)."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _problem(file, 1, 1, f"cannot read file: {reason}") from None
    return load_text(decode(raw, file), file, collect=collect)
