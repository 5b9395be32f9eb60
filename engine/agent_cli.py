"""CLI commands that talk to Temporal itself, for administrators (Temporal access is full trust):
dev, worker, replay.  Staff commands go through the HTTP API (:mod:`.staff_cli`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError

from .logs import configure as configure_logs
from .settings import Settings
from .staff_cli import log_line

if TYPE_CHECKING:
    from .intake import Intake

Output = Annotated[str, typer.Option("--format", "-f", help="text or json")]


def settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


async def _client(s: Settings) -> Client:
    from .temporal import connect

    try:
        return await connect(s)
    except Exception as exc:
        raise fail(
            f"cannot connect to Temporal at {s.address} ({exc}); start `ombuds dev` or set OMBUDS_ADDRESS"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def dev(
        demo: Annotated[
            bool,
            typer.Option(
                "--demo",
                help="Demo timings: the survey a minute after resolution (its reminder 5, the thank-you "
                "and check-in 10) instead of days, in copies of the policies under <home>/demo-policies.",
            ),
        ] = False,
    ) -> None:
        """Run the embedded default: Temporal dev server (SQLite under .ombuds/), policies, worker,
        and the HTTP API with the staff console and the customer pages."""
        s = with_replies(settings())
        if demo:
            from .demo import demo_policies

            s = s.model_copy(update={"policies": demo_policies(s.policies, s.home)})
            typer.echo(f"demo timings: follow-ups minutes after resolution (policies in {s.policies})")
        asyncio.run(_dev(s))

    @app.command()
    def receive(
        host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(help="The SMTP port (the mail relay forwards replies here).")
        ] = 8025,
    ) -> None:
        """Receive customers' replies by SMTP (behind the mail relay): each becomes its complaint's
        customer_message; what cannot be matched is kept in the Maildir <home>/inbound."""
        asyncio.run(_receive(settings(), host, port))

    @app.command()
    def worker() -> None:
        """Run a worker against any Temporal (OMBUDS_ADDRESS, OMBUDS_NAMESPACE, TLS, API key)."""
        asyncio.run(_worker(settings()))

    @app.command()
    def replay(
        complaint_id: Annotated[str | None, typer.Argument(help="Fetch this complaint's history.")] = None,
        history: Annotated[
            Path | None, typer.Option(help="A history JSON file (temporal workflow show -o json).")
        ] = None,
        archive: Annotated[
            bool, typer.Option("--archive", help="Replay every archived complaint, in one process.")
        ] = False,
        since: Annotated[
            str | None, typer.Option(help="With --archive: only the complaints closed on or after this date.")
        ] = None,
        jobs: Annotated[
            int, typer.Option(help="With --archive: replayers at once, each in a process of its own.")
        ] = 2,
        format: Output = "text",
    ) -> None:
        """Replay a history through the current code and rebuild its decision log (exit 1 on any
        difference).  A complaint Temporal no longer has is replayed from the archive."""
        if archive:
            if complaint_id is not None or history is not None:
                raise fail("--archive replays every archived complaint: give no id or --history", 2)
            from .archive_replay import replay_archive

            raise typer.Exit(0 if asyncio.run(replay_archive(settings(), since, format, max(1, jobs))) else 1)
        if since is not None:
            raise fail("--since goes with --archive", 2)
        if (complaint_id is None) == (history is None):
            raise fail("give a complaint id, --history FILE or --archive", 2)
        ok = asyncio.run(_replay(settings(), complaint_id, history, format))
        raise typer.Exit(0 if ok else 1)


def load_intake(s: Settings) -> Intake:
    """The intake over the configured policies, or a clear error (no folder, no usable policy).

    A policy file with errors stops nothing else: its problems are printed, and the last valid
    snapshot of it stays in effect."""
    from ombuds.engine.policy.errors import PolicyInvalid

    from .intake import Intake, IntakeError

    try:
        intake = Intake(s)
    except IntakeError as exc:
        raise fail(str(exc)) from None
    except PolicyInvalid as exc:
        raise fail(f"no policy in {s.policies} can be used:\n{exc.report.render_text()}") from None
    if intake.report.problems:
        typer.echo(f"the policies in {s.policies} have problems:\n{intake.report.render_text()}", err=True)
    return intake


def pin_policies(s: Settings) -> list[str]:
    """For a worker: pin the valid policies into the store; a worker runs from the store, so a
    policies folder with problems (or none) is reported and does not stop it."""
    try:
        return [f"{p.id} {p.version}" for p in load_intake(s).policies]
    except typer.Exit:
        typer.echo("warning: the worker runs the complaints whose snapshots the store holds", err=True)
        return []


async def _dev(s: Settings) -> None:
    try:
        await _run_dev(s)
    except (RuntimeError, TimeoutError) as exc:
        raise fail(str(exc)) from None


def delivery_lines(s: Settings) -> list[str]:
    """Where each channel delivers, as ``ombuds dev`` says it."""
    from . import plugins

    try:
        installed = plugins.load(s)
    except plugins.PluginSettingsError as exc:
        raise fail(str(exc)) from None
    context = plugins.delivery_context(s)
    lines = []
    for item in installed.values():
        where = item.plugin.describe(context)
        hint = " (open it with a mail client)" if where.startswith("Maildir") else ""
        lines.append(f"{', '.join(item.plugin.channels)}: {where}{hint}")
    return lines


async def _run_dev(s: Settings) -> None:
    from .devserver import dev_server
    from .temporal import build_worker

    configure_logs(s.log_format)
    typer.echo(f"policies: {', '.join(pin_policies(s)) or 'none'}")
    async with dev_server(s, say=typer.echo) as client:
        typer.echo(f"Temporal dev server at {s.address} (state in {s.home / 'temporal.db'})")
        typer.echo(f"Temporal UI at http://127.0.0.1:{s.ui_port}")
        for line in delivery_lines(s):
            typer.echo(line)
        with dev_api(s):
            receiving = await dev_inbound(s, client)
            await say_archive(client, s)
            typer.echo("Ctrl-C stops; starting again continues every complaint")
            worker = build_worker(client, s)
            try:
                await run_until_stopped(worker)
            finally:
                if receiving is not None:
                    receiving.close()


def with_replies(s: Settings) -> Settings:
    """The settings with customers' replies and bounces coming back (``ombuds dev``): the email
    channel writes a reply address and a bounce address unless the settings give them."""
    email = dict(s.channels.get("email", {}))
    domain = str(email.get("domain") or "ombuds.localhost")
    for setting, box in (("reply_to", "replies"), ("bounce_to", "bounces")):
        if not email.get(setting):
            email[setting] = box + "+{token}@" + domain
    return s.model_copy(update={"channels": {**s.channels, "email": email}})


async def dev_inbound(s: Settings, client: Client) -> Any:
    """The SMTP endpoint for customers' replies beside the dev server; a busy port leaves it
    out, said so."""
    from ombuds.activities.email import EmailSettings

    from . import plugins
    from .inbound import Replies, serve

    replies = Replies(
        client, EmailSettings.model_validate(s.channels.get("email", {})), plugins.delivery_context(s)
    )
    try:
        server = await serve(replies, "127.0.0.1", s.inbound_port)
    except OSError:
        typer.echo(f"replies not received: 127.0.0.1:{s.inbound_port} is in use (set OMBUDS_INBOUND_PORT)")
        return None
    typer.echo(
        f"customers' replies received by SMTP at 127.0.0.1:{s.inbound_port}; "
        f"what cannot be matched is kept in the Maildir {s.home / 'inbound'}"
    )
    return server


@contextlib.contextmanager
def dev_api(s: Settings) -> Iterator[None]:
    """The HTTP API beside the dev server, with an admin token made at the first start; a busy
    port leaves it out, said so."""
    import socket

    from .api_cli import BackgroundApi, admin_token

    with socket.socket() as probe:
        busy = probe.connect_ex(("127.0.0.1", s.api_port)) == 0
    if busy:
        typer.echo(f"HTTP API not started: 127.0.0.1:{s.api_port} is in use (set OMBUDS_API_PORT)")
        yield
        return
    levels = [p.policy.authority[-1].id for p in load_intake(s).policies if p.policy.authority]
    token = admin_token(s, levels[0] if levels else "admin")
    with BackgroundApi(s):
        typer.echo(
            f"HTTP API at http://127.0.0.1:{s.api_port} (admin token in {token}: the staff commands use it "
            "unless OMBUDS_TOKEN names another, e.g. from `ombuds token create --user alice --level agent`)"
        )
        typer.echo(f"staff console at {s.web_url}/console (sign in with a token, e.g. the admin token)")
        typer.echo(f"complaint form for customers at {s.web_url}/complain")
        yield


async def _worker(s: Settings) -> None:
    from .temporal import build_worker

    configure_logs(s.log_format)
    pin_policies(s)
    client = await _client(s)
    from .temporal import register_search_attributes

    try:
        added = await register_search_attributes(client, s.namespace)
        if added:
            typer.echo(f"registered search attributes: {', '.join(added)}")
    except RPCError as exc:
        typer.echo(
            f"warning: could not register search attributes ({exc.message}); register them by hand", err=True
        )
    await say_archive(client, s)
    typer.echo(f"worker on {s.address} namespace {s.namespace} queue {s.task_queue}")
    await run_until_stopped(build_worker(client, s))


async def say_archive(client: Client, s: Settings) -> None:
    """Create or update the schedule that archives the closed complaints, and say where to."""
    from .archive import backend
    from .archive_sweep import ensure_schedule

    try:
        where = backend(s).where
        every = await ensure_schedule(client, s)
    except Exception as exc:  # the archive's settings or the schedule: said, and the worker still runs
        typer.echo(f"warning: closed complaints are not archived: {exc}", err=True)
        return
    if every is None:
        typer.echo(f"archive: {where} (no schedule: `ombuds archive run` archives)")
    else:
        typer.echo(f"archive: closed complaints to {where}, {every} (schedule ombuds-archive)")


async def _receive(s: Settings, host: str, port: int) -> None:
    from ombuds.activities.email import EmailSettings

    from . import plugins
    from .inbound import Replies, reply_pattern, serve

    configure_logs(s.log_format)
    email = EmailSettings.model_validate(s.channels.get("email", {}))
    if reply_pattern(email) is None:
        raise fail(
            "[channels.email] reply_to must give the reply address with {token}, e.g. replies+{token}@example.org"
        )
    client = await _client(s)
    try:
        server = await serve(Replies(client, email, plugins.delivery_context(s)), host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    typer.echo(f"receiving replies by SMTP on {host}:{port}; kept for staff in {s.home / 'inbound'}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    typer.echo("stopped")


async def run_until_stopped(worker: Any) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut it down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()
    typer.echo("stopped")


async def _history_of(s: Settings, complaint_id: str) -> WorkflowHistory:
    """A complaint's history, opened: from Temporal, else (deleted there, or Temporal gone) from
    the archive, its snapshots copied into the home's store."""
    from temporalio.service import RPCStatusCode

    from .archive_replay import ArchiveError, archived_history
    from .codec import CodecError, opened
    from .temporal import codec_of, connect

    why = ""
    try:
        try:
            client = await connect(s)
        except Exception:  # Temporal is down or gone: the archive may still have the complaint
            raise typer.Exit(1) from None
        history = await client.get_workflow_handle(complaint_id).fetch_history()
        return await opened(history, client.data_converter.payload_codec)
    except typer.Exit:
        why = f"Temporal at {s.address} cannot be reached"
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise fail(f"complaint {complaint_id}: {exc.message}") from None
        why = f"Temporal no longer has complaint {complaint_id}"
    except CodecError as exc:
        raise fail(f"cannot read {complaint_id}: {exc}") from None
    try:
        history, where = archived_history(s, complaint_id)
        typer.echo(f"{why}: replaying it from the archive ({where})", err=True)
        return await opened(history, codec_of(s))
    except ArchiveError as exc:
        raise fail(f"complaint {complaint_id}: {why}, and {exc}") from None
    except CodecError as exc:
        raise fail(f"cannot read {complaint_id}: {exc}") from None


async def _replay(s: Settings, complaint_id: str | None, history_file: Path | None, fmt: str) -> bool:
    from ombuds.engine.policy.store import Store

    from .codec import opened
    from .replay import SnapshotsMissing, replay, with_own_id
    from .temporal import codec_of

    if history_file is not None:
        try:
            history = WorkflowHistory.from_json(history_file.stem, history_file.read_text("utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise fail(f"cannot read history {history_file}: {exc}") from None
        history = with_own_id(await opened(history, codec_of(s)))
    else:
        assert complaint_id is not None
        history = await _history_of(s, complaint_id)
    try:
        report = await replay(history, Store(s.store_dir))
    except SnapshotsMissing as exc:
        raise fail(f"cannot replay {history.workflow_id}: {exc}") from None
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "workflow_id": report.workflow_id,
                    "deterministic": report.deterministic,
                    "failure": report.failure,
                    "logs_match": report.logs_match,
                    "answers_match": report.answers_match,
                    "answers_differing": report.answers_differing,
                    "inputs_differing": report.inputs_differing,
                    "log_head": report.rebuilt[-1].chain if report.rebuilt else None,
                    "log": [e.model_dump(mode="json") for e in report.rebuilt],
                },
                indent=2,
            )
        )
        return report.ok
    for entry in report.rebuilt:
        typer.echo(log_line(entry))
    typer.echo(
        f"replayed {report.workflow_id}: {'deterministic' if report.deterministic else 'NONDETERMINISTIC: ' + (report.failure or '')}"
    )
    if report.logs_match is None and report.rebuilt:
        typer.echo("the history has no final result yet; rebuilt log shown")
    elif report.logs_match is not None:
        typer.echo(
            "decision log: "
            + ("identical to the recorded log" if report.logs_match else "DIFFERS from the recorded log")
        )
    if report.answers_match is not None:
        count = len(report.answers_recorded)
        typer.echo(
            f"update answers: identical to the recorded answers ({count})"
            if report.answers_match
            else "update answers: DIFFER from the recorded answers (updates "
            + ", ".join(report.answers_differing)
            + ")"
        )
    if report.inputs_differing:
        typer.echo(
            "activity inputs: DIFFER from what the code asks (activities "
            + ", ".join(report.inputs_differing)
            + ")"
        )
    if report.rebuilt and report.rebuilt[-1].chain:
        typer.echo(f"decision log chain ends in {report.rebuilt[-1].chain}")
    _pinned_text(s, report)
    return report.ok


def _pinned_text(s: Settings, report: Any) -> None:
    """Where the rules' file:line point: the pinned text, and a warning when the file differs now."""
    from ombuds.engine.policy.store import Store, StoreError

    from .snapshot_cli import drift

    for sha in sorted({e.policy_sha for e in report.rebuilt}):
        try:
            policy = Store(s.store_dir).policy(sha)
        except StoreError:
            continue
        if policy.source:
            typer.echo(
                f"rules' lines: the pinned text of {policy.id} {policy.version} (ombuds policy show {sha[:12]})"
            )
        for warning in drift(policy, s.policies):
            typer.echo(f"warning: {warning}", err=True)
