"""``ComplaintWorkflow``: the thin Temporal shell around the interpreter core's driver.

The workflow turns signals, updates and timers into driver calls, and the
driver's effects (messages, a longer calendar, the customer's ledger) into
activities, its next deadline into one durable timer, and its state into
search attributes.  Every effect happens in an activity; the only thing read
outside one is the pinned snapshot and case calendar, by sha256, which the
worker loaded and verified before the workflow code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from . import capture, names, search, snapshots
    from .core import (
        Answer,
        Event,
        ExtendCalendar,
        Interpreter,
        LogEntry,
        NeedsLongerCalendar,
        Rejected,
        Send,
        StatusView,
        status_view,
    )
    from .core.patches import (
        CASES_KEEP_MOVING,
        CASES_REACH_HELPDESKS,
        MESSAGES_REACH_PEOPLE,
        STAFF_WORK_THROUGH_THE_API,
    )
    from .core.publications import events, failed
    from .model import CaseResult, ComplaintInput

_UNSET = object()
_T = TypeVar("_T")
#: Longer calendars one step may ask for before its input is refused.
CALENDAR_TRIES = 3
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=20,
)
#: A webhook is tried for about 15 hours (its receiver drops the duplicates a retry may make).
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=2),
    maximum_attempts=18,
)
#: Messages a case carries over when it continues as new (their later reports find them).
CARRIED_MESSAGES = 200
#: Delivery reports a case keeps waiting at once (more are dropped: a provider repeating itself).
MAX_REPORTS = 100


def message_of(key: str) -> str:
    """A message key without its complaint id: ``<decision>:<n>`` and any later channel."""
    found = names.message_key(key)
    return found[1] if found else ""


@workflow.defn(name=names.COMPLAINT_WORKFLOW)
class ComplaintWorkflow:
    """One complaint, from intake to the last follow-up."""

    @workflow.init
    def __init__(self, input: ComplaintInput) -> None:
        #: What each change id answered last (a query, read-only, may not ask the history).
        self.patches: dict[str, bool] = {}
        self.input = input
        policy = snapshots.policy(input.policy_sha)
        instance = snapshots.instance(input.calendar_sha)
        complaint_id = workflow.info().workflow_id
        self.core = Interpreter(
            policy,
            instance,
            input.complaint,
            complaint_id,
            patched=self.patched,
            calendar_sha=input.calendar_sha,
        )
        # the digest intake took of the complaint: an erasure leaves it, and the log's chain, intact
        self.core.received_digest = input.complaint_sha256
        self.started = workflow.now()
        #: Case time is the real time (``cases-keep-moving``, not simulated); set as the run starts.
        self.real_time = False
        self.ready = input.state is not None
        if input.state is not None:
            self.core.state = input.state
            self.base = input.state.case_now or input.state.received
        else:
            self.base = int(input.complaint.received_at.timestamp())
        #: Signals as sent, in arrival order; the core reads (or refuses) each.
        self.inbox: list[Any] = []
        self.changed = False
        self.busy = 0
        #: The messages sent and their outcome, for the case's pages (a query; not in the history).
        self.sent: list[dict[str, Any]] = list(input.sent or [])
        #: The last decision published to the webhooks (a continued case published its log).
        self.published = input.state.seq if input.state is not None else 0
        #: Decisions being published, by event id (a continue-as-new carries them on).
        self.publishing: dict[str, dict[str, Any]] = {}
        #: Delivery reports (``delivery`` signal) waiting to be read.
        self.reports: list[Any] = []
        #: Reports that came before their message's activity had answered, by key.
        self.early: dict[str, Any] = {}
        self.sa_last: dict[str, object] = {
            pair.key.name: pair.value for pair in workflow.info().typed_search_attributes.search_attributes
        }

    # ------------------------------------------------------------------ time

    def patched(self, change: str) -> bool:
        """``workflow.patched``, remembered: a query or an update's validator (read-only) gets
        the answer the case last acted on, or, for a change it has not yet met, the answer the
        next workflow task will get (the change applies: nothing is being replayed then)."""
        if workflow.unsafe.is_read_only():
            return self.patches.get(change, True)
        self.patches[change] = workflow.patched(change)
        return self.patches[change]

    def now(self) -> int:
        """Case time: the real time; in a simulation (and before ``cases-keep-moving``), the
        intake instant plus the time elapsed in the workflow."""
        if self.real_time:
            return int(workflow.now().timestamp())
        return self.base + int((workflow.now() - self.started).total_seconds())

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, input: ComplaintInput) -> CaseResult:
        core = self.core
        self.real_time = workflow.patched(CASES_KEEP_MOVING) and not input.simulated
        for event in input.publishing or []:  # under way when the case continued as new
            self.start_publication(event)
        if input.state is None:
            await self.within_calendar(lambda: core.start(self.now(), input.linked_to))
            self.ready = True
            await asyncio.gather(self.flush(), self.register_with_ledger())
        while not core.state.finished:
            await self.ensure_horizon()
            await self.within_calendar(lambda: core.tick(self.now()))
            await self.flush()
            if core.state.finished:
                break
            if self.should_continue_as_new():
                await workflow.wait_condition(lambda: self.busy == 0 and workflow.all_handlers_finished())
                core.state.case_now = self.now()
                carried: dict[str, Any] = {"state": core.state, "calendar_sha": core.calendar_sha}
                if self.patched(CASES_REACH_HELPDESKS):  # a bounce may come after: its message goes along
                    carried["sent"] = self.sent[-CARRIED_MESSAGES:]
                    # so do the publications under way: the next run starts them again (the
                    # ledger and the receivers' ids keep each event from being taken twice)
                    carried["publishing"] = list(self.publishing.values())
                workflow.continue_as_new(input.model_copy(update=carried))
            wake = core.next_wake()
            timeout = None if wake is None else max(wake - self.now(), 0)
            self.report_log_to_replay()
            self.changed = False
            # a signal taken while an activity ran is read now, not at the next timer
            if not ((self.inbox or self.reports) and workflow.patched(CASES_KEEP_MOVING)):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            while self.inbox:
                await self.take(self.inbox.pop(0))
            while self.reports:
                await self.delivery_reported(self.reports.pop(0))
        # the case ends once every publication is taken or given up (a continue-as-new carries them)
        await workflow.wait_condition(
            lambda: self.busy == 0 and not self.publishing and workflow.all_handlers_finished()
        )
        self.upsert_search_attributes()
        self.report_log_to_replay()
        return CaseResult(
            complaint_id=core.state.complaint_id,
            status=core.state.status,
            policy_sha=core.state.policy_sha,
            log=core.state.log,
        )

    def report_log_to_replay(self) -> None:
        """While an auditor replays a history, hand the rebuilt decision log to the replayer."""
        if workflow.unsafe.is_replaying():
            capture.log(self.core.state.complaint_id, list(self.core.state.log), dict(self.core.state.texts))

    def should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.input.history_limit
        )

    async def ensure_horizon(self) -> None:
        """Extend the case calendar, through an activity, before the case outlives it."""
        request = self.core.calendar_extension(self.now())
        if request is not None:
            await self.extend_calendar(request)

    async def take(self, payload: Any) -> None:
        """One signal, read (or refused) by the core."""
        await self.within_calendar(lambda: self.core.receive(payload, self.now()))

    async def within_calendar(self, step: Callable[[], _T]) -> _T:
        """Run a step of the core; when it needs the case calendar past its horizon, extend the
        calendar and run it again (the core applied nothing the first time)."""
        for _ in range(CALENDAR_TRIES):
            try:
                return step()
            except NeedsLongerCalendar as need:
                await self.extend_calendar(self.core.calendar_to(need.needed))
        return step()

    async def extend_calendar(self, request: ExtendCalendar) -> None:
        new_sha: str = await workflow.execute_activity(
            names.EXTEND_CALENDAR,
            args=[request.policy_sha, request.calendar_sha, request.now],
            result_type=str,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=SEND_RETRY,
        )
        self.core.calendar_extended(self.now(), new_sha, snapshots.instance(new_sha))

    async def register_with_ledger(self) -> None:
        """Count the customer's earlier complaints (the repeat-complaint trigger)."""
        request = self.core.ledger_registration(self.now())
        if request is None:
            return
        previous: int = await workflow.execute_activity(
            names.LEDGER_REGISTER,
            args=[request.customer, request.registration],
            result_type=int,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=SEND_RETRY,
        )
        self.core.ledger_registered(self.now(), previous)
        await self.flush()

    async def settle_cap_checks(self) -> dict[int, Answer]:
        """Reserve compensation against the customer's ledger, one check at a time."""
        answers: dict[int, Answer] = {}
        while (reservation := self.core.next_reservation()) is not None:
            result: dict[str, Any] = await workflow.execute_activity(
                names.LEDGER_RESERVE,
                args=[reservation.customer, reservation.request(self.core.complaint_id)],
                result_type=dict,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=SEND_RETRY,
            )
            answers[reservation.check.proposal] = self.core.reserved(self.now(), reservation, result)
        return answers

    async def flush(self) -> None:
        """Deliver the core's pending sends through activities; surface failures."""
        self.busy += 1
        try:
            await self.settle_cap_checks()
        finally:
            self.busy -= 1
        sends = self.core.take_sends()
        if sends:
            self.busy += 1
            try:
                await asyncio.gather(*(self.deliver(send) for send in sends))
            finally:
                self.busy -= 1
        self.publish_new()
        self.upsert_search_attributes()

    def publish_new(self) -> None:
        """Publish the decisions logged since the last call whose type the input subscribes,
        each in an activity of its own that does not hold the case up (its receiver may be down
        for hours); the case ends only once every one has been taken or given up."""
        log = self.core.state.log
        if not self.input.publish or not log or log[-1].seq <= self.published:
            return
        if not self.patched(CASES_REACH_HELPDESKS):
            return
        fresh = [entry for entry in log if entry.seq > self.published]
        self.published = log[-1].seq
        for event in events(self.core, fresh, self.input.publish):
            self.start_publication(event)

    def start_publication(self, event: dict[str, Any]) -> None:
        self.publishing[str(event.get("id", ""))] = event
        workflow.start_activity(
            names.PUBLISH,
            args=[self.core.state.policy_sha, event],
            # receivers one after another, each given its own timeout (at most a minute)
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=PUBLISH_RETRY,
        ).add_done_callback(functools.partial(self.published_one, event=event))

    def published_one(self, done: asyncio.Future[Any], event: dict[str, Any]) -> None:
        """A publication ended: one given up on is logged (for the next step to publish)."""
        if self.publishing.pop(str(event.get("id", "")), None) is None:
            return  # carried on by a continue-as-new
        error = done.exception() if not done.cancelled() else None
        if error is not None:
            cause = error.cause if isinstance(error, ActivityError) and error.cause else error
            failed(self.core, self.now(), event, str(cause))
            self.changed = True

    async def deliver(self, send: Send) -> None:
        try:
            receipt: dict[str, Any] = await workflow.execute_activity(
                names.DELIVER,
                args=[self.core.state.policy_sha, send],
                result_type=dict,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SEND_RETRY,
            )
            self.remember(send, str(receipt.get("status", "")), str(receipt.get("channel", "")))
            if receipt.get("status") == "undeliverable":
                self.core.delivery_failed(self.now(), send, str(receipt.get("reference", "")))
            elif receipt.get("refused") and workflow.patched(MESSAGES_REACH_PEOPLE):
                refused = [str(channel) for channel in receipt["refused"]]
                self.core.delivered_elsewhere(self.now(), send, str(receipt.get("channel", "")), refused)
        except ActivityError as exc:
            cause = exc.cause or exc
            self.remember(send, "undeliverable", "")
            self.core.delivery_failed(self.now(), send, str(cause))

    async def delivery_reported(self, report: Any) -> None:
        """A message's channel reported its fate later (``delivery`` signal): delivered is noted;
        bounced or failed is logged and the message goes on the policy's next channel.  A report
        for a message this run did not send, or one already reported undelivered, is dropped."""
        if not isinstance(report, dict):
            return
        key, status = report.get("key"), report.get("status")
        if not isinstance(key, str) or status not in ("delivered", "failed", "bounced"):
            return
        # by the message's part of the key: a replay may run the case under another id
        message = message_of(key)
        sent = next((m for m in reversed(self.sent) if message_of(m["send"]["key"]) == message), None)
        if sent is None:  # a channel may answer before its activity has: kept for the message
            if message and len(self.early) < MAX_REPORTS:
                self.early[message] = report
            return
        if sent["status"] not in ("sent", "already_sent", "delivered"):
            return
        if status == "delivered":
            sent["status"] = "delivered"
            return
        if not self.patched(CASES_REACH_HELPDESKS):
            return
        sent["status"] = status
        send = Send.model_validate(sent["send"])
        channel = str(sent["channel"])
        rest = send.channels[send.channels.index(channel) + 1 :] if channel in send.channels else []
        reason = str(report.get("reason") or status)[:300]
        self.core.delivery_reported(self.now(), send, channel, status, reason, rest)
        if rest:
            self.busy += 1
            try:
                await self.deliver(send.model_copy(update={"key": f"{send.key}.{channel}", "channels": rest}))
            finally:
                self.busy -= 1
        self.publish_new()
        self.upsert_search_attributes()

    def remember(self, send: Send, status: str, channel: str) -> None:
        if len(self.sent) < 1000:
            at = self.core.local(self.now(), None)
            self.sent.append(
                {"send": send.model_dump(mode="json"), "status": status, "channel": channel, "at": at}
            )
            early = self.early.pop(message_of(send.key), None)
            if early is not None:
                self.reports.append(early)
                self.changed = True

    def upsert_search_attributes(self) -> None:
        """Upsert only the search attributes that changed (intake sets the first ones at start)."""
        if not self.input.search_attributes:
            return
        updates: list[SearchAttributeUpdate[Any]] = []
        queues = self.patched(STAFF_WORK_THROUGH_THE_API)
        for key, value in search.case_attributes(
            self.core, self.input.complaint.channel, queues=queues
        ).items():
            if self.sa_last.get(key.name, _UNSET) == value:
                continue
            self.sa_last[key.name] = value
            updates.append(key.value_set(value) if value is not None else key.value_unset())
        if updates:
            workflow.upsert_search_attributes(updates)

    # ------------------------------------------------------------------ inputs

    @workflow.signal(name=names.EVENT_SIGNAL)
    def event(self, event: Any) -> None:
        """Fire-and-forget input; an invalid one is logged as refused, never fails the case.

        Taken as sent (a payload that is no event is refused by the core, not dropped unseen),
        it waits in the inbox until intake has run."""
        self.inbox.append(event)
        self.changed = True

    @workflow.signal(name=names.DELIVERY_SIGNAL)
    def delivery(self, report: Any) -> None:
        """A message's delivery status from its channel: ``{"key", "status": delivered | failed |
        bounced, "reason"}``, read by the main loop (anything else is dropped there)."""
        # a worker of before ``cases-reach-helpdesks`` took no report: its histories replay so
        if len(self.reports) < MAX_REPORTS and self.patched(CASES_REACH_HELPDESKS):
            self.reports.append(report)
            self.changed = True

    @workflow.update(name=names.ACT_UPDATE)
    async def act(self, event: Event) -> Answer:
        """An input that needs an answer: the decision taken, logged with its rule."""
        await workflow.wait_condition(lambda: self.ready)
        self.busy += 1
        try:
            answer = await self.within_calendar(lambda: self.core.act(event, self.now()))
            if answer.status == "pending_cap_check":
                settled = await self.settle_cap_checks()
                answer = settled.get(int(answer.detail.get("proposal", 0)), answer)
        except (Rejected, NeedsLongerCalendar) as exc:
            self.report_answer_to_replay({"refused": str(exc)})
            raise ApplicationError(str(exc), type="Rejected", non_retryable=True) from None
        finally:
            self.busy -= 1
        self.changed = True
        await self.flush()
        self.report_answer_to_replay(answer)
        return answer

    def report_answer_to_replay(self, answer: Answer | dict[str, str]) -> None:
        """While an auditor replays a history, hand the rebuilt answer of an update to the replayer."""
        info = workflow.current_update_info()
        if workflow.unsafe.is_replaying() and info is not None:
            capture.answer(info.id, answer)

    @act.validator
    def validate_act(self, event: Event) -> None:
        self.core.screen(event)
        self.core.bounded(event, self.now())
        self.core.written(event)
        self.core.validate(event)

    @workflow.query(name=names.STATUS_QUERY)
    def status(self) -> StatusView:
        return status_view(self.core, self.now(), self.real_time)

    @workflow.query(name=names.LOG_QUERY)
    def log(self) -> list[LogEntry]:
        return self.core.state.log

    @workflow.query(name=names.MESSAGES_QUERY)
    def messages(self) -> list[dict[str, Any]]:
        return self.sent


__all__ = ["ComplaintWorkflow"]
