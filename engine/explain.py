"""A plain-language summary of a policy that an operations lead can check."""

from __future__ import annotations

import re

from .policy.business_time import CountingRules
from .policy.durations import Duration, parse_duration
from .policy.model import Clock, Counting, Policy, text_in
from .policy.plan import DatePlan
from .policy.rules import clock_calendar
from .policy.snapshot import CompiledPolicy
from .policy.vocabulary import event_words

_WEEKDAYS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat", "sun": "Sun"}


def cel(condition: str | None) -> str:
    """A condition on one line, however the YAML folded it."""
    return " ".join((condition or "").split())


def date_rule(plan: DatePlan) -> str:
    """How a derived date is made, in words: ``6 months after the final response is sent``."""
    words = [
        f"{t.on.isoformat()}" if t.on is not None else f"{t.offset} after {event_words(t.anchor)}"
        for t in plan.terms
    ]
    if plan.pick == "one":
        return words[0]
    return f"the {'later' if plan.pick == 'later' else 'earlier'} of " + "; ".join(words)


def convention(target: str | Duration, counting: Counting | CountingRules) -> str:
    """The counting convention of a clock, in plain words."""
    d = target if isinstance(target, Duration) else parse_duration(target)
    parts: list[str] = []
    if d.unit in ("minutes", "hours"):
        parts.append("elapsed clock time, nights and weekends included")
    elif d.unit in ("business_minutes", "business_hours"):
        parts.append("working time only, by the calendar's hours, holidays and closed days")
    elif d.unit == "business_days":
        if counting.business_days == "close_of_business":
            n = d.amount
            receipt = (
                "the day of receipt counts as day 1"
                if counting.receipt_day == "included"
                else "the day of receipt does not count"
            )
            parts.append(f"ends at close of business on the {_ordinal(n)} working day; {receipt}")
        else:
            parts.append(f"{d.amount} x the working-day length, counted in working hours")
    else:
        unit = {"days": "calendar days", "weeks": "weeks", "months": "months", "years": "years"}[d.unit]
        receipt = (
            "the day of receipt counts"
            if counting.receipt_day == "included"
            else "the day of receipt does not count"
        )
        end = (
            "ends at 23:59:59 local time of the last day"
            if counting.end_of_day
            else "ends at the same local time of day"
        )
        extra = (
            "; months end on the corresponding date, clamped to the month's end"
            if d.unit in ("months", "years")
            else ""
        )
        parts.append(f"{unit}; {receipt}; {end}{extra}")
    if d.unit not in ("minutes", "hours"):
        kept = counting.out_of_hours == "receipt_date"
        if kept and d.unit == "business_days" and counting.business_days == "close_of_business":
            parts.append("received on a closed day or out of hours, that date is still the day of receipt")
        elif counting.out_of_hours == "next_opening" or d.is_business:
            parts.append("received out of hours counts from the next opening")
        else:
            parts.append("counts from the moment of receipt, even out of hours")
    return "; ".join(parts)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _clock_lines(policy: Policy, clock: Clock) -> list[str]:
    cal = clock_calendar(policy, clock)
    lines = [
        f"- {text_in(clock.title, None, policy.policy.locale) or clock.id} [{clock.id}, {clock.kind}]: "
        f"within {clock.target} (calendar {cal})"
    ]
    default = convention(clock.target, clock.counting)
    for prio, target in clock.by_priority.items():
        own = convention(target, clock.counting)
        # a target in other units is counted another way: say how, next to it
        differs = re.sub(r"\d+", "N", own) != re.sub(r"\d+", "N", default)
        lines.append(f"    priority {prio}: within {target}" + (f" ({own})" if differs else ""))
    lines.append(f"    counting: {default}")
    if clock.when_due:
        then = clock.when_due.action.replace("_", " ")
        stage = f" {clock.when_due.stage}" if clock.when_due.stage else ""
        told = f', after sending "{clock.when_due.notify}"' if clock.when_due.notify else ""
        lines.append(
            f"    when due it does not breach: the case is {'closed' if then == 'close' else 'resolved' if then == 'resolve' else 'moved to' + stage}{told}"
        )
    if clock.at_latest:
        lines.append(f'    due by the date "{clock.at_latest}" at the latest, when that comes first')
    if clock.at_earliest:
        lines.append(f'    not due before the date "{clock.at_earliest}", when that comes later')
    stops = ", ".join(event_words(e) for e in clock.stops) or "never"
    lines.append(f"    starts when {event_words(clock.starts)}; stops when {stops}")
    if clock.pause_while_waiting_on_customer:
        lines.append("    paused while waiting on the customer")
    if clock.repeat:
        lines.append("    repeats: the customer is updated every period until it stops")
    if clock.on_reopen != "none":
        lines.append(f"    on reopen: {clock.on_reopen}s")
    for warning in clock.warnings:
        when = f"at {warning.at} of the target" if warning.at else f"{warning.before} before the deadline"
        told = f" (tells staff: {', '.join(warning.notify)})" if warning.notify else ""
        lines.append(f"    warning {when}{told}")
    if clock.notify_customer:
        lines.append(f'    when due, the customer is sent "{clock.notify_customer}"')
    if clock.notify_on_breach:
        lines.append(f"    on breach, staff are sent: {', '.join(clock.notify_on_breach)}")
    if clock.extension:
        ext = clock.extension
        cond = f" when {cel(ext.when)}" if ext.when else ""
        before = " sent before the original deadline" if ext.notice_before_deadline else ""
        how_far = (
            f"to at most {ext.max_total}" if ext.max_total else "with no cap, by a target or to a stated date"
        )
        lines.append(
            f'    may be extended{cond} {how_far}, with a notice ("{ext.notice}"){before} giving the reason and new date'
        )
    return lines


def explain(compiled: CompiledPolicy) -> str:
    p = compiled.policy
    m = p.policy
    out = [
        f"{m.title}",
        f"  policy {m.id} version {m.version}, owned by {m.owner}",
        f"  effective {m.effective}, review by {m.review_by}; records kept {p.records.retention_years} years",
        f"  sha256 {compiled.sha256}",
        "",
        "Applies to:",
        f"  {'complaints where ' + cel(p.applies_to.when) if p.applies_to.when else 'every complaint'} "
        f"(priority {p.applies_to.priority}{', default policy' if p.applies_to.default else ''})",
        "",
        "Calendars:",
    ]
    for name, cal in p.calendars.items():
        hours = "; ".join(f"{_WEEKDAYS[d]} {', '.join(r)}" for d, r in cal.hours.items())
        hol = (
            ", ".join(f"{h.country}{'-' + h.subdivision if h.subdivision else ''}" for h in cal.holidays)
            or "none"
        )
        out.append(f"  {name}: {cal.timezone}; {hours}; public holidays: {hol}")
        if cal.closed:
            out.append(f"    also closed: {', '.join(str(d) for d in cal.closed)}")
        if cal.open:
            out.append(f"    also open: {', '.join(str(d.date) for d in cal.open)}")
    for name, choices in p.calendar_selectors.items():
        rules = "; ".join(
            f"{c.calendar} when {cel(c.when)}" if c.when else f"otherwise {c.calendar}" for c in choices
        )
        out.append(f"  {name} (chosen per complaint): {rules}")
    out += ["", "Intake:", f"  accepted channels: {', '.join(p.intake.channels)}"]
    if p.intake.required:
        out.append(f"  required: {', '.join(p.intake.required)}")
    if p.intake.primary_response:
        out.append(f'  at intake the customer is sent "{p.intake.primary_response}" with the planned dates')
    ack = p.notifications.events.get("acknowledged")
    if ack is not None:
        when = "at intake" if p.intake.acknowledge == "at_intake" else "when staff acknowledge"
        out.append(f'  the written acknowledgement ("{ack.template}") is sent {when}')
    for refusal in p.intake.refusals:
        out.append(
            f'  refused as {refusal.reason} when {cel(refusal.when)}; the customer is told why ("{refusal.template}")'
        )
    if p.classification:
        out += ["", "Classification (first match wins):"]
        for rule in p.classification:
            sets = ", ".join(f"{k} {v}" for k, v in rule.set.model_dump(exclude_none=True).items())
            out.append(f"  {'when ' + cel(rule.when) if rule.when else 'otherwise'}: {sets}")
    out += ["", "Stages (the customer is told on entering each):"]
    for stage in p.stages:
        note = f' → sends "{stage.notify}"' if stage.notify else ""
        title = text_in(stage.title, None, m.locale) or stage.id
        out.append(f"  {stage.id}: {title}{note}{' (final)' if stage.final else ''}")
    if p.clocks:
        out += ["", "Deadlines:"]
        for clock in p.clocks:
            out += ["  " + line for line in _clock_lines(p, clock)]
    if p.dates:
        out += ["", "Dates the customer is told:"]
        for date, plan in zip(p.dates, compiled.plan.dates, strict=True):
            conventions = sorted(
                {convention(t.offset, t.counting) for t in plan.terms if t.offset is not None}
            )
            how = f" ({'; '.join(conventions)})" if conventions else ""
            out.append(f"  {text_in(date.title, None, m.locale)}: {date_rule(plan)}{how}")
    out += ["", f"Authority levels (lowest first; amounts in {m.currency}):"]
    for level in p.authority:
        lim = level.limits
        line = (
            f"  {level.id} ({text_in(level.title, None, m.locale)}): up to {lim.max_amount} {m.currency}, discount up to "
            f"{lim.max_discount_percent:g}%, {lim.max_coupons} coupon(s); remedies: {', '.join(lim.remedies) or 'none'}"
        )
        out.append(line)
        if level.decision_within:
            out.append(f"    promises a decision within {level.decision_within} of receiving a case")
    if p.escalation:
        out += ["", "Escalation:"]
        for esc in p.escalation:
            t = esc.trigger
            trig = (
                t.on.replace("_", " ")
                + (f" of {t.clock}" if t.clock else "")
                + (f" when {cel(t.when)}" if t.when else "")
            )
            target = "the next level" if esc.to == "next" else esc.to
            hand = ", with a hand-off summary" if esc.handoff_summary else ""
            out.append(f"  on {trig}: to {target}{hand}")
    comp = p.compensation
    if comp.remedies:
        out += ["", "Compensation:"]
        out.append(
            "  remedies: "
            + ", ".join(f"{k} ({text_in(r.title, None, m.locale)})" for k, r in comp.remedies.items())
        )
        for name, remedy in comp.remedies.items():
            for row in remedy.amounts:
                cond = f"when {cel(row.when)}" if row.when else "otherwise"
                out.append(f"  {name} amount {cond}: {row.amount}")
        for name, bundle in comp.bundles.items():
            out.append(
                f"  {name} ({text_in(bundle.title, None, m.locale)}): {' + '.join(bundle.remedies)} together"
            )
        if comp.other_currency == "convert":
            rates = ", ".join(f"{c} at {r}" for c, r in comp.exchange_rates.items())
            out.append(f"  amounts computed in another currency are converted: {rates}")
        for option_set in comp.option_sets:
            cond = f"when {cel(option_set.when)}" if option_set.when else "otherwise"
            out.append(f"  {cond}: the customer chooses one of {', '.join(option_set.options)}")
        if comp.caps.per_complaint is not None:
            out.append(f"  at most {comp.caps.per_complaint} {m.currency} per complaint")
        if comp.caps.per_customer:
            c = comp.caps.per_customer
            more = (
                f", at most {c.max_compensated_complaints} compensated complaints"
                if c.max_compensated_complaints
                else ""
            )
            out.append(f"  at most {c.amount} {m.currency} per customer per {c.period}{more}")
        out.append("  above a level's limit, the next level must approve")
    if p.callbacks:
        cb = p.callbacks
        out += [
            "",
            "Callbacks:",
            f"  offered {'when ' + cel(cb.offer_when) if cb.offer_when else 'always'}; within {cb.within} inside working hours; "
            f"owner: {cb.owner.replace('_', ' ')}; {cb.attempts} attempts {cb.spacing} apart"
            + (f"; owner reminded {cb.remind_owner_before} before" if cb.remind_owner_before else ""),
        ]
    notes = p.notifications
    out += [
        "",
        "Who is told what:",
        f"  preferred channel {notes.preferred}"
        + (f", fallback {', '.join(notes.fallback)}" if notes.fallback else ""),
    ]
    if notes.quiet_hours:
        q = notes.quiet_hours
        out.append(f"  no {', '.join(q.channels)} between {q.start} and {q.end} ({q.timezone} time)")
    for event, message in notes.events.items():
        chans = ", ".join(message.channels) or "preferred channel"
        out.append(f'  {event}: {message.to} gets "{message.template}" by {chans}')
    follow = p.follow_up
    if follow.survey or follow.thank_you or follow.check_in_call:
        out += ["", "Follow-up:"]
        if follow.survey:
            s = follow.survey
            out.append(
                f"  satisfaction survey {s.after} after resolution by {s.channel}: {len(s.questions)} questions, "
                f"scale {s.scale[0]}-{s.scale[1]}"
                + (f", reminder after {s.reminder_after}" if s.reminder_after else "")
                + f", expires after {s.expires_after}"
            )
            if s.low_score:
                out.append(f"    a score below {s.low_score.below} triggers: {s.low_score.action}")
        if follow.thank_you:
            out.append(f"  thank-you message {follow.thank_you.after} after resolution")
        if follow.check_in_call:
            out.append(f"  check-in call {follow.check_in_call.after} after resolution")
    locales = sorted({loc for by in compiled.templates.values() for loc in by})
    out += ["", f"Templates: {len(compiled.templates)} messages in {', '.join(locales)}"]
    return "\n".join(out) + "\n"
