"""SMS: a Twilio-style REST provider, a generic JSON-over-HTTP provider, or (the embedded
default) one JSON line per message in ``<home>/sms/messages.jsonl``.

Numbers are normalised to E.164 (``phonenumbers``, the settings' region for numbers written
without a country code); one that is no possible number is refused for good, with the
reason, so the policy's next channel is tried.  The text is the body alone (an SMS has no
subject), counted in segments as the networks do: GSM-7 (160 characters, 153 a part once
split; the extension characters count twice) unless a character needs UCS-2 (70, 67 a part).

Each provider request carries the message's idempotency key where the provider takes one
(Twilio's ``I-Twilio-Idempotency-Token``), so a retry after a crash between the provider's
acceptance and the ledger's write is not sent twice; the JSONL file is checked for the key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import json
import string
import urllib.parse
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import phonenumbers
from pydantic import BaseModel, Field, SecretStr

from .plugin import DeliveryContext, PermanentFailure, Receipt, RenderedMessage, RetryLater

#: The GSM 03.38 default alphabet, and its extension table (each of those counts as two).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


#: Characters outside the GSM alphabet that have a plain one (spaces Babel puts in times and
#: dates, typographic quotes and dashes): replaced, so a text does not fall back to UCS-2 (and
#: take more than twice the segments) for them.
_PLAIN = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u2007": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def plain(text: str) -> str:
    """``text`` with the characters that have a GSM one replaced by it."""
    return text.translate(_PLAIN)


def segments(text: str) -> tuple[str, int]:
    """The encoding an SMS of ``text`` needs (``GSM-7`` or ``UCS-2``) and how many parts it takes."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, part, encoding = 70, 67, "UCS-2"
    if units <= single:
        return encoding, 1
    return encoding, -(-units // part)


def e164(number: str, region: str | None) -> str:
    """``number`` in E.164, or :class:`PermanentFailure` saying why it cannot be one."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise PermanentFailure(f"not a phone number: {number!r} ({exc})") from None
    # possible (the length a number of that country has), not "valid": numbering plans change
    # faster than any table, and the provider says the last word
    if not phonenumbers.is_possible_number(parsed):
        raise PermanentFailure(f"not a possible phone number: {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class SmsSettings(BaseModel):
    """``[channels.sms]`` in the settings file (``OMBUDS_CHANNELS__SMS__PROVIDER`` and so on)."""

    provider: Literal["file", "twilio", "http"] = Field(
        "file", description="file (the embedded default: <home>/sms/messages.jsonl), twilio, or http."
    )
    region: str | None = Field(
        "GB", description="The country of numbers written without a country code (ISO 3166, e.g. DE)."
    )
    sender: str = Field("ombuds", description="The from-number or alphanumeric sender id.")
    max_segments: int = Field(3, ge=1, le=10, description="Longer texts are refused (the policy is warned).")
    folder: Path | None = Field(None, description="For file: where messages.jsonl is; default <home>/sms.")
    # twilio
    account_sid: str | None = Field(None, description="For twilio: the account SID.")
    auth_token: SecretStr | None = Field(None, description="For twilio: the auth token.")
    base_url: str = Field("https://api.twilio.com", description="For twilio: the API's address.")
    status_callback: str | None = Field(
        None,
        description="Where the provider posts delivery status: the HTTP API's /deliveries/sms/twilio (or /http) "
        "address; each message's key is added to it.",
    )
    callback_secret: SecretStr | None = Field(
        None,
        min_length=16,
        description="For http: the bearer token the provider's status callbacks carry (16+ characters).",
    )
    # http
    url: str | None = Field(None, description="For http: where to POST.")
    headers: dict[str, str] = Field(default_factory=dict, description="For http: headers to send (a token).")
    body: dict[str, str] = Field(
        default_factory=lambda: {"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{key}"},
        description="For http: the JSON body, each value a text with {to}, {sender}, {text}, {key}, {complaint}, "
        "{status_url} (where to post the delivery status).",
    )
    timeout: float = 30.0


class Sms:
    """The built-in SMS channel."""

    name: ClassVar[str] = "sms"
    channels: ClassVar[tuple[str, ...]] = ("sms",)
    Settings: ClassVar[type[BaseModel]] = SmsSettings

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def describe(self, context: DeliveryContext) -> str:
        s = self.settings
        if s.provider == "twilio":
            return f"Twilio-style API at {s.base_url} (account {s.account_sid or 'not set'})"
        if s.provider == "http":
            return f"HTTP POST to {s.url or 'no url set'}"
        return f"JSON lines in {self.file(context)}"

    def file(self, context: DeliveryContext) -> Path:
        return (self.settings.folder or context.home / "sms") / "messages.jsonl"

    async def send(self, message: RenderedMessage, context: DeliveryContext) -> Receipt:
        s = self.settings
        to = e164(message.recipient, s.region)
        text = plain(message.body.strip())
        encoding, parts = segments(text)
        if parts > s.max_segments:
            raise PermanentFailure(f"{parts} {encoding} segments; at most {s.max_segments} are sent")
        if s.provider == "twilio":
            reference = await self._twilio(message, to, text)
        elif s.provider == "http":
            reference = await self._http(message, to, text)
        else:
            line = {
                "key": message.key,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "to": to,
                "from": s.sender,
                "text": text,
                "encoding": encoding,
                "segments": parts,
                "complaint": message.complaint_id,
                "template": message.template,
            }
            written = await asyncio.to_thread(_append_once, self.file(context), line)
            status = "sent" if written else "already_sent"
            return Receipt(
                key=message.key, channel=message.channel, status=status, reference=str(self.file(context))
            )
        return Receipt(key=message.key, channel=message.channel, status="sent", reference=reference)

    async def _twilio(self, message: RenderedMessage, to: str, text: str) -> str:
        s = self.settings
        if not s.account_sid or s.auth_token is None:
            raise PermanentFailure("[channels.sms] provider twilio needs account_sid and auth_token")
        form = {"To": to, "From": s.sender, "Body": text}
        if s.status_callback:
            form["StatusCallback"] = callback_url(s.status_callback, message.key)
        answer = await self._post(
            f"{s.base_url.rstrip('/')}/2010-04-01/Accounts/{s.account_sid}/Messages.json",
            data=form,
            auth=(s.account_sid, s.auth_token.get_secret_value()),
            headers={"I-Twilio-Idempotency-Token": message.key[:64]},
        )
        try:
            return str(answer.json().get("sid", ""))
        except ValueError:
            return ""

    async def _http(self, message: RenderedMessage, to: str, text: str) -> str:
        s = self.settings
        if not s.url:
            raise PermanentFailure("[channels.sms] provider http needs url")
        values = {
            "to": to,
            "sender": s.sender,
            "text": text,
            "key": message.key,
            "complaint": message.complaint_id,
            "status_url": callback_url(s.status_callback, message.key) if s.status_callback else "",
        }
        body = {name: _filled(template, values) for name, template in s.body.items()}
        answer = await self._post(s.url, json=body, headers={**s.headers, "Idempotency-Key": message.key})
        try:
            found = answer.json()
        except ValueError:
            return ""
        return (
            str(found.get("id") or found.get("sid") or found.get("reference") or "")
            if isinstance(found, dict)
            else ""
        )

    async def _post(self, url: str, **options: Any) -> httpx.Response:
        """POST to the provider: 2xx is sent; 429 waits as it asks; any other 4xx is refused for
        good (a number the provider will not take); 5xx and network failures are tried again."""
        async with httpx.AsyncClient(timeout=self.settings.timeout) as http:
            answer = await http.post(url, **options)
        if answer.status_code < 300:
            return answer
        said = _said(answer)
        if answer.status_code == 429:
            after = answer.headers.get("Retry-After", "")
            wait = int(after) if after.isdigit() else 30
            raise RetryLater(f"the SMS provider asks to wait: {said}", dt.timedelta(seconds=min(wait, 3600)))
        if 400 <= answer.status_code < 500:
            raise PermanentFailure(f"the SMS provider refused it ({answer.status_code}): {said}")
        raise RuntimeError(f"the SMS provider failed ({answer.status_code}): {said}")


def callback_url(base: str, key: str) -> str:
    """The address a provider posts a message's status to: ``base`` with the message's key."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urllib.parse.urlencode({'key': key})}"


def _said(answer: httpx.Response) -> str:
    try:
        found = answer.json()
    except ValueError:
        return answer.text[:200]
    if isinstance(found, dict):
        return str(found.get("message") or found.get("error") or found)[:200]
    return str(found)[:200]


def _filled(template: str, values: dict[str, str]) -> str:
    """A body value with its placeholders filled (an unknown one is left as written)."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            out.append(values.get(field, "{" + field + "}"))
    return "".join(out)


def _append_once(path: Path, line: dict[str, Any]) -> bool:
    """Append ``line`` unless a line with its key is there (under a lock, so workers sharing the
    home write each message once). True when this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        for existing in handle:
            try:
                if json.loads(existing).get("key") == line["key"]:
                    return False
            except ValueError:
                continue
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        handle.flush()
        return True
