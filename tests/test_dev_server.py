"""The embedded default end to end: dev server, worker process, agent CLI, kill and restart."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

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
            "OMBUDS_API_PORT": str(free_port()),
            "OMBUDS_INBOUND_PORT": str(free_port()),
            "OMBUDS_TASK_QUEUE": "integration",
        }
        self.settings = Settings(
            address=f"127.0.0.1:{self.port}",
            home=home,
            policies=ROOT / "policies",
            ui_port=int(self.vars["OMBUDS_UI_PORT"]),
            task_queue="integration",
        )

    def cli(
        self, *args: str, check: bool = True, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.vars, "OMBUDS_TOKEN": token} if token else self.vars
        done = subprocess.run([OMBUDS, *args], capture_output=True, text=True, env=env, timeout=120)
        if check:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done

    def worker(self) -> subprocess.Popen[bytes]:
        log = open(self.home / "worker.log", "ab")  # noqa: SIM115 - the process owns it
        return subprocess.Popen([OMBUDS, "worker"], env=self.vars, stdout=log, stderr=subprocess.STDOUT)

    def api(self) -> subprocess.Popen[bytes]:
        """``ombuds serve`` on its own port, answering once it is up."""
        log = open(self.home / "api.log", "ab")  # noqa: SIM115 - the process owns it
        port = self.vars["OMBUDS_API_PORT"]
        served = subprocess.Popen(
            [OMBUDS, "serve", "--port", port], env=self.vars, stdout=log, stderr=subprocess.STDOUT
        )
        self.until(lambda: _answers(int(port)))
        return served

    def token(self, user: str, level: str) -> str:
        return self.cli("token", "create", "--user", user, "--level", level).stdout.strip()

    def until(self, check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.3)

    def mails(self) -> list[dict[str, object]]:
        """Every message in the Maildir ``ombuds dev`` delivers email to, without other configuration."""
        box = mailbox.Maildir(self.home / "mail", create=False)
        return [{"key": m["X-Ombuds-Key"], "template": m["X-Ombuds-Template"].split(".")[0]} for m in box]


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def _has(text: str, part: str) -> str | None:
    return text if part in text else None


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield Env(tmp_path)


async def test_staff_work_a_case_with_the_cli_through_the_api_across_kills_and_restarts(env: Env) -> None:
    """Intake to close with the CLI and printed tokens, no JSON written: the actor is the token's,
    an agent cannot act above their level, and the case survives a worker kill and a restart of
    the Temporal server."""
    complaint = str(ROOT / "examples" / "complaints" / "fs-card-fee.yaml")
    alice, bob = env.token("alice", "agent"), env.token("bob", "supervisor")
    async with dev_server(env.settings):
        worker, api = env.worker(), env.api()
        try:
            submitted = env.cli("submit", "--simulated", complaint, "--format", "json", token=alice)
            info = json.loads(submitted.stdout)
            assert info["started"] and info["policy"] == "financial-services"
            again = env.cli("submit", "--simulated", complaint, check=False, token=alice)
            assert again.returncode == 1 and "not started" in again.stdout

            status = env.until(
                lambda: _has(env.cli("status", info["id"], token=alice).stdout, "stage received")
            )
            assert "final-response" in status and "2027-01-21 17:30" in status

            env.cli("event", info["id"], "assign", "--assignee", "alice", token=alice)
            answer = env.cli(
                "event",
                info["id"],
                "propose_compensation",
                "--remedy",
                "goodwill",
                "--amount",
                "100",
                token=alice,
            )
            assert "needs_approval" in answer.stdout
            own = env.cli(
                "event",
                info["id"],
                "decide_approval",
                "--proposal",
                "1",
                "--approve",
                token=alice,
                check=False,
            )
            assert (
                own.returncode == 1
                and "refused: decide_approval" in own.stdout
                and "not_authorised" in own.stdout
            )
            above = env.cli(
                "event",
                info["id"],
                "decide_approval",
                "--proposal",
                "1",
                "--approve",
                "--level",
                "supervisor",
                token=alice,
                check=False,
            )
            assert above.returncode == 1 and "acts at agent, not above it" in above.stderr
            assert "Traceback" not in above.stderr

            awaiting = env.until(
                lambda: _has(env.cli("list", "--awaiting", "supervisor", token=bob).stdout, info["id"])
            )
            assert "financial-services" in awaiting
            mine = json.loads(env.cli("list", "--mine", "--format", "json", token=alice).stdout)
            assert [row["id"] for row in mine["complaints"]] == [info["id"]]
            assert "awaiting:supervisor" in mine["complaints"][0]["flags"]
            assert (
                json.loads(env.cli("list", "--mine", "--format", "json", token=bob).stdout)["complaints"]
                == []
            )

            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            worker = env.worker()
            answer = env.cli(
                "event", info["id"], "decide_approval", "--proposal", "1", "--approve", token=bob
            )
            assert "accepted" in answer.stdout
        finally:
            _stop(worker, api)

    # the server is down; start it again on the same database
    async with dev_server(env.settings):
        worker, api = env.worker(), env.api()
        try:
            status = env.cli("status", info["id"], token=bob).stdout
            assert "level supervisor" in status and "compensation granted" in status
            assert "by staff:bob@supervisor" in status and "by staff:alice@agent" in status
            env.cli(
                "event", info["id"], "resolve", "--justified", "--text", "We refunded the fee.", token=bob
            )
            env.cli("event", info["id"], "close", token=bob)
            closed = env.until(lambda: _has(env.cli("status", info["id"], token=bob).stdout, ": closed,"))
            assert "closed" in closed
            replayed = env.cli("replay", info["id"])
            assert "deterministic" in replayed.stdout
        finally:
            _stop(worker, api)

    keys = [m["key"] for m in env.mails()]
    assert len(keys) == len(set(keys))
    templates = [m["template"] for m in env.mails()]
    assert templates.count("received") == 1 and templates.count("final-response") == 1

    # the logs of the worker and the API name cases, never their customers
    logs = (env.home / "worker.log").read_text() + (env.home / "api.log").read_text()
    assert info["id"] in logs
    for personal in ("Morag", "Campbell", "morag@example.org", "12345678", "late payment fee of"):
        assert personal not in logs, personal


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


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _dev(env: Env) -> subprocess.Popen[str]:
    log = open(env.home / "dev.log", "a")  # noqa: SIM115 - the process owns it
    return subprocess.Popen([OMBUDS, "dev"], env=env.vars, stdout=log, stderr=subprocess.STDOUT, text=True)


def test_a_killed_ombuds_dev_leaves_no_server_behind(env: Env) -> None:
    """Observed: SIGKILL left the Temporal server running; the next start failed, address in use."""
    first = _dev(env)
    try:
        env.until(lambda: "Temporal dev server at" in (env.home / "dev.log").read_text("utf-8"), timeout=60)
        assert _listening(env.port)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    env.until(lambda: not _listening(env.port), timeout=15)
    second = _dev(env)
    try:
        env.until(
            lambda: (env.home / "dev.log").read_text("utf-8").count("Temporal dev server at") == 2, timeout=60
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert "already in use" not in (env.home / "dev.log").read_text("utf-8")


def test_a_stale_server_of_the_same_home_is_stopped_and_said_so(env: Env) -> None:
    """A server an earlier ombuds dev left running (killed before it could stop it) is stopped."""
    from ombuds.engine.devserver import command

    env.home.mkdir(parents=True, exist_ok=True)
    stale = subprocess.Popen(
        command(env.settings, "127.0.0.1", env.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        (env.home / "temporal.pid").write_text(f"{stale.pid}\n", "utf-8")
        env.until(lambda: _listening(env.port), timeout=30)
        dev = _dev(env)
        try:
            env.until(
                lambda: "Temporal dev server at" in (env.home / "dev.log").read_text("utf-8"), timeout=60
            )
        finally:
            dev.send_signal(signal.SIGTERM)
            dev.wait(timeout=30)
        assert stale.poll() is not None
        said = (env.home / "dev.log").read_text("utf-8")
        assert (
            f"stopped a Temporal dev server left running on {env.home} by an earlier ombuds dev (pid {stale.pid})"
            in said
        )
    finally:
        if stale.poll() is None:
            stale.kill()
        stale.wait()


def test_a_pid_file_naming_another_process_is_left_alone(env: Env) -> None:
    """Only a dev server on this home's database is ever stopped."""
    from ombuds.engine.devserver import stop_stale_server

    other = subprocess.Popen(["sleep", "30"])
    try:
        env.home.mkdir(parents=True, exist_ok=True)
        (env.home / "temporal.pid").write_text(f"{other.pid}\n", "utf-8")
        assert stop_stale_server(env.settings) is None
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_ombuds_dev_serves_the_api_with_an_admin_token(env: Env) -> None:
    """Nothing to configure: `ombuds dev` serves the HTTP API, makes an admin token at its first
    start and says where; a complaint goes in and its status comes out with it."""
    import httpx

    dev = _dev(env)
    try:
        log = env.until(lambda: _has((env.home / "dev.log").read_text("utf-8"), "HTTP API at"), timeout=90)
        assert f"admin token in {env.home / 'admin.token'}" in log
        assert oct((env.home / "admin.token").stat().st_mode & 0o777) == "0o600"
        base = f"http://127.0.0.1:{env.vars['OMBUDS_API_PORT']}"
        headers = {"Authorization": f"Bearer {(env.home / 'admin.token').read_text('utf-8').strip()}"}
        assert env.until(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, timeout=60)
        cid = _submit_example(base, headers)
        view = env.until(
            lambda: _ok(httpx.get(f"{base}/complaints/{cid}", headers=headers, timeout=10)), timeout=60
        )
        assert view["policy_id"] == "financial-services" and view["log"]
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=30)
    assert "HTTP API not started" not in (env.home / "dev.log").read_text("utf-8")


def _submit_example(base: str, headers: dict[str, str]) -> str:
    """The fraud example, received now, submitted through the API; its id."""
    import httpx

    complaint = json.loads((ROOT / "examples" / "complaints" / "fs-fraud-card.json").read_text("utf-8"))
    complaint.pop("id", None)
    complaint["received_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    made = httpx.post(f"{base}/complaints", json=complaint, headers=headers, timeout=30)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _ok(answer: object) -> object:
    import httpx

    assert isinstance(answer, httpx.Response)
    return answer.json() if answer.status_code == 200 and answer.json().get("stage") else None


async def test_ombuds_dev_demo_prints_the_console_and_the_form_that_work(env: Env) -> None:
    """`ombuds dev --demo`: follow-ups minutes after resolution (copies of the policies), the
    console address where the printed admin token signs in, and the customers' form."""
    from .web_support import browser
    from .webhook_receiver import receiver

    helpdesk_ctx = receiver()
    helpdesk = helpdesk_ctx.__enter__()
    env.home.mkdir(parents=True, exist_ok=True)  # a helpdesk hears of hand-offs (docs/plugins.md)
    (env.home / "settings.toml").write_text(
        f'[webhooks.helpdesk]\nurl = "{helpdesk.url}"\nsecret = "{helpdesk.secret}"\n'
        'events = ["complaint.escalated", "clock.breached"]\n',
        "utf-8",
    )
    log_path = env.home / "dev.log"
    with open(log_path, "w") as out:
        dev = subprocess.Popen([OMBUDS, "dev", "--demo"], env=env.vars, stdout=out, stderr=subprocess.STDOUT)
    try:
        log = env.until(
            lambda: _has(log_path.read_text("utf-8"), "complaint form for customers at"), timeout=90
        )
        assert "2026.1-demo" in log and "demo timings" in log
        demo = (env.home / "demo-policies" / "retail.yaml").read_text("utf-8")
        assert "after: 1 minute" in demo and "after: 24 hours" not in demo
        console = next(line for line in log.splitlines() if line.startswith("staff console at")).split()[3]
        form = next(line for line in log.splitlines() if line.startswith("complaint form")).split()[-1]
        token = (env.home / "admin.token").read_text("utf-8").strip()
        async with browser() as chromium:
            page = await (await chromium.new_context()).new_page()
            await page.goto(console)
            await page.fill("#token", token)
            await page.press("#token", "Enter")
            await page.wait_for_url(f"{console}*")
            assert "admin" in await page.locator("header").inner_text()
            answer = await page.goto(form)
            assert answer is not None and answer.status == 200
            assert await page.locator("h1").inner_text() == "Make a complaint"

        # a reply to the acknowledgement in the Maildir reaches the case
        import aiosmtplib
        import httpx

        assert f"customers' replies received by SMTP at 127.0.0.1:{env.vars['OMBUDS_INBOUND_PORT']}" in log
        base = console.removesuffix("/console")
        headers = {"Authorization": f"Bearer {token}"}
        cid = _submit_example(base, headers)
        ack = env.until(
            lambda: next(
                (
                    m
                    for m in mailbox.Maildir(env.home / "mail")
                    if m["X-Ombuds-Complaint"] == cid and str(m["X-Ombuds-Template"]).startswith("received.")
                ),
                None,
            ),
            timeout=60,
        )
        answer = EmailMessage()
        answer["From"], answer["To"], answer["Subject"] = ack["To"], ack["Reply-To"], f"Re: {ack['Subject']}"
        answer.set_content("The card was in my wallet the whole time.")
        await aiosmtplib.send(answer, hostname="127.0.0.1", port=int(env.vars["OMBUDS_INBOUND_PORT"]))

        def replied() -> bool:
            view = httpx.get(f"{base}/complaints/{cid}", headers=headers, timeout=10).json()
            return any(e["action"] == "customer message recorded" for e in view.get("log", []))

        assert env.until(replied, timeout=30)

        # staff hand the case to the next level: the helpdesk gets it, signed, with the summary
        escalated = httpx.post(
            f"{base}/complaints/{cid}/events/escalate",
            json={"summary": "Card blocked; the customer needs a new one today."},
            headers=headers,
            timeout=30,
        )
        assert escalated.status_code == 200, escalated.text
        summary = "Card blocked; the customer needs a new one today."

        def handed_off() -> list[dict[str, Any]]:
            return [
                e
                for e in helpdesk.of_type("complaint.escalated")
                if e["data"]["handoff"]["summary"] == summary
            ]

        (handoff,) = env.until(handed_off, timeout=30)
        assert handoff["data"]["complaint_id"] == cid
        assert handoff["data"]["decision"]["actor"].startswith("staff:admin")
        assert all(status in (204,) for _, status in helpdesk.requests)  # every one signed right
    finally:
        dev.send_signal(signal.SIGTERM)
        dev.wait(timeout=30)
        helpdesk_ctx.__exit__(None, None, None)
