"""``compensation.option_sets``: remedies offered together; the customer chooses one of them."""

from __future__ import annotations

from .. import notifications
from ..case import Case, Rejected, answer
from ..events import Answer, ChooseOption, OfferOptions


def on_offer_options(case: Case, event: OfferOptions, now: int) -> Answer:
    """Offer the first option set that applies; the customer chooses one of its remedies."""
    compensation = case.policy.compensation
    for i, option_set in enumerate(compensation.option_sets):
        if case.when(option_set.when):
            case.state.offered = list(option_set.options)
            titles = [compensation.remedies[o].title for o in option_set.options]
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
            notifications.send(case, entry, template, options=titles)
            return answer("offered", entry, options=option_set.options)
    entry = case.log(now, "event:offer_options", "compensation.option_sets", "no options apply", event.actor)
    return answer("no_options", entry, "no option set applies to this complaint")


def check_choice(case: Case, event: ChooseOption) -> None:
    if event.option not in case.state.offered:
        offered = case.state.offered
        raise Rejected(f'"{event.option}" was not offered; offered: {", ".join(offered) or "nothing"}')


def on_choose_option(case: Case, event: ChooseOption, now: int) -> Answer:
    case.state.chosen = event.option
    entry = case.log(
        now,
        "event:choose_option",
        "compensation.option_sets",
        "customer chose",
        event.actor,
        option=event.option,
    )
    return answer("chosen", entry, option=event.option)
