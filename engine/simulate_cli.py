"""``ombuds simulate POLICY --complaint FILE [--events FILE]``: the timeline, as text, JSON or a
self-contained HTML page with a chart of stages, clocks and deadlines over time."""

from __future__ import annotations

import datetime as dt
import html
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from .files import load_complaint
from .policy.durations import DurationError
from .policy.errors import PolicyInvalid
from .simulate import SimulationError, Timeline, read_events, simulate

_T = TypeVar("_T")


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_command(
        policy: Annotated[Path, typer.Argument(help="The policy file.", exists=True, dir_okay=False)],
        complaint: Annotated[
            Path, typer.Option(help="The complaint (YAML or JSON).", exists=True, dir_okay=False)
        ],
        events: Annotated[
            Path | None,
            typer.Option(
                help='Timed events (YAML list: - at: "+2h" | "+3 business days" | "at next opening" | an '
                "instant; kind: ...; by: alice@supervisor | customer; the event's fields).",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option(
                help='How long after receipt to run, e.g. "+3 months" (else a year after the last event).'
            ),
        ] = None,
        format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
        html_out: Annotated[
            Path | None,
            typer.Option("--html", help="Also write a self-contained page with a chart to this file."),
        ] = None,
        engine: Annotated[
            str,
            typer.Option(
                help="core (the pure core, fast) or temporal (the real workflow on the time-skipping test server)."
            ),
        ] = "core",
    ) -> None:
        """Run a complaint under a policy on the pure core, side-effect free, and print every
        decision: when (in the policy's timezone), business time elapsed, stage, level, clocks,
        the action, its rule and line, and the message sent."""
        case = load_complaint(complaint)
        if engine not in ("core", "temporal"):
            typer.echo(f"error: --engine {engine}: core or temporal", err=True)
            raise typer.Exit(2)
        if engine == "temporal":
            _on_temporal(policy, case, events, until, format)
            return
        timeline = _or_exit(lambda: simulate(policy, case, read_events(events) if events else [], until))
        if html_out is not None:
            html_out.write_text(page(timeline), "utf-8")
        if format == "json":
            typer.echo(json.dumps(timeline.as_json(), indent=2, ensure_ascii=False))
        else:
            for line in text_lines(timeline):
                typer.echo(line)
        if html_out is not None:
            typer.echo(f"timeline page: {html_out}", err=True)
        if any("refused" in a for a in timeline.answers):
            raise typer.Exit(1)


def _or_exit(run: Callable[[], _T]) -> _T:
    """What ``run`` returns, or its problem said (located where it can be) and the exit status."""
    try:
        return run()
    except SimulationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except PolicyInvalid as exc:
        typer.echo(exc.report.render_text(), err=True)
        raise typer.Exit(1) from None
    except DurationError as exc:
        typer.echo(f"error: --until: {exc}", err=True)
        raise typer.Exit(2) from None


def _on_temporal(policy: Path, case: Any, events: Path | None, until: str | None, fmt: str) -> None:
    """The simulation on the real workflow: its decision log, answers and the messages written."""
    import asyncio

    from .simulate_temporal import simulate_on_temporal

    log, answers, written = _or_exit(
        lambda: asyncio.run(simulate_on_temporal(policy, case, read_events(events) if events else [], until))
    )
    if fmt == "json":
        typer.echo(
            json.dumps(
                {"log": [e.model_dump(mode="json") for e in log], "events": answers, "messages": written},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for entry in log:
            typer.echo(f"{entry.at}  {entry.action:<28} {entry.rule} ({entry.source}) by {entry.actor}")
        for message in written:
            typer.echo(
                f"message {message.get('key')} to {message.get('to')} ({message.get('template')}): "
                f"{message.get('subject')}"
            )
        for answer in answers:
            if "refused" in answer:
                typer.echo(
                    f"event at line {answer['line']} ({answer['kind']}) not taken: {answer['refused']}"
                )
    if any("refused" in a for a in answers):
        raise typer.Exit(1)


def text_lines(timeline: Timeline) -> list[str]:
    p = timeline.policy
    out = [
        f"{p.id} {p.version} ({p.sha256[:12]}): complaint {timeline.complaint_id}, times in the policy's timezone"
    ]
    shown = ""
    for row in timeline.rows:
        clocks = " ".join(f"{c['id']}={c['status']}" for c in row.clocks)
        clocks, shown = ("" if clocks == shown else clocks), clocks
        out.append(
            f"{row.local}  +{row.business:<10} {row.stage or '-':<14} {row.level or '-':<16} "
            f"{row.action:<28} {row.rule} ({row.source})"
        )
        if row.detail:
            out.append("      " + ", ".join(f"{k}={v}" for k, v in row.detail.items())[:200])
        if clocks:
            out.append(f"      clocks now: {clocks}")
        for message in row.messages:
            first = message["body"].strip().splitlines()[0] if message["body"].strip() else ""
            state = f" NOT SENT: {message['undeliverable']}" if message.get("undeliverable") else ""
            if message.get("sent_at") and message["sent_at"] != row.at:
                state += f" [sent {message['sent_at']}]"
            out.append(
                f"      message to {message['to']} ({message['template']}){state}: {message['subject']} | {first}"
            )
    for answer in timeline.answers:
        if "refused" in answer:
            out.append(
                f"event at line {answer['line']} ({answer['kind']}, {answer['at']}) not taken: {answer['refused']}"
            )
    return out


COLOURS = {
    "running": "#3b82f6",
    "paused": "#9ca3af",
    "warned": "#f59e0b",
    "breached": "#dc2626",
    "met": "#16a34a",
}


def page(timeline: Timeline) -> str:
    """A self-contained page: a chart of stages and clocks over time, deadlines marked, and the table."""
    deadlines: dict[str, set[int]] = {}
    for row in timeline.rows:  # each deadline a clock was given (started, extended), and each due
        if isinstance(row.detail.get("clock"), str) and isinstance(row.detail.get("due"), str):
            deadlines.setdefault(row.detail["clock"], set()).add(_ts(row.detail["due"]))
    for _, view in timeline.snapshots:
        for clock in view.get("clocks", []):
            if clock.get("due"):
                deadlines.setdefault(clock["id"], set()).add(_ts(clock["due"]))
    start = timeline.received
    end = max(timeline.end, timeline.received + 1, *(max(d) + 3600 for d in deadlines.values() if d))
    width, lane, left = 1000, 26, 150
    scale = (width - left - 20) / (end - start)

    def x(t: int) -> float:
        return left + (min(max(t, start), end) - start) * scale

    lanes: dict[str, list[tuple[int, str]]] = {"stage": []}
    for t, view in timeline.snapshots:
        lanes["stage"].append((t, str(view.get("stage") or view.get("status") or "")))
        for clock in view.get("clocks", []):
            lanes.setdefault(clock["id"], []).append((t, clock["status"]))
    svg = []
    for index, (name, states) in enumerate(lanes.items()):
        y = 30 + index * lane
        svg.append(f'<text x="4" y="{y + 15}" class="lane">{html.escape(name)}</text>')
        for (t, state), nxt in zip(states, [*states[1:], (end, "")], strict=True):
            if nxt[0] <= t:
                continue
            colour = COLOURS.get(state, "#a78bfa" if name == "stage" else "#e5e7eb")
            svg.append(
                f'<rect x="{x(t):.1f}" y="{y}" width="{max(x(nxt[0]) - x(t), 0.5):.1f}" height="{lane - 6}" '
                f'fill="{colour}"><title>{html.escape(name)}: {html.escape(state)} from {_iso_local(t)}</title></rect>'
            )
            if name == "stage" and x(nxt[0]) - x(t) > 60:
                svg.append(f'<text x="{x(t) + 3:.1f}" y="{y + 14}" class="in">{html.escape(state)}</text>')
        for due in sorted(deadlines.get(name, ())):
            if start <= due <= end:
                svg.append(
                    f'<line x1="{x(due):.1f}" x2="{x(due):.1f}" y1="{y - 2}" y2="{y + lane - 4}" class="due">'
                    f"<title>{html.escape(name)} due {_iso_local(due)}</title></line>"
                )
    height = 40 + len(lanes) * lane
    ticks = []
    days = max(1, (end - start) // 86400)
    step = max(1, days // 10) * 86400
    for t in range(start, end + 1, step):
        ticks.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="22" y2="{height}" class="tick"/>'
            f'<text x="{x(t) + 2:.1f}" y="16" class="tick">{dt.datetime.fromtimestamp(t, dt.UTC):%d %b}</text>'
        )
    rows = "".join(
        f"<tr><td>{html.escape(r.local)}</td><td>{html.escape(r.business)}</td><td>{html.escape(r.stage)}</td>"
        f"<td>{html.escape(r.level)}</td><td>{html.escape(r.action)}</td><td><code>{html.escape(r.rule)}</code> "
        f"{html.escape(r.source)}</td><td>{''.join(_message(m) for m in r.messages)}</td></tr>"
        for r in timeline.rows
    )
    p = timeline.policy
    legend = " ".join(f'<span style="background:{c}">&nbsp;{s}&nbsp;</span>' for s, c in COLOURS.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(p.id)}: simulated complaint {html.escape(timeline.complaint_id)}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5rem; color: #111; }}
svg text.lane {{ font-size: 12px; }} svg text.in {{ font-size: 11px; fill: #fff; }}
svg text.tick {{ font-size: 10px; fill: #555; }} svg line.tick {{ stroke: #eee; }}
svg line.due {{ stroke: #111; stroke-width: 2; }}
table {{ border-collapse: collapse; margin-top: 1rem; }} td, th {{ border-top: 1px solid #ddd; padding: .3rem .5rem; vertical-align: top; text-align: left; }}
.legend span {{ color: #fff; border-radius: 3px; margin-right: .3rem; }} details pre {{ white-space: pre-wrap; max-width: 40rem; }}
</style></head><body>
<h1>{html.escape(p.id)} {html.escape(p.version)}: complaint {html.escape(timeline.complaint_id)}</h1>
<p>Policy sha256 {p.sha256}. Times in the policy's timezone; business time counted in its calendar from receipt. Black marks: deadlines.</p>
<p class="legend">{legend}</p>
<svg role="img" aria-label="stages and clocks over time" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">
{"".join(ticks)}{"".join(svg)}
</svg>
<table><thead><tr><th>When</th><th>Business time</th><th>Stage</th><th>Level</th><th>Decision</th><th>Rule</th><th>Message</th></tr></thead>
<tbody>{rows}</tbody></table>
</body></html>
"""


def _message(message: dict[str, Any]) -> str:
    state = f" (not sent: {html.escape(message['undeliverable'])})" if message.get("undeliverable") else ""
    return (
        f"<details><summary>to {html.escape(message['to'])}: {html.escape(message['subject'] or message['template'])}"
        f"{state}</summary><pre>{html.escape(message['body'])}</pre></details>"
    )


def _ts(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _iso_local(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def register_diff(app: typer.Typer) -> None:
    @app.command("diff")
    def diff_command(
        old: Annotated[Path, typer.Argument(help="The policy as it is.", exists=True, dir_okay=False)],
        new: Annotated[Path, typer.Argument(help="The policy as it would be.", exists=True, dir_okay=False)],
        format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
        tests: Annotated[bool, typer.Option(help="Run OLD's test suites against NEW too.")] = True,
    ) -> None:
        """What changes between two versions of a policy, in plain language (deadlines, calendars,
        limits, levels, rules, templates with a text diff), and which of OLD's test cases come out
        otherwise under NEW, and why.  Exit 1 when a test case changes."""
        from .policy.compile import compile_file
        from .settings import Settings
        from .versions_diff import changed_cases, policy_changes, template_changes

        try:
            before, after = compile_file(old), compile_file(new)
        except PolicyInvalid as exc:
            typer.echo(exc.report.render_text(), err=True)
            raise typer.Exit(2) from None
        changes = policy_changes(before, after)
        templates = template_changes(before, after)
        cases = changed_cases(old, new, Settings().policies) if tests else []
        if format == "json":
            typer.echo(
                json.dumps(
                    {
                        "old": {"id": before.id, "version": before.version, "sha256": before.sha256},
                        "new": {"id": after.id, "version": after.version, "sha256": after.sha256},
                        "sections": [s.__dict__ for s in changes],
                        "templates": templates,
                        "tests": [
                            {
                                "suite": c.suite,
                                "case": c.case,
                                "before": c.before.passed,
                                "after": c.after.passed,
                                "failures": [f.model_dump() for f in c.after.failures],
                            }
                            for c in cases
                        ],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
            raise typer.Exit(1 if cases else 0)
        typer.echo(
            f"{before.id} {before.version} ({before.sha256[:12]}) -> {after.id} {after.version} ({after.sha256[:12]})"
        )
        if not changes and not templates:
            typer.echo("no change in what the policy decides or says")
        for section in changes:
            typer.echo(f"\n{section.title}:")
            for line in section.removed:
                typer.echo(f"  - was: {line.strip().removeprefix('- ')}")
            for line in section.added:
                typer.echo(f"  + now: {line.strip().removeprefix('- ')}")
        if templates:
            typer.echo("\nTemplates:")
            for line in templates:
                typer.echo(f"  {line}")
        if tests:
            typer.echo(
                f"\nTest cases of {old.name} whose outcome changes under {new.name}: {len(cases) or 'none'}"
            )
            for case in cases:
                state = f"{'passes' if case.before.passed else 'fails'} -> {'passes' if case.after.passed else 'FAILS'}"
                typer.echo(f"  {case.case} ({case.suite}): {state}")
                for failure in case.after.failures:
                    typer.echo(f"    expected: {failure.expected}")
                    typer.echo(f"    actual:   {failure.actual}")
                    if failure.where:
                        typer.echo(f"    policy:   {failure.where}")
        raise typer.Exit(1 if cases else 0)


def register_new(app: typer.Typer) -> None:
    @app.command("new")
    def new_command(
        policy_id: Annotated[str, typer.Argument(metavar="ID", help="The new policy's id.")],
        like: Annotated[
            str,
            typer.Option(
                help="The policy to start from: a shipped one's id (retail, financial-services, b2b-support) or a file."
            ),
        ] = "retail",
        locales: Annotated[str, typer.Option(help="The languages, the default first, e.g. en,de.")] = "",
        into: Annotated[
            Path | None, typer.Option(help="The policies folder to write into (else OMBUDS_POLICIES).")
        ] = None,
    ) -> None:
        """Write a new policy and its full set of templates (every message the policy sends, in each
        locale, each listing the variables it may use), ready to edit; it validates at once."""
        from .new_policy import NewPolicyError, new_policy
        from .settings import Settings

        folder = into or Settings().policies
        model = Path(like) if like.endswith((".yaml", ".yml")) else _shipped(like)
        try:
            written = new_policy(
                policy_id, model, [x.strip() for x in locales.split(",") if x.strip()], folder
            )
        except NewPolicyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except PolicyInvalid as exc:
            typer.echo(exc.report.render_text(), err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"wrote {written[0]} and {len(written) - 1} templates in {written[0].parent / 'templates' / policy_id}"
        )
        typer.echo(f"next: edit it, then `ombuds validate {written[0]}` and `ombuds explain {written[0]}`")


def _shipped(name: str) -> Path:
    from .settings import Settings

    for folder in (Settings().policies, Path(__file__).resolve().parent.parent / "policies"):
        candidate = folder / f"{name}.yaml"
        if candidate.exists():
            return candidate
    typer.echo(f'error: no policy "{name}" to start from (give a shipped id or a file)', err=True)
    raise typer.Exit(1)


def register_whatif(app: typer.Typer) -> None:
    @app.command("whatif")
    def whatif_command(
        policy: Annotated[Path, typer.Argument(help="The new policy.", exists=True, dir_okay=False)],
        since: Annotated[
            str | None, typer.Option(help="Only the cases closed on or after this date.")
        ] = None,
        format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
        html_out: Annotated[
            Path | None, typer.Option("--html", help="Also write a page with charts to this file.")
        ] = None,
    ) -> None:
        """Re-run every archived closed case of the policy's id under NEW on the pure core, side-effect
        free, and say per case what would change (breaches, escalations, amounts, messages, dates
        told) with the rule behind it, and in all (how many change, breach rate before and after)."""
        import datetime as dt

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from .archive import ArchiveError, open_archive
        from .settings import Settings
        from .whatif import run

        s = Settings()
        when = None
        if since:
            try:
                when = dt.datetime.fromisoformat(since)
            except ValueError:
                typer.echo(f"error: --since {since!r}: give a date, e.g. 2026-01-01", err=True)
                raise typer.Exit(2) from None
            when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        bar = Progress(
            TextColumn("what if"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            disable=not sys.stderr.isatty() or format == "json",
        )
        try:
            with bar:
                task = bar.add_task("whatif", total=None)
                result = run(
                    policy,
                    s,
                    open_archive(s),
                    when,
                    lambda done, total: bar.update(task, completed=done, total=total),
                )
        except ArchiveError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except PolicyInvalid as exc:
            typer.echo(exc.report.render_text(), err=True)
            raise typer.Exit(1) from None
        summary = result.summary()
        if html_out is not None:
            html_out.write_text(whatif_page(result), "utf-8")
        if format == "json":
            typer.echo(
                json.dumps(
                    {
                        "summary": summary,
                        "cases": [
                            {"id": c.workflow_id, "changes": c.changes} for c in result.cases if c.changes
                        ],
                    },
                    indent=2,
                )
            )
            return
        for case in result.cases:
            for change in case.changes:
                typer.echo(
                    f"{case.workflow_id}: {change['what']}"
                    + (f"  [{change['rule']}]" if change["rule"] else "")
                )
        typer.echo(
            f"{summary['changed']} of {summary['cases']} archived case(s) of {result.policy.id} would change under "
            f"{result.policy.version} ({result.policy.sha256[:12]}); breach rate {summary['breach_rate_before']:.0%} -> "
            f"{summary['breach_rate_after']:.0%}; escalated {summary['escalated_before']} -> {summary['escalated_after']}; "
            f"granted {summary['granted_before']} -> {summary['granted_after']}"
        )
        for workflow_id, why in summary["not_run"].items():
            typer.echo(f"not run: {workflow_id}: {why}", err=True)


def whatif_page(result: Any) -> str:
    """A self-contained page: before/after bars and the changes by kind, then every change."""
    summary = result.summary()
    bars = [
        ("breach rate", summary["breach_rate_before"] * 100, summary["breach_rate_after"] * 100, "%"),
        ("cases escalated", summary["escalated_before"], summary["escalated_after"], ""),
    ]
    top = max([1.0, *(max(b, a) for _, b, a, _ in bars)])
    svg = []
    for i, (label, before, after, unit) in enumerate(bars):
        y = 20 + i * 60
        svg.append(f'<text x="0" y="{y + 12}">{html.escape(label)}</text>')
        for j, (value, colour, name) in enumerate(
            ((before, "#9ca3af", "before"), (after, "#2563eb", "after"))
        ):
            width = 400 * value / top
            svg.append(
                f'<rect x="140" y="{y + j * 22}" width="{width:.1f}" height="18" fill="{colour}"><title>{name}: {value:.1f}{unit}</title></rect>'
                f'<text x="{146 + width:.1f}" y="{y + j * 22 + 14}">{name} {value:.1f}{unit}</text>'
            )
    kinds = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in sorted(summary["changes_by_kind"].items()))
    rows = "".join(
        f"<tr><td>{html.escape(c.workflow_id)}</td><td>{html.escape(ch['what'])}</td><td>{html.escape(ch['rule'])}</td></tr>"
        for c in result.cases
        for ch in c.changes
    )
    p = result.policy
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What if: {html.escape(p.id)} {html.escape(p.version)}</title>
<style>body {{ font: 14px system-ui, sans-serif; margin: 1.5rem; }} table {{ border-collapse: collapse; }}
td, th {{ border-top: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }} svg text {{ font-size: 12px; }}</style>
</head><body>
<h1>What if the archived cases had run under {html.escape(p.id)} {html.escape(p.version)}</h1>
<p>{summary["changed"]} of {summary["cases"]} cases would change. Policy sha256 {p.sha256}.</p>
<svg role="img" aria-label="before and after" width="700" height="{40 + 60 * len(bars)}" xmlns="http://www.w3.org/2000/svg">{"".join(svg)}</svg>
<h2>Changes by kind</h2><ul>{kinds}</ul>
<table><thead><tr><th>Case</th><th>What would change</th><th>Rule</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""
