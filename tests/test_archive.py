"""The archive: closed complaints archived by the worker's schedule (a folder) or by hand (an S3
bucket, a local server speaking the protocol), their histories deleted from Temporal and
replayed from the archive identically, the exact policy text behind each decision, a changed,
removed or moved case named by ``archive verify``, and retention that reduces an expired case
and keeps a held one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from ombuds.engine.temporal import binary

from .test_api import complaint
from .web_support import Web, web

pytestmark = pytest.mark.integration
OMBUDS = str(Path(sys.executable).parent / "ombuds")
ROOT = Path(__file__).resolve().parent.parent
ABUSIVE = "You idiots took my money again, fix it now please."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """moto in server mode on a free port, with a bucket; the AWS_* variables that reach it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "archive",
        "AWS_SECRET_ACCESS_KEY": "archive-secret",
        "AWS_REGION": "us-east-1",
    }
    try:
        for _ in range(200):
            try:
                httpx.put(f"http://127.0.0.1:{port}/complaints-archive", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield env
    finally:
        process.terminate()
        process.wait(10)


async def cli(site: Web, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {
        **os.environ,
        "OMBUDS_HOME": str(home),
        "OMBUDS_API_URL": site.url,
        "OMBUDS_TOKEN": site.token("root", "management"),
        "OMBUDS_ADDRESS": site.settings.address,
        "OMBUDS_TASK_QUEUE": site.settings.task_queue,
        **env,
    }
    return await asyncio.to_thread(
        subprocess.run, [OMBUDS, *args], capture_output=True, text=True, env=variables, timeout=180
    )


async def closed_complaints(site: Web, customers: list[str]) -> list[str]:
    """One refused complaint (it ends at intake) for each customer; their workflows completed."""
    bearer = {"Authorization": f"Bearer {site.token('root', 'management')}"}
    ids = []
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
        for n, email in enumerate(customers):
            body = complaint(
                description=ABUSIVE,
                customer={
                    "id": f"CUST-{n}",
                    "name": f"Customer {n}",
                    "account_number": f"5500000{n}",
                    "contacts": {"email": email},
                },
            )
            made = await http.post("/complaints", json=body, headers=bearer)
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    for complaint_id in ids:
        for _ in range(300):
            described = await site.client.get_workflow_handle(complaint_id).describe()
            if described.status == WorkflowExecutionStatus.COMPLETED:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"{complaint_id} did not complete")
    return ids


async def delete_from_temporal(site: Web, complaint_id: str) -> None:
    temporal = str(binary("temporal"))
    done = await asyncio.to_thread(
        subprocess.run,
        [
            temporal,
            "workflow",
            "delete",
            "--yes",
            "--address",
            site.settings.address,
            "--workflow-id",
            complaint_id,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for _ in range(600):
        try:
            await site.client.get_workflow_handle(complaint_id).fetch_history()
        except RPCError:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{complaint_id} is still in Temporal")


def archive_files(home: Path) -> Path:
    return home / "archive"


@pytest.mark.parametrize("where", ["folder", "s3"])
async def test_closed_complaints_are_archived_replayed_from_the_archive_and_verified(
    where: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with s3_server() as aws:
        extra = {"OMBUDS_ARCHIVE": "s3://complaints-archive/ombuds", **aws} if where == "s3" else {}
        async with web(home, worker_env=extra) as site:
            ids = await closed_complaints(site, ["ana@example.org", "bob@example.org", "cy@example.org"])
            status = await cli(site, home, "archive", "status", "--format", "json", **extra)
            assert status.returncode == 0, status.stderr
            assert sorted(json.loads(status.stdout)["pending"]) == sorted(ids)
            if where == "folder":
                # the worker made the schedule; its workflow archives (triggered now, not in an hour)
                schedule = site.client.get_schedule_handle("ombuds-archive")
                described = await schedule.describe()
                assert described.schedule.spec.intervals[0].every.total_seconds() == 3600
                await schedule.trigger()
                for _ in range(300):
                    status = await cli(site, home, "archive", "status", "--format", "json")
                    if json.loads(status.stdout)["archived"] == 3:
                        break
                    await asyncio.sleep(0.2)
                assert json.loads(status.stdout)["pending"] == []
            else:
                ran = await cli(site, home, "archive", "run", **extra)
                assert ran.returncode == 0, ran.stderr
                assert (
                    "archived 3 complaint(s)" in ran.stdout and "signed checkpoint at case #3" in ran.stdout
                )
                again = await cli(site, home, "archive", "run", **extra)
                assert "archived 0 complaint(s)" in again.stdout  # idempotent

            before = await cli(site, home, "replay", ids[0], **extra)
            assert before.returncode == 0, before.stdout + before.stderr
            assert "decision log chain ends in" in before.stdout
            await delete_from_temporal(site, ids[0])
            after = await cli(site, home, "replay", ids[0], **extra)
            assert after.returncode == 0, after.stdout + after.stderr
            assert after.stdout == before.stdout
            assert "replaying it from the archive" in after.stderr

            everything = await cli(site, home, "replay", "--archive", **extra)
            assert everything.returncode == 0, everything.stdout + everything.stderr
            assert (
                "replayed 3 archived complaint(s)" in everything.stdout and "identical" in everything.stdout
            )

            verified = await cli(site, home, "archive", "verify", **extra)
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert "verified 3 case(s)" in verified.stdout

            if where == "folder":
                await tamper_and_verify(site, home, ids)


async def tamper_and_verify(site: Web, home: Path, ids: list[str]) -> None:
    """A changed history, a removed case and a moved case are each named by ``archive verify``."""
    folder = archive_files(home)
    history = next((folder / "cases" / ids[1]).glob("*.history.json"))
    kept = history.read_bytes()
    changed = kept.replace(b'"Complaint"', b'"Complaimt"', 1)
    assert changed != kept
    history.write_bytes(changed)
    found = await cli(site, home, "archive", "verify")
    assert found.returncode == 1
    assert f"cases/{ids[1]}/{history.name}: was changed" in found.stdout
    history.write_bytes(kept)

    chain = sorted((folder / "chain").iterdir())
    second = chain[1].read_bytes()
    chain[1].unlink()  # a case removed from the middle
    found = await cli(site, home, "archive", "verify")
    assert found.returncode == 1 and "chain/000000000003.json: is out of place" in found.stdout
    chain[1].write_bytes(second)

    last = chain[2].read_bytes()
    chain[2].unlink()  # the last case removed: the signed checkpoint still names it
    found = await cli(site, home, "archive", "verify")
    assert found.returncode == 1 and "which the chain no longer has" in found.stdout
    chain[2].write_bytes(last)

    # swapped: the second and third manifests exchange places
    chain[1].write_bytes(last)
    chain[2].write_bytes(second)
    found = await cli(site, home, "archive", "verify")
    assert found.returncode == 1 and "does not follow the case before it" in found.stdout
    chain[1].write_bytes(second)
    chain[2].write_bytes(last)
    assert (await cli(site, home, "archive", "verify")).returncode == 0


async def test_retention_reduces_an_expired_case_keeps_a_held_one_and_shows_the_pinned_text(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    async with web(home) as site:
        ids = await closed_complaints(site, ["ana@example.org", "bob@example.org"])
        ran = await cli(site, home, "archive", "run")
        assert ran.returncode == 0, ran.stderr
        held = await cli(site, home, "hold", "email:ana@example.org", "--reason", "litigation 2027-3")
        assert held.returncode == 0, held.stderr
        manifest = json.loads(next((archive_files(home) / "chain").iterdir()).read_text("utf-8"))
        assert manifest["retention_years"] == 5  # the financial policy's records.retention_years
        later = f"{int(manifest['keep_until'][:4]) + 1}-01-01"

        # Temporal no longer has Bob's complaint: his erasure is checked against the archive
        await delete_from_temporal(site, ids[1])
        refused = await cli(site, home, "erase", "email:bob@example.org", "--reason", "asked by letter")
        assert refused.returncode == 1
        assert "(archived)" in refused.stderr and manifest["keep_until"][:10] in refused.stderr

        # a year after their retention ended (simulated): Bob's case reduced, Ana's kept (held)
        ran = await cli(site, home, "archive", "run", "--as-of", later)
        assert ran.returncode == 0, ran.stderr
        assert f"reduced after its retention: {ids[1]}" in ran.stdout
        assert f"kept past its retention (legal hold): {ids[0]}" in ran.stdout
        assert not list((archive_files(home) / "cases" / ids[1]).glob("*.history.json"))
        assert list((archive_files(home) / "cases" / ids[0]).glob("*.history.json"))
        reduced = json.loads((archive_files(home) / "cases" / ids[1] / "reduced.json").read_text("utf-8"))
        assert "records.retention_years" in reduced["rule"]
        verified = await cli(site, home, "archive", "verify")
        assert verified.returncode == 0, verified.stdout  # a reduction after retention is no tampering
        everything = await cli(site, home, "replay", "--archive")
        assert "replayed 1 archived complaint(s)" in everything.stdout and "1 reduced" in everything.stdout
        # what-if over the sealed archive: the policy they ran under changes nothing
        again = await cli(
            site, home, "whatif", str(ROOT / "policies" / "financial-services.yaml"), "-f", "json"
        )
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)["summary"]
        assert summary["cases"] == 1 and summary["changed"] == 0, again.stdout
        assert summary["not_run"] == {ids[1]: "reduced after its retention"}

        # the exact text behind the decisions, and a warning once the file says something else
        sha = manifest["policy_sha"]
        policies = tmp_path / "policies"
        shutil.copytree(ROOT / "policies", policies)
        shown = await cli(
            site, home, "policy", "show", sha[:12], "--line", "3", OMBUDS_POLICIES=str(policies)
        )
        assert shown.returncode == 0, shown.stderr
        pinned = (ROOT / "policies" / "financial-services.yaml").read_text("utf-8").splitlines()
        marked = [row for row in shown.stdout.splitlines() if row.startswith(">")]
        assert marked and marked[0].endswith(f"3 | {pinned[2]}")
        assert shown.stderr == ""
        changed = policies / "financial-services.yaml"
        changed.write_text(
            changed.read_text("utf-8").replace("retention_years: 5", "retention_years: 6"), "utf-8"
        )
        shown = await cli(site, home, "policy", "show", sha[:12], OMBUDS_POLICIES=str(policies))
        assert "has changed since policy financial-services" in shown.stderr
        replayed = await cli(site, home, "replay", ids[0], OMBUDS_POLICIES=str(policies))
        assert f"ombuds policy show {sha[:12]}" in replayed.stdout
        assert "has changed since" in replayed.stderr
        status = await cli(site, home, "status", ids[0], OMBUDS_POLICIES=str(policies))
        assert status.returncode == 0, status.stderr
        assert f"ombuds policy show {sha[:12]}" in status.stdout and "has changed since" in status.stderr
