"""``follow_up``: after resolution, the satisfaction ``survey`` (with its reminder, expiry and
low-score action), the ``thank_you`` message and the ``check_in_call``.

Follow-ups are scheduled items of the case state; the driver fires them when
they fall due.  A reopened case drops the pending ones but its thank-you; a
withdrawn case drops all; a closed case keeps its thank-you and check-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ombuds.engine.policy.durations import Duration
from ombuds.engine.policy.plan import ELAPSED

from . import callbacks, escalation, notifications, values
from .case import Case, Rejected, answer
from .events import Answer, SurveyAnswer
from .patches import MESSAGES_WORTH_READING, SETTINGS_ACT_AS_WRITTEN
from .state import Scheduled

SURVEY = "survey"
SURVEY_REMINDER = "survey_reminder"
SURVEY_EXPIRY = "survey_expiry"
THANK_YOU = "thank_you"
CHECK_IN = "check_in"
#: While one of these is pending, a resolved case stays open for the survey's answer.
SURVEY_ITEMS = (SURVEY, SURVEY_REMINDER, SURVEY_EXPIRY)


def after(case: Case, now: int, duration: Duration) -> int:
    """``duration`` after ``now``, counted as elapsed time in the default calendar's timezone."""
    return case.calendar().due(now, duration, ELAPSED)


def schedule(case: Case, now: int) -> None:
    """The case is resolved: schedule its survey, thank-you and check-in call."""
    follow, plan, scheduled = case.policy.follow_up, case.plan, case.state.scheduled
    if follow.survey and plan.survey_after is not None:
        scheduled.append(
            Scheduled(kind=SURVEY, at=after(case, now, plan.survey_after), rule="follow_up.survey")
        )
    if follow.thank_you and plan.thank_you_after is not None:
        scheduled.append(
            Scheduled(kind=THANK_YOU, at=after(case, now, plan.thank_you_after), rule="follow_up.thank_you")
        )
    if follow.check_in_call and plan.check_in_after is not None:
        scheduled.append(
            Scheduled(kind=CHECK_IN, at=after(case, now, plan.check_in_after), rule="follow_up.check_in_call")
        )


def fire(case: Case, now: int) -> None:
    """Every scheduled item due at or before ``now`` (an item scheduled meanwhile included)."""
    for item in case.state.scheduled:
        if not item.done and item.at <= now:
            item.done = True
            fire_item(case, now, item)


def fire_item(case: Case, now: int, item: Scheduled) -> None:
    follow = case.policy.follow_up
    s = case.state
    survey = follow.survey
    if item.kind == SURVEY and survey:
        case.record_event(now, "survey")
        entry = case.log(now, "deadline:survey", item.rule, "survey sent", questions=len(survey.questions))
        questions: list[Any] = [case.text(q) for q in survey.questions]
        if case.patched(MESSAGES_WORTH_READING):  # each in the reader's language
            questions = [values.label("question", i) for i in range(len(survey.questions))]
        context: dict[str, Any] = {"survey_url": survey_url(case), "questions": questions}
        if not notifications.announce(case, entry, "survey", **context):
            notifications.send(case, entry, survey.template, channels=[survey.channel], **context)
        if case.plan.survey_reminder is not None:
            s.scheduled.append(
                Scheduled(
                    kind=SURVEY_REMINDER,
                    at=after(case, now, case.plan.survey_reminder),
                    rule="follow_up.survey.reminder_after",
                )
            )
        assert case.plan.survey_expiry is not None
        s.scheduled.append(
            Scheduled(
                kind=SURVEY_EXPIRY,
                at=after(case, now, case.plan.survey_expiry),
                rule="follow_up.survey.expires_after",
            )
        )
    elif item.kind == SURVEY_REMINDER and survey:
        if s.survey_score is None:
            entry = case.log(now, "deadline:survey_reminder", item.rule, "survey reminder sent")
            note = case.policy.notifications.events.get("survey_reminder")
            declared = note is not None and (note.to != "customer" or bool(note.channels))
            if declared and case.patched(SETTINGS_ACT_AS_WRITTEN):
                notifications.announce(case, entry, "survey_reminder", survey_url=survey_url(case))
            else:
                notifications.send(
                    case, entry, note.template if note else survey.template, survey_url=survey_url(case)
                )
    elif item.kind == SURVEY_EXPIRY:
        if s.survey_score is None:
            case.log(now, "deadline:survey_expiry", item.rule, "survey expired unanswered")
    elif item.kind == THANK_YOU and follow.thank_you:
        entry = case.log(now, "deadline:thank_you", item.rule, "thank-you sent")
        if not notifications.announce(case, entry, "thank_you"):
            notifications.send(case, entry, follow.thank_you.template, channels=[follow.thank_you.channel])
    elif item.kind == CHECK_IN:
        case.log(now, "deadline:check_in", item.rule, "check-in call due", owner=check_in_owner(case))
    elif item.kind.startswith(f"{callbacks.REMINDER}:"):
        callbacks.remind_owner(case, now, item)


def check_in_owner(case: Case) -> str:
    """Who makes the check-in call: the assigned agent, or the case's level, as ``owner`` says."""
    s, check_in = case.state, case.policy.follow_up.check_in_call
    before = s.assignee or case.level_id
    if check_in is None or check_in.owner == "assigned_agent":
        return before
    return case.level_id if before != case.level_id and case.patched(SETTINGS_ACT_AS_WRITTEN) else before


def survey_url(case: Case) -> str:
    return f"/survey/{case.complaint_id}"


def check_survey_answer(case: Case, event: SurveyAnswer) -> None:
    s = case.state
    survey = case.policy.follow_up.survey
    if survey is None or "survey" not in s.events:
        raise Rejected("no survey was sent")
    if event.answers is not None:
        if len(event.answers) != len(survey.questions):
            raise Rejected(
                f"the survey has {len(survey.questions)} questions, not {len(event.answers)} answers"
            )
        if any(not survey.scale[0] <= a <= survey.scale[1] for a in event.answers):
            raise Rejected(f"each answer must be between {survey.scale[0]} and {survey.scale[1]}")
        if event.score is not None and event.score != scored(case, event.model_copy(update={"score": None})):
            raise Rejected("score and the scored answer differ: send one of them")
    score = scored(case, event)
    if score is None or not survey.scale[0] <= score <= survey.scale[1]:
        raise Rejected(f"score must be between {survey.scale[0]} and {survey.scale[1]}")
    if s.survey_score is not None:
        raise Rejected("the survey was already answered")


def on_survey_answer(case: Case, event: SurveyAnswer, now: int) -> Answer:
    """The customer's score; a low one acts as ``low_score`` says and fires ``low_survey_score``."""
    s = case.state
    survey = case.policy.follow_up.survey
    assert survey is not None
    score = scored(case, event)
    s.survey_score = score
    for item in s.scheduled:
        if item.kind in (SURVEY_REMINDER, SURVEY_EXPIRY):
            item.done = True
    answered: dict[str, Any] = {"answers": event.answers} if event.answers is not None else {}
    entry = case.log(
        now,
        "event:survey_answer",
        "follow_up.survey",
        "survey answered",
        event.actor,
        score=score,
        **answered,
    )
    low = survey.low_score
    if low is not None and score is not None and score < low.below:
        action_entry = case.log(
            now,
            "event:survey_answer",
            "follow_up.survey.low_score",
            f"low score: {low.action}",
            event.actor,
            score=score,
            below=low.below,
        )
        for template in low.notify:
            notifications.send(case, action_entry, template, to="staff")
        if low.action in ("reopen", "escalate") and s.status == "resolved":
            case.reopen(now, event.actor, "event:survey_answer")
        # reopen and escalate fire the escalation rules on low scores (they may have conditions);
        # notify only notifies
        if (
            low.action != "notify"
            or not _rules_on_low_scores(case)
            or not case.patched(SETTINGS_ACT_AS_WRITTEN)
        ):
            escalation.trigger(case, now, "low_survey_score", "event:survey_answer", event.actor)
    return answer("recorded", entry, score=score)


def scored(case: Case, event: SurveyAnswer) -> int | None:
    """The score of an answer: ``score``, else the answer to the question ``low_score.question``
    names (the first when the policy names none)."""
    if event.score is not None or event.answers is None:
        return event.score
    survey = case.policy.follow_up.survey
    low = survey.low_score if survey else None
    index = (low.question if low else 1) - 1
    return event.answers[index] if 0 <= index < len(event.answers) else None


def _rules_on_low_scores(case: Case) -> bool:
    return any(rule.trigger.on == "low_survey_score" for rule in case.policy.escalation)


def survey_pending(case: Case) -> bool:
    """Whether the survey is still to be sent, reminded or answered."""
    return any(not x.done and x.kind in SURVEY_ITEMS for x in case.state.scheduled)


def keep_after_reopen(case: Case) -> None:
    """A reopened case drops its pending follow-ups but the thank-you."""
    case.state.scheduled = [x for x in case.state.scheduled if x.done or x.kind == THANK_YOU]


def keep_after_close(case: Case) -> None:
    """A closed case keeps its thank-you and check-in call."""
    case.state.scheduled = [x for x in case.state.scheduled if x.done or x.kind in (THANK_YOU, CHECK_IN)]


def cancel(case: Case) -> None:
    """A withdrawn case drops every pending follow-up."""
    case.state.scheduled = [x for x in case.state.scheduled if x.done]


def upcoming(case: Case) -> Iterator[tuple[int, int, str]]:
    """Pending follow-ups: (when, when to wake: then, what)."""
    for x in case.state.scheduled:
        if not x.done:
            yield x.at, x.at, x.kind.replace("_", " ")
