"""Intake: choose the policy for a complaint, pin it, and start its workflow."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from ombuds.engine.policy import hygiene
from ombuds.engine.policy.compile import compile_validated, extended, instantiate, select_calendars
from ombuds.engine.policy.errors import PolicyError, PolicyInvalid, Report
from ombuds.engine.policy.expressions import case_variables, complaint_variables
from ombuds.engine.policy.model import Complaint
from ombuds.engine.policy.rules import in_effect, select_policy
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.engine.policy.store import Store
from ombuds.engine.policy.validate import Validated, across_policies, validate_file
from ombuds.workflows import names, search
from ombuds.workflows.core import Interpreter, NeedsLongerCalendar, StatusView
from ombuds.workflows.core.state import complaint_digest
from ombuds.workflows.model import ComplaintInput

from .codec import opened
from .replay import started_input
from .settings import Settings
from .webhooks import subscribed

#: How far ahead of this machine's clock a complaint's receipt may lie (clocks differ a little).
CLOCK_SKEW = dt.timedelta(minutes=5)


def _rounded(delta: dt.timedelta) -> str:
    """A time difference as people say it: 3 days, 5 hours, 12 minutes."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{seconds} seconds"


class IntakeError(Exception):
    """A complaint that cannot be submitted (no policy, duplicate id)."""


def check_received(complaint: Complaint) -> None:
    """A complaint on the real clock was received by now (within :data:`CLOCK_SKEW`)."""
    ahead = complaint.received_at - dt.datetime.now(dt.UTC)
    if ahead > CLOCK_SKEW:
        raise IntakeError(
            f"received_at {complaint.received_at.isoformat()} is in the future "
            f"({_rounded(ahead)} ahead of this machine's clock; {int(CLOCK_SKEW.total_seconds() // 60)} "
            "minutes are allowed for clocks that differ); to run it at its own dates, submit with --simulated"
        )


@dataclass
class Submitted:
    complaint_id: str
    policy: CompiledPolicy
    started: bool
    reason: str = ""
    #: Why intake refuses the complaint (its workflow records the refusal and tells the customer).
    refused: str = ""


def load_policies(folder: Path) -> tuple[list[CompiledPolicy], Report]:
    """Compile every valid policy in a folder; the report lists the invalid ones."""
    compiled, report, _ = _load(folder)
    return compiled, report


def _load(folder: Path) -> tuple[list[CompiledPolicy], Report, list[tuple[Path, Validated]]]:
    report = Report()
    compiled = []
    loaded = []
    for path in sorted(folder.glob("*.y*ml")):
        validated = validate_file(path)
        report.extend(validated.report.problems)
        loaded.append((path, validated))
        if validated.ok:
            compiled.append(compile_validated(validated))
    report.extend(across_policies([v for _, v in loaded]))
    return compiled, report, loaded


def load_in_effect(folder: Path, store: Store) -> tuple[list[CompiledPolicy], Report]:
    """The policies intake works with: every valid file, and for a file that is not valid the last
    valid snapshot of it the store holds.  The report has the problems and what was kept, and a
    warning where a file changed while its version did not."""
    compiled, report, loaded = _load(folder)
    usable = []
    valid = iter(compiled)
    for path, validated in loaded:
        if validated.ok:
            policy = next(valid)
            usable.append(policy)
            earlier = store.remember(policy, path.name)
            if earlier:
                report.add(_version_unchanged(path, validated, policy, earlier))
            continue
        kept = store.last_valid(path.name)
        if kept is not None:
            usable.append(kept)
        report.add(_not_in_effect(path, kept))
    return usable, report


def _version_unchanged(
    path: Path, validated: Validated, policy: CompiledPolicy, earlier: list[str]
) -> PolicyError:
    loc = ("policy", "version")
    line, col = validated.document.position(loc) if validated.document else (1, 1)
    before = ", ".join(sha[:12] for sha in earlier)
    return PolicyError(
        str(path),
        line,
        col,
        "policy.version",
        f"{policy.id} {policy.version} changed since it was stored (sha256 {before}); it is now "
        f"sha256 {policy.sha256[:12]}: two different procedures carry the same version",
        "raise policy.version when the procedure changes",
        "warning",
        "duplicate-policy",
    )


def _not_in_effect(path: Path, kept: CompiledPolicy | None) -> PolicyError:
    if kept is not None:
        what = (
            f"it is not used: the last valid snapshot of this file, {kept.id} {kept.version} "
            f"(sha256 {kept.sha256[:12]}), stays in effect"
        )
    else:
        what = "it is not used, and no valid snapshot of this file was stored before: no complaint goes to it"
    return PolicyError(str(path), 1, 1, "", f"this policy file has errors: {what}", None, "warning")


def new_complaint_id(received: dt.datetime) -> str:
    return f"C-{received.strftime('%Y%m%d')}-{uuid.uuid4().hex[:10]}"


class Intake:
    """Selects policies, writes snapshots and calendars to the store, starts workflows."""

    def __init__(self, settings: Settings, policies: list[CompiledPolicy] | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.store_dir)
        #: Problems of the policy files, and which snapshots stay in effect for the invalid ones.
        self.report = Report()
        if policies is None:
            folder = settings.policies
            if not folder.is_dir():
                raise IntakeError(
                    f"no policies folder at {folder.resolve()}: run ombuds from the project folder, "
                    "or set OMBUDS_POLICIES (and OMBUDS_HOME, which the worker must share)"
                )
            if not any(folder.glob("*.y*ml")):
                raise IntakeError(f"no policies (*.yaml) in {folder.resolve()}; set OMBUDS_POLICIES")
            policies, self.report = load_in_effect(folder, self.store)
            if not policies:
                raise PolicyInvalid(self.report)
        self.policies = policies
        self._calendars: dict[tuple[object, ...], str] = {}
        for policy in policies:
            self.store.put_policy(policy)

    def select(self, complaint: Complaint) -> CompiledPolicy:
        """The policy for a complaint among those in effect on the day it was received."""
        received = complaint.received_at.date()
        policies = [p.policy for p in self.policies]
        chosen = select_policy(policies, complaint_variables(complaint), case_variables(), on=received)
        if chosen is None:
            if policies and not in_effect(policies, received):
                first = min(p.policy.effective for p in policies)
                raise IntakeError(
                    f"no policy is in effect on {received.isoformat()}, the day the complaint was received "
                    f"(the earliest takes effect on {first.isoformat()})"
                )
            raise IntakeError("no policy applies to this complaint and none is marked default")
        return next(p for p in self.policies if p.policy is chosen)

    def prepare(
        self,
        complaint: Complaint,
        *,
        search_attributes: bool = True,
        simulated: bool = False,
        policy: CompiledPolicy | None = None,
    ) -> tuple[Complaint, CompiledPolicy, ComplaintInput]:
        """The workflow input for a complaint: its policy and case calendar pinned by sha256.

        A complaint runs on the real clock, so one received in the future (more than
        :data:`CLOCK_SKEW` ahead of this machine's clock) is refused; ``simulated`` runs it on
        its own clock from ``received_at`` instead (policy tests, what-if).  ``policy``: this
        one, whatever the policies' selection would choose (a simulation names its policy)."""
        complaint, problems = hygiene.inspect(complaint)
        if problems:
            raise IntakeError("; ".join(str(p) for p in problems))
        if not simulated:
            check_received(complaint)
        if complaint.id is None:
            complaint = complaint.model_copy(update={"id": new_complaint_id(complaint.received_at)})
        policy = policy or self.select(complaint)
        calendar_sha = self.case_calendar(policy, complaint)
        workflow_input = ComplaintInput(
            complaint=complaint,
            policy_sha=policy.sha256,
            calendar_sha=calendar_sha,
            complaint_sha256=complaint_digest(complaint),
            search_attributes=search_attributes,
            simulated=simulated,
            publish=subscribed(self.settings.webhooks),
        )
        return complaint, policy, workflow_input

    def case_calendar(self, policy: CompiledPolicy, complaint: Complaint) -> str:
        """The sha of the case calendar; complaints received on the same day share one."""
        selected = select_calendars(policy.policy, complaint)
        day = complaint.received_at.astimezone(dt.UTC).date()
        key = (policy.sha256, day, tuple(sorted(selected.items())), complaint.customer.timezone)
        sha = self._calendars.get(key)
        if sha is None:
            noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
            instance = instantiate(policy, noon, complaint, selected=selected)
            sha = self._calendars[key] = self.store.put_instance(instance)
        return sha

    def registered(self, complaint_id: str) -> bool:
        return (self.settings.register_dir / complaint_id).exists()

    def register(self, complaint_id: str, policy: CompiledPolicy) -> None:
        folder = self.settings.register_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / complaint_id).write_text(f"{policy.id} {policy.version} {policy.sha256}\n", "utf-8")

    def preview(self, policy: CompiledPolicy, workflow_input: ComplaintInput) -> Interpreter:
        """The pure core after intake, run here as the workflow will (same input, same case time)."""
        complaint = workflow_input.complaint
        instance = self.store.instance(workflow_input.calendar_sha)
        received = int(complaint.received_at.timestamp())
        for _ in range(8):
            core = Interpreter(policy, instance, complaint, complaint.id or "")
            try:
                core.start(received)
                return core
            except NeedsLongerCalendar as need:
                # as the workflow does: a longer case calendar (a sparse calendar, a long clock)
                instance = extended(policy, instance, need.needed)
        core = Interpreter(policy, instance, complaint, complaint.id or "")
        core.start(received)
        return core

    def first_attributes(self, core: Interpreter, workflow_input: ComplaintInput) -> TypedSearchAttributes:
        """The search attributes the case will have after intake, set with the start,
        so the workflow's first task has nothing to upsert."""
        complaint = workflow_input.complaint
        pairs = [
            SearchAttributePair(key, value)
            for key, value in search.case_attributes(core, complaint.channel).items()
            if value is not None
        ]
        return TypedSearchAttributes(pairs)

    async def reopen(
        self, client: Client, complaint_id: str, received_at: dt.datetime, *, search_attributes: bool = True
    ) -> Submitted:
        """Reopen a closed complaint as a new run with its own id, linked to the original.

        Its own id gives it its own idempotency keys; it runs under today's policy
        for the same complaint, as a new case would.
        """
        description = await client.get_workflow_handle(complaint_id).describe()
        if description.status is None or description.status.name == "RUNNING":
            raise IntakeError(f"{complaint_id} is still running: send it a `reopen` event instead")
        original = await original_input(client, complaint_id)
        n = 1
        while self.registered(f"{complaint_id}-R{n}"):
            n += 1
        complaint = original.complaint.model_copy(
            update={"id": f"{complaint_id}-R{n}", "received_at": received_at}
        )
        return await self.submit(
            client,
            complaint,
            linked_to=complaint_id,
            search_attributes=search_attributes,
            simulated=original.simulated,  # a what-if reopens as a what-if
        )

    async def submit(
        self,
        client: Client,
        complaint: Complaint,
        *,
        search_attributes: bool = True,
        linked_to: str | None = None,
        simulated: bool = False,
    ) -> Submitted:
        complaint, policy, workflow_input = self.prepare(
            complaint, search_attributes=search_attributes, simulated=simulated
        )
        if linked_to is not None:
            workflow_input = workflow_input.model_copy(update={"linked_to": linked_to})
        assert complaint.id is not None
        if self.registered(complaint.id):
            return Submitted(complaint.id, policy, False, "already registered")
        core = self.preview(policy, workflow_input)
        attributes = self.first_attributes(core, workflow_input)
        refused = next((str(e.detail.get("reason", "")) for e in core.state.log if e.action == "refused"), "")
        try:
            await client.start_workflow(
                names.COMPLAINT_WORKFLOW,
                workflow_input,
                id=complaint.id,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                memo={
                    "policy_id": policy.id,
                    "policy_version": policy.version,
                    "policy_sha256": policy.sha256,
                },
                search_attributes=attributes if search_attributes else None,
            )
        except WorkflowAlreadyStartedError:
            self.register(complaint.id, policy)
            return Submitted(complaint.id, policy, False, "a complaint with this id was already submitted")
        self.register(complaint.id, policy)
        return Submitted(complaint.id, policy, True, refused=refused)


async def original_input(client: Client, complaint_id: str) -> ComplaintInput:
    """The workflow input of a complaint, read from the first event of its history."""
    history = await client.get_workflow_handle(complaint_id).fetch_history()
    found = started_input(await opened(history, client.data_converter.payload_codec))
    if found is None:
        raise IntakeError(f"{complaint_id} is not a complaint's workflow")
    return found


def handle(client: Client, complaint_id: str) -> WorkflowHandle[object, object]:
    return client.get_workflow_handle(complaint_id)


def status_now(store: Store, view: StatusView) -> StatusView:
    """A real-time case's status as of this moment: the time left on each clock counted from
    now, with the snapshots in the store (without them, as of the case's last task)."""
    from ombuds.engine.policy.store import StoreError
    from ombuds.workflows.core.status import as_of

    if not view.real_time:
        return view
    try:
        policy, instance = store.policy(view.policy_sha), store.instance(view.calendar_sha)
    except (StoreError, OSError):
        return view
    return as_of(view, policy.policy, instance, int(dt.datetime.now(dt.UTC).timestamp()))
