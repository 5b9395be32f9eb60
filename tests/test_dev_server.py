"""The embedded default end to end: dev server, worker process, agent CLI, kill and restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ombuds.engine.devserver import dev_server
from ombuds.engine.settings import Settings

from .workflow_support import ROOT

pytestmark = pytest.mark.integration
OMBUDS = str(Path(sys.executable).parent / "ombuds")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Env:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.vars = {
            **os.environ,
            "OMBUDS_ADDRESS": f"127.0.0.1:{self.port}",
            "OMBUDS_HOME": str(home),
            "OMBUDS_POLICIES": str(ROOT / "policies"),
            "OMBUDS_UI_PORT": str(free_port()),
            "OMBUDS_TASK_QUEUE": "integration",
        }
        self.settings = Settings(
            address=f"127.0.0.1:{self.port}",
            home=home,
            policies=ROOT / "policies",
            ui_port=int(self.vars["OMBUDS_UI_PORT"]),
            task_queue="integration",
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([OMBUDS, *args], capture_output=True, text=True, env=self.vars, timeout=120)
        if check:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def worker(self) -> subprocess.Popen[bytes]:
        log = open(self.home / "worker.log", "ab")  # noqa: SIM115 - the process owns it
        return subprocess.Popen([OMBUDS, "worker"], env=self.vars, stdout=log, stderr=subprocess.STDOUT)

    def until(self, check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.3)

    def outbox(self) -> list[dict[str, object]]:
        return [json.loads(p.read_text("utf-8")) for p in sorted((self.home / "outbox").glob("*.json"))]


def _has(text: str, part: str) -> str | None:
    return text if part in text else None


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield Env(tmp_path)


async def test_dev_server_case_survives_worker_kill_and_server_restart(env: Env) -> None:
    complaint = str(ROOT / "examples" / "complaints" / "fs-card-fee.yaml")
    async with dev_server(env.settings):
        worker = env.worker()
        try:
            submitted = env.cli("submit", complaint, "--format", "json")
            info = json.loads(submitted.stdout)
            assert info["started"] and info["policy"] == "financial-services"
            again = env.cli("submit", complaint, check=False)
            assert again.returncode == 1 and "not started" in again.stdout

            status = env.until(lambda: _has(env.cli("status", info["id"]).stdout, "stage received"))
            assert "final-response" in status and "2027-01-21 17:30" in status

            answer = env.cli(
                "event",
                info["id"],
                "propose_compensation",
                "--actor",
                "staff:alice@agent",
                "--data",
                '{"remedy": "goodwill", "amount": 100}',
            )
            assert json.loads(answer.stdout)["status"] == "needs_approval"
            refused = env.cli("event", info["id"], "resolve", "--actor", "customer", check=False)
            assert refused.returncode == 1 and "is for staff" in refused.stderr

            listed = env.until(
                lambda: _has(env.cli("list", "--query", "OmbudsLevel='supervisor'").stdout, info["id"])
            )
            assert "financial-services" in listed

            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            worker = env.worker()
            answer = env.cli(
                "event",
                info["id"],
                "decide_approval",
                "--actor",
                "staff:bob@supervisor",
                "--data",
                '{"proposal": 1, "approve": true}',
            )
            assert json.loads(answer.stdout)["status"] == "accepted"
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)

    # the server is down; start it again on the same database
    async with dev_server(env.settings):
        worker = env.worker()
        try:
            status = env.cli("status", info["id"]).stdout
            assert "level supervisor" in status and "compensation granted" in status
            env.cli(
                "event",
                info["id"],
                "resolve",
                "--actor",
                "staff:bob@supervisor",
                "--data",
                '{"justified": true}',
            )
            replayed = env.cli("replay", info["id"])
            assert "deterministic" in replayed.stdout
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)

    keys = [m["key"] for m in env.outbox()]
    assert len(keys) == len(set(keys))
    templates = [m["template"] for m in env.outbox()]
    assert templates.count("received") == 1 and templates.count("final-response") == 1


async def test_worker_registers_missing_search_attributes(env: Env) -> None:
    from ombuds.engine.temporal import register_search_attributes
    from ombuds.workflows import search

    async with dev_server(env.settings, search_attributes=False) as client:
        added = await register_search_attributes(client, env.settings.namespace)
        assert added == sorted(search.TYPES)
        assert await register_search_attributes(client, env.settings.namespace) == []


@pytest.mark.parametrize("busy", ["address", "ui"])
def test_dev_refuses_to_start_beside_another_server(tmp_path: Path, busy: str) -> None:
    """A busy port is a clear error, not a worker quietly joining someone else's server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        port, ui = (taken, free_port()) if busy == "address" else (free_port(), taken)
        environment = {
            **os.environ,
            "OMBUDS_HOME": str(tmp_path / "home"),
            "OMBUDS_ADDRESS": f"127.0.0.1:{port}",
            "OMBUDS_UI_PORT": str(ui),
            "OMBUDS_POLICIES": str(ROOT / "policies"),
        }
        done = subprocess.run(
            [OMBUDS, "dev"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    setting = "OMBUDS_ADDRESS" if busy == "address" else "OMBUDS_UI_PORT"
    assert f"127.0.0.1:{taken} is already in use" in done.stderr and setting in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "home" / "temporal.db").exists()
