"""``clocks``: SLA clocks, from the case events that start and stop them to their deadlines.

- :mod:`.running` starts, stops, pauses, resumes and restarts clocks on case events;
- :mod:`.deadlines` fires what falls due: warnings, breaches and notices to the customer;
- :mod:`.extension` extends a clock within the cap the policy sets.
"""
