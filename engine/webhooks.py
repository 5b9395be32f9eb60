"""Webhooks: the cases' decisions POSTed to the receivers of the settings file.

A case publishes the decisions whose type some receiver wants (``ComplaintInput.publish``,
set at intake from ``[webhooks.<name>] events``), each in an activity of its own.  The
activity signs the event as the Standard Webhooks convention does (``webhook-id``: the
event's id, ``<complaint>:<seq>``, the same on every retry; ``webhook-timestamp``;
``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` with the
receiver's secret) and POSTs it to every receiver that wants its type.  A receiver answers
2xx when it has it; any other answer, or none, is tried again with backoff for about 15
hours (18 attempts), and the receiver drops a duplicate by its ``webhook-id``.  The delivery ledger keeps
which receivers took which event, so a retry reaches only those that have not.

The event's typed values (a level's label, an instant, an amount) are worded in the
policy's language, as a staff message words them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from standardwebhooks import Webhook as Signer
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ombuds.activities.deliveries import Ledger
from ombuds.activities.plugin import Receipt
from ombuds.workflows import names

from .policy.messages import localise
from .policy.store import Store, StoreError
from .settings import Webhook
from .web.links import Links

log = structlog.get_logger("ombuds.webhooks")

#: The largest answer body read from a receiver (its text goes to the worker's log on failure).
ANSWER_SHOWN = 200


def new_secret() -> str:
    """A fresh signing secret in the convention's form: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def subscribed(webhooks: dict[str, Webhook]) -> list[str]:
    """The event types some receiver wants: what a case is to publish."""
    return sorted({kind for hook in webhooks.values() for kind in hook.events})


def signed(hook: Webhook, event_id: str, body: bytes, now: dt.datetime) -> dict[str, str]:
    """The headers of one POST: the convention's three, and the JSON content type."""
    signature = Signer(hook.secret.get_secret_value()).sign(event_id, now, body)
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "ombuds-webhooks",
    }


class Publisher:
    """The ``publish`` activity, with the receivers of the settings file."""

    def __init__(
        self,
        store: Store,
        webhooks: dict[str, Webhook],
        *,
        ledger: Ledger | None = None,
        links: Callable[[], Links] | None = None,
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.ledger = ledger
        self.links = links

    def body(self, policy_sha: str, event: dict[str, Any]) -> bytes:
        """The event as its receivers read it: values worded in the policy's language, and the
        case's page in the staff console."""
        try:
            policy = self.store.policy(policy_sha)
        except StoreError as exc:
            raise ApplicationError(str(exc), type="StoreError") from None
        data = dict(event.get("data") or {})
        language = policy.policy.policy.locale
        worded = localise({"data": data}, policy.policy, language, to="staff")["data"]
        if self.links is not None and data.get("complaint_id"):
            worded["console_url"] = self.links().console_url(str(data["complaint_id"]))
        shown = {"type": event.get("type"), "timestamp": event.get("timestamp"), "data": worded}
        return json.dumps(shown, default=str, ensure_ascii=False).encode()

    @activity.defn(name=names.PUBLISH)
    async def publish(self, policy_sha: str, event: dict[str, Any]) -> list[str]:
        """POST the event to every receiver that wants its type and has not taken it; returns
        their names.  A receiver that does not take it fails the attempt (Temporal tries again)."""
        event_id, kind = str(event.get("id", "")), str(event.get("type", ""))
        wanted = {name: hook for name, hook in self.webhooks.items() if kind in hook.events}
        said = log.bind(event=event_id, type=kind)
        body = self.body(policy_sha, event)
        taken: list[str] = []
        failed: list[str] = []
        for name, hook in sorted(wanted.items()):
            key = f"webhook:{name}:{event_id}"
            if self.ledger is not None and await self.ledger.get(key) is not None:
                continue
            headers = signed(hook, event_id, body, dt.datetime.now(dt.UTC))
            try:
                async with httpx.AsyncClient(timeout=hook.timeout) as http:
                    answer = await http.post(hook.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failed.append(f"{name}: {type(exc).__name__} {exc}"[:300])
                said.warning("webhook not reached", webhook=name, error=str(exc)[:300])
                continue
            if not answer.is_success:
                failed.append(f"{name}: answered {answer.status_code}")
                said.warning(
                    "webhook refused the event",
                    webhook=name,
                    status=answer.status_code,
                    answer=answer.text[:ANSWER_SHOWN],
                )
                continue
            if self.ledger is not None:
                await self.ledger.record(Receipt(key=key, channel="webhook", status="sent", reference=name))
            said.info("event published", webhook=name, status=answer.status_code)
            taken.append(name)
        if failed:
            raise ApplicationError("; ".join(failed), type="WebhookFailed")
        return taken

    def all(self) -> list[Callable[..., Any]]:
        return [self.publish]
