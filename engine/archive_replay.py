"""Replay from the archive: one complaint Temporal no longer has, or every archived complaint in
one process (``ombuds replay --archive``): one replayer, a progress bar, a summary of any case
that differs."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import AsyncIterator

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


async def replay_archive(s: Settings, since_text: str | None, fmt: str) -> bool:
    """Replay every archived complaint (closed on or after ``since``); True when all are identical."""
    since = _since(since_text)
    try:
        archive = open_archive(s)
        manifests = [
            m for m, _ in archive.chain() if since is None or dt.datetime.fromisoformat(m.closed_at) >= since
        ]
    except ArchiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    store = Store(s.store_dir)
    codec = codec_of(s)
    unreadable: dict[str, str] = {}
    reduced: list[str] = []

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for manifest in manifests:
            if archive.reduced(manifest.workflow_id) is not None:
                reduced.append(manifest.workflow_id)
                progress.advance(task)
                continue
            try:
                history = with_own_id(await opened(_last_run(archive, manifest, store), codec))
                check_snapshots(history, store)
            except (ArchiveError, CodecError, SnapshotsMissing, ValueError) as exc:
                unreadable[manifest.workflow_id] = str(exc)
                progress.advance(task)
                continue
            yield history

    differing: list[ReplayReport] = []
    started = time.perf_counter()
    replayed = 0
    progress = Progress(
        TextColumn("replaying the archive"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty() or fmt == "json",
    )
    with progress:
        task = progress.add_task("replay", total=len(manifests))
        async for report in replay_many(histories(), store):
            replayed += 1
            if not report.ok:
                differing.append(report)
            progress.advance(task)
    seconds = time.perf_counter() - started
    ok = not differing and not unreadable
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "archive": archive.where,
                    "replayed": replayed,
                    "identical": replayed - len(differing),
                    "reduced": reduced,
                    "differing": {r.workflow_id: _why(r) for r in differing},
                    "unreadable": unreadable,
                    "seconds": round(seconds, 2),
                },
                indent=2,
            )
        )
        return ok
    for report in differing:
        typer.echo(f"DIFFERS {report.workflow_id}: {_why(report)}")
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
