"""The interpreter core: one module per policy section, a pure driver, no Temporal.

==================  ==================================================
section             module
==================  ==================================================
intake              :mod:`.intake`
classification      :mod:`.classification`
stages              :mod:`.stages`
clocks              :mod:`.clocks` (running, deadlines, extension)
dates               :mod:`.dates`
authority,          :mod:`.escalation`
escalation
compensation        :mod:`.compensation` (proposals, option_sets)
callbacks           :mod:`.callbacks`
notifications       :mod:`.notifications`
follow_up           :mod:`.follow_up`
resolve, reopen,    :mod:`.lifecycle`
withdraw, close
==================  ==================================================

:mod:`.case` holds the case a section works on, :mod:`.state` what it knows,
:mod:`.events` its inputs, :mod:`.driver` the table from event kind to handler
and the effects a host carries out, :mod:`.status` what ``ombuds status`` shows.
"""

from .case import Rejected, iso
from .driver import Interpreter
from .effects import ExtendCalendar, NeedsLongerCalendar
from .events import SYSTEM, Actor, Answer, Event
from .state import CaseState, LogEntry, Send
from .status import StatusView, status_view

__all__ = [
    "SYSTEM",
    "Actor",
    "Answer",
    "CaseState",
    "Event",
    "ExtendCalendar",
    "Interpreter",
    "LogEntry",
    "NeedsLongerCalendar",
    "Rejected",
    "Send",
    "StatusView",
    "iso",
    "status_view",
]
