"""``ombuds serve`` (the HTTP API) and ``ombuds token create`` (a signed token for a staff member
or an integration)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated

import typer

from . import tokens
from .settings import Settings

token_app = typer.Typer(help="Tokens for the HTTP API.", no_args_is_help=True)
links_app = typer.Typer(help="The keys that sign the customers' links.", no_args_is_help=True)
webhooks_app = typer.Typer(
    help="The receivers of the cases' decisions ([webhooks.<name>]).", no_args_is_help=True
)


keys_app = typer.Typer(
    help="The keys that seal the cases' payloads (<home>/keys.sqlite).", no_args_is_help=True
)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a system key that seals every payload from now on; payloads sealed before stay readable.

    Workers and the API read the newest key within seconds, so nothing needs a restart.  Back up
    <home>/keys.sqlite after a rotation: without it no case can be read."""
    from .keys import key_store

    settings = Settings()
    kid = key_store(settings.home, create=True).rotate()
    typer.echo(
        f"new payloads are sealed with key {kid} (kept in {settings.home / 'keys.sqlite'}: back it up)"
    )


@keys_app.command("list")
def keys_list() -> None:
    """The system keys, oldest first, the one that seals marked."""
    from .keys import KeyMissing, key_store

    settings = Settings()
    try:
        keys = key_store(settings.home).system_keys()
    except KeyMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for n, (kid, created) in enumerate(keys):
        typer.echo(f"{kid}  made {created}" + ("  (seals new payloads)" if n == len(keys) - 1 else ""))


@webhooks_app.command("secret")
def webhook_secret() -> None:
    """Print a new signing secret for a [webhooks.<name>] section (whsec_ and 32 random bytes)."""
    from .webhooks import new_secret

    typer.echo(new_secret())


@webhooks_app.command("list")
def webhook_list() -> None:
    """The receivers the settings name, with the event types each gets (never the secret)."""
    settings = Settings()
    if not settings.webhooks:
        typer.echo("no webhooks are set ([webhooks.<name>] in the settings file, docs/plugins.md)")
        return
    for name, hook in sorted(settings.webhooks.items()):
        typer.echo(f"{name}: {hook.url}\n  events: {', '.join(hook.events)}")


@links_app.command("rotate")
def rotate() -> None:
    """Add a key that signs every new customer link; those signed before stay good until they expire.

    The keys are kept in <home>/links.keys; a key is dropped once the key after it has signed for
    longer than a link lives (190 days).  Workers and the API read the keys when they make or
    check a link, so nothing needs a restart.
    """
    from .web.links import rotate as add_key

    settings = Settings()
    if os.environ.get("OMBUDS_LINK_KEYS"):
        typer.echo(
            "error: OMBUDS_LINK_KEYS sets the keys: add the new one there (id:secret, the newest last)",
            err=True,
        )
        raise typer.Exit(2)
    kid = add_key(settings.home)
    typer.echo(f"new links are signed with key {kid} (kept in {settings.home / 'links.keys'})")


@token_app.command("create")
def create(
    user: Annotated[str, typer.Option(help="The staff member's id (or the integration's name).")],
    level: Annotated[str, typer.Option(help="The authority level they act at, e.g. agent.")],
    days: Annotated[int, typer.Option(help="How long the token lives.")] = 30,
    service: Annotated[
        bool, typer.Option("--service", help="A token for an integration (a helpdesk), limited to --scope.")
    ] = False,
    scope: Annotated[
        list[str] | None, typer.Option(help="For --service: an event kind it may send (repeat), or submit.")
    ] = None,
) -> None:
    """Print a signed token for the HTTP API (the secret is OMBUDS_API_SECRET or <home>/api.key)."""
    settings = Settings()
    if service and not scope:
        typer.echo("error: a service token needs at least one --scope (an event kind, or submit)", err=True)
        raise typer.Exit(2)
    _known_level(settings, level)
    try:
        key = tokens.secret(settings.api_secret, settings.home)
        made = tokens.create(
            key,
            user,
            level,
            days=days,
            kind="service" if service else "staff",
            scopes=tuple(scope or ("*",)),
        )
    except tokens.TokenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(made)


def _known_level(settings: Settings, level: str) -> None:
    """A token's level is an authority level of the policies (when there are any to ask): a
    token at a level no policy has would be refused by every case."""
    from .intake import load_policies
    from .policy.errors import known_names_hint

    if not settings.policies.is_dir():
        return
    policies, _ = load_policies(settings.policies)
    levels = sorted({lv.id for p in policies for lv in p.policy.authority})
    if levels and level not in levels:
        hint = known_names_hint(level, levels, "levels")
        typer.echo(
            f'error: "{level}" is not an authority level of the policies in {settings.policies} ({hint})',
            err=True,
        )
        raise typer.Exit(2)


def admin_token(settings: Settings, level: str) -> Path:
    """``<home>/admin.token``: a token ``ombuds dev`` makes at its first start (for a year), at
    the highest level of the policies, readable by the owner only."""
    path = settings.home / "admin.token"
    if not path.exists():
        key = tokens.secret(settings.api_secret, settings.home)
        made = tokens.create(key, "admin", level, days=tokens.MAX_DAYS)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(made + "\n")
    return path


class BackgroundApi:
    """The HTTP API in a thread of its own (``ombuds dev``): its own event loop, and no signal
    handlers of its own (the dev command stops it)."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from .api import create_app

        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.api_port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="ombuds-api", daemon=True)

    def __enter__(self) -> BackgroundApi:
        """Started, and answering once this returns (or its thread has given up)."""
        import time

        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.add_typer(links_app, name="links")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(keys_app, name="keys")

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="The port.")] = 8300,
    ) -> None:
        """Run the HTTP API (complaints, status, events with the actor from the caller's token)."""
        import uvicorn

        from .api import create_app

        settings = Settings()
        # the links in messages and the provider's return address name this port (unless
        # OMBUDS_PUBLIC_URL says where the service is reached)
        settings = settings.model_copy(update={"api_port": port})
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
