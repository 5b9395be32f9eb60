"""``notifications``: which messages a decision sends, to whom, on which channels, and when.

A message is a :class:`~.state.Send`: the template, the audience, the channels
in order of preference, the locale and exactly the variables the template
reads.  Its key ``<complaint>:<decision seq>:<n>`` makes delivery idempotent.
Quiet hours hold a customer's message back until they end.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Any

from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.model import CONTACT_FOR_CHANNEL
from ombuds.engine.policy.vocabulary import COMPUTED_TEMPLATE_VARIABLES

from . import dates, values
from .case import Case, entry_time, iso
from .patches import MESSAGES_REACH_PEOPLE, MESSAGES_WORTH_READING
from .state import Deferred, LogEntry, Send

#: Notification events whose newest message replaces an unsent older one (``messages-worth-reading``).
TOPICS = frozenset({"escalated"})


def send(
    case: Case,
    entry: LogEntry,
    template: str | None,
    *,
    to: str = "customer",
    channels: Sequence[str] | None = None,
    rule: str = "",
    recipient: str | None = None,
    topic: str | None = None,
    **context: Any,
) -> None:
    """Send a template for a decision (once per decision, however many settings name it).

    A staff message is for the case's level unless ``recipient`` names someone else.  A customer
    message on a ``topic`` (``escalated``) replaces one on the same topic not yet sent, so the
    customer is never told two different things seconds apart (``messages-worth-reading``)."""
    if template is None or (case.hushed and to != "staff"):
        return
    worded = case.patched(MESSAGES_WORTH_READING)
    now = entry_time(entry)
    notes = case.policy.notifications
    prefix = f"{case.complaint_id}:{entry.seq}:"
    same_entry = [s for s in case.sends if s.key.startswith(prefix)]
    if worded:  # a message held back in this decision counts too
        same_entry += [d.send for d in case.state.deferred if d.send.key.startswith(prefix)]
    audience = "staff" if to == "staff" else "customer"
    if any(s.template == template and s.to == audience for s in same_entry):
        return
    key = f"{case.complaint_id}:{entry.seq}:{len(same_entry)}"
    chosen = list(channels or [notes.preferred, *notes.fallback])
    said = template_context(case, case.compiled.template_variables(template), audience=audience, **context)
    if worded:
        said = values.worded(case, said, now, audience)
    message = Send(
        key=key,
        to=audience,
        template=template,
        locale=case.complaint.customer.locale or case.policy.policy.locale,
        channels=chosen,
        context=said,
        rule=rule or entry.rule,
        recipient=(recipient or f"level:{case.level_id}")
        if audience == "staff" and case.patched(MESSAGES_REACH_PEOPLE)
        else None,
        topic=topic if worded and audience == "customer" else None,
    )
    if message.topic is not None:
        replace_topic(case, entry, message.topic)
    awake = outside_quiet_hours(case, message, now, entry.trigger)
    if awake is None:
        return
    message = awake
    settle = (combine_seconds(case) or (SETTLE if message.topic else 0)) if worded else 0
    if settle and audience == "customer":
        hold_to_combine(case, message, now, settle)
        return
    case.sends.append(message)


#: How long a customer message on a topic waits for a newer one on it when the policy combines
#: no messages (``notifications.combine_within``).
SETTLE = 60


def outside_quiet_hours(case: Case, message: Send, now: int, trigger: str) -> Send | None:
    """A customer message decided inside the quiet hours goes by its channels that are not quiet,
    or is held until the quiet hours end (None: held, and logged)."""
    quiet = case.policy.notifications.quiet_hours
    until = quiet_until(case, now) if quiet is not None and message.to != "staff" else None
    reachable_channels = [c for c in message.channels if reachable(case, c)]
    if quiet is None or until is None or not any(c in quiet.channels for c in reachable_channels):
        return message
    others = [c for c in reachable_channels if c not in quiet.channels]
    if others:
        return message.model_copy(update={"channels": others})
    case.state.deferred.append(Deferred(at=until, send=message))
    case.log(
        now,
        trigger,
        "notifications.quiet_hours",
        "held for quiet hours",
        template=message.template,
        until=iso(until),
    )
    return None


def combine_seconds(case: Case) -> int:
    """``notifications.combine_within`` in seconds, 0 when the policy combines no messages."""
    within = case.policy.notifications.combine_within
    return parse_duration(within).approx_minutes() * 60 if within else 0


def hold_to_combine(case: Case, message: Send, now: int, settle: int) -> None:
    """Hold a customer message to go out with the others decided before the held ones leave."""
    s = case.state
    batch = next((d.at for d in s.deferred if d.combine and d.at > now), None)
    s.deferred.append(Deferred(at=batch or now + settle, send=message, combine=True))


def replace_topic(case: Case, entry: LogEntry, topic: str, why: str | None = None) -> None:
    """Drop the customer messages on ``topic`` of earlier decisions not sent yet: a newer one
    says what holds now."""
    s = case.state
    mine = f"{case.complaint_id}:{entry.seq}:"

    def older(m: Send) -> bool:
        return m.topic == topic and not m.key.startswith(mine)

    dropped = [m for m in case.sends if older(m)] + [d.send for d in s.deferred if older(d.send)]
    if not dropped:
        return
    case.sends[:] = [m for m in case.sends if not older(m)]
    s.deferred = [d for d in s.deferred if not older(d.send)]
    for old in dropped:
        case.log(
            entry_time(entry),
            entry.trigger,
            entry.rule,
            "message replaced",
            template=old.template,
            replaced=decided(old.key),
            reason=why or f"a newer {topic} message replaces it before it was sent",
        )


def announce(case: Case, entry: LogEntry, event: str, **context: Any) -> bool:
    """Send the policy's message for a notification event, to its audience on its channels."""
    note = case.policy.notifications.events.get(event)  # type: ignore[call-overload]
    if note is None:
        return False
    topic = event if event in TOPICS else None
    send(case, entry, note.template, to=note.to, channels=note.channels or None, topic=topic, **context)
    return True


def reachable(case: Case, channel: str) -> bool:
    """Whether the customer gave a contact for this channel."""
    contacts = case.complaint.customer.contacts
    return bool(getattr(contacts, CONTACT_FOR_CHANNEL.get(channel, channel), None))


def quiet_until(case: Case, now: int) -> int | None:
    """The end of the quiet hours ``now`` falls in, or None outside them."""
    quiet = case.policy.notifications.quiet_hours
    if quiet is None:
        return None
    offsets = case.instance.customer_offsets
    if quiet.timezone == "customer" and offsets:
        i = max(bisect.bisect_right([t for t, _ in offsets], now) - 1, 0)
        offset = offsets[i][1]
    else:
        offset = case.calendar().offset_at(now)
    local = now + offset
    minute = (local % 86_400) // 60
    start = int(quiet.start[:2]) * 60 + int(quiet.start[3:])
    end = int(quiet.end[:2]) * 60 + int(quiet.end[3:])
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    return local - local % 60 + ((end - minute) % 1440) * 60 - offset


def template_context(
    case: Case, needed: frozenset[str] | None = None, *, audience: str = "staff", **extra: Any
) -> dict[str, Any]:
    """What a template sees: only the names it reads, plus who the message goes to."""
    s = case.state
    want = (needed or frozenset(COMPUTED_TEMPLATE_VARIABLES)) | {"customer", "complaint", "case"}
    out: dict[str, Any] = {
        "complaint": case.template_complaint,
        "customer": case.template_complaint["customer"],
        "case": {
            "status": s.status,
            "stage": s.stage,
            "level": case.level_id,
            "severity": s.severity,
            "priority": s.priority,
            "category": s.category,
            "survey_score": s.survey_score,
        },
    }
    if "policy" in want:
        meta = case.policy.policy
        out["policy"] = {"id": meta.id, "version": meta.version, "title": meta.title}
    if case.patched(MESSAGES_WORTH_READING):
        out.update(typed_values(case, want, audience))
    else:
        out.update(text_values(case, want))
    out.update({k: v for k, v in extra.items() if v is not None and k in want})
    return out


def text_values(case: Case, want: frozenset[str]) -> dict[str, Any]:
    """The computed variables as local text, before ``messages-worth-reading``."""
    s = case.state
    out: dict[str, Any] = {}
    if "deadlines" in want:
        deadlines = {
            cid: case.local(c.due, case.clock_def(cid).calendar)
            for cid, c in s.clocks.items()
            if c.due is not None and c.status in ("running", "paused", "breached")
        }
        for p in s.promises:
            if p.kept is None:
                deadlines.setdefault(p.kind, case.local(p.due))
        out["deadlines"] = deadlines
    if "dates" in want:
        out["dates"] = dates.derived(case)
    if "level" in want:
        out["level"] = case.text(case.policy.authority[s.level].title)
    if "received" in want:
        out["received"] = case.local(s.received)
    return out


def typed_values(case: Case, want: frozenset[str], audience: str = "staff") -> dict[str, Any]:
    """The computed variables as values the delivery words (``messages-worth-reading``).

    A customer is told only deadlines still to come (a breached one is no promise); staff see
    breached ones too.  Of open promises of one kind (a level's decision) the newest counts."""
    s = case.state
    out: dict[str, Any] = {}
    if "deadlines" in want:
        shown = ("running", "paused") if audience == "customer" else ("running", "paused", "breached")
        deadlines = {
            cid: values.instant(case, c.due, case.clock_def(cid).calendar, promised=True)
            for cid, c in s.clocks.items()
            if c.due is not None and c.status in shown
        }
        for p in s.promises:
            if p.kept is None and not p.superseded and p.kind not in s.clocks:
                deadlines[p.kind] = values.instant(case, p.due, promised=True)
        out["deadlines"] = deadlines
    if "dates" in want:
        out["dates"] = {name: values.date(day) for name, day in dates.derived(case).items()}
    if "level" in want:
        out["level"] = values.label("level", case.level_id)
    if "received" in want:
        out["received"] = values.instant(case, s.received)
    return out


def release_held(case: Case, now: int) -> None:
    """Messages held for quiet hours go out once the quiet hours end."""
    s = case.state
    due = [d for d in s.deferred if d.at <= now]
    if due:
        s.deferred = [d for d in s.deferred if d.at > now]
        release_combined(case, now, [d.send for d in due if d.combine])
        for held in (d for d in due if not d.combine):
            case.log(
                now,
                "deadline:quiet_hours",
                "notifications.quiet_hours",
                "sent after quiet hours",
                template=held.send.template,
            )
            case.sends.append(held.send)


def decided(key: str) -> str:
    """A message by the decision that sent it, ``<seq>:<n>``: its key without the complaint id
    (the decision log names no id a replay under another workflow id would change)."""
    return ":".join(key.rsplit(":", 2)[-2:])


def release_combined(case: Case, now: int, held: list[Send]) -> None:
    """Messages held to be combined go out as one: the first, with the others after it."""
    if not held:
        return
    first, *more = held
    if more:
        case.log(
            now,
            "deadline:combine",
            # with no window set, only held escalation notices meet (each waits SETTLE)
            "notifications.combine_within" if combine_seconds(case) else "notifications",
            "messages combined",
            templates=[m.template for m in held],
            messages=[decided(m.key) for m in held],
        )
        first = first.model_copy(update={"also": more})
    awake = outside_quiet_hours(case, first, now, "deadline:combine")  # the window may end at night
    if awake is not None:
        case.sends.append(awake)


def upcoming(case: Case) -> Iterator[tuple[int, int, str]]:
    """Held messages: (when they go out, when to wake, what)."""
    for d in case.state.deferred:
        yield d.at, d.at, f"held message: {d.send.template}"


def delivered_elsewhere(case: Case, now: int, message: Send, channel: str, refused: list[str]) -> None:
    """A message that went out on a later channel of its list, because earlier ones refused it."""
    case.log(
        now,
        f"delivery:{message.key}",
        message.rule,
        "delivered on a fallback channel",
        template=message.template,
        to=message.to,
        channel=channel,
        refused=refused,
    )


def delivery_reported(
    case: Case, now: int, message: Send, channel: str, status: str, reason: str, rest: list[str]
) -> None:
    """A message its channel took and later reported undelivered (a bounce, an SMS provider's
    failure receipt): logged, then sent on the policy's next channels (``rest``) for it, or,
    when none is left, surfaced as failed."""
    case.log(
        now,
        f"delivery:{decided(message.key)}",
        message.rule,
        "message bounced" if status == "bounced" else "message not delivered",
        template=message.template,
        to=message.to,
        channel=channel,
        reason=reason[:300],
        then=rest or None,
    )
    if not rest:
        delivery_failed(case, now, message, f"{channel}: {reason}")


def delivery_failed(case: Case, now: int, message: Send, error: str) -> None:
    """A message that could not be delivered after all retries is surfaced, never dropped."""
    case.state.undelivered += 1
    case.log(
        now,
        f"delivery:{message.key}",
        message.rule,
        "delivery failed",
        template=message.template,
        to=message.to,
        error=error[:300],
    )
