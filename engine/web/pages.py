"""What every page shares: the desk the pages act through, the layout and its texts in each
language, forms and their CSRF tokens, and the headers that keep pages safe.

Pages are rendered on the server from Jinja templates (``engine/web/templates``) and work
without JavaScript: every action is a form that posts and answers with a redirect (so a
reload never sends it twice) or with the page again and what was wrong.  Every answer
carries a strict content-security policy (no script at all, styles from our own stylesheet),
``Referrer-Policy: no-referrer`` (a customer's link never leaves in a Referer) and refuses
framing.  Form bodies are at most :data:`MAX_FORM` bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from temporalio.client import Client

from .. import tokens
from ..intake import Intake
from ..policy.store import Store
from ..settings import Settings
from .i18n import LANGUAGES, Table, texts
from .links import Links, current

#: The largest form body, in bytes (a complaint's text is at most 20,000 characters here).
MAX_FORM = 100_000
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Desk:
    """What the pages act through: the API's own functions, so a page and an API call take the
    same checks and get the same answers."""

    settings: Settings
    store: Store
    verifier: tokens.Verifier
    client: Callable[[], Awaitable[Client]]
    intake: Callable[[], Intake]
    #: The case's status query, as it answers (404 when there is no such case).
    view: Callable[[str], Awaitable[dict[str, Any]]]
    #: ``GET /complaints/{id}``: the status with the time left now, the log and delayed messages.
    case: Callable[..., Awaitable[dict[str, Any]]]
    #: The messages the case sent, each with its outcome.
    messages: Callable[[str], Awaitable[list[dict[str, Any]]]]
    #: Send an event made and checked by the caller.
    act: Callable[..., Awaitable[Any]]
    #: Send a staff event as ``POST /complaints/{id}/events/{kind}`` does.
    send: Callable[..., Awaitable[Any]]
    #: ``GET /complaints`` (every filter given).
    listing: Callable[..., Awaitable[dict[str, Any]]]
    policy_of: Callable[[str], Awaitable[Any]]

    @property
    def links(self) -> Links:
        return current(self.settings.home, self.settings.web_url)

    def key(self) -> bytes:
        """The secret behind form tokens (the links' newest key)."""
        return self.links.keys[-1][1]


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


async def staff_of(desk: Desk, token: str) -> tokens.Identity | None:
    """The staff member a token names, or None (verified off the event loop: an OIDC
    provider's keys may have to be fetched)."""
    if not token:
        return None
    try:
        who = await run_in_threadpool(desk.verifier.verify, token)
    except tokens.TokenError:
        return None
    return who if who.kind == "staff" else None


def page(
    request: Request,
    template: str,
    language: str,
    table: Table,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page in ``language`` (the words of ``table`` as ``t``), with the security headers."""
    html = _ENV.get_template(template).render(
        t=texts(language, table), lang=language, languages=LANGUAGES, path=page_of(request.url.path), **values
    )
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)


#: Where a form posts, and the page it was on (which the language links lead to).
_ACTIONS = (
    (re.compile(r"^(/my/[^/]+)/(?:reply|escalate|choose|withdraw)$"), r"\1"),
    (re.compile(r"^(/console/cases/[^/]+)/events/[^/]+$"), r"\1"),
    (re.compile(r"^/console/sign-out$"), "/console"),
)


def page_of(path: str) -> str:
    """The page a path shows: a form's action is shown on the page the form is on."""
    for action, shown in _ACTIONS:
        if action.match(path):
            return action.sub(shown, path)
    return path


def redirect(to: str) -> RedirectResponse:
    """After a form: see the page again (303), so a reload does not post twice."""
    return RedirectResponse(to, 303, headers=SECURITY_HEADERS)


def language_of(request: Request, preferred: str | None = None) -> str:
    """``?lang=``, else the given preference (the customer's locale), else the browser's."""
    asked = request.query_params.get("lang") or preferred or ""
    if asked[:2] in LANGUAGES:
        return asked[:2]
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGUAGES:
            return code
    return "en"


class FormError(Exception):
    """A form that cannot be read: too large, not a form, or without its token."""


async def form(request: Request) -> dict[str, str]:
    """The fields of a posted form (``application/x-www-form-urlencoded``), each once."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("not a form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError(f"a form is at most {MAX_FORM:,} bytes")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise FormError("not a form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value.replace("\x00", ""))
    return fields


def csrf_token(key: bytes, bound_to: str) -> str:
    """A form token bound to what authorises the page (a sign-in, a customer link)."""
    return hmac.new(key, f"form:{bound_to}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_ok(key: bytes, bound_to: str, fields: dict[str, str]) -> bool:
    return same(csrf_token(key, bound_to), fields.get("csrf", ""))


def same(expected: str, given: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time (any text: as bytes)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
