"""The shipped policies validate, compile and explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from ombuds.engine.policy.compile import compile_file

from .conftest import POLICIES

SHIPPED = sorted(POLICIES.glob("*.yaml"))


def test_there_are_shipped_policies() -> None:
    assert len(SHIPPED) >= 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_policy_compiles_with_stable_sha(path: Path) -> None:
    first = compile_file(path)
    second = compile_file(path)
    assert first.sha256 == second.sha256
    assert len(first.sha256) == 64
