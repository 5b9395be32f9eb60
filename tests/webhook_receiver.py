"""A helpdesk's webhook endpoint, played by a local HTTP server: it verifies each request's
Standard Webhooks signature (refusing a bad one with 401), fails the first N requests with
503 to exercise retries, and keeps each event once by its ``webhook-id``."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from ombuds.engine.webhooks import new_secret

from .http_server import serving


@dataclass
class Receiver:
    secret: str = field(default_factory=new_secret)
    url: str = ""
    fail_first: int = 0
    #: Every request as it came: (webhook-id, answer status).
    requests: list[tuple[str, int]] = field(default_factory=list)
    #: Each event once, in the order first taken, by its id.
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events.values() if e["type"] == kind]


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(fail_first=fail_first)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            event_id = self.headers.get("webhook-id", "")
            with state.lock:
                if state.fail_first > 0:
                    state.fail_first -= 1
                    return self.answer(event_id, 503)
                try:
                    event = Webhook(state.secret).verify(body, dict(self.headers))
                except WebhookVerificationError:
                    return self.answer(event_id, 401)
                state.events.setdefault(event_id, event)  # a retry's duplicate is dropped
            return self.answer(event_id, 204)

        def answer(self, event_id: str, status: int) -> None:
            state.requests.append((event_id, status))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base:
        state.url = f"{base}/hooks/ombuds"
        yield state


def as_json(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)
