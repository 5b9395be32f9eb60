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
#: Every change id, oldest first.
PATCHES = (EXTENSION_KEEPS_PAUSED_TIME, HANDOFF_SUMMARY_OPTIONAL)
