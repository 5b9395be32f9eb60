"""``ombuds erase``, ``ombuds hold`` and ``ombuds export-customer``: a customer's records, through
the HTTP API (staff at a policy's highest level)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .settings import Settings
from .staff_cli import Api, Output

CUSTOMER = typer.Argument(help="The customer: email:…, id:…, phone:… or account:… (a bare value is an id).")


def register(app: typer.Typer) -> None:
    @app.command()
    def erase(
        customer: Annotated[str, CUSTOMER],
        reason: Annotated[str, typer.Option(help="Why: the customer's request, as recorded.")],
        format: Output = "text",
    ) -> None:
        """Erase a customer's personal data: their key is destroyed, their copies outside Temporal
        removed; each case still replays.  Refused (exit 1) while a complaint is open or within the
        policy's retention, or while a legal hold is on, with the rule and the date it becomes possible."""
        done = Api(Settings()).call("POST", "/customers/erase", body={"customer": customer, "reason": reason})
        if format == "json":
            typer.echo(json.dumps(done, indent=2))
            return
        typer.echo(f"erased: {len(done['complaints'])} complaint(s) ({', '.join(done['complaints'])})")
        for removed in done["removed"]:
            typer.echo(f"removed {removed}")

    @app.command()
    def hold(
        customer: Annotated[str, CUSTOMER],
        reason: Annotated[
            str | None, typer.Option(help="Why the data must be kept (a case, a regulator).")
        ] = None,
        release: Annotated[bool, typer.Option("--release", help="Release the hold.")] = False,
    ) -> None:
        """Place a legal hold on a customer's data (no erasure until it is released), or release it."""
        api = Api(Settings())
        if release:
            done = api.call("POST", "/customers/release", body={"customer": customer})
            typer.echo(f"hold released: {', '.join(done['complaints'])}")
            return
        if not reason:
            typer.echo("error: a hold needs --reason", err=True)
            raise typer.Exit(2)
        done = api.call("POST", "/customers/hold", body={"customer": customer, "reason": reason})
        typer.echo(f"held: {', '.join(done['complaints'])}")

    @app.command("export-customer")
    def export_customer(
        customer: Annotated[str, CUSTOMER],
        output: Annotated[Path | None, typer.Option("-o", "--output", help="Write it to this file.")] = None,
    ) -> None:
        """Everything kept of a customer in one JSON document (a subject-access request)."""
        done = Api(Settings()).call("POST", "/customers/export", body={"customer": customer})
        text = json.dumps(done, indent=2, ensure_ascii=False)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n", "utf-8")
            typer.echo(f"wrote {output}")
