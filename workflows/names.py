"""The names of workflows, their messages and the activities they call, declared once.

The workflow hosts, the engine's activities, intake, replay and the CLI all
read them from here; a name changed in one place only would split a running
system in two.
"""

from __future__ import annotations

import re

#: The workflow of one complaint, its id the complaint id.
COMPLAINT_WORKFLOW = "Complaint"
#: Signal: an event that needs no answer.
EVENT_SIGNAL = "event"
#: Update: an event answered with the decision taken.
ACT_UPDATE = "act"
STATUS_QUERY = "status"
LOG_QUERY = "log"
#: The messages the case sent (the latest 200 carried over a continue-as-new), each with its outcome.
MESSAGES_QUERY = "messages"
#: Signal: a message's delivery status, reported later by its channel (a bounce, an SMS receipt).
DELIVERY_SIGNAL = "delivery"

#: One customer's ledger (per-customer caps, repeat complaints), its id ``ledger-<customer key>``.
LEDGER_WORKFLOW = "CustomerLedger"
REGISTER_UPDATE = "register"
RESERVE_UPDATE = "reserve"
EXPECT_UPDATE = "expect"
HANDOVER_UPDATE = "handover"
ABSORB_UPDATE = "absorb"
WHEREABOUTS_UPDATE = "whereabouts"
LEDGER_STATE_QUERY = "state"

#: One identifier of a customer (a keyed hash), its id ``alias-<key>``: which ledger keeps them.
ALIAS_WORKFLOW = "CustomerAlias"
CLAIM_UPDATE = "claim"
REPOINT_UPDATE = "repoint"

#: Activities a complaint calls.
DELIVER = "deliver"
EXTEND_CALENDAR = "extend_calendar"
LEDGER_REGISTER = "ledger_register"
LEDGER_RESERVE = "ledger_reserve"
#: A decision published to the webhooks of the settings file.
PUBLISH = "publish"


#: A message key: the complaint id, then the decision and the message's number, and any later
#: channel it went on (``C-1:12:0.email``).
MESSAGE_KEY = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}):(\d{1,9}:\d{1,4}(?:\.[a-z0-9_-]{1,40}){0,5})")


def message_key(key: str) -> tuple[str, str] | None:
    """(complaint id, the message's own part) of a message key, or None for what is no key of ours."""
    found = MESSAGE_KEY.fullmatch(key)
    return (found[1], found[2]) if found else None


def ledger_id(customer_key: str) -> str:
    """The workflow id of a customer's ledger."""
    return f"ledger-{customer_key}"


def alias_id(identifier_key: str) -> str:
    """The workflow id of one identifier of a customer."""
    return f"alias-{identifier_key}"


#: The workflow the Temporal schedule ``ombuds-archive`` starts: archive the closed complaints.
ARCHIVE_WORKFLOW = "ArchiveSweep"
ARCHIVE_SCHEDULE = "ombuds-archive"
ARCHIVE_SWEEP = "archive_sweep"
