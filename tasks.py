#!/usr/bin/env python3
"""Set up and run ombuds with nothing but Python: ``python3 tasks.py dev|test|demo|setup``.

Creates ``.venv`` from the pinned lock (``requirements.lock``) the first time
and whenever the lock or ``pyproject.toml`` changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".ombuds-installed"
TYPECHECK_TREE = ROOT / "build" / "typecheck"
STATUS_FILE = ROOT / "build" / "pytest-status"


def run(*args: str | Path, env: dict[str, str] | None = None, check: bool = True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT, env={**os.environ, **(env or {})})
    if check and code != 0:
        sys.exit(code)
    return code


def setup() -> None:
    digest = hashlib.sha256(
        (ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(
        PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", ROOT / "requirements.lock"
    )
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", ROOT)
    STAMP.write_text(digest)


def typecheck_tree() -> Path:
    """A plain package tree for mypy: the editable install's import hook hides ombuds from it."""
    package = TYPECHECK_TREE / "ombuds"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("engine", "workflows", "activities", "schemas"):
        link = package / name
        if not link.is_symlink():
            if link.exists():
                link.unlink()
            link.symlink_to(ROOT / name, target_is_directory=True)
    return TYPECHECK_TREE


def demo() -> None:
    """Validate and explain the shipped policies and example complaints."""
    ombuds = BIN / "ombuds"
    run(ombuds, "validate", "policies", "examples/complaints")
    for policy in sorted((ROOT / "policies").glob("*.yaml")):
        run(ombuds, "explain", policy.relative_to(ROOT))


def dev() -> None:
    """Check the shipped policies and examples, then run the embedded default (``ombuds dev``)."""
    ombuds = BIN / "ombuds"
    run(ombuds, "validate", "policies", "examples/complaints")
    os.execv(str(ombuds), [str(ombuds), "dev"])


def test(extra: list[str]) -> None:
    """Lint, type-check and run the whole test suite."""
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    tree = typecheck_tree()
    run(
        BIN / "mypy",
        "--strict",
        "-p",
        "ombuds.engine",
        "-p",
        "ombuds.workflows",
        env={"MYPYPATH": str(tree)},
    )
    run(BIN / "mypy", "-p", "ombuds.activities", env={"MYPYPATH": str(tree)})
    STATUS_FILE.unlink(missing_ok=True)
    code = run(PY, "-m", "pytest", *extra, check=False)
    if code in (-6, -11, 134, 139) and STATUS_FILE.exists():
        # The Temporal core can crash the interpreter at exit after pytest has finished.
        code = int(STATUS_FILE.read_text().strip() or 1)
        print(f"pytest finished with status {code}; the interpreter crashed at exit", flush=True)
    sys.exit(code)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "dev"
    setup()
    if command == "setup":
        return
    if command == "dev":
        dev()
    elif command == "demo":
        demo()
    elif command == "test":
        test(sys.argv[2:])
    else:
        sys.exit(f"unknown command {command!r}: use dev, test, demo or setup")


if __name__ == "__main__":
    main()
