"""The names of workflows, their messages and the activities they call, declared once.

The workflow hosts, the engine's activities, intake, replay and the CLI all
read them from here; a name changed in one place only would split a running
system in two.
"""

from __future__ import annotations

#: The workflow of one complaint, its id the complaint id.
COMPLAINT_WORKFLOW = "Complaint"
#: Signal: an event that needs no answer.
EVENT_SIGNAL = "event"
#: Update: an event answered with the decision taken.
ACT_UPDATE = "act"
STATUS_QUERY = "status"
LOG_QUERY = "log"

#: One customer's ledger (per-customer caps, repeat complaints), its id ``ledger-<customer key>``.
LEDGER_WORKFLOW = "CustomerLedger"
REGISTER_UPDATE = "register"
RESERVE_UPDATE = "reserve"
LEDGER_STATE_QUERY = "state"

#: Activities a complaint calls.
DELIVER = "deliver"
EXTEND_CALENDAR = "extend_calendar"
LEDGER_REGISTER = "ledger_register"
LEDGER_RESERVE = "ledger_reserve"


def ledger_id(customer_key: str) -> str:
    """The workflow id of a customer's ledger."""
    return f"ledger-{customer_key}"
