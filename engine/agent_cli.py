"""CLI commands that talk to Temporal: dev, worker, submit, status, event, list, replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError

from .intake import status_now
from .logs import configure as configure_logs
from .settings import Settings

if TYPE_CHECKING:
    from ombuds.workflows.core import Event

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


def details(detail: dict[str, Any]) -> str:
    """A log entry's details on one line (the hand-off summary is left to --format json)."""
    shown = ", ".join(f"{k}={v}" for k, v in detail.items() if k != "handoff")
    return f"  {shown[:100]}" if shown else ""


def parse_actor(text: str) -> Any:
    from ombuds.workflows.core import Actor

    if text == "customer":
        return Actor(kind=text)
    if text == "system":
        raise fail("--actor system: system is the engine's own actor; act as staff:ID@LEVEL or customer", 2)
    if text.startswith("staff:") and "@" in text:
        who, _, level = text[6:].partition("@")
        return Actor(kind="staff", id=who or None, level=level)
    raise fail(f'bad --actor "{text}": use customer or staff:ID@LEVEL (e.g. staff:alice@agent)', 2)


def register(app: typer.Typer) -> None:
    @app.command()
    def dev() -> None:
        """Run the embedded default: Temporal dev server (SQLite under .ombuds/), policies, worker."""
        asyncio.run(_dev(settings()))

    @app.command()
    def worker() -> None:
        """Run a worker against any Temporal (OMBUDS_ADDRESS, OMBUDS_NAMESPACE, TLS, API key)."""
        asyncio.run(_worker(settings()))

    @app.command()
    def submit(
        file: Annotated[Path, typer.Argument(help="A complaint, JSON or YAML.")],
        format: Output = "text",
        simulated: Annotated[
            bool,
            typer.Option(
                "--simulated",
                help="Run it on its own clock from received_at (a what-if at its own dates), not on real time.",
            ),
        ] = False,
    ) -> None:
        """Submit a complaint: choose its policy, pin it, start its workflow."""
        asyncio.run(_submit(settings(), file, format, simulated))

    @app.command()
    def reopen(complaint_id: Annotated[str, typer.Argument(help="A closed complaint's id.")]) -> None:
        """Reopen a closed complaint: a new run with its own id, linked to the original."""
        asyncio.run(_reopen(settings(), complaint_id))

    @app.command()
    def status(
        complaint_id: Annotated[str, typer.Argument(help="The complaint id.")],
        format: Output = "text",
        log: Annotated[bool, typer.Option(help="Include the decision log.")] = True,
    ) -> None:
        """Show a complaint: stage, level, clocks with deadlines, promises, compensation, decision log."""
        asyncio.run(_status(settings(), complaint_id, format, log))

    @app.command()
    def event(
        complaint_id: Annotated[str, typer.Argument(help="The complaint id.")],
        kind: Annotated[
            str, typer.Argument(help="Event kind, e.g. resolve, escalate, propose_compensation.")
        ],
        data: Annotated[str, typer.Option(help="JSON fields of the event, or @file.json.")] = "{}",
        actor: Annotated[str, typer.Option(help="customer, or staff:ID@LEVEL.")] = "customer",
        signal: Annotated[
            bool, typer.Option(help="Send as a signal (no answer) instead of an update.")
        ] = False,
    ) -> None:
        """Send an event to a complaint and print the decision it caused.

        Talking with the customer: agent_reply --data '{"text": "..."}' sends the text to the
        customer; agent_reply --data '{"internal": true, "text": "..."}' is an internal note,
        not sent; request_information --data '{"question": "..."}' sends the customer the
        question and pauses the clocks that wait on the customer; explain_delay --data
        '{"reason": "..."}' tells the customer why the case takes longer.  The kinds and their fields
        are in docs/architecture.md ("The workflow's interface")."""
        asyncio.run(_event(settings(), complaint_id, kind, data, actor, signal))

    @app.command("list")
    def list_(
        query: Annotated[
            str, typer.Option(help="Temporal visibility query, e.g. \"OmbudsStatus='open'\".")
        ] = "",
        limit: Annotated[int, typer.Option(help="At most this many.", min=1)] = 50,
    ) -> None:
        """List complaints, filtered by a visibility query over the search attributes."""
        asyncio.run(_list(settings(), query, limit))

    @app.command()
    def replay(
        complaint_id: Annotated[str | None, typer.Argument(help="Fetch this complaint's history.")] = None,
        history: Annotated[
            Path | None, typer.Option(help="A history JSON file (temporal workflow show -o json).")
        ] = None,
        format: Output = "text",
    ) -> None:
        """Replay a history through the current code and rebuild its decision log (exit 1 on any difference)."""
        if (complaint_id is None) == (history is None):
            raise fail("give a complaint id or --history FILE", 2)
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
            typer.echo("Ctrl-C stops; starting again continues every complaint")
            worker = build_worker(client, s)
            await run_until_stopped(worker)


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
        typer.echo(f"HTTP API at http://127.0.0.1:{s.api_port} (admin token in {token})")
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
    typer.echo(f"worker on {s.address} namespace {s.namespace} queue {s.task_queue}")
    await run_until_stopped(build_worker(client, s))


async def run_until_stopped(worker: Any) -> None:
    """Run a worker until SIGINT or SIGTERM, then shut it down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()
    typer.echo("stopped")


async def _submit(s: Settings, file: Path, fmt: str, simulated: bool = False) -> None:
    from .files import load_complaint
    from .intake import IntakeError, check_received

    complaint = load_complaint(file)
    try:
        if not simulated:
            check_received(complaint)
    except IntakeError as exc:
        raise fail(str(exc)) from None
    intake = load_intake(s)
    client = await _client(s)
    try:
        submitted = await intake.submit(client, complaint, simulated=simulated)
    except IntakeError as exc:
        raise fail(str(exc)) from None
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "id": submitted.complaint_id,
                    "policy": submitted.policy.id,
                    "policy_sha256": submitted.policy.sha256,
                    "started": submitted.started,
                    "reason": submitted.reason,
                    "refused": submitted.refused or None,
                }
            )
        )
    elif submitted.started:
        typer.echo(
            f"submitted {submitted.complaint_id} under {submitted.policy.id} {submitted.policy.version} (sha256 {submitted.policy.sha256[:12]})"
        )
        if submitted.refused:
            typer.echo(f"refused at intake: {submitted.refused} (the customer is told why)")
    else:
        typer.echo(f"not started: {submitted.complaint_id}: {submitted.reason}")
        raise typer.Exit(1)


async def _reopen(s: Settings, complaint_id: str) -> None:
    import datetime as dt

    from .intake import IntakeError

    intake = load_intake(s)
    client = await _client(s)
    try:
        submitted = await intake.reopen(client, complaint_id, dt.datetime.now(dt.UTC))
    except IntakeError as exc:
        raise fail(str(exc)) from None
    except RPCError as exc:
        raise fail(f"complaint {complaint_id}: {exc.message}") from None
    typer.echo(
        f"reopened {complaint_id} as {submitted.complaint_id} under {submitted.policy.id} {submitted.policy.version}"
    )


async def delayed_messages(handle: Any) -> list[dict[str, Any]]:
    """Messages whose delivery is being tried again (a channel down): from the workflow's
    pending activities, so the complaint's status says so while Temporal retries."""
    from ombuds.workflows import names

    try:
        described = await handle.describe()
    except RPCError:
        return []
    delayed = []
    for pending in described.raw_description.pending_activities:
        if pending.activity_type.name != names.DELIVER or pending.attempt <= 1:
            continue
        error = pending.last_failure.message if pending.HasField("last_failure") else ""
        scheduled = pending.last_started_time.ToDatetime() if pending.HasField("last_started_time") else None
        delayed.append(
            {
                "attempt": pending.attempt,
                "scheduled": scheduled.isoformat(timespec="seconds") + "Z" if scheduled else "",
                "last_error": error[:200],
            }
        )
    return delayed


async def _status(s: Settings, complaint_id: str, fmt: str, with_log: bool) -> None:
    from ombuds.workflows import names
    from ombuds.workflows.core import LogEntry, StatusView

    client = await _client(s)
    handle = client.get_workflow_handle(complaint_id)
    try:
        view: StatusView = await handle.query(names.STATUS_QUERY, result_type=StatusView)
        log: list[LogEntry] = (
            await handle.query(names.LOG_QUERY, result_type=list[LogEntry]) if with_log else []
        )
    except RPCError as exc:
        raise fail(f"complaint {complaint_id}: {exc.message}") from None
    from ombuds.engine.policy.store import Store

    view = status_now(Store(s.store_dir), view)
    delayed = await delayed_messages(handle)
    if fmt == "json":
        payload = view.model_dump(mode="json")
        payload["delayed_messages"] = delayed
        payload["log"] = [e.model_dump(mode="json") for e in log]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{view.complaint_id}: {view.status}, stage {view.stage or '-'}, level {view.level}")
    typer.echo(f"policy {view.policy_id} {view.policy_version} sha256 {view.policy_sha[:12]}")
    typer.echo(
        f"severity {view.severity or '-'}, priority {view.priority or '-'}, category {view.category or '-'}, queue {view.queue or '-'}"
    )
    typer.echo(
        ("now " if view.real_time else "case time ")
        + f"{view.now}; next deadline "
        + (f"{view.next_deadline} ({view.next_deadline_what})" if view.next_deadline else "none")
        + f"; SLA breached: {'yes' if view.sla_breached else 'no'}"
        + (f"; {view.undelivered} message(s) undelivered" if view.undelivered else "")
    )
    for late in delayed:
        typer.echo(
            f"message delayed: attempt {late['attempt']} since {late['scheduled']}"
            + (f", last error: {late['last_error']}" if late["last_error"] else "")
        )
    typer.echo("clocks:" if view.clocks else "clocks: none")
    for clock in view.clocks:
        left = f", {clock.remaining} left" if clock.remaining else ""
        due = f" due {clock.due_local}" if clock.due_local else ""
        typer.echo(
            f"  {clock.id:<18} {clock.status:<8} {clock.target}{due}{left}{' (extended)' if clock.extended else ''}"
        )
    for promise in view.promises:
        state = (
            "handed over"
            if promise.superseded
            else {None: "open", True: "kept", False: "missed"}[promise.kept]
        )
        typer.echo(f"  promise: {promise.text} [{state}]")
    for proposal in view.proposals:
        if proposal.status == "accepted":
            outcome = f"accepted, approved by {proposal.approved_by}" if proposal.approved_by else "accepted"
        else:
            outcome = (
                f"{proposal.status.replace('_', ' ')}: {proposal.reason}"
                if proposal.reason
                else proposal.status
            )
        typer.echo(
            f"  compensation #{proposal.number}: {proposal.remedy} {proposal.amount} by {proposal.by}: {outcome}"
        )
    if view.offered:
        chosen = f"; the customer chose {view.chosen}" if view.chosen else "; no choice yet"
        typer.echo(f"  offered: {', '.join(view.offered)}{chosen}")
    if view.dates:
        typer.echo("dates: " + ", ".join(f"{k} {v}" for k, v in view.dates.items()))
    for failed in view.condition_errors:
        times = f" ({failed.count} times)" if failed.count > 1 else ""
        typer.echo(
            f"  condition failed, counted as false{times}: {', '.join(failed.rules) or failed.condition}: "
            f"{failed.error} (first at {failed.first_at})"
        )
    if log:
        typer.echo("decision log:")
        for entry in log:
            typer.echo(
                f"  {entry.seq:>3} {entry.at} {entry.action:<28} {entry.rule} ({entry.source}) by {entry.actor} [{entry.trigger}]"
                + details(entry.detail)
            )


#: How long the JSON of ``--data`` may be (the longest text field, escaped, fits many times).
MAX_DATA_CHARS = 1_000_000
#: How deep the JSON of ``--data`` may nest (no event field nests more than a few levels).
MAX_DATA_DEPTH = 16


#: The longest number ``--data`` may write, in characters (an amount has at most 12 digits
#: before the point and a few after it).
MAX_NUMBER_CHARS = 40


def _number(text: str) -> int | Decimal:
    """A JSON number as a whole number or a decimal, never a float; refused when it is longer
    than any field takes or scaled far past any amount (``1e99999999``)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"the number {text[:20]}... has more than {MAX_NUMBER_CHARS} characters")
    value = Decimal(text)
    if value != 0 and not -30 <= value.adjusted() <= 30:
        raise ValueError(f"the number {text} is out of range")
    return int(text) if text.lstrip("-").isdigit() else value


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _depth(value: Any, limit: int) -> int:
    """How deep a parsed JSON value nests, counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def parse_event(kind: str, data: str, actor_text: str) -> Event:
    """The event ``ombuds event`` sends, from its arguments; a bad one exits with the reason."""
    from ombuds.workflows.core import Event, Rejected, bounds

    try:
        raw = Path(data[1:]).read_text("utf-8") if data.startswith("@") else data
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(
            f"cannot read --data file {data[1:]}: {getattr(exc, 'strerror', None) or exc}", 2
        ) from None
    if len(raw) > MAX_DATA_CHARS:
        raise fail(f"--data is {len(raw):,} characters long; an event has at most {MAX_DATA_CHARS:,}", 2)
    try:
        fields = json.loads(raw, parse_float=_number, parse_int=_number)
    except json.JSONDecodeError as exc:
        raise fail(f"--data is not JSON: {exc.msg} at column {exc.colno}", 2) from None
    except RecursionError:
        raise fail(f"--data nests more than {MAX_DATA_DEPTH} levels deep", 2) from None
    except ValueError as exc:
        raise fail(f"--data: {exc}", 2) from None
    if not isinstance(fields, dict):
        raise fail("--data must be a JSON object", 2)
    if _has_surrogate(fields):
        raise fail("--data holds a lone surrogate (\\ud800-\\udfff), which is no character", 2)
    if _depth(fields, MAX_DATA_DEPTH) > MAX_DATA_DEPTH:
        raise fail(f"--data nests more than {MAX_DATA_DEPTH} levels deep", 2)
    try:
        event = Event.model_validate({**fields, "kind": kind, "actor": parse_actor(actor_text)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != kind) or 'kind'}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"bad event: {problems}", 2) from None
    try:
        bounds.check_event(event)
    except Rejected as exc:
        raise fail(f"bad event: {exc}", 2) from None
    return event


async def _event(
    s: Settings, complaint_id: str, kind: str, data: str, actor_text: str, as_signal: bool
) -> None:
    from ombuds.workflows import names
    from ombuds.workflows.core import Answer

    event = parse_event(kind, data, actor_text)
    client = await _client(s)
    handle = client.get_workflow_handle(complaint_id)
    try:
        if as_signal:
            await handle.signal(names.EVENT_SIGNAL, event)
            typer.echo(f"sent {kind} to {complaint_id}")
            return
        answer: Answer = await handle.execute_update(names.ACT_UPDATE, event, result_type=Answer)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise fail(f"refused: {getattr(cause, 'message', None) or cause}") from None
    except RPCError as exc:
        raise fail(f"complaint {complaint_id}: {exc.message}") from None
    typer.echo(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False))


async def _list(s: Settings, query: str, limit: int) -> None:
    from ombuds.workflows import names

    client = await _client(s)
    complaints = f"WorkflowType = '{names.COMPLAINT_WORKFLOW}'"
    full = f"{complaints} AND ({query})" if query else complaints
    rows: list[list[str]] = []
    try:
        async for wf in client.list_workflows(full, limit=limit + 1):  # one more tells there are more
            attrs = {
                k: v[0] if isinstance(v, list) and v else v for k, v in (wf.search_attributes or {}).items()
            }
            rows.append(
                [
                    wf.id,
                    str(attrs.get("OmbudsStatus", wf.status.name if wf.status else "")),
                    "stage " + str(attrs.get("OmbudsStage") or "-"),
                    "level " + str(attrs.get("OmbudsLevel") or "-"),
                    "policy " + str(attrs.get("OmbudsPolicyId") or "-"),
                    "next " + next_deadline(attrs.get("OmbudsNextDeadline")),
                ]
            )
    except RPCError as exc:
        raise fail(f"list: {exc.message}") from None
    for line in list_lines(rows, limit):
        typer.echo(line)


def next_deadline(when: Any, now: Any = None) -> str:
    """The next deadline and how far off it is from this moment: ``2027-01-21T17:30Z (in 3d 4h)``."""
    import datetime as dt

    if not isinstance(when, dt.datetime):
        return "-"
    now = now or dt.datetime.now(dt.UTC)
    seconds = int((when - now).total_seconds())
    days, rest = divmod(abs(seconds), 86_400)
    span = f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60:02d}m"
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{stamp} ({'in ' + span if seconds >= 0 else span + ' overdue'})"


def list_lines(rows: list[list[str]], limit: int) -> list[str]:
    """Up to ``limit`` rows in aligned columns, then the count (and whether more matched)."""
    shown = rows[:limit]
    widths = [max((len(row[i]) for row in shown), default=0) for i in range(len(shown[0]))] if shown else []
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in shown
    ]
    count = f"{len(shown)} complaint{'s' if len(shown) != 1 else ''}"
    return [*lines, f"{count} (more match: raise --limit)" if len(rows) > limit else count]


async def _replay(s: Settings, complaint_id: str | None, history_file: Path | None, fmt: str) -> bool:
    from ombuds.engine.policy.store import Store

    from .replay import SnapshotsMissing, replay, with_own_id

    if history_file is not None:
        try:
            history = WorkflowHistory.from_json(history_file.stem, history_file.read_text("utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise fail(f"cannot read history {history_file}: {exc}") from None
        history = with_own_id(history)
    else:
        client = await _client(s)
        assert complaint_id is not None
        try:
            history = await client.get_workflow_handle(complaint_id).fetch_history()
        except RPCError as exc:
            raise fail(f"complaint {complaint_id}: {exc.message}") from None
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
                    "log": [e.model_dump(mode="json") for e in report.rebuilt],
                },
                indent=2,
            )
        )
        return report.ok
    for entry in report.rebuilt:
        typer.echo(
            f"{entry.seq:>3} {entry.at} {entry.action:<28} {entry.rule} ({entry.source}) by {entry.actor} [{entry.trigger}]"
            + details(entry.detail)
        )
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
    return report.ok
