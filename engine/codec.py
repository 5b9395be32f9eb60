"""The payload codec: every payload the client and workers write to Temporal is sealed.

Two layers, both AES-256-GCM (``cryptography``):

1. **Personal data** inside a payload — the customer (name, contacts, ids), the texts they
   wrote and those quoting them (:data:`PERSONAL`) — is sealed field by field with the
   customer's data key.  The field keeps its place and its shape (which keys, which texts
   are empty), not its content.
2. The whole payload is then sealed with the newest system key, its id in the payload's
   metadata (``encryption-key-id``), so the Temporal server, its database and its UI hold
   nothing readable.

Opening reverses both.  A personal field whose customer was erased opens as a placeholder of
the same shape (``[erased]``), so the case still replays to the same decisions, its
deadlines, amounts and rules readable.  A payload sealed with a key this process does not
have fails with the key's id and where it was looked for.

The customer of a payload is found in it (a complaint carries its customer) or, for the
signals, updates, activities and queries of a complaint, from the complaint's workflow id
(Temporal's serialization context), which the key store maps to the customer when the
complaint is first sealed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from . import identity
from .keys import Erased, KeyMissing, KeyProvider, _open, _seal

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
#: Fields whose values are personal data, wherever they are in a payload.
PERSONAL = frozenset(
    {
        "description",
        "subject",
        "text",
        "summary",
        "resolution",
        "custom",
        "answers",
        "comment",
        "handoff",
        "order_ids",
        # texts staff write that may quote the customer (a reason or an error the core words itself
        # is not sealed with the customer's key: the case must replay to the same log after an erasure)
        "question",
        "root_cause",
    }
)
#: Fields of a ``customer`` that name them (their locale, region and timezone decide how a case
#: is counted and worded, and stay).
IDENTIFYING = frozenset({"id", "name", "contacts", "account_number"})
#: A customer's identifiers as a complaint hands them to its ledger (``ledger_register``,
#: ``ledger_reserve``): the identifying ones are sealed with the customer's key too.
LEDGER_IDENTIFIERS = frozenset({"id", "email", "phone", "account", "region", "policy"})
LEDGER_IDENTIFYING = frozenset({"id", "email", "phone", "account"})
SEALED = "$sealed"
#: What an erased text opens as.
ERASED = "[erased]"
#: Erased values of fields that must keep their form for a case to replay.
ERASED_AS = {"email": "erased@erased.invalid", "phone": "+447700900000"}


class CodecError(Exception):
    """A payload this process cannot open (a key it does not have)."""


class Sealing(PayloadCodec, WithSerializationContext):
    """The codec of one deployment: its key provider and the secret that names customers."""

    def __init__(self, keys: KeyProvider, secret: bytes, workflow_id: str | None = None) -> None:
        self.keys = keys
        self.secret = secret
        self.workflow_id = workflow_id

    def with_context(self, context: SerializationContext) -> Sealing:
        return Sealing(self.keys, self.secret, getattr(context, "workflow_id", None))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    # ------------------------------------------------------------------ sealing

    def seal(self, payload: Payload) -> Payload:
        data = payload.data
        if payload.metadata.get("encoding") == b"json/plain" and data[:1] in (b"{", b"["):
            value = json.loads(data)
            if _has_personal(value):
                data = json.dumps(self.seal_fields(value), separators=(",", ":")).encode()
        inner = Payload(metadata=payload.metadata, data=data).SerializeToString()
        kid, key = self.keys.sealing_key()
        return Payload(metadata={"encoding": ENCODING, KEY_ID: kid.encode()}, data=_seal(key, inner, b""))

    def seal_fields(self, value: Any) -> Any:
        subject, identifiers = self.subject(value)
        data_key = self.keys.data_key(subject, identifiers)
        kid = data_key.kid.encode()

        def seal(v: Any) -> dict[str, Any]:
            return _envelope(data_key.kid, _seal(data_key.key, _dumps(v), kid), v)

        def walk(item: Any) -> Any:
            if _ledger_identifiers(item):
                return {
                    k: seal(v) if k in LEDGER_IDENTIFYING and v not in (None, "") else v
                    for k, v in item.items()
                }
            if isinstance(item, dict):
                return {
                    k: seal(v)
                    if k in PERSONAL and v not in (None, "", [], {})
                    else _customer(v, seal)
                    if k == "customer" and isinstance(v, dict)
                    else walk(v)
                    for k, v in item.items()
                }
            if isinstance(item, list):
                return [walk(x) for x in item]
            return item

        return walk(value)

    def subject(self, value: Any) -> tuple[str, list[str]]:
        """Whose personal data this is, and the identifier hashes the payload gives of them: the
        customer a complaint in it names, else the customer of the complaint the payload is for
        (its workflow id)."""
        customer = _customer_in(value)
        identifiers = identity.keys(self.secret, customer) if customer is not None else []
        if identifiers:
            subject = self.keys.subject_for(identifiers)
            if self.workflow_id:
                self.keys.remember_case(self.workflow_id, subject)
            return subject, identifiers
        if self.workflow_id:
            known = self.keys.subject_of(self.workflow_id)
            return known or f"workflow:{self.workflow_id}", []
        return "unattributed", []

    # ------------------------------------------------------------------ opening

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before payloads were sealed (or by another codec)
        kid = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        try:
            key = self.keys.system_key(kid)
        except KeyMissing as exc:
            raise CodecError(f"cannot open a payload: {exc}") from None
        try:
            opened = Payload.FromString(_open(key, payload.data, b""))
            if b'"$sealed"' in opened.data:
                fields = json.loads(opened.data)
                opened = Payload(metadata=opened.metadata, data=_dumps(self.open_fields(fields)))
        except (InvalidTag, ValueError, KeyError, TypeError, DecodeError) as exc:
            raise CodecError(
                f"cannot open a payload sealed with {kid}: it was changed ({type(exc).__name__})"
            ) from None
        return opened

    def open_fields(self, value: Any, field: str = "") -> Any:
        if isinstance(value, dict):
            if SEALED in value:
                return self._open_one(value)
            return {k: self.open_fields(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.open_fields(x, field) for x in value]
        return value

    def _open_one(self, envelope: dict[str, Any]) -> Any:
        kid = str(envelope[SEALED])
        try:
            key = self.keys.open_data_key(kid)
        except Erased:
            return _erased(envelope.get("shape"), "")
        except KeyMissing as exc:
            raise CodecError(f"cannot open personal data: {exc}") from None
        sealed = base64.b64decode(envelope["v"])
        return json.loads(_open(key, sealed, kid.encode()))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _envelope(kid: str, sealed: bytes, value: Any) -> dict[str, Any]:
    return {SEALED: kid, "v": base64.b64encode(sealed).decode(), "shape": _shape(value)}


def _shape(value: Any) -> Any:
    """The form of a value without its content: which keys, how long each text is."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(x) for x in value]
    if isinstance(value, str):  # its length: a rule may count it (a description of 20 characters)
        return f"s:{len(value)}"
    return value  # a number, a flag: as it was (a score decides what follows)


def _erased(shape: Any, field: str) -> Any:
    if isinstance(shape, dict):
        return {k: _erased(v, k) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_erased(x, field) for x in shape]
    if isinstance(shape, str) and shape.startswith("s:"):
        length = int(shape[2:]) if shape[2:].isdigit() else len(ERASED)
        if field in ERASED_AS and length:
            return ERASED_AS[field]
        return (ERASED + "." * length)[:length] if length >= len(ERASED) else ERASED[:length]
    return shape


def _customer(customer: dict[str, Any], seal: Any) -> dict[str, Any]:
    return {
        k: seal(v) if k in IDENTIFYING and v not in (None, "", [], {}) else v for k, v in customer.items()
    }


def _ledger_identifiers(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "policy" in value
        and set(value) <= LEDGER_IDENTIFIERS
        and any(value.get(k) for k in LEDGER_IDENTIFYING)
    )


def _has_personal(value: Any) -> bool:
    if _ledger_identifiers(value):
        return True
    if isinstance(value, dict):
        return any(
            (k in PERSONAL and v not in (None, "", [], {})) or k == "customer" or _has_personal(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_personal(x) for x in value)
    return False


def _customer_in(value: Any) -> dict[str, Any] | None:
    """The customer of a complaint (or a workflow input holding one) in the payload."""
    if not isinstance(value, dict):
        return None
    for holder in (value, value.get("complaint")):
        if isinstance(holder, dict) and isinstance(holder.get("customer"), dict) and "received_at" in holder:
            return flat_customer(holder["customer"])
    return None


def flat_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """A complaint's customer as :func:`.identity.identifiers` reads one."""
    contacts = customer.get("contacts") or {}
    return {
        "id": customer.get("id"),
        "email": contacts.get("email") if isinstance(contacts, dict) else None,
        "phone": contacts.get("phone") if isinstance(contacts, dict) else None,
        "account": customer.get("account_number"),
        "region": customer.get("region"),
    }


async def opened(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    """A copy of ``history`` with every payload opened by ``codec`` (as it is when None)."""
    if codec is None:
        return history
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        await _open_in(copy, codec)
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)


async def _open_in(message: Message, codec: PayloadCodec) -> None:
    """Open, in place, every payload ``message`` holds, however deep."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        if kind.GetOptions().map_entry:
            value_field = kind.fields_by_name["value"]
            if value_field.message_type is None:
                continue
            for key in list(value):
                await _open_item(value[key], value_field.message_type.full_name, codec)
        elif isinstance(value, Message):
            await _open_item(value, kind.full_name, codec)
        else:  # a repeated field of messages
            for item in value:
                await _open_item(item, kind.full_name, codec)


async def _open_item(item: Message, kind: str, codec: PayloadCodec) -> None:
    if kind == "temporal.api.common.v1.Payload":
        assert isinstance(item, Payload)
        item.CopyFrom((await codec.decode([item]))[0])
    else:
        await _open_in(item, codec)
