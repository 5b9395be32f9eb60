"""A message's fate, reported later by its channel: an SMS provider's delivery receipt (through
the HTTP API) or a mail server's bounce (through the receiving endpoint, :mod:`.inbound`).

Each report becomes the case's ``delivery`` signal, ``{"key", "status", "reason"}``: the
case notes a delivered message, and logs a failed or bounced one and sends it on the
policy's next channel for it.  Reports are authenticated per provider: a Twilio-style
provider signs its callback (``X-Twilio-Signature``: HMAC-SHA1 of the callback's address and
its sorted form fields, with the account's auth token); the generic HTTP provider sends the
``callback_secret`` of ``[channels.sms]`` as a bearer token; a bounce carries the message's
bounce token, which only we can make.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import structlog
from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from ombuds.activities.sms import SmsSettings, callback_url
from ombuds.workflows import names

from .settings import Settings

log = structlog.get_logger("ombuds.delivery")

Status = Literal["delivered", "failed", "bounced"]
#: A Twilio-style message status, as the case reads it (the others are on the way: ignored).
TWILIO_STATUS: dict[str, Status] = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
#: The longest reason kept from a report.
MAX_REASON = 300


def complaint_of(key: str) -> str | None:
    """The complaint a message key belongs to, or None for what is no key of ours."""
    found = names.message_key(key)
    return found[0] if found else None


async def report(client: Client, key: str, status: Status, reason: str) -> bool:
    """Tell the message's case; False when no running case has that key's complaint id."""
    complaint_id = complaint_of(key)
    if complaint_id is None:
        return False
    handle = client.get_workflow_handle(complaint_id)
    body = {"key": key, "status": status, "reason": reason[:MAX_REASON]}
    try:
        await handle.signal(names.DELIVERY_SIGNAL, body)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return False
        raise
    log.info("delivery reported", complaint=complaint_id, key=key, status=status)
    return True


def twilio_signature(auth_token: str, url: str, fields: dict[str, str]) -> str:
    """What a Twilio-style provider signs a callback with: base64 HMAC-SHA1 of the address it
    called and each form field's name and value, in the order of the names."""
    signed = url + "".join(f"{name}{fields[name]}" for name in sorted(fields))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class HttpReport(BaseModel):
    """What the generic HTTP provider posts about a message."""

    status: Status
    reason: str = Field("", max_length=2_000)


def routes(app: FastAPI, settings: Settings, client: Callable[[], Awaitable[Client]]) -> None:
    """``POST /deliveries/sms/twilio`` and ``POST /deliveries/sms/http``: the SMS provider's
    delivery receipts, each for the message its ``key`` names."""

    def sms() -> SmsSettings:
        try:
            return SmsSettings.model_validate(settings.channels.get("sms", {}))
        except ValidationError:
            raise HTTPException(503, {"message": "[channels.sms] is not valid"}) from None

    @app.post(
        "/deliveries/sms/twilio",
        status_code=204,
        summary="A Twilio-style provider's delivery status of an SMS (signed with X-Twilio-Signature)",
        tags=["deliveries"],
    )
    async def twilio(
        request: Request,
        key: Annotated[str, Query(max_length=200)],
        signature: Annotated[str, Header(alias="X-Twilio-Signature", max_length=200)] = "",
    ) -> Response:
        s = sms()
        if s.auth_token is None or not s.status_callback:
            raise HTTPException(404, {"message": "no Twilio-style provider is set up ([channels.sms])"})
        raw = (await request.body()).decode("utf-8", "replace")
        try:
            fields = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True, max_num_fields=100))
        except ValueError:
            raise HTTPException(422, {"message": "at most 100 form fields"}) from None
        # the address the provider called, as we gave it (a proxy may show us another host)
        url = callback_url(s.status_callback, key)
        expected = twilio_signature(s.auth_token.get_secret_value(), url, fields)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            log.warning("delivery report refused", provider="twilio", reason="bad signature")
            raise HTTPException(403, {"message": "the signature does not match"})
        status = TWILIO_STATUS.get(fields.get("MessageStatus", ""))
        if status is not None:
            code = fields.get("ErrorCode", "")
            reason = f"{fields.get('MessageStatus')}" + (f" (error {code})" if code else "")
            await _told(client, key, status, reason)
        return Response(status_code=204)

    @app.post(
        "/deliveries/sms/http",
        status_code=204,
        summary="The generic HTTP provider's delivery status of an SMS (bearer: [channels.sms] callback_secret)",
        tags=["deliveries"],
    )
    async def generic(
        body: HttpReport,
        key: Annotated[str, Query(max_length=200)],
        authorization: Annotated[str, Header(max_length=500)] = "",
    ) -> Response:
        s = sms()
        if s.callback_secret is None:
            raise HTTPException(404, {"message": "no callback_secret is set ([channels.sms])"})
        scheme, _, given = authorization.partition(" ")
        expected = s.callback_secret.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            log.warning("delivery report refused", provider="http", reason="bad secret")
            raise HTTPException(403, {"message": "the secret does not match"})
        await _told(client, key, body.status, body.reason or body.status)
        return Response(status_code=204)


async def _told(client: Callable[[], Awaitable[Client]], key: str, status: Status, reason: str) -> None:
    if complaint_of(key) is None:
        raise HTTPException(422, {"message": "not a message key of ours", "field": "key"})
    try:
        found = await report(await client(), key, status, reason)
    except RPCError as exc:
        raise HTTPException(503, {"message": f"Temporal: {exc.message}"}) from None
    if not found:
        # the case ended: nothing to tell it, and nothing for the provider to try again
        log.info("delivery report for no running case", key=key, status=status)
