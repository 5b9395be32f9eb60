"""Policy tests, simulation and what-if: how fast an operations lead gets an answer.

* ``ombuds test``: ``--cases`` (100) suite cases, the shipped suites' cases cycled, on the pure
  core, in this process and on 2 processes (target: 100 cases ≤ 5 s);
* one 3-month case (the card-fee complaint and its events) on the time-skipping server, the
  real workflow, start-up of the test server included and without it (target ≤ 1 s), beside the
  same case on the pure core, with their ratio;
* ``ombuds whatif`` over ``--archived`` (1,000) archived cases (the current golden histories of
  the financial policy, cycled) under a policy with a shorter deadline (target ≤ 10 s).

    .venv/bin/python bench/bench_policy_tests.py [--cases 100] [--archived 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from temporalio.client import WorkflowHistory

from ombuds.engine.archive import Archive, CaseFiles, Folder
from ombuds.engine.files import load_complaint
from ombuds.engine.policy.store import Store
from ombuds.engine.replay import pinned_snapshots, recorded_log, started_input
from ombuds.engine.settings import Settings
from ombuds.engine.simulate import read_events, simulate
from ombuds.engine.simulate_temporal import simulate_on_temporal
from ombuds.engine.suites import Suite, discover, load_suite, run_case
from ombuds.engine.whatif import run as whatif

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


def _one(job: tuple[str, str, int]) -> bool:
    path, text, index = job
    suite = Suite.model_validate_json(text)
    return run_case(Path(path), suite, suite.cases[index]).passed


def suite_cases(count: int) -> None:
    jobs = []
    for path in discover([], ROOT / "policies"):
        suite, _ = load_suite(path)
        assert suite is not None
        jobs += [(str(path), suite.model_dump_json(), i) for i in range(len(suite.cases))]
    work = [jobs[i % len(jobs)] for i in range(count)]
    started = time.perf_counter()
    assert all(_one(job) for job in work)
    alone = time.perf_counter() - started
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert all(pool.map(_one, work))
    pooled = time.perf_counter() - started
    print(
        f"ombuds test: {count} suite cases on the pure core in {alone:.2f} s in one process, "
        f"{pooled:.2f} s on 2 processes (target 100 in 5 s: {pooled * 100 / count:.2f} s per 100)"
    )


def three_months() -> None:
    policy = ROOT / "policies" / "financial-services.yaml"
    complaint = load_complaint(ROOT / "examples" / "complaints" / "fs-card-fee.yaml")
    events = read_events(ROOT / "examples" / "simulations" / "fs-card-fee.events.yaml")
    started = time.perf_counter()
    simulate(policy, complaint, events, "+3 months")
    core = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(simulate_on_temporal(policy, complaint, events, "+3 months"))
    real = time.perf_counter() - started
    print(
        f"one 3-month case: {core * 1000:.0f} ms on the pure core, {real:.2f} s on the time-skipping "
        f"server with its start-up (target 1 s); the real workflow costs {real / core:.0f}x the core"
    )


def archived(home: Path, count: int) -> None:
    store = Store(GOLDEN / "store")
    archive = Archive(Folder(home / "archive"))
    sources = [
        p
        for p in sorted((GOLDEN / "v12").glob("financial-*.json"))
        if "ledger" not in p.name and "alias" not in p.name
    ]
    loaded = []
    for path in sources:
        data = path.read_bytes()
        history = WorkflowHistory.from_json(path.stem, data.decode())
        started, log = started_input(history), recorded_log(history)
        if started is None or not log:
            continue
        loaded.append(
            (path.stem, data, started, log, {sha: store.get(sha) or b"" for sha in pinned_snapshots(history)})
        )
    now = dt.datetime.now(dt.UTC)
    for n in range(count):
        name, data, started, log, snapshots = loaded[n % len(loaded)]
        archive.add(
            CaseFiles(
                workflow_id=f"{name}-{n:05d}",
                histories=[("run-1", data)],
                snapshots=snapshots,
                policy_id="financial-services",
                policy_version="2026.1",
                policy_sha=started.policy_sha,
                received_at=started.complaint.received_at.isoformat(),
                closed_at=log[-1].at.replace("Z", "+00:00"),
                outcome=log[-1].action,
                retention_years=5,
                figures={},
            ),
            now,
        )
    shutil.copytree(GOLDEN / "store", home / "store", dirs_exist_ok=True)


def what_if(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ombuds-bench-whatif-") as work:
        home = Path(work) / "home"
        archived(home, count)
        policies = Path(work) / "policies"
        shutil.copytree(ROOT / "policies", policies)
        policy = policies / "financial-services.yaml"
        policy.write_text(
            policy.read_text("utf-8").replace("target: 15 business days", "target: 10 business days", 1)
        )
        settings = Settings(home=home, encryption=False)
        started = time.perf_counter()
        result = whatif(policy, settings, Archive(Folder(home / "archive")))
        seconds = time.perf_counter() - started
        summary = result.summary()
        print(
            f"ombuds whatif: {summary['cases']} archived cases in {seconds:.1f} s, {summary['changed']} would change "
            f"(target 1,000 in 10 s: {seconds * 1000 / max(summary['cases'], 1):.1f} s per 1,000)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--archived", type=int, default=1000)
    args = parser.parse_args()
    suite_cases(args.cases)
    three_months()
    what_if(args.archived)


if __name__ == "__main__":
    main()
