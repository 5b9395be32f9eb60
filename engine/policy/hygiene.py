"""What intake accepts of a complaint: clean text, contacts that can be reached, instants in range.

Text fields are normalised, not refused: Unicode NFC, and no control characters. Free
text (the description, a postal address, the firm's custom fields) keeps its line
breaks (written ``\\n``); a one-line field (a name, a subject, an id) gets a space for
any line break or tab.  Every other control character (C0, C1) and the bidirectional
overrides and isolates that make text read differently from what it says (U+202A–U+202E,
U+2066–U+2069) are removed.  So no recipient, subject or name can carry ``\\r\\nBcc:`` or
a terminal escape into a message.

Contacts are refused when they cannot be reached: an email address must have the form of
one; a phone number must be valid in its country's numbering plan (a national number is
read in the country of the customer's region) and is kept in E.164 (``+442079460000``);
the customer's timezone must be an IANA name.  ``received_at`` lies between :data:`EARLIEST` and :data:`LATEST`,
and the incident date is not after receipt.

:func:`inspect` answers the cleaned complaint and each problem with the field it is in;
``ombuds validate`` locates them in the file, intake refuses the complaint naming them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from pydantic import ValidationError

from .calendar import CalendarError, zone
from .errors import ErrorCode
from .model import Complaint

#: The first and the last receipt instants a complaint may have (deadlines up to the
#: longest duration a policy may write still fall inside Python's dates and the holiday tables).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: What a text an author writes (a policy, a template) may not hold: C0 and C1 controls but line
#: breaks and tabs, and the bidirectional overrides and isolates.
CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u00a0-\U0010ffff]+"
_EMAIL = re.compile(
    rf"^{_LOCAL}(\.{_LOCAL})*@([A-Za-z0-9\u00a0-\U0010ffff]([A-Za-z0-9\-\u00a0-\U0010ffff]*"
    r"[A-Za-z0-9\u00a0-\U0010ffff])?\.)+[A-Za-z\u00a0-\U0010ffff]{2,63}$"
)

#: Fields whose line breaks are kept.
FREE_TEXT: frozenset[tuple[str, ...]] = frozenset(
    {("description",), ("customer", "contacts", "postal_address")}
)


@dataclass(frozen=True)
class Problem:
    """Something in a complaint that intake cannot take, and the field it is in."""

    loc: tuple[str | int, ...]
    message: str
    hint: str | None = None
    code: ErrorCode = "contact"

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" + (f" ({self.hint})" if self.hint else "")


def clean_text(text: str, *, free: bool) -> str:
    """NFC, no control characters; line breaks kept as ``\\n`` in free text, else spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _LINE_BREAKS.sub("\n" if free else " ", text)
    text = text.replace("\t", " ")
    kept = (c for c in text if c not in _BIDI and (c == "\n" or unicodedata.category(c) != "Cc"))
    out = "".join(kept)
    return out if free else out.strip()


def _free(loc: tuple[str | int, ...]) -> bool:
    return loc in FREE_TEXT or loc[:1] == ("custom",)


def cleaned(
    value: Any, free: Callable[[tuple[str | int, ...]], bool] = _free, loc: tuple[str | int, ...] = ()
) -> Any:
    """Every text in ``value`` (mappings and lists of them) cleaned by :func:`clean_text`;
    ``free`` says which locations are free text (by default a complaint's)."""
    if isinstance(value, str):
        return clean_text(value, free=free(loc))
    if isinstance(value, dict):
        return {key: cleaned(item, free, (*loc, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [cleaned(item, free, (*loc, i)) for i, item in enumerate(value)]
    return value


def valid_email(text: str) -> bool:
    local, _, domain = text.rpartition("@")
    return len(text) <= 254 and len(local) <= 64 and len(domain) <= 253 and bool(_EMAIL.match(text))


def e164(text: str, region: str | None, *, strict: bool = False) -> str | None:
    """The number in E.164, or None when it cannot be a phone number (``strict``: when it is
    not a number of its country's numbering plan, not only of a possible length)."""
    country = (region or "").split("-")[0].upper() or None
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number)(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def inspect(complaint: Complaint) -> tuple[Complaint, list[Problem]]:
    """The complaint with its text cleaned, and what intake must refuse in it."""
    data = cleaned(complaint.model_dump(mode="python", exclude_unset=True))
    problems: list[Problem] = []
    customer = data.get("customer", {})
    contacts = customer.get("contacts", {})
    email = contacts.get("email")
    if email is not None and not valid_email(email):
        problems.append(
            Problem(
                ("customer", "contacts", "email"),
                f"{complaint.customer.contacts.email!r} is not an email address",
                "write one address, e.g. ana@example.org",
            )
        )
    phone = contacts.get("phone")
    if phone is not None:
        number = e164(phone, customer.get("region"), strict=True)
        if number is None:
            problems.append(
                Problem(
                    ("customer", "contacts", "phone"),
                    f"{complaint.customer.contacts.phone!r} is not a phone number",
                    "write it in international form, e.g. +44 20 7946 0000, or give the customer's region",
                )
            )
        else:
            contacts["phone"] = number
    timezone = customer.get("timezone")
    if timezone is not None:
        try:
            zone(timezone)
        except CalendarError:
            problems.append(
                Problem(
                    ("customer", "timezone"),
                    f'"{timezone}" is not a timezone',
                    "an IANA name, e.g. Europe/London",
                    "timezone",
                )
            )
    received = complaint.received_at
    if not EARLIEST <= received < LATEST:
        problems.append(
            Problem(
                ("received_at",),
                f"{received.isoformat()} is out of range",
                f"a complaint is received between {EARLIEST.year} and {LATEST.year - 1}",
                "range",
            )
        )
    elif complaint.incident_date is not None and complaint.incident_date > received.date() + dt.timedelta(
        days=1
    ):
        problems.append(
            Problem(
                ("incident_date",),
                f"{complaint.incident_date.isoformat()} is after the complaint was received",
                f"received {received.date().isoformat()}",
                "range",
            )
        )
    if problems:
        return complaint, problems
    try:
        result = Complaint.model_validate(data)
    except ValidationError as exc:  # NFC can lengthen a text past its limit
        return complaint, [
            Problem(tuple(e["loc"]), f"once normalised (Unicode NFC): {e['msg']}", None, "length")
            for e in exc.errors()
        ]
    return (complaint if result == complaint else result), []
