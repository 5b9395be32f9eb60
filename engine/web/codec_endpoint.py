"""The codec endpoint: the Temporal UI opens the sealed payloads it shows through it.

``POST /console/codec/decode`` takes and answers Temporal's remote codec
format, ``{"payloads": [{"metadata": {name: base64}, "data": base64}]}``, for staff only: a
bearer token (the UI's "pass access token", with an OIDC provider the API trusts) or the
console's session cookie (the UI's "include cross-origin credentials"; the endpoint is under
``/console`` for the cookie to be sent).  Only the Temporal UI's origin may call it from a
browser (CORS).  Without it the UI shows the payloads sealed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from temporalio.api.common.v1 import Payload

from .. import tokens
from ..codec import CodecError
from .console import COOKIE
from .pages import Desk, staff_of

#: The most payloads one call opens.
MAX_PAYLOADS = 1_000


def routes(app: FastAPI, desk: Desk) -> None:
    allowed = {
        f"http://127.0.0.1:{desk.settings.ui_port}",
        f"http://localhost:{desk.settings.ui_port}",
        *desk.settings.codec_origins,
    }

    def cors(request: Request, answer: Response) -> Response:
        origin = request.headers.get("origin", "")
        if origin in allowed:
            answer.headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
                    "Vary": "Origin",
                }
            )
        return answer

    async def staff(request: Request) -> tokens.Identity | None:
        bearer = request.headers.get("authorization", "")
        token = bearer[7:] if bearer.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        return await staff_of(desk, token)

    async def run(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and origin not in allowed:
            return JSONResponse({"message": "this origin may not use the codec"}, 403)
        if await staff(request) is None:
            return cors(
                request, JSONResponse({"message": "staff only: a bearer token or the console's"}, 401)
            )
        try:
            body = await request.json()
            items = body["payloads"]
            if not isinstance(items, list) or len(items) > MAX_PAYLOADS:
                return cors(
                    request, JSONResponse({"message": f"payloads: a list of at most {MAX_PAYLOADS}"}, 413)
                )
            payloads = [_payload(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return cors(request, JSONResponse({"message": 'the body is {"payloads": [...]}'}, 422))
        codec = (await desk.client()).data_converter.payload_codec
        try:
            done = payloads if codec is None else await codec.decode(payloads)
        except CodecError as exc:
            return cors(request, JSONResponse({"message": str(exc)}, 422))
        return cors(request, JSONResponse({"payloads": [_json(p) for p in done]}))

    @app.options("/console/codec/{way}", include_in_schema=False)
    async def preflight(request: Request, way: str) -> Response:
        return cors(request, Response(status_code=204))

    @app.post("/console/codec/decode", include_in_schema=False)
    async def decode(request: Request) -> Response:
        return await run(request)


def _payload(item: dict[str, Any]) -> Payload:
    metadata = {
        str(k): base64.b64decode(str(v), validate=True) for k, v in dict(item.get("metadata") or {}).items()
    }
    return Payload(metadata=metadata, data=base64.b64decode(str(item.get("data") or ""), validate=True))


def _json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }
