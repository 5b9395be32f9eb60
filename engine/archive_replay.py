"""Replay from the archive: one complaint Temporal no longer has, or every archived complaint in
one process (``ombuds replay --archive``): one replayer, a progress bar, a summary of any case
that differs."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from temporalio.client import WorkflowHistory

from .archive import Archive, ArchiveError, Manifest, open_archive
from .codec import CodecError, opened
from .policy.store import Store
from .replay import ReplayReport, SnapshotsMissing, check_snapshots, replay_many, with_own_id
from .settings import Settings
from .temporal import codec_of

__all__ = ["ArchiveError", "archived_history", "replay_archive"]

#: How many cases one replayer takes at a time when several processes share the work.
CHUNK = 50


def archived_history(s: Settings, complaint_id: str) -> tuple[WorkflowHistory, str]:
    """The complaint's last run as archived (still sealed), its snapshots copied into the home's
    store; an :class:`ArchiveError` when the archive does not have it."""
    archive = open_archive(s)
    manifest = archive.manifests().get(complaint_id)
    if manifest is None:
        raise ArchiveError(f"the archive at {archive.where} does not have it")
    return _last_run(archive, manifest, Store(s.store_dir)), archive.where


def _last_run(archive: Archive, manifest: Manifest, store: Store) -> WorkflowHistory:
    _run, data = archive.histories(manifest)[-1]
    missing = archive.copy_snapshots(manifest.snapshots, store)
    if missing:
        raise ArchiveError(f"the archive lacks the snapshot(s) {', '.join(m[:12] for m in missing)}")
    return WorkflowHistory.from_json(manifest.workflow_id, data.decode())


def _since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        typer.echo(f"error: --since {text!r}: give a date, e.g. 2026-01-01", err=True)
        raise typer.Exit(2) from None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def _replay_ids(ids: list[str], progress: Any = None) -> list[dict[str, str]]:
    """Replay these archived complaints with one replayer: for each, ``identical``, ``differs``,
    ``unreadable`` or ``reduced``, and why.  Run in this process or in a worker process."""
    return asyncio.run(_replay_ids_async(Settings(), ids, progress))


async def _replay_ids_async(s: Settings, ids: list[str], progress: Any) -> list[dict[str, str]]:
    archive = open_archive(s)
    manifests = archive.manifests()
    store = Store(s.store_dir)
    codec = codec_of(s)
    out: list[dict[str, str]] = []
    #: The archive's id of each history handed to the replayer, in order (its reports come so).
    handed: collections.deque[str] = collections.deque()

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for workflow_id in ids:
            manifest = manifests[workflow_id]
            if archive.reduced(workflow_id) is not None:
                out.append({"id": workflow_id, "outcome": "reduced", "why": ""})
                if progress:
                    progress(1)
                continue
            try:
                history = with_own_id(await opened(_last_run(archive, manifest, store), codec))
                check_snapshots(history, store)
            except (ArchiveError, CodecError, SnapshotsMissing, ValueError) as exc:
                out.append({"id": workflow_id, "outcome": "unreadable", "why": str(exc)})
                if progress:
                    progress(1)
                continue
            handed.append(workflow_id)
            yield history

    async for report in replay_many(histories(), store):
        out.append(
            {
                "id": handed.popleft() if handed else report.workflow_id,
                "outcome": "identical" if report.ok else "differs",
                "why": _why(report),
            }
        )
        if progress:
            progress(1)
    return out


async def replay_archive(s: Settings, since_text: str | None, fmt: str, jobs: int = 2) -> bool:
    """Replay every archived complaint (closed on or after ``since``); True when all are identical.

    One replayer replays a share of the cases; ``jobs`` shares run at once, each in a process of
    its own (the replayer's work is Python's, so one process uses one core)."""
    since = _since(since_text)
    try:
        archive = open_archive(s)
        ids = [
            m.workflow_id
            for m, _ in archive.chain()
            if since is None or dt.datetime.fromisoformat(m.closed_at) >= since
        ]
    except ArchiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    started = time.perf_counter()
    progress = Progress(
        TextColumn("replaying the archive"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty() or fmt == "json",
    )
    results: list[dict[str, str]] = []
    with progress:
        task = progress.add_task("replay", total=len(ids))
        if jobs <= 1 or len(ids) < 2 * CHUNK:
            results = await asyncio.to_thread(_replay_ids, ids, lambda n: progress.advance(task, n))
        else:
            chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                waiting = [loop.run_in_executor(pool, _replay_ids, chunk) for chunk in chunks]
                for done in asyncio.as_completed(waiting):
                    part = await done
                    results += part
                    progress.advance(task, len(part))
    seconds = time.perf_counter() - started
    differing = {r["id"]: r["why"] for r in results if r["outcome"] == "differs"}
    unreadable = {r["id"]: r["why"] for r in results if r["outcome"] == "unreadable"}
    reduced = [r["id"] for r in results if r["outcome"] == "reduced"]
    replayed = sum(r["outcome"] in ("identical", "differs") for r in results)
    ok = not differing and not unreadable
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "archive": archive.where,
                    "replayed": replayed,
                    "identical": replayed - len(differing),
                    "reduced": reduced,
                    "differing": differing,
                    "unreadable": unreadable,
                    "seconds": round(seconds, 2),
                },
                indent=2,
            )
        )
        return ok
    for workflow_id, why in differing.items():
        typer.echo(f"DIFFERS {workflow_id}: {why}")
    for workflow_id, why in unreadable.items():
        typer.echo(f"UNREADABLE {workflow_id}: {why}")
    typer.echo(
        f"replayed {replayed} archived complaint(s) from {archive.where} in {seconds:.1f} s: "
        + (
            "every decision log and update answer identical"
            if ok
            else f"{len(differing)} differ, {len(unreadable)} cannot be read"
        )
        + (f"; {len(reduced)} reduced after their retention (not replayable)" if reduced else "")
    )
    return ok


def _why(report: ReplayReport) -> str:
    if not report.deterministic:
        return f"nondeterministic: {(report.failure or '').splitlines()[0][:300]}"
    parts = []
    if report.logs_match is False:
        parts.append("the decision log differs from the recorded one")
    if report.answers_match is False:
        parts.append("update answers differ (" + ", ".join(report.answers_differing) + ")")
    return "; ".join(parts)
