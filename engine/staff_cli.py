"""Staff commands, through the HTTP API with a token: submit, status, list, event, reopen, whoami.

The API is ``OMBUDS_API_URL`` (by default the one ``ombuds dev`` serves, on
``127.0.0.1:OMBUDS_API_PORT``); the token is ``OMBUDS_TOKEN``, else the admin token ``ombuds
dev`` keeps in ``<home>/admin.token``.  The actor of every event is the token's: nothing typed
here names it.  ``ombuds event ID KIND`` takes one option per field of that kind, made from the
event models, so nobody writes JSON by hand.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .settings import Settings

Output = Annotated[str, typer.Option("--format", "-f", help="text or json")]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


class Api:
    """The HTTP API as the CLI calls it: the URL and the token from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.url = (settings.api_url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
        if settings.token is not None and not settings.token.strip():
            # an empty OMBUDS_TOKEN is a token that failed to be made, never "use the admin's"
            raise fail("OMBUDS_TOKEN is empty: `ombuds token create` failed, or the token was not kept", 2)
        self.token = settings.token or self._kept_token(settings.home / "admin.token")

    @staticmethod
    def _kept_token(path: Path) -> str:
        try:
            return path.read_text("utf-8").strip()
        except OSError:
            raise fail(
                "no token: set OMBUDS_TOKEN to a token from `ombuds token create --user ID --level LEVEL` "
                f"(`ombuds dev` keeps an admin token in {path})",
                2,
            ) from None

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON; an error answer exits with its message (2 for a request the API
        finds invalid, 1 for a refusal)."""
        import httpx

        try:
            answer = httpx.request(
                method,
                self.url + path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                timeout=60,
            )
        except httpx.TransportError as exc:
            raise fail(
                f"cannot reach the ombuds API at {self.url} ({type(exc).__name__}); "
                "start `ombuds dev`, or set OMBUDS_API_URL"
            ) from None
        try:
            payload = answer.json()
        except ValueError:
            payload = {"detail": answer.text[:300]}
        if answer.status_code >= 400:
            raise fail(
                problem_text(answer.status_code, payload.get("detail")), 2 if answer.status_code == 422 else 1
            )
        return payload


def problem_text(status: int, detail: Any) -> str:
    """An error answer as one line: the message, the field, the valid names and the hint."""
    if isinstance(detail, list):
        return "bad request: " + "; ".join(
            f"{item.get('field') or 'body'}: {item.get('message')}"
            for item in detail
            if isinstance(item, dict)
        )
    if isinstance(detail, dict):
        text = str(detail.get("message", ""))
        if detail.get("hint"):
            text += f" ({detail['hint']})"
        elif detail.get("valid"):
            text += f" (valid: {', '.join(map(str, detail['valid']))})"
        return text
    if status == 401:
        return f"not signed in: {detail} (OMBUDS_TOKEN, or a new one from `ombuds token create`)"
    prefix = {403: "not allowed: "}.get(status, "")
    return prefix + str(detail)


# ---------------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    app.add_typer(event_app(), name="event")

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
        from .files import load_complaint

        complaint = load_complaint(file)
        done = Api(Settings()).call(
            "POST",
            "/complaints",
            body=complaint.model_dump(mode="json", exclude_none=True),
            params={"simulated": "true" if simulated else None},
        )
        if format == "json":
            typer.echo(json.dumps(done))
        elif done["duplicate"]:
            typer.echo(f"not started: {done['id']}: already registered")
            raise typer.Exit(1)
        else:
            typer.echo(
                f"submitted {done['id']} under {done['policy']} {done['policy_version']} (sha256 {done['policy_sha256'][:12]})"
            )
            if done["refused"]:
                typer.echo(f"refused at intake: {done['refused']} (the customer is told why)")

    @app.command()
    def reopen(complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")]) -> None:
        """Reopen a complaint: a resolved one opens again; a closed one becomes a new linked complaint."""
        done = Api(Settings()).call("POST", f"/complaints/{complaint_id}/reopen")
        if done["id"] != complaint_id:
            typer.echo(f"reopened {complaint_id} as {done['id']}")
        else:
            typer.echo(f"reopened {complaint_id}: {done.get('status', '')}")

    @app.command()
    def status(
        complaint_id: Annotated[str, typer.Argument(help="The complaint id.")],
        format: Output = "text",
        log: Annotated[bool, typer.Option(help="Include the decision log.")] = True,
    ) -> None:
        """Show a complaint: stage, level, clocks with deadlines, promises, compensation, decision log."""
        from ombuds.workflows.core import LogEntry, StatusView

        s = Settings()
        shown = Api(s).call("GET", f"/complaints/{complaint_id}")
        if not log:
            shown["log"] = []
        if format == "json":
            typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
            return
        entries = [LogEntry.model_validate(e) for e in shown.pop("log", [])]
        delayed = shown.pop("delayed_messages", [])
        attachments = shown.pop("attachments", [])
        # what this CLI knows of the status (a newer API may say more)
        known = {key: value for key, value in shown.items() if key in StatusView.model_fields}
        for line in status_lines(StatusView.model_validate(known), entries, delayed):
            typer.echo(line)
        for item in attachments:
            typer.echo(
                f"attachment: {item.get('name')} ({item.get('bytes')} bytes, received {item.get('received')})"
            )
        for warning in pinned_drift(s, str(shown.get("policy_sha", ""))):
            typer.echo(f"warning: {warning}", err=True)

    @app.command("list")
    def list_(
        status: Annotated[
            str | None, typer.Option(help="open, resolved, closed, refused, withdrawn.")
        ] = None,
        stage: Annotated[str | None, typer.Option(help="A stage id.")] = None,
        level: Annotated[str | None, typer.Option(help="The level handling it.")] = None,
        queue: Annotated[str | None, typer.Option(help="A queue id.")] = None,
        assignee: Annotated[str | None, typer.Option(help="A staff id.")] = None,
        mine: Annotated[bool, typer.Option("--mine", help="Assigned to the token's user.")] = False,
        awaiting: Annotated[
            str | None, typer.Option(help="Awaiting approval by this level (a compensation proposal).")
        ] = None,
        breached: Annotated[bool | None, typer.Option("--breached/--not-breached")] = None,
        undelivered: Annotated[
            bool, typer.Option("--undelivered", help="A message to the customer could not be delivered.")
        ] = False,
        policy: Annotated[str | None, typer.Option(help="A policy id.")] = None,
        received_after: Annotated[
            str | None, typer.Option(help="Received at or after, e.g. 2026-12-01 or an instant with offset.")
        ] = None,
        received_before: Annotated[str | None, typer.Option(help="Received before.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many.", min=1, max=100)] = 50,
        page: Annotated[
            str | None, typer.Option(help="The next_page of the last answer (--format json).")
        ] = None,
        format: Output = "text",
    ) -> None:
        """List complaints (never the customers' internal ledgers), filtered; the next deadline shown."""
        api = Api(Settings())
        if mine:
            assignee = api.call("GET", "/me")["user"]
        listed = api.call(
            "GET",
            "/complaints",
            params={
                "status": status,
                "stage": stage,
                "level": level,
                "queue": queue,
                "assignee": assignee,
                "awaiting": awaiting,
                "breached": None if breached is None else str(breached).lower(),
                "undelivered": "true" if undelivered else None,
                "policy": policy,
                "received_after": _instant(received_after),
                "received_before": _instant(received_before),
                "limit": limit,
                "page": page,
            },
        )
        if format == "json":
            typer.echo(json.dumps(listed, indent=2))
            return
        rows = [
            [
                row["id"],
                str(row.get("status") or "-"),
                "stage " + str(row.get("stage") or "-"),
                "level " + str(row.get("level") or "-"),
                "policy " + str(row.get("policy") or "-"),
                "next "
                + next_deadline(
                    dt.datetime.fromisoformat(row["next_deadline"]) if row.get("next_deadline") else None
                ),
            ]
            for row in listed["complaints"]
        ]
        for line in list_lines(rows, limit, more=listed.get("next_page") is not None):
            typer.echo(line)

    @app.command()
    def whoami(format: Output = "text") -> None:
        """Who the token says you are: user, level, and for an integration its scopes."""
        me = Api(Settings()).call("GET", "/me")
        if format == "json":
            typer.echo(json.dumps(me))
            return
        scopes = "" if me["kind"] == "staff" else f", scopes {', '.join(me['scopes'])}"
        typer.echo(f"{me['user']} at {me['level']} ({me['kind']}{scopes}), token valid until {me['expires']}")


def _instant(text: str | None) -> str | None:
    """A date (midnight UTC) or an instant, as the API takes it; a bad one exits with the reason."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise fail(f'"{text}" is not a date or an instant (2026-12-01, 2026-12-01T09:00+01:00)', 2) from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).isoformat()


# ------------------------------------------------------------------------------------ events


#: Answers that are the case's refusal: printed as such, and the command exits 1.
REFUSALS = frozenset({"not_authorised", "rejected", "not_offered", "no_options"})
#: Shown for a field whose model gives no description, by kind and field, or by field.
FIELD_HELP = {
    ("agent_reply", "text"): "The reply the customer is sent (with --internal: a note for staff, not sent).",
    ("customer_message", "text"): "What the customer said (a call, a letter), as staff record it.",
    ("resolve", "text"): "The resolution as the customer reads it in the final response.",
    "text": "The text the customer is sent.",
    "assignee": "The staff id to assign the case to.",
    "stage": "A stage id of the case's policy.",
    "remedy": "A remedy id of the policy's compensation section.",
    "reason": "Why, in words.",
    "justified": "Whether the complaint is upheld.",
    "root_cause": "The root cause found.",
    "corrective_actions": "A corrective action taken.",
    "final_response": "This is the final response (the default), or not.",
    "approve": "Approve the proposal (--approve) or refuse it (--no-approve).",
    "reached": "Whether the callback reached the customer.",
    "clock": "A clock id of the case's policy.",
    "coupons": "How many coupons.",
    "discount_percent": "A discount, in percent.",
}


def _option_type(annotation: Any) -> Any:
    """The type a field's option takes (an amount and a date as text, checked by the event)."""
    inner = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = (
        inner[0]
        if inner
        and (isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union)
        else annotation
    )
    if typing.get_origin(base) is list:
        return list[str]
    return base if base in (bool, int, float) else str


def _event_command(kind: str) -> tuple[Callable[..., None], str, str]:
    """One event kind as a command: its function (a signature with one option per field),
    its help and its one-line help."""
    from ombuds.workflows.core.events import KINDS

    model = KINDS[kind]
    fields = {n: f for n, f in model.model_fields.items() if n not in ("kind", "actor")}

    def run(ctx: typer.Context, level: str | None, fmt: str, **given: Any) -> None:
        sent = {k: v for k, v in given.items() if v not in (None, [])}
        check_event(kind, sent)
        complaint_id = ctx.obj
        answer = Api(Settings()).call(
            "POST", f"/complaints/{complaint_id}/events/{kind}", body=sent, params={"level": level}
        )
        refused = answer.get("status") in REFUSALS
        if fmt == "json":
            typer.echo(json.dumps(answer, ensure_ascii=False))
        else:
            reason = f": {answer['reason']}" if answer.get("reason") else ""
            seq = f" (log #{answer['seq']})" if answer.get("seq") is not None else ""
            typer.echo(
                f"{'refused: ' if refused else ''}{kind} {complaint_id}: {answer['status']}{reason}{seq}"
            )
        if refused:
            raise typer.Exit(1)

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for name, field in fields.items():
        kind_of = _option_type(field.annotation)
        flag = "--" + name.replace("_", "-")
        declared = f"{flag}/--no-{flag[2:]}" if kind_of is bool else flag
        described = field.description or FIELD_HELP.get((kind, name)) or FIELD_HELP.get(name)
        option = typer.Option(declared, help=(described or "").replace("``", "`") or None)
        if name in model.required:  # typer marks it [required] and asks for it
            params.append(
                inspect.Parameter(name, keyword, default=..., annotation=Annotated[kind_of, option])
            )
        else:
            params.append(
                inspect.Parameter(name, keyword, default=None, annotation=Annotated[kind_of | None, option])
            )
    params += [
        inspect.Parameter(
            "level",
            keyword,
            default=None,
            annotation=Annotated[str | None, typer.Option(help="Act at this level, below your token's.")],
        ),
        inspect.Parameter(
            "fmt",
            keyword,
            default="text",
            annotation=Annotated[str, typer.Option("--format", "-f", help="text or json")],
        ),
    ]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    doc = (
        " ".join((model.__doc__ or "").split()).replace("``", "`")
        if model.__doc__ and "What every" not in model.__doc__
        else ""
    )
    fields_line = ", ".join(f"--{n.replace('_', '-')}" for n in fields) or "no fields"
    helptext = (doc + "\n\n" if doc else "") + f"Send {kind} to the complaint; the actor is your token's."
    return run, helptext, fields_line


def check_event(kind: str, fields: dict[str, Any]) -> None:
    """The event checked here first, as the case will check it: a bad one exits 2 with the
    reason, and nothing is sent."""
    from pydantic import ValidationError

    from ombuds.workflows.core import Event, Rejected, bounds
    from ombuds.workflows.core.events import missing_fields

    if _has_surrogate(fields):
        raise fail("an option holds a byte sequence that is not text (not UTF-8)", 2)
    missing = missing_fields(kind, fields)
    if missing:
        raise fail(f"bad event: {kind} needs {', '.join('--' + m.replace('_', '-') for m in missing)}", 2)
    try:
        event = Event.model_validate(
            {**fields, "kind": kind, "actor": {"kind": "staff", "id": "x", "level": "x"}}
        )
        bounds.check_event(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(str(p) for p in e['loc'] if p != kind).replace('_', '-') or 'kind'}: {e['msg']}"
            for e in exc.errors()
        )
        raise fail(f"bad event: {problems}", 2) from None
    except Rejected as exc:
        raise fail(f"bad event: {exc}", 2) from None


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(v) for v in value.values())
    return False


def event_app() -> typer.Typer:
    """``ombuds event ID KIND --field value ...``: one command per staff event kind."""
    from .event_bodies import STAFF_KINDS

    app = typer.Typer(
        no_args_is_help=True,
        help=(
            "Send an event to a complaint and print the decision it caused; the actor is your token's.\n\n"
            "Each kind takes its fields as options (listed below; `ombuds event ID KIND --help` "
            "says more), e.g. `ombuds event C-1 resolve --text 'We refunded the fee.' --justified`. "
            "The customer's own events (choose_option, survey_answer, withdraw) come through their case's link."
        ),
    )

    @app.callback()
    def chosen(
        ctx: typer.Context, complaint_id: Annotated[str, typer.Argument(help="The complaint id.")]
    ) -> None:
        ctx.obj = complaint_id

    for kind in STAFF_KINDS:
        run, helptext, fields_line = _event_command(kind)
        app.command(kind, help=helptext, short_help=fields_line)(run)
    return app


# ------------------------------------------------------------------------------------ output


def details(detail: dict[str, Any], texts: dict[str, str] | None = None) -> str:
    """A log entry's details on one line (the hand-off summary is left to --format json); a text
    the log refers to by sha256 is shown from ``texts`` when they have it."""

    def said(k: str, v: Any) -> str:
        if k.endswith("_sha256") and isinstance(v, str) and k != "complaint_sha256":
            known = (texts or {}).get(v)
            return f"{k.removesuffix('_sha256')}={known!r}" if known is not None else f"{k}={v[:12]}"
        return f"{k}={v}"

    shown = ", ".join(said(k, v) for k, v in detail.items() if k not in ("handoff", "handoff_sha256"))
    return f"  {shown[:160]}…" if len(shown) > 160 else f"  {shown}" if shown else ""


def log_line(entry: Any, texts: dict[str, str] | None = None) -> str:
    return (
        f"{entry.seq:>3} {entry.at} {entry.action:<28} {entry.rule} ({entry.source}) by {entry.actor} [{entry.trigger}]"
        + details(entry.detail, texts)
    )


def status_lines(view: Any, log: list[Any], delayed: list[dict[str, Any]]) -> list[str]:
    """``ombuds status`` as text."""
    lines = [
        f"{view.complaint_id}: {view.status}, stage {view.stage or '-'}, level {view.level}",
        f"policy {view.policy_id} {view.policy_version} sha256 {view.policy_sha[:12]}",
        "customer "
        + ", ".join(
            str(part)
            for part in [
                (view.customer or {}).get("name"),
                *((view.customer or {}).get("contacts") or {}).values(),
            ]
            if part
        ),
        f"severity {view.severity or '-'}, priority {view.priority or '-'}, category {view.category or '-'}, "
        f"queue {view.queue or '-'}, assignee {view.assignee or '-'}",
        ("now " if view.real_time else "case time ")
        + f"{view.now}; next deadline "
        + (f"{view.next_deadline} ({view.next_deadline_what})" if view.next_deadline else "none")
        + f"; SLA breached: {'yes' if view.sla_breached else 'no'}"
        + (f"; {view.undelivered} message(s) undelivered" if view.undelivered else ""),
    ]
    for late in delayed:
        lines.append(
            f"message delayed: attempt {late['attempt']} since {late['scheduled']}"
            + (f", last error: {late['last_error']}" if late["last_error"] else "")
        )
    lines.append("clocks:" if view.clocks else "clocks: none")
    for clock in view.clocks:
        left = f", {clock.remaining} left" if clock.remaining else ""
        due = f" due {clock.due_local}" if clock.due_local else ""
        lines.append(
            f"  {clock.id:<18} {clock.status:<8} {clock.target}{due}{left}{' (extended)' if clock.extended else ''}"
        )
    for promise in view.promises:
        state = (
            "handed over"
            if promise.superseded
            else {None: "open", True: "kept", False: "missed"}[promise.kept]
        )
        lines.append(f"  promise: {promise.text} [{state}]")
    for proposal in view.proposals:
        if proposal.status == "accepted":
            outcome = f"accepted, approved by {proposal.approved_by}" if proposal.approved_by else "accepted"
        else:
            outcome = (
                f"{proposal.status.replace('_', ' ')}: {proposal.reason}"
                if proposal.reason
                else proposal.status
            )
        lines.append(
            f"  compensation #{proposal.number}: {proposal.remedy} {proposal.amount} by {proposal.by}: {outcome}"
        )
    if view.offered:
        chosen = f"; the customer chose {view.chosen}" if view.chosen else "; no choice yet"
        lines.append(f"  offered: {', '.join(view.offered)}{chosen}")
    if view.dates:
        lines.append("dates: " + ", ".join(f"{k} {v}" for k, v in view.dates.items()))
    for failed in view.condition_errors:
        times = f" ({failed.count} times)" if failed.count > 1 else ""
        lines.append(
            f"  condition failed, counted as false{times}: {', '.join(failed.rules) or failed.condition}: "
            f"{failed.error} (first at {failed.first_at})"
        )
    if log:
        lines.append(
            f"decision log (rules' lines in the pinned text: ombuds policy show {view.policy_sha[:12]}):"
        )
        lines.extend("  " + log_line(entry, view.texts) for entry in log)
    return lines


def pinned_drift(s: Settings, sha: str) -> list[str]:
    """When this home's store has the pinned snapshot: the policy files that now read otherwise."""
    from .policy.store import Store, StoreError
    from .snapshot_cli import drift

    try:
        return drift(Store(s.store_dir).policy(sha), s.policies) if len(sha) == 64 else []
    except (StoreError, OSError):
        return []


def next_deadline(when: Any, now: Any = None) -> str:
    """The next deadline and how far off it is from this moment: ``2027-01-21T17:30Z (in 3d 4h)``."""
    if not isinstance(when, dt.datetime):
        return "-"
    now = now or dt.datetime.now(dt.UTC)
    seconds = int((when - now).total_seconds())
    days, rest = divmod(abs(seconds), 86_400)
    span = f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60:02d}m"
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{stamp} ({'in ' + span if seconds >= 0 else span + ' overdue'})"


def list_lines(rows: list[list[str]], limit: int, *, more: bool | None = None) -> list[str]:
    """Up to ``limit`` rows in aligned columns, then the count (and whether more matched)."""
    shown = rows[:limit]
    widths = [max((len(row[i]) for row in shown), default=0) for i in range(len(shown[0]))] if shown else []
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in shown
    ]
    count = f"{len(shown)} complaint{'s' if len(shown) != 1 else ''}"
    more = len(rows) > limit if more is None else more
    return [*lines, f"{count} (more match: raise --limit, or page with --format json)" if more else count]
