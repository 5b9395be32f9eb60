"""The ``ombuds`` command line."""

from __future__ import annotations

import datetime
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from . import plugins
from .files import expand, kind_of, load_complaint
from .policy import schema as schema_mod
from .policy.business_time import HorizonExceeded
from .policy.errors import PolicyError, Report, known_names_hint
from .policy.loader import LoadFailed, load_file
from .policy.model import Complaint, Policy
from .policy.validate import (
    Validated,
    across_policies,
    validate_complaint_data,
    validate_document,
    validate_file,
)

app = typer.Typer(
    help="ombuds: complaint-handling procedures as YAML, run as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    text = "text"
    json = "json"


SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def _echo_report(report: Report, fmt: Format, checked: int) -> None:
    if fmt is Format.json:
        typer.echo(report.render_json())
        return
    if report.problems:
        typer.echo(report.render_text())
    errors, warnings = len(report.errors), len(report.warnings)
    status = "ok" if report.ok else "invalid"
    typer.echo(
        f"{status}: {checked} file{'s' if checked != 1 else ''} checked, "
        f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
    )


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Policy or complaint files, or folders of them.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Check policies and complaints; report every problem at file:line:col."""
    report = Report()
    validated: list[Validated] = []
    files = expand(paths)
    for path in files:
        if not path.exists():
            report.add(PolicyError(str(path), 1, 1, "", "no such file", None, "error", "io"))
            continue
        try:
            doc = load_file(path, collect=True)
        except LoadFailed as exc:
            report.add(exc.problem)
            continue
        if kind_of(doc.data) == "complaint":
            report.extend(validate_complaint_data(doc)[1])
        else:
            validated.append(validate_document(doc, path.parent))
            report.extend(validated[-1].report.problems)
            report.extend(plugins.channel_warnings(doc, plugins.served_channels()))
            report.extend(plugins.sms_warnings(validated[-1], doc, plugins.sms_limit()))
    report.extend(across_policies(validated))
    _echo_report(report, format, len(files))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def schema(
    write: Annotated[bool, typer.Option("--write", help="Write schemas/*.schema.json.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the checked-in schemas drift.")] = False,
    kind: Annotated[str, typer.Option(help="policy, complaint or policy-test")] = "policy",
) -> None:
    """Print the JSON Schema generated from the models (or write/check the checked-in ones and the API's OpenAPI)."""
    from .suites import suite_json_schema

    if write or check:
        from .api import openapi_text

        drift = []
        documents = [
            (f"{name}.schema.json", schema_mod.render(schema_mod.generated(name)))
            for name in schema_mod.SCHEMAS
        ]
        documents.append(("policy-test.schema.json", schema_mod.render(suite_json_schema())))
        for file, text in [*documents, ("openapi.json", openapi_text())]:
            target = SCHEMA_DIR / file
            if check:
                if not target.exists() or target.read_text("utf-8") != text:
                    drift.append(str(target))
            else:
                target.write_text(text, "utf-8")
                typer.echo(f"wrote {target}")
        if drift:
            typer.echo("schema drift: " + ", ".join(drift) + " (run: ombuds schema --write)")
            raise typer.Exit(1)
        if check:
            typer.echo(
                f"up to date: {', '.join(f'{name}.schema.json' for name in schema_mod.SCHEMAS)}, "
                "policy-test.schema.json, openapi.json"
            )
        return
    if kind == "policy-test":
        typer.echo(schema_mod.render(suite_json_schema()), nl=False)
        return
    if kind not in schema_mod.SCHEMAS:
        typer.echo(f'unknown schema "{kind}": policy, complaint or policy-test', err=True)
        raise typer.Exit(2)
    typer.echo(schema_mod.render(schema_mod.generated(kind)), nl=False)


def _compile_or_exit(path: Path, fmt: Format = Format.text):  # type: ignore[no-untyped-def]
    from .policy.compile import compile_validated

    validated = validate_file(path)
    if not validated.ok:
        document = validated.document
        if document is not None and kind_of(document.data) == "complaint":
            typer.echo(f"error: {path} is a complaint, not a policy", err=True)
            raise typer.Exit(1)
        _echo_report(validated.report, fmt, 1)
        raise typer.Exit(1)
    return compile_validated(validated)


@app.command()
def explain(policy: Annotated[Path, typer.Argument(help="A policy file.")]) -> None:
    """Summarise a policy in plain language: deadlines, levels, limits, who is told what."""
    from .explain import explain as render

    typer.echo(render(_compile_or_exit(policy)), nl=False)


@app.command()
def compile(
    policy: Annotated[Path, typer.Argument(help="A policy file.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the snapshot here.")] = None,
) -> None:
    """Compile a policy to its JSON snapshot and print its sha256."""
    compiled = _compile_or_exit(policy)
    if output:
        output.write_text(compiled.model_dump_json(by_alias=True), "utf-8")
    typer.echo(f"{compiled.id} {compiled.version} sha256:{compiled.sha256}")


def _parse_instant(text: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        typer.echo(
            f'error: --received "{text}" is not an ISO 8601 time (e.g. 2026-12-24T18:05:00+00:00)', err=True
        )
        raise typer.Exit(2) from None
    if value.tzinfo is None:
        typer.echo(f'error: --received "{text}" has no UTC offset (add e.g. +00:00 or Z)', err=True)
        raise typer.Exit(2)
    from .policy.hygiene import EARLIEST, LATEST

    if not EARLIEST <= value < LATEST:
        typer.echo(
            f'error: --received "{text}" is out of range: a complaint is received between '
            f"{EARLIEST.year} and {LATEST.year - 1}",
            err=True,
        )
        raise typer.Exit(2)
    return value


def _intake_notes(policy: Policy, complaint: Complaint) -> list[str]:
    """What intake would do differently from the figures shown: not select this policy, refuse."""
    from .policy.expressions import Evaluator, case_variables, complaint_variables
    from .policy.rules import intake_refusal

    notes = []
    received = complaint.received_at.date()
    if policy.policy.effective > received:
        notes.append(
            f"received {received.isoformat()}, before this policy takes effect "
            f"({policy.policy.effective.isoformat()}): intake would not choose it"
        )
    variables = {"complaint": complaint_variables(complaint), "case": case_variables()}
    evaluator = Evaluator()
    when = policy.applies_to.when
    if when is not None and not evaluator.truth(when, variables)[0]:
        notes.append(
            "this policy's applies_to.when does not select this complaint"
            + (
                " (it gets it only as the default, when no other policy does)"
                if policy.applies_to.default
                else ""
            )
        )
    refused = intake_refusal(policy, complaint, variables, evaluator)
    if refused is not None:
        notes.append(f"intake refuses it ({refused.rule}): {refused.reason}")
    return notes


@app.command()
def deadline(
    policy: Annotated[Path, typer.Argument(help="A policy file.")],
    received: Annotated[
        str | None, typer.Option(help="When the complaint was received, ISO 8601 with offset.")
    ] = None,
    complaint: Annotated[Path | None, typer.Option(help="A complaint file (JSON or YAML).")] = None,
    clock: Annotated[str | None, typer.Option(help="Only this clock.")] = None,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """Print when each clock falls due for a complaint, in local time and UTC, with its convention."""
    from .deadlines import deadlines

    compiled = _compile_or_exit(policy)
    case = load_complaint(complaint) if complaint else None
    if received is None and case is None:
        typer.echo("error: give --received (ISO time with offset) or --complaint", err=True)
        raise typer.Exit(2)
    instant = _parse_instant(received) if received else case.received_at  # type: ignore[union-attr]
    known = [c.id for c in compiled.policy.clocks]
    if clock is not None and clock not in known:
        typer.echo(f'error: unknown clock "{clock}" ({known_names_hint(clock, known, "clocks")})', err=True)
        raise typer.Exit(2)
    try:
        rows, dates, classes = deadlines(compiled, instant, case, only=clock)
    except HorizonExceeded as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    notes = _intake_notes(compiled.policy, case) if case is not None else []
    if format is Format.json:
        payload = {
            "policy": compiled.id,
            "version": compiled.version,
            "sha256": compiled.sha256,
            "received": instant.isoformat(),
            "notes": notes,
            "classification": classes,
            "clocks": [r.as_dict() for r in rows],
            "dates": dates if clock is None else [],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{compiled.id} {compiled.version}: complaint received {instant.isoformat()}")
    for note in notes:
        typer.echo(f"note: {note}")
    if classes:
        typer.echo("classified as " + ", ".join(f"{k} {v}" for k, v in classes.items()))
    for row in rows:
        typer.echo("")
        typer.echo(f"{row.clock} ({row.kind}): {row.target} [{row.target_rule}]")
        if not row.applies:
            typer.echo("  does not apply to this complaint")
            continue
        shown = f"{row.due_day} end of day" if row.end_of_day else row.due_local
        typer.echo(f"  due        {shown}  ({row.timezone})")
        typer.echo(f"  due (UTC)  {row.due_utc}")
        typer.echo(f"  calendar   {row.calendar}")
        typer.echo(f"  counting   {row.convention}")
        typer.echo(f"  spans      {row.business_time} of working time")
        if row.note:
            typer.echo(f"  note       {row.note}")
        if row.extended_max_local:
            typer.echo(f"  extension  at most until {row.extended_max_local}")
    if dates and clock is None:
        typer.echo("")
        typer.echo("Dates the customer is told:")
        for date in dates:
            note = f" ({date['note']})" if date["note"] else ""
            typer.echo(f"  {date['title']}: {date['told']}{note}")


@app.command(name="plugins")
def plugins_command(format: Annotated[Format, typer.Option("--format", "-f")] = Format.text) -> None:
    """List the channel plugins installed here: channels, where they deliver, settings (secrets masked)."""
    from pydantic import ValidationError

    from .settings import Settings, settings_file

    try:
        settings = Settings()
        installed = plugins.load(settings)
    except (ValidationError, plugins.PluginSettingsError) as exc:
        typer.echo(f"error: the settings in {settings_file()} do not fit: {exc}", err=True)
        raise typer.Exit(1) from None
    context = plugins.delivery_context(settings)
    rows: list[dict[str, Any]] = [
        {
            "plugin": name,
            "channels": list(item.plugin.channels),
            "configured": item.configured,
            "delivers": item.plugin.describe(context),
            "settings": plugins.masked(item.settings),
        }
        for name, item in installed.items()
    ]
    if format is Format.json:
        typer.echo(json.dumps({"settings_file": str(settings_file()), "plugins": rows}, indent=2))
        return
    found = "found" if settings_file().exists() else "not found: defaults"
    typer.echo(f"settings file: {settings_file()} ({found})")
    for row in rows:
        state = "configured" if row["configured"] else "defaults"
        typer.echo(f"\n{row['plugin']}  channels: {', '.join(row['channels'])}  [{state}]")
        typer.echo(f"  delivers to  {row['delivers']}")
        for key, value in row["settings"].items():
            typer.echo(f"  {key:<12} {'' if value is None else value}")


from .agent_cli import register as _register_agent_commands  # noqa: E402

_register_agent_commands(app)

from .api_cli import register as _register_api_commands  # noqa: E402

_register_api_commands(app)

from .staff_cli import register as _register_staff_commands  # noqa: E402

_register_staff_commands(app)

from .records_cli import register as _register_records_commands  # noqa: E402

_register_records_commands(app)


from .snapshot_cli import register as _register_policy_commands  # noqa: E402

_register_policy_commands(app)

from .archive_cli import register as _register_archive_commands  # noqa: E402

_register_archive_commands(app)

from .simulate_cli import register as _register_simulate_commands  # noqa: E402
from .simulate_cli import register_diff as _register_diff_command  # noqa: E402
from .simulate_cli import register_new as _register_new_command  # noqa: E402
from .simulate_cli import register_whatif as _register_whatif_command  # noqa: E402

_register_simulate_commands(app)
_register_diff_command(app)
_register_new_command(app)
_register_whatif_command(app)

from .suites_cli import register as _register_policy_test_commands  # noqa: E402

_register_policy_test_commands(app)


def main() -> None:
    """Run the CLI; exit without interpreter finalisation once a Temporal client has run.

    The Temporal core's threads can crash CPython's finalisation
    (``PyGILState_Release``) after the work is done; the command's own exit
    status is what counts, so output is flushed and the process exits directly.
    """
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except ValidationError as exc:  # the settings (file or OMBUDS_* variables) are not valid
        if exc.title != "Settings":
            raise
        from .settings import settings_file

        typer.echo(f"error: the settings are not valid ({settings_file()} and OMBUDS_* variables):", err=True)
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"])
            typer.echo(f"  {where}: {problem['msg']}", err=True)
        code = 2
    if "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    sys.exit(code)


if __name__ == "__main__":
    main()

__all__ = ["app", "json", "main"]
