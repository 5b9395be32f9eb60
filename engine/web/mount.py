"""The web pages on the API's app: the console, the customer's pages and the stylesheet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from . import codec_endpoint, console, customer
from .links import hide_links_in_access_logs
from .pages import HERE, SECURITY_HEADERS, Desk


def mount(app: FastAPI, desk: Desk) -> None:
    """The console, the customer pages and the stylesheet, on the API's app."""
    hide_links_in_access_logs()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    customer.routes(app, desk)
    console.routes(app, desk)
    codec_endpoint.routes(app, desk)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        answer = await call_next(request)
        if request.url.path.startswith("/static/"):
            answer.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"})
        return answer
