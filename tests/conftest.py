"""Shared fixtures and factories for the ombuds tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
EXAMPLES = ROOT / "examples" / "complaints"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    status = ROOT / "build" / "pytest-status"
    status.parent.mkdir(exist_ok=True)
    status.write_text(str(int(exitstatus)))


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process configures logging to its own (then closed) stream: undo it."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def policies_dir() -> Path:
    return POLICIES


@pytest.fixture(scope="session")
def lsp_install() -> Path:
    """``node_modules`` of the npm packages locked in tests/lsp, installed once per lock with ``npm ci``."""
    from .node_tools import install

    return install()


def _hypothesis_profiles() -> None:
    """CI runs a fixed set of examples (no flaky discoveries); local runs explore."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


_hypothesis_profiles()
