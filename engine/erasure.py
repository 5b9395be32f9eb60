"""A customer's right to erasure, and to a copy of their data.

Erasing a customer destroys their data key (:mod:`.keys`): their personal data becomes
unreadable in every history that holds it, sealed there, and each case still replays to the
same decisions.  Before that the request is checked against each of their complaints:

* a complaint still open, or closed less than the policy's ``records.retention_years`` ago,
  keeps its records: the request is refused, naming the rule and the date erasure becomes
  possible;
* a legal hold on the customer (``ombuds hold``) blocks it, and the refusal is recorded.

The clear-text copies outside Temporal go with it: the mail in the Maildir, the SMS file's
lines, the letters and outbox files, the replies kept for staff, the attachments.  Delivery
records (keys, channels, message ids, text digests) and ledgers (keyed hashes and amounts)
hold no personal data and stay.  Every request, done or refused, is recorded in
``<home>/erasures.jsonl`` by the customer's keyed hash, never their identifiers.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import fcntl
import json
import mailbox
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError

from ombuds.activities.outbox import file_stem
from ombuds.workflows import names

from . import identity
from .archive import years_after
from .codec import Sealing
from .intake import IntakeError, original_input
from .keys import LocalKeys
from .policy.store import StoreError
from .settings import Settings

#: How a customer is named in a request: ``email:ana@example.org``, ``id:CUST-1``, ...
KINDS = ("id", "email", "phone", "account")


class ErasureError(Exception):
    """A request that names no customer this deployment knows, or cannot be checked."""


class BadName(ErasureError):
    """A customer named in no way this deployment reads."""


@dataclass
class Refusal:
    complaint_id: str
    why: str
    rule: str = ""
    possible_from: str | None = None


@dataclass
class Outcome:
    customer: str
    complaints: list[str]
    erased: bool
    refused: list[Refusal] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "complaints": self.complaints,
            "erased": self.erased,
            "refused": [r.__dict__ for r in self.refused],
            "removed": self.removed,
        }


def named(customer: str) -> dict[str, str]:
    """``kind:value`` as an identifier (a bare value is an id)."""
    kind, sep, value = customer.partition(":")
    if not sep or kind not in KINDS:
        kind, value = "id", customer
    if not value.strip() or len(value) > 320:
        raise BadName(f"name the customer as {', '.join(k + ':…' for k in KINDS)}")
    return {kind: value.strip()}


class Records:
    """A customer's records in one deployment: their complaints, holds and erasure."""

    def __init__(self, client: Client, settings: Settings) -> None:
        codec = client.data_converter.payload_codec
        if not isinstance(codec, Sealing) or not isinstance(codec.keys, LocalKeys):
            raise ErasureError("payloads are not sealed here (encryption is off): there is no key to destroy")
        self.client = client
        self.settings = settings
        self.keys: LocalKeys = codec.keys
        self.secret = codec.secret

    def subjects(self, customer: str) -> list[str]:
        found = self.keys.subjects_of(identity.keys(self.secret, named(customer)))
        if not found or not self.complaints(found):
            raise ErasureError(f"no complaint of {customer} is known here")
        return found

    def complaints(self, subjects: list[str]) -> list[str]:
        return sorted({cid for subject in subjects for cid in self.keys.cases_of(subject)})

    # ------------------------------------------------------------------ holds

    def hold(self, customer: str, reason: str, by: str) -> list[str]:
        subjects = self.subjects(customer)
        for subject in subjects:
            self.keys.hold(subject, reason, by)
        self._record("hold", subjects, by, reason=reason)
        return self.complaints(subjects)

    def release(self, customer: str, by: str) -> list[str]:
        subjects = self.subjects(customer)
        for subject in subjects:
            self.keys.release(subject)
        self._record("hold released", subjects, by)
        return self.complaints(subjects)

    # ------------------------------------------------------------------ erasure

    async def erase(self, customer: str, by: str, reason: str, now: dt.datetime | None = None) -> Outcome:
        subjects = self.subjects(customer)
        complaints = self.complaints(subjects)
        outcome = Outcome(customer=customer, complaints=complaints, erased=False)
        held = [h for s in subjects if (h := self.keys.held(s)) is not None]
        if held:
            outcome.refused.append(Refusal("", f"a legal hold is on the customer: {held[0]}", "legal hold"))
        when = now or dt.datetime.now(dt.UTC)
        for complaint_id in complaints:
            refusal = await self.retained(complaint_id, when)
            if refusal is not None:
                outcome.refused.append(refusal)
        if outcome.refused:
            self._record(
                "erasure refused", subjects, by, reason=reason, refused=[r.__dict__ for r in outcome.refused]
            )
            return outcome
        contacts = await self.contacts(complaints)
        for subject in subjects:
            self.keys.destroy(subject)
        outcome.removed = scrub(self.settings.home, complaints, contacts, channel_folders(self.settings))
        outcome.erased = True
        self._record(
            "erased", subjects, by, reason=reason, complaints=complaints, removed=len(outcome.removed)
        )
        return outcome

    async def retained(self, complaint_id: str, now: dt.datetime) -> Refusal | None:
        """Why the complaint's records must be kept now, or None when they may go."""
        handle = self.client.get_workflow_handle(complaint_id)
        try:
            log = await handle.query(names.LOG_QUERY)
        except (RPCError, TemporalError):
            return self._archived(complaint_id, now)
        ended = [e for e in log if e.get("action") in ("closed", "refused", "withdrawn")]
        if not ended:
            return Refusal(
                complaint_id,
                "the complaint is open: its records are kept until its retention period after it closes",
                "records.retention_years",
            )
        last = ended[-1]
        try:
            years = int(last.get("detail", {}).get("retention_years") or 0) or await self._retention(
                complaint_id
            )
        except (IntakeError, StoreError, RPCError, TemporalError):
            return Refusal(
                complaint_id, "its policy's retention cannot be read (the snapshot store of this home)"
            )
        closed = dt.datetime.fromisoformat(str(last["at"]).replace("Z", "+00:00"))
        until = years_after(closed, years)
        if now < until:
            return Refusal(
                complaint_id,
                f"the complaint ended on {closed.date().isoformat()} and its records are kept {years} years",
                f"records.retention_years ({last.get('source') or 'the policy'})",
                until.date().isoformat(),
            )
        return None

    def _archived(self, complaint_id: str, now: dt.datetime) -> Refusal | None:
        """The retention of a complaint Temporal no longer has, from its archived manifest."""
        from .archive import ArchiveError, open_archive

        try:
            manifest = open_archive(self.settings).manifests().get(complaint_id)
        except (ArchiveError, ValueError):
            manifest = None
        if manifest is None:
            return Refusal(
                complaint_id,
                "its record cannot be read from Temporal or the archive now: its closing date cannot be checked",
            )
        until = dt.datetime.fromisoformat(manifest.keep_until)
        if now < until:
            return Refusal(
                complaint_id,
                f"the complaint ended on {manifest.closed_at[:10]} and its records are kept "
                f"{manifest.retention_years} years (archived)",
                f"records.retention_years (policy {manifest.policy_id} {manifest.policy_version})",
                until.date().isoformat(),
            )
        return None

    async def _retention(self, complaint_id: str) -> int:
        from .policy.store import Store

        started = await original_input(self.client, complaint_id)
        return Store(self.settings.store_dir).policy(started.policy_sha).policy.records.retention_years

    async def contacts(self, complaints: list[str]) -> list[str]:
        """The customer's email addresses as their complaints give them (to find kept replies)."""
        found = set()
        for complaint_id in complaints:
            try:
                started = await original_input(self.client, complaint_id)
            except (IntakeError, RPCError):
                continue
            address = started.complaint.customer.contacts.email
            if address:
                found.add(address.strip().lower())
        return sorted(found)

    async def export(self, customer: str) -> dict[str, Any]:
        """Everything kept of the customer, in one document (a subject-access request)."""
        complaints = self.complaints(self.subjects(customer))
        out: dict[str, Any] = {"customer": customer, "exported": _now(), "complaints": []}
        for complaint_id in complaints:
            handle = self.client.get_workflow_handle(complaint_id)
            entry: dict[str, Any] = {"id": complaint_id}
            try:
                started = await original_input(self.client, complaint_id)
                entry["complaint"] = started.complaint.model_dump(mode="json")
                entry["status"] = await handle.query(names.STATUS_QUERY)
                entry["decisions"] = await handle.query(names.LOG_QUERY)
                entry["messages"] = [
                    {k: m.get(k) for k in ("status", "channel", "at")}
                    | {"template": (m.get("send") or {}).get("template")}
                    for m in await handle.query(names.MESSAGES_QUERY)
                ]
            except (IntakeError, RPCError, TemporalError) as exc:
                entry["unavailable"] = str(exc)
            folder = self.settings.home / "attachments" / complaint_id
            entry["attachments"] = (
                sorted(f.name.split("-", 1)[-1] for f in folder.iterdir()) if folder.is_dir() else []
            )
            out["complaints"].append(entry)
        # what was sent to them and what they wrote, as kept outside Temporal (mail, SMS, letters)
        out["messages_kept"] = [
            {"where": copy.where, "text": copy.text}
            for copy in kept_copies(
                self.settings.home,
                complaints,
                await self.contacts(complaints),
                channel_folders(self.settings),
            )
            if copy.text
        ]
        return out

    def _record(self, what: str, subjects: list[str], by: str, **more: Any) -> None:
        line = {"at": _now(), "what": what, "customer": subjects, "by": by, **more}
        with open(self.settings.home / "erasures.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


@dataclass
class Kept:
    """One clear-text copy of a complaint's messages outside Temporal."""

    where: (
        str  # mail/<key>, inbound/<key>, sms/messages.jsonl, letters/<file>, outbox/<file>, attachments/<id>
    )
    text: str  # what it says ("" for a folder of attachments)
    path: Path
    key: str = ""  # the Maildir key, or the SMS line


def kept_copies(
    home: Path, complaints: list[str], emails: list[str], folders: dict[str, Path] | None = None
) -> list[Kept]:
    """The clear-text copies of the complaints outside Temporal (``folders``: where the channels
    were set to keep them, else their places in the home): the mail sent and returned, the replies
    kept for staff from the customer's addresses, SMS lines, letters and outbox files, attachments."""
    folders = folders or {}
    found: list[Kept] = []
    ids = set(complaints)
    for box, folder in (("mail", folders.get("mail", home / "mail")), ("inbound", home / "inbound")):
        if not folder.is_dir():
            continue
        kept = mailbox.Maildir(folder, create=False)
        for key in list(kept.keys()):
            raw = kept.get_bytes(key)
            message = email.message_from_bytes(raw, policy=email.policy.compat32)
            sender = email.utils.parseaddr(str(message.get("From", "")))[1].strip().lower()
            # a bounce returns our message (its X-Ombuds-Complaint is inside); a reply is the customer's
            returned = any(f"X-Ombuds-Complaint: {cid}".encode() in raw for cid in ids)
            if (
                message.get("X-Ombuds-Complaint") in ids
                or returned
                or (box == "inbound" and sender in emails)
            ):
                found.append(Kept(f"{box}/{key}", raw.decode("utf-8", "replace"), folder, key))
    sms = folders.get("sms", home / "sms") / "messages.jsonl"
    if sms.exists():
        for line in sms.read_text("utf-8").splitlines():
            if _complaint_of_line(line) in ids:
                found.append(Kept("sms/messages.jsonl", line, sms, line))
    for kind in ("letters", "outbox"):
        for complaint_id in sorted(ids):
            # a message key is <complaint>:<seq>:<n>: its file starts with the stem of <complaint>:
            for path in sorted(folders.get(kind, home / kind).glob(f"{file_stem(complaint_id + ':')}*")):
                found.append(Kept(f"{kind}/{path.name}", path.read_text("utf-8", "replace"), path))
    for complaint_id in sorted(ids):
        attached = home / "attachments" / complaint_id
        if attached.is_dir():
            found.append(Kept(f"attachments/{complaint_id}", "", attached))
    return found


def scrub(
    home: Path, complaints: list[str], emails: list[str], folders: dict[str, Path] | None = None
) -> list[str]:
    """Remove the clear-text copies of the complaints outside Temporal; what was removed."""
    removed: list[str] = []
    lines: dict[Path, set[str]] = {}
    for copy in kept_copies(home, complaints, emails, folders):
        if copy.where.startswith(("mail/", "inbound/")):
            mailbox.Maildir(copy.path, create=False).discard(copy.key)
        elif copy.where.startswith("sms/"):
            lines.setdefault(copy.path, set()).add(copy.key)
            continue
        elif copy.path.is_dir():
            shutil.rmtree(copy.path)
        else:
            copy.path.unlink(missing_ok=True)
        removed.append(copy.where)
    for sms, gone in lines.items():
        with open(sms, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # as the SMS channel appends under it
            before = handle.read().splitlines()
            left = [line for line in before if line not in gone]
            handle.seek(0)
            handle.write("".join(line + "\n" for line in left))
            handle.truncate()
        removed.append(f"sms/messages.jsonl ({len(before) - len(left)} lines)")
    return removed


def channel_folders(settings: Settings) -> dict[str, Path]:
    """Where the built-in channels were set to keep their files, when not in the home."""
    found: dict[str, Path] = {}
    for kind, channel, setting in (
        ("mail", "email", "maildir"),
        ("sms", "sms", "folder"),
        ("letters", "letter", "folder"),
        ("outbox", "outbox", "folder"),
    ):
        value = (settings.channels.get(channel) or {}).get(setting)
        if value:
            found[kind] = Path(str(value))
    return found


def _complaint_of_line(line: str) -> str | None:
    try:
        found = json.loads(line).get("complaint")
    except (ValueError, AttributeError):
        return None
    return str(found) if found is not None else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
