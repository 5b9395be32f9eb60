"""``ombuds archive status|run|verify``: the archive of closed complaints, for administrators."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .agent_cli import Output, _client, fail, settings
from .archive import ArchiveError, Signer, open_archive, public_key

archive_app = typer.Typer(
    help="The archive of closed complaints: kept for their retention years, replayable, tamper-evident.",
    no_args_is_help=True,
)


def _day(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        found = dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"{option} {text!r}: give a date or instant, e.g. 2027-06-30 or 2027-06-30T12:00+02:00", 2
        ) from None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


@archive_app.command("status")
def status(format: Output = "text") -> None:
    """What the archive holds, what is pending (closed complaints not yet archived) and the schedule."""
    asyncio.run(_status(format))


async def _status(fmt: str) -> None:
    from ombuds.workflows import names

    from .archive_sweep import pending

    s = settings()
    try:
        archive = open_archive(s)
        chain = archive.chain()
    except ArchiveError as exc:
        raise fail(str(exc)) from None
    client = await _client(s)
    waiting = await pending(client, archive)
    reduced = [m.workflow_id for m, _ in chain if archive.reduced(m.workflow_id) is not None]
    now = dt.datetime.now(dt.UTC)
    expired = [m.workflow_id for m in archive.expired(now)]
    checkpoints = archive.store.keys("checkpoints/")
    schedule: dict[str, Any] = {"id": names.ARCHIVE_SCHEDULE}
    try:
        described = await client.get_schedule_handle(names.ARCHIVE_SCHEDULE).describe()
        schedule["next"] = [t.isoformat() for t in described.info.next_action_times[:1]]
        schedule["last"] = [a.started_at.isoformat() for a in described.info.recent_actions[-1:]]
    except Exception:  # no schedule (archive_every_minutes = 0, or no worker started yet)
        schedule["missing"] = True
    report = {
        "archive": archive.where,
        "archived": len(chain),
        "pending": waiting,
        "reduced": len(reduced),
        "past_retention": expired,
        "last_checkpoint": checkpoints[-1] if checkpoints else None,
        "schedule": schedule,
    }
    if fmt == "json":
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"archive: {archive.where}")
    typer.echo(f"archived: {len(chain)} complaint(s), {len(reduced)} reduced after their retention")
    typer.echo(
        f"pending: {len(waiting)} closed complaint(s) not yet archived"
        + (f" ({', '.join(waiting[:10])}{' …' if len(waiting) > 10 else ''})" if waiting else "")
    )
    if expired:
        typer.echo(f"past their retention, not yet reduced: {len(expired)} ({', '.join(expired[:10])})")
    typer.echo(f"last signed checkpoint: {report['last_checkpoint'] or 'none'}")
    if schedule.get("missing"):
        typer.echo(
            f"schedule {names.ARCHIVE_SCHEDULE}: none (a worker creates it; `ombuds archive run` archives now)"
        )
    else:
        typer.echo(
            f"schedule {names.ARCHIVE_SCHEDULE}: next {', '.join(schedule['next']) or '-'}, last {', '.join(schedule['last']) or 'never'}"
        )


@archive_app.command("run")
def run(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Apply retention as of this date (to check what it would remove)."),
    ] = None,
    format: Output = "text",
) -> None:
    """Archive every closed complaint not yet archived, reduce those past their retention (a legal
    hold keeps them), and sign the chain's head: what the schedule does."""
    when = _day(as_of, "--as-of")
    asyncio.run(_run(when, format))


async def _run(when: dt.datetime | None, fmt: str) -> None:
    from .archive_sweep import sweep

    s = settings()
    client = await _client(s)
    try:
        done = await sweep(client, s, open_archive(s), now=when)
    except ArchiveError as exc:
        raise fail(str(exc)) from None
    if fmt == "json":
        typer.echo(json.dumps(done.as_json(), indent=2))
    else:
        typer.echo(
            f"archived {len(done.archived)} complaint(s)"
            + (f": {', '.join(done.archived)}" if done.archived else "")
        )
        for workflow_id in done.reduced:
            typer.echo(f"reduced after its retention: {workflow_id}")
        for workflow_id in done.held:
            typer.echo(f"kept past its retention (legal hold): {workflow_id}")
        for workflow_id, why in done.failed.items():
            typer.echo(f"not archived: {workflow_id}: {why}", err=True)
        if done.checkpoint is not None:
            typer.echo(f"signed checkpoint at case #{done.checkpoint}")
    if done.failed:
        raise typer.Exit(1)


@archive_app.command("verify")
def verify(
    key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="A trusted archive public key (PEM); else the home's archive key."),
    ] = None,
    format: Output = "text",
) -> None:
    """Check that no archived case was changed, removed or reordered: every file against its
    manifest, every manifest against the one before it, every checkpoint's signature (exit 1 on
    any problem, each named)."""
    s = settings()
    try:
        trusted = (
            [public_key(p.read_bytes()) for p in key] if key else [Signer.of_home(s.home).key.public_key()]
        )
        found = open_archive(s).verify(trusted)
    except (ArchiveError, OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    if format == "json":
        typer.echo(
            json.dumps(
                {
                    "cases": found.cases,
                    "checkpoints": found.checkpoints,
                    "problems": [p.__dict__ for p in found.problems],
                },
                indent=2,
            )
        )
    else:
        for problem in found.problems:
            typer.echo(f"{problem.where}: {problem.what}")
        verdict = (
            "no case was changed, removed or reordered"
            if not found.problems
            else f"{len(found.problems)} problem(s)"
        )
        typer.echo(f"verified {found.cases} case(s) and {found.checkpoints} signed checkpoint(s): {verdict}")
    raise typer.Exit(1 if found.problems else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(archive_app, name="archive")
