"""``compensation.option_sets``: remedies offered together; the customer chooses one of them."""

from __future__ import annotations

from ombuds.engine.policy.durations import parse_duration
from ombuds.engine.policy.model import Compensation, LocalText

from .. import notifications, values
from ..case import Case, Rejected, answer
from ..clocks import running
from ..events import Answer, ChooseOption, OfferOptions
from ..patches import MESSAGES_WORTH_READING


def _title(compensation: Compensation, option: str) -> LocalText | None:
    bundle = compensation.bundles.get(option)
    return bundle.title if bundle is not None else compensation.remedies[option].title


def on_offer_options(case: Case, event: OfferOptions, now: int) -> Answer:
    """Offer the first option set that applies; the customer chooses one of its remedies."""
    compensation = case.policy.compensation
    for i, option_set in enumerate(compensation.option_sets):
        if case.when(option_set.when):
            case.state.offered = list(option_set.options)
            titles = [case.text(_title(compensation, o)) for o in option_set.options]
            entry = case.log(
                now,
                "event:offer_options",
                f"compensation.option_sets[{i}]",
                "options offered",
                event.actor,
                options=option_set.options,
            )
            events = case.policy.notifications.events
            template = option_set.template or (
                events["compensation_offered"].template if "compensation_offered" in events else None
            )
            if case.patched(MESSAGES_WORTH_READING):
                # one message: every option with its amount, and by when to answer
                by = case.calendar().due(now, parse_duration(option_set.answer_within))
                options = [values.remedy(case, o) for o in option_set.options]
                answer_by = values.instant(case, by, promised=True)
                notifications.send(case, entry, template, options=options, answer_by=answer_by)
            else:
                notifications.send(case, entry, template, options=titles)
            return answer("offered", entry, options=option_set.options)
    entry = case.log(now, "event:offer_options", "compensation.option_sets", "no options apply", event.actor)
    return answer("no_options", entry, "no option set applies to this complaint")


def remedies_of(case: Case, option: str) -> list[str]:
    """The remedies an option gives: a bundle's, or the one remedy."""
    bundle = case.policy.compensation.bundles.get(option)
    return list(bundle.remedies) if bundle is not None else [option]


def check_choice(case: Case, event: ChooseOption) -> None:
    if event.option not in case.state.offered:
        offered = case.state.offered
        raise Rejected(f'"{event.option}" was not offered; offered: {", ".join(offered) or "nothing"}')


def on_choose_option(case: Case, event: ChooseOption, now: int) -> Answer:
    s = case.state
    s.chosen = event.option
    entry = case.log(
        now,
        "event:choose_option",
        "compensation.option_sets",
        "customer chose",
        event.actor,
        option=event.option,
    )
    if case.patched(MESSAGES_WORTH_READING):
        decline_others(case, now, event)
    running.process(case, now, "option_chosen", event.actor)  # "or when the customer accepts"
    return answer("chosen", entry, option=event.option)


def decline_others(case: Case, now: int, event: ChooseOption) -> None:
    """A grant of another option of the offer is declined by the customer's choice: the status,
    the total and the letters say what the customer chose, not what they turned down."""
    s = case.state
    chosen = set(remedies_of(case, event.option or ""))
    offered = {r for option in s.offered for r in remedies_of(case, option)}
    for p in s.proposals:
        if p.status == "accepted" and p.remedy in offered and p.remedy not in chosen:
            p.status = "declined"
            p.reason = f"the customer chose {event.option}"
            s.compensation_total -= p.amount
            case.log(
                now,
                "event:choose_option",
                "compensation.option_sets",
                "compensation declined",
                event.actor,
                proposal=p.number,
                remedy=p.remedy,
                amount=str(p.amount),
                total=str(s.compensation_total),
            )
