"""The web pages as a person meets them: the API's service on a real port, a real Temporal dev
server, an ``ombuds worker`` delivering mail to the Maildir, and headless Chromium (Debian's,
driven by Playwright) looking at them."""

from __future__ import annotations

import asyncio
import contextlib
import mailbox
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from ombuds.engine import tokens
from ombuds.engine.api import create_app
from ombuds.engine.devserver import dev_server
from ombuds.engine.intake import Intake
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.engine.settings import Settings

from . import money_attack
from .workflow_support import shipped_policies

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Where tests leave their screenshots, to look at.
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@dataclass
class Web:
    url: str
    settings: Settings
    key: bytes
    client: Any

    def token(self, user: str, level: str) -> str:
        return tokens.create(self.key, user, level)

    def mails(self) -> list[Message]:
        """Every mail the worker delivered (the Maildir of the embedded default)."""
        folder = self.settings.home / "mail"
        if not folder.exists():
            return []
        return list(mailbox.Maildir(folder, create=False))

    async def mail(self, template: str, timeout: float = 30.0) -> Message:
        """The first mail made from ``template`` (waiting for the worker to send it)."""
        for _ in range(int(timeout * 5)):
            for mail in self.mails():
                if str(mail.get("X-Ombuds-Template", "")).split(".")[0] == template:
                    return mail
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {template} mail in {timeout} s")


def link_in(mail: Message, ending: str = "") -> str:
    """The first of our links in a mail's text (``ending``: e.g. ``/survey``)."""
    body = next(
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in mail.walk()
        if part.get_content_type() == "text/plain"
    )
    found = re.findall(r"https?://[^\s>)\]]+/my/[A-Za-z0-9_.\-]+" + re.escape(ending), body)
    assert found, body
    return str(found[0])


@asynccontextmanager
async def web(
    tmp_path: Path,
    policies: list[CompiledPolicy] | None = None,
    worker_env: dict[str, str] | None = None,
    **more: Any,
) -> AsyncIterator[Web]:
    """The API's service with its pages on a free port, over a dev server with one worker;
    ``more`` are more settings of the API, ``worker_env`` more variables of the worker's."""
    key = b"w" * 32
    async with contextlib.AsyncExitStack() as stack:
        # free ports are picked, then bound by the server: another process may take one between
        for attempt in range(3):
            port = money_attack.free_port()
            settings = money_attack.settings_for(tmp_path).model_copy(update={"api_port": port, **more})
            try:
                client = await stack.enter_async_context(dev_server(settings, search_attributes=True))
                break
            except RuntimeError:
                log = settings.home / "temporal.log"
                taken = log.exists() and "address already in use" in log.read_text("utf-8", "replace")
                if attempt == 2 or not taken:
                    raise
                log.unlink()
        with money_attack.workers(settings, 1, OMBUDS_API_PORT=str(port), **(worker_env or {})):

            async def connect() -> Any:
                return client

            chosen = policies if policies is not None else shipped_policies()
            app = create_app(settings, connect=connect, intake=Intake(settings, chosen), key=key)
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            serving = asyncio.create_task(server.serve())
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            try:
                yield Web(f"http://127.0.0.1:{port}", settings, key, client)
            finally:
                server.should_exit = True
                await serving


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under build/screenshots, to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
