"""Changes of behaviour that a recorded history may predate, each behind one change id.

The core asks ``case.patched(change_id)`` where its behaviour changed; the
workflow passes ``workflow.patched``, so a history recorded before the change
replays the old way.  One change id per issue that changes decisions, activity
inputs or log wording, with one new golden set beside the old ones
(docs/architecture.md, "Deliberate changes").
"""

from __future__ import annotations

#: An extension (and its cap) keeps the working time the clock spent paused.
EXTENSION_KEEPS_PAUSED_TIME = "extension-keeps-paused-time"
#: ``handoff_summary: false`` leaves out the summary built from the case.
HANDOFF_SUMMARY_OPTIONAL = "handoff-summary-optional"
#: Policy settings act as the reference says (issue 14): the check-in owner, approval_from, `to: next`
#: for compensation, the low-score action's precedence, the survey reminder's audience and
#: channels, the callback reminder and offer, a clock started while waiting logged before its
#: pause, the approver in the log of a grant, a case closed without a final response.
SETTINGS_ACT_AS_WRITTEN = "settings-act-as-written"
#: Money within every limit (issue 15): the ledger counts by its own clock, pending proposals count
#: against the per-complaint cap, four eyes on every approval, and who may act is screened.
MONEY_WITHIN_LIMITS = "money-within-limits"
#: Cases keep moving (issue 16): every input within bounds, an input the core cannot apply
#: refused and logged, a signal taken at once, case time on the real clock, and what fell due
#: while nothing could act handled at once, in order, with its due instant.
CASES_KEEP_MOVING = "cases-keep-moving"
#: Messages reach people (issue 18): a staff message names whom it is for (the level, or the
#: callback's owner) for the delivery to look up in the staff directory, and a message that
#: went out on a later channel because an earlier one refused it is logged.
MESSAGES_REACH_PEOPLE = "messages-reach-people"
#: Messages worth reading (issue 19): a message carries typed values (instants, dates, money,
#: labels of the pinned policy) for the delivery to word in the reader's language, not English
#: text; the resolution says what was done and granted; an offer lists every option with its
#: amount and answer date; a grant is told as a grant; an internal approval step is not told to
#: the customer; a later escalation notice replaces an earlier one not yet sent; a question,
#: a reply and a resolution's cancelled callbacks reach the customer; promised times are told
#: inside working hours; messages within ``notifications.combine_within`` go out as one.
MESSAGES_WORTH_READING = "messages-worth-reading"
#: Deadlines as regimes count them (issue 20): a message sent on an event tells the clocks and
#: dates the event starts; a date at the end of a working day is told as that day; a date past
#: the case calendar asks for a longer one instead of disappearing; a repeating clock, and a clock
#: started by another's breach, count on from the deadline.
DEADLINES_AS_REGIMES_COUNT = "deadlines-as-regimes-count"
#: Staff work through the API (issue 21): a case's assignee and its flags (its queue, a
#: proposal awaiting a level's approval, an undelivered message) are search attributes, for the
#: work queues to filter on.
STAFF_WORK_THROUGH_THE_API = "staff-work-through-the-api"
#: Cases reach helpdesks (issue 23): decisions are published to the settings' webhooks (when the
#: input names event types), and a message's later delivery status (a bounce, a provider's
#: failure) is logged and sends the message on the policy's next channel.
CASES_REACH_HELPDESKS = "cases-reach-helpdesks"
#: Records an auditor can trust (issue 25): each decision-log entry commits to the one before it,
#: the first to the policy sha and the complaint's digest (logged at registration), so that the
#: log's last digest stands for all of it; replay holds every activity input to what the code asks.
TAMPER_EVIDENT_RECORDS = "tamper-evident-records"
#: Personal data out of the decision log (issue 24): a free text in a decision's detail (what the
#: customer or staff wrote to or about the customer, and a reason the customer gave) is logged as
#: a reference, its field and sha256, so the log can be kept and verified after an erasure; the
#: text itself stays in the case's state (sealed with the customer's key) for staff to read.
PERSONAL_DATA_BY_REFERENCE = "personal-data-by-reference"
#: Every change id, oldest first.
PATCHES = (
    EXTENSION_KEEPS_PAUSED_TIME,
    HANDOFF_SUMMARY_OPTIONAL,
    SETTINGS_ACT_AS_WRITTEN,
    MONEY_WITHIN_LIMITS,
    CASES_KEEP_MOVING,
    MESSAGES_REACH_PEOPLE,
    MESSAGES_WORTH_READING,
    DEADLINES_AS_REGIMES_COUNT,
    STAFF_WORK_THROUGH_THE_API,
    CASES_REACH_HELPDESKS,
    TAMPER_EVIDENT_RECORDS,
    PERSONAL_DATA_BY_REFERENCE,
)
