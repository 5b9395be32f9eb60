"""Archiving from Temporal: find the closed complaints not yet archived, archive them, apply the
retention periods, sign the chain's head.

Run by the Temporal schedule ``ombuds-archive`` (the ``ArchiveSweep`` workflow calls
:meth:`ArchiveActivities.archive_sweep`) or by hand (``ombuds archive run``).  Idempotent and
resumable: a case is archived once its chain entry is written, and a sweep cut short leaves
the rest to the next one.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecution,
    WorkflowExecutionStatus,
)
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError

from ombuds.workflows import names

from .archive import Archive, ArchiveError, CaseFiles, Signer, open_archive
from .codec import opened
from .keys import LocalKeys
from .policy.store import Store
from .replay import pinned_snapshots, recorded_log, started_input
from .settings import Settings

log = structlog.get_logger("ombuds.archive")

CLOSED = f"WorkflowType = '{names.COMPLAINT_WORKFLOW}' AND ExecutionStatus != 'Running'"
ENDINGS = ("closed", "refused", "withdrawn")


@dataclass
class Swept:
    archived: list[str] = field(default_factory=list)
    reduced: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    checkpoint: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "archived": self.archived,
            "reduced": self.reduced,
            "held": self.held,
            "failed": self.failed,
            "checkpoint": self.checkpoint,
        }


async def closed_complaints(client: Client) -> dict[str, list[WorkflowExecution]]:
    """Every complaint with a closed run, its runs oldest first."""
    runs: dict[str, list[WorkflowExecution]] = collections.defaultdict(list)
    async for execution in client.list_workflows(CLOSED):
        runs[execution.id].append(execution)
    return {wid: sorted(found, key=lambda e: e.start_time) for wid, found in runs.items()}


async def pending(client: Client, archive: Archive) -> list[str]:
    """The closed complaints (their last run closed) the archive does not hold yet."""
    done = set(archive.manifests())
    out = []
    for workflow_id, runs in sorted((await closed_complaints(client)).items()):
        if workflow_id in done:
            continue
        if runs[-1].status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            continue  # its next run is still open
        out.append(workflow_id)
    return out


async def case_files(
    client: Client, codec: PayloadCodec | None, store: Store, workflow_id: str
) -> CaseFiles | None:
    """What archiving a closed complaint writes; None while its latest run is still open."""
    described = await client.get_workflow_handle(workflow_id).describe()
    if described.status in (None, WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.CONTINUED_AS_NEW):
        return None
    runs = (await closed_complaints_of(client, workflow_id)) or [described]
    histories: list[tuple[str, bytes]] = []
    snapshots: dict[str, bytes] = {}
    first_input = last_log = None
    last_opened = None
    for execution in runs:
        raw = await client.get_workflow_handle(workflow_id, run_id=execution.run_id).fetch_history()
        histories.append((execution.run_id, raw.to_json().encode()))
        last_opened = await opened(raw, codec)
        for sha in pinned_snapshots(last_opened):
            data = store.get(sha)
            if data is None:
                raise ArchiveError(f"the store {store.root} lacks snapshot {sha} that {workflow_id} pins")
            snapshots[sha] = data
        if first_input is None:
            first_input = started_input(last_opened)
    assert last_opened is not None
    last_input = started_input(last_opened)
    last_log = recorded_log(last_opened) or []
    if first_input is None or last_input is None:
        raise ArchiveError(f"{workflow_id} is not a complaint's history")
    policy = store.policy(last_input.policy_sha)
    ended = [e for e in last_log if e.action in ENDINGS]
    close_time = described.close_time or dt.datetime.now(dt.UTC)
    closed_at = dt.datetime.fromisoformat(ended[-1].at.replace("Z", "+00:00")) if ended else close_time
    years = int(
        (ended[-1].detail.get("retention_years") if ended else 0) or policy.policy.records.retention_years
    )
    actions = collections.Counter(e.action for e in last_log)
    figures = {
        "product": first_input.complaint.product,
        "channel": first_input.complaint.channel,
        "status": str(described.status.name).lower(),
        "actions": dict(sorted(actions.items())),
        "decisions": len(last_log),
    }
    return CaseFiles(
        workflow_id=workflow_id,
        histories=histories,
        snapshots=snapshots,
        policy_id=policy.id,
        policy_version=policy.version,
        policy_sha=last_input.policy_sha,
        received_at=first_input.complaint.received_at.isoformat(),
        closed_at=closed_at.isoformat(),
        outcome=ended[-1].action if ended else str(described.status.name).lower(),
        retention_years=years,
        figures=figures,
    )


async def closed_complaints_of(client: Client, workflow_id: str) -> list[WorkflowExecution]:
    found = [e async for e in client.list_workflows(f"WorkflowId = '{_quoted(workflow_id)}'")]
    return sorted(found, key=lambda e: e.start_time)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


async def sweep(
    client: Client,
    settings: Settings,
    archive: Archive,
    *,
    now: dt.datetime | None = None,
    beat: Callable[[str], None] = lambda _: None,
) -> Swept:
    """Archive every closed complaint not yet archived, then apply retention, then sign the head."""
    done = Swept()
    store = Store(settings.store_dir)
    codec = client.data_converter.payload_codec
    for workflow_id in await pending(client, archive):
        beat(workflow_id)
        try:
            case = await case_files(client, codec, store, workflow_id)
        except Exception as exc:  # one case that cannot be read stops no other: the next sweep retries it
            done.failed[workflow_id] = str(exc)
            log.warning("archive.failed", complaint=workflow_id, error=str(exc))
            continue
        if case is None:
            continue
        archive.add(case, now or dt.datetime.now(dt.UTC))
        done.archived.append(workflow_id)
        log.info("archive.archived", complaint=workflow_id, archive=archive.where)
    retention(settings, archive, now or dt.datetime.now(dt.UTC), done)
    signed = archive.checkpoint(Signer.of_home(settings.home), now or dt.datetime.now(dt.UTC))
    done.checkpoint = signed["sequence"] if signed else None
    return done


def retention(settings: Settings, archive: Archive, now: dt.datetime, done: Swept) -> None:
    """Reduce every archived case past its keeping period, unless a legal hold is on its customer."""
    keys = _keys(settings)
    for manifest in list(archive.expired(now)):
        subject = keys.subject_of(manifest.workflow_id) if keys else None
        hold = keys.held(subject) if keys and subject else None
        if hold is not None:
            done.held.append(manifest.workflow_id)
            log.info("archive.retention_held", complaint=manifest.workflow_id, hold=hold)
            continue
        record = archive.reduce(manifest, now)
        done.reduced.append(manifest.workflow_id)
        log.info(
            "archive.reduced",
            complaint=manifest.workflow_id,
            rule=record["rule"],
            kept_until=record["kept_until"],
        )


def _keys(settings: Settings) -> LocalKeys | None:
    path = settings.home / "keys.sqlite"
    return LocalKeys(path) if path.exists() else None


class ArchiveActivities:
    """The activity the schedule's workflow runs, in the worker (which has the client and keys)."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    @activity.defn(name=names.ARCHIVE_SWEEP)
    async def archive_sweep(self) -> dict[str, Any]:
        archive = open_archive(self.settings)
        done = await sweep(self.client, self.settings, archive, beat=lambda at: activity.heartbeat(at))
        return done.as_json()

    def all(self) -> list[Callable[..., Any]]:
        return [self.archive_sweep]


async def ensure_schedule(client: Client, settings: Settings) -> str | None:
    """Create (or bring up to date) the schedule that archives; None when the settings turn it off."""
    if settings.archive_every_minutes == 0:
        with contextlib.suppress(RPCError):  # none to delete
            await client.get_schedule_handle(names.ARCHIVE_SCHEDULE).delete()
        return None
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            names.ARCHIVE_WORKFLOW,
            id=f"{names.ARCHIVE_SCHEDULE}-sweep",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(minutes=settings.archive_every_minutes))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(names.ARCHIVE_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:

        def keep(update: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(names.ARCHIVE_SCHEDULE).update(keep)
    return f"every {settings.archive_every_minutes} min"
