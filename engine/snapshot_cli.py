"""``ombuds policy show SHA``: the exact text a pinned policy snapshot was compiled from.

Every decision names its rule's ``file:line`` and the sha256 of the snapshot the
complaint pinned; the snapshot keeps the file's text, so the line a decision
points at is the line that decided, whatever the file says today.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .policy.snapshot import CompiledPolicy
from .policy.store import Store, StoreError
from .settings import Settings

policy_app = typer.Typer(
    help="Pinned policy snapshots: the exact text behind each decision.", no_args_is_help=True
)


class NotPinned(LookupError):
    """No snapshot (or more than one) has this sha256 prefix."""


def find_snapshot(s: Settings, prefix: str) -> CompiledPolicy:
    """The policy snapshot whose sha256 starts with ``prefix`` (at least 6 hex digits), from the
    home's store or, failing that, from the archive (copied into the store, verified)."""
    from .archive import fetch_snapshot

    store = Store(s.store_dir)
    wanted = prefix.strip().lower()
    if len(wanted) < 6 or any(c not in "0123456789abcdef" for c in wanted):
        raise NotPinned(f"{prefix!r} is not a sha256 prefix (give at least 6 hex digits)")
    shas = sorted(p.stem for p in (store.root / wanted[:2]).glob(f"{wanted}*.json"))
    if not shas:
        fetch_snapshot(s, wanted, store)
        shas = sorted(p.stem for p in (store.root / wanted[:2]).glob(f"{wanted}*.json"))
    if len(shas) > 1:
        raise NotPinned(f"{prefix} names {len(shas)} snapshots; give more digits")
    if not shas:
        raise NotPinned(f"no policy snapshot {prefix} in {store.root} or the archive")
    try:
        return store.policy(shas[0])
    except StoreError as exc:
        raise NotPinned(f"{shas[0]} is not a policy snapshot ({exc})") from None


def drift(policy: CompiledPolicy, folder: Path) -> list[str]:
    """Warnings for the pinned files whose copy in ``folder`` now reads differently (or is gone)."""
    out = []
    for name, text in sorted(policy.source.items()):
        current = folder / name
        try:
            now = current.read_text("utf-8")
        except OSError:
            out.append(f"{current} no longer exists; the pinned text is shown")
            continue
        if now != text:
            out.append(
                f"{current} has changed since policy {policy.id} {policy.version} "
                f"({policy.sha256[:12]}) was pinned; rules' lines refer to the pinned text "
                f"(ombuds policy show {policy.sha256[:12]})"
            )
    return out


def numbered(text: str, mark: int | None = None, around: int | None = None) -> list[str]:
    """The text with line numbers; ``mark`` flags one line, ``around`` keeps that many lines each side."""
    lines = text.splitlines()
    width = len(str(len(lines)))
    first, last = 1, len(lines)
    if mark is not None and around is not None:
        first, last = max(1, mark - around), min(len(lines), mark + around)
    return [f"{'>' if n == mark else ' '}{n:>{width}} | {lines[n - 1]}" for n in range(first, last + 1)]


@policy_app.command("show")
def show(
    sha: Annotated[
        str, typer.Argument(help="The snapshot's sha256, or its first 6+ digits (as decisions print it).")
    ],
    line: Annotated[
        int | None, typer.Option(help="Mark this line and show only the lines around it.")
    ] = None,
    context: Annotated[int, typer.Option(help="With --line: how many lines each side.")] = 8,
    templates: Annotated[bool, typer.Option("--templates", help="Also print the pinned templates.")] = False,
) -> None:
    """Print the exact policy text a snapshot was compiled from, with line numbers (and its
    templates); warns when the file now in the policies folder differs."""
    s = Settings()
    try:
        policy = find_snapshot(s, sha)
    except NotPinned as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"policy {policy.id} {policy.version}  sha256 {policy.sha256}")
    if not policy.source:
        typer.echo("this snapshot was compiled before snapshots kept their text: only its rules are kept")
    for name, text in sorted(policy.source.items()):
        typer.echo(f"--- {name} (as pinned)")
        for row in numbered(text, line, context if line is not None else None):
            typer.echo(row)
    if templates:
        for name, by_locale in sorted(policy.templates.items()):
            for locale, template in sorted(by_locale.items()):
                typer.echo(f"--- template {name} [{locale}] sha256 {template.sha256[:12]}")
                typer.echo(f"subject: {template.subject}")
                typer.echo(template.body.rstrip("\n"))
    for warning in drift(policy, s.policies):
        typer.echo(f"warning: {warning}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
