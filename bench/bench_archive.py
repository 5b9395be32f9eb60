"""The archive: how fast closed complaints are archived, verified and replayed in one batch.

Builds an archive of ``--count`` closed complaints from the golden histories of the current
interpreter version (tests/golden/v11, cycled), in a folder and (``--s3-count`` of them) in a
bucket on a local S3 server (moto in server mode, through the same obstore client production
uses).  Prints:

* archive throughput: cases/s and MB/s written (folder, S3), the manifest chain included;
* ``archive verify``: cases/s (every file's sha256, every link, the signed checkpoint);
* batch replay: ``ombuds replay --archive`` over every case, one process, wall time from the
  command's start (target: 1,000 cases ≤ 30 s on 2 cores), beside one ``ombuds replay
  --history`` process per case (measured on a few cases), and their ratio.

    .venv/bin/python bench/bench_archive.py [--count 1000] [--s3-count 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from temporalio.client import WorkflowHistory

from ombuds.engine.archive import Archive, Bucket, CaseFiles, Folder, Signer
from ombuds.engine.policy.store import Store
from ombuds.engine.replay import pinned_snapshots, recorded_log, started_input

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
OMBUDS = str(Path(sys.executable).parent / "ombuds")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cases(count: int) -> list[CaseFiles]:
    """``count`` closed complaints made of the current golden histories (complaints only)."""
    store = Store(GOLDEN / "store")
    made = []
    sources = sorted(
        p for p in (GOLDEN / "v11").glob("*.json") if "ledger" not in p.name and "alias" not in p.name
    )
    loaded = []
    for path in sources:
        data = path.read_bytes()
        history = WorkflowHistory.from_json(path.stem, data.decode())
        started = started_input(history)
        if started is None or recorded_log(history) is None:
            continue
        snapshots = {sha: store.get(sha) or b"" for sha in pinned_snapshots(history)}
        loaded.append((data, started, snapshots, recorded_log(history) or []))
    for n in range(count):
        data, started, snapshots, log = loaded[n % len(loaded)]
        made.append(
            CaseFiles(
                workflow_id=f"{started.complaint.id}-{n:05d}",
                histories=[(f"run-{n:05d}", data)],
                snapshots=snapshots,
                policy_id="p",
                policy_version="1",
                policy_sha=started.policy_sha,
                received_at=started.complaint.received_at.isoformat(),
                closed_at=log[-1].at.replace("Z", "+00:00"),
                outcome=log[-1].action,
                retention_years=5,
                figures={"decisions": len(log)},
            )
        )
    return made


def fill(archive: Archive, made: list[CaseFiles]) -> tuple[float, int]:
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    for case in made:
        archive.add(case, now)
    return time.perf_counter() - started, sum(len(d) for c in made for _, d in c.histories)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--s3-count", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ombuds-bench-archive-"))
    try:
        home = work / "home"
        home.mkdir()
        made = cases(args.count)
        folder = Archive(Folder(home / "archive"))
        seconds, size = fill(folder, made)
        folder.checkpoint(Signer.of_home(home), dt.datetime.now(dt.UTC))
        print(
            f"archive to a folder: {args.count} cases in {seconds:.2f} s = {args.count / seconds:.0f} cases/s, "
            f"{size / seconds / 1e6:.1f} MB/s"
        )

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            aws = {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_REGION": "us-east-1",
            }
            os.environ.update(aws)
            for _ in range(200):
                try:
                    httpx.put(f"http://127.0.0.1:{port}/bench", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            bucket = Archive(Bucket("s3://bench/archive"))
            seconds, size = fill(bucket, made[: args.s3_count])
            print(
                f"archive to S3 (moto, local): {args.s3_count} cases in {seconds:.2f} s = "
                f"{args.s3_count / seconds:.0f} cases/s, {size / seconds / 1e6:.1f} MB/s"
            )
        finally:
            server.terminate()
            server.wait(10)

        started = time.perf_counter()
        verified = Archive(Folder(home / "archive")).verify([Signer.of_home(home).key.public_key()])
        seconds = time.perf_counter() - started
        assert not verified.problems, verified.problems[:3]
        print(
            f"archive verify: {verified.cases} cases in {seconds:.2f} s = {verified.cases / seconds:.0f} cases/s"
        )

        shutil.copytree(GOLDEN / "store", home / "store", dirs_exist_ok=True)
        env = {**os.environ, "OMBUDS_HOME": str(home), "OMBUDS_ADDRESS": "127.0.0.1:1"}
        started = time.perf_counter()
        done = subprocess.run([OMBUDS, "replay", "--archive"], capture_output=True, text=True, env=env)
        batch = time.perf_counter() - started
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        print(
            f"ombuds replay --archive: {args.count} cases in {batch:.1f} s (start-up included, 2 replayers in "
            f"processes of their own) = {args.count / batch:.0f} cases/s; target 1,000 in 30 s: "
            f"{batch * 1000 / args.count:.1f} s per 1,000"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [OMBUDS, "replay", "--archive", "--jobs", "1"], capture_output=True, text=True, env=env
        )
        alone = time.perf_counter() - started
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        print(
            f"ombuds replay --archive --jobs 1: {args.count} cases in {alone:.1f} s, one replayer in one process"
        )
        sample = sorted((GOLDEN / "v11").glob("*full-path.json"))
        started = time.perf_counter()
        for path in sample:
            one = subprocess.run([OMBUDS, "replay", "--history", str(path)], capture_output=True, env=env)
            assert one.returncode == 0
        each = (time.perf_counter() - started) / len(sample)
        print(
            f"one `ombuds replay --history` per case: {each:.2f} s each; the batch is "
            f"{each / (batch / args.count):.0f}x faster per case"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
