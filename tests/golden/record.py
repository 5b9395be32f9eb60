"""Record the golden histories of this interpreter version (run by hand, never by the tests).

    .venv/bin/python -m tests.golden.record v3

writes ``tests/golden/<version>/<scenario>.json`` (histories as ``temporal
workflow show -o json`` writes them), the snapshots they name into
``tests/golden/store`` and the sha256 of each new history into
``tests/golden/MANIFEST``.  Goldens are write-once: a scenario whose file
exists is not recorded again, and the tests fail when a listed file changes
or disappears.  A change to the workflow that alters the commands, activity
inputs or log wording an old history expects goes behind ``workflow.patched``;
its goldens go beside the old ones, in a new version folder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from temporalio.client import WorkflowHistory

from ombuds.engine import identity
from ombuds.workflows import names
from ombuds.workflows.core import Actor
from ombuds.workflows.core.publications import EVENT_TYPES

from ..workflow_support import (
    CUSTOMER,
    MANAGEMENT,
    STAFF_AGENT,
    SUPERVISOR,
    Case,
    b2b_complaint,
    local_server,
    make_complaint,
    retail_complaint,
    running_case,
    time_skipping,
)

HERE = Path(__file__).resolve().parent
DAY = dt.timedelta(days=1)


async def financial_full_path(case: Case) -> None:
    await case.submit(make_complaint(id="G-FS-1"))
    await case.act("propose_compensation", STAFF_AGENT, remedy="goodwill", amount=Decimal(120))
    await case.act("decide_approval", SUPERVISOR, proposal=1, approve=True)
    await case.skip(9 * DAY)
    await case.act("request_information", SUPERVISOR, reason="statement")
    await case.skip(2 * DAY)
    await case.act("customer_message", CUSTOMER, text="here", information=True)
    await case.act("extend", SUPERVISOR, clock="final-response", target="35 business days", reason="records")
    await case.act("escalate", CUSTOMER, reason="unhappy with progress")
    await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(900))
    await case.act(
        "resolve", MANAGEMENT, justified=True, root_cause="fee rule", corrective_actions=["fix rule"]
    )
    await case.skip(3 * DAY)
    await case.act("survey_answer", CUSTOMER, score=4)
    await case.result()


async def refused(case: Case) -> None:
    await case.submit(
        make_complaint(id="G-FS-2", description="You idiots took my money again, fix it now please.")
    )
    await case.result()


async def breach_and_delay(case: Case) -> None:
    await case.submit(make_complaint(id="G-FS-3"))
    await case.skip(100 * DAY)
    await case.act("resolve", SUPERVISOR, justified=False)
    await case.skip(20 * DAY)
    await case.result()


RETAIL_AGENT = Actor(kind="staff", id="eva", level="agent")
RETAIL_SUPERVISOR = Actor(kind="staff", id="bob", level="supervisor")
STORE_MANAGER = Actor(kind="staff", id="frank", level="store-manager")
ENGINEER = Actor(kind="staff", id="grace", level="agent")
DUTY_MANAGER = Actor(kind="staff", id="heidi", level="duty-manager")
ENGINEERING_LEAD = Actor(kind="staff", id="ivan", level="engineering")
B2B_MANAGEMENT = Actor(kind="staff", id="judy", level="management")


async def retail_full_path(case: Case) -> None:
    """Approval, the customer's choice, a missed callback, a low score, reopen, close, thank-you."""
    await case.submit(retail_complaint(id="G-RT-1"))
    await case.act("agent_reply", RETAIL_AGENT, text="We are sorry: we will look at it today.")
    await case.act("assign", RETAIL_AGENT, assignee="eva")
    await case.act("enter_stage", RETAIL_AGENT, stage="investigation")
    await case.act("propose_compensation", RETAIL_AGENT, remedy="refund", amount=Decimal("149.90"))
    await case.act("decide_approval", RETAIL_SUPERVISOR, proposal=1, approve=True)
    await case.act("offer_options", RETAIL_AGENT)
    await case.act("choose_option", CUSTOMER, option="replacement")
    await case.act("request_callback", CUSTOMER)
    await case.skip(DAY)  # nobody reports the callback: reminded, then missed, then escalated
    await case.act("finding", STORE_MANAGER, justified=True, root_cause="faulty batch")
    await case.act("resolve", STORE_MANAGER, justified=True, corrective_actions=["recall batch"])
    await case.skip(2 * DAY)
    await case.act("survey_answer", CUSTOMER, score=2)  # low: reopens, the rule escalates
    await case.act("customer_message", CUSTOMER, text="The replacement has not arrived.")
    await case.act("resolve", STORE_MANAGER, justified=True, text="The replacement was delivered.")
    await case.skip(16 * DAY)  # the second survey expires unanswered: the case closes
    await case.skip(61 * DAY)  # the thank-you goes out 60 days after resolution
    await case.result()


async def b2b_full_path(case: Case) -> None:
    """Pause and resume, approval, choice, extension, escalation, low score, reopen, close, check-in."""
    await case.submit(b2b_complaint(id="G-B2B-1"))
    await case.act("agent_reply", ENGINEER, text="We are looking at the export service.")
    await case.act("request_information", ENGINEER, reason="the export ids that failed")
    await case.skip(DAY)
    await case.act("customer_message", CUSTOMER, text="EXP-1 and EXP-2.", information=True)
    await case.act("propose_compensation", ENGINEER, remedy="credit-5", amount=Decimal(400))
    await case.act("decide_approval", DUTY_MANAGER, proposal=1, approve=True)
    await case.act("offer_options", ENGINEER)
    await case.act("choose_option", CUSTOMER, option="extended-support")
    await case.act(
        "extend", DUTY_MANAGER, clock="resolution", target="15 business days", reason="a vendor fix"
    )
    await case.act("escalate", DUTY_MANAGER, summary="The vendor fix needs engineering.")
    await case.act("resolve", ENGINEERING_LEAD, justified=True, root_cause="export timeout too short")
    await case.skip(2 * DAY)
    await case.act("survey_answer", CUSTOMER, score=2)  # low: reopens and notifies
    await case.act("resolve", ENGINEERING_LEAD, justified=True, text="The timeout is raised.")
    await case.act("close", B2B_MANAGEMENT)
    await case.skip(31 * DAY)  # the check-in call falls due after 30 days
    await case.result()


async def entered_late(case: Case) -> None:
    """On the real clock: a complaint received 25 days before it is entered.  Its clocks count
    from receipt, so the final response breached before entry: handled at once, its warnings
    logged as skipped; then resolved, surveyed, closed."""
    entered = (await case.env.get_current_time()).replace(microsecond=0)
    received = entered - 25 * DAY
    await case.submit(make_complaint(id="G-LATE-1", received_at=received.isoformat()), simulated=False)
    await case.log_entry("breached")
    await case.act("resolve", MANAGEMENT, justified=True, root_cause="fee rule")
    await case.skip(3 * DAY)
    await case.act("survey_answer", CUSTOMER, score=4)
    await case.result()


def ledger_of(case: Case, **customer: str) -> str:
    """The id of the ledger named after a customer's first identifier (``money-within-limits``)."""
    secret = identity.ledger_key(case.settings.ledger_key, case.settings.home)
    return names.ledger_id(identity.keys(secret, customer)[0])


async def history(case: Case, workflow_id: str) -> WorkflowHistory:
    return await case.client.get_workflow_handle(workflow_id).fetch_history()


async def ledger_five_complaints(case: Case) -> dict[str, WorkflowHistory]:
    """One retail customer's ledger: five complaints in a month, repeats escalated, the fifth
    compensation refused (at most four compensated complaints a year).

    Only the last complaint is run to its end: the time-skipping server skips years while a
    result is awaited, and the ledger counts by its own clock."""
    for n in range(1, 6):
        received = dt.datetime(2027, 2, 23, 10, 12, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        await case.submit(
            retail_complaint(id=f"G-LG-{n}", received_at=(received + (n - 1) * 5 * DAY).isoformat())
        )
        await case.act("propose_compensation", RETAIL_AGENT, remedy="refund", amount=Decimal("59.99"))
        await case.act("withdraw", CUSTOMER, reason="sorted out in the store")
    # a customer's escalation notice waits a minute (messages-worth-reading): let it go out
    await case.skip(dt.timedelta(minutes=2))
    await case.result()
    return {"ledger": await history(case, ledger_of(case, id="RC-1"))}


async def ledgers_of_one_customer(case: Case) -> dict[str, WorkflowHistory]:
    """One financial-services customer known first by id and phone, then by email alone, then
    by both: the two ledgers merge, and the cap of 60,000 sees both earlier grants."""
    by_id = {"id": "FC-1", "account_number": None, "contacts": {"phone": "+44 20 7946 0100"}}
    by_email = {"id": None, "account_number": None, "contacts": {"email": "fay@example.org"}}
    both = {"id": "fc-1", "account_number": None, "contacts": {"email": "FAY@example.org"}}
    for n, (customer, amount) in enumerate([(by_id, 40_000), (by_email, 15_000)], start=1):
        await case.submit(make_complaint(id=f"G-OC-{n}", customer=customer))
        await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(amount))
    await case.submit(make_complaint(id="G-OC-3", customer=both))
    await case.act(
        "propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(10_000)
    )  # above the cap
    await case.act("propose_compensation", MANAGEMENT, remedy="redress", amount=Decimal(5_000))
    await case.act("resolve", MANAGEMENT, justified=True, root_cause="fee rule")
    kept, merged = sorted([ledger_of(case, id="FC-1"), ledger_of(case, email="fay@example.org")])
    histories = {"ledger": await history(case, kept), "merged-ledger": await history(case, merged)}
    secret = identity.ledger_key(case.settings.ledger_key, case.settings.home)
    histories["alias"] = await history(
        case, names.alias_id(identity.keys(secret, {"email": "fay@example.org"})[0])
    )
    await case.skip(3 * DAY)
    await case.act("survey_answer", CUSTOMER, score=5)
    await case.result()
    return histories


async def searchable(case: Case) -> None:
    """A case with its search attributes, on a dev server: assigned, a proposal awaiting the
    supervisor (the flags ``queue:…`` and ``awaiting:supervisor``), approved, resolved."""
    case.searchable = True
    await case.submit(make_complaint(id="G-SA-1"))
    await case.act("assign", STAFF_AGENT, assignee="alice")
    await case.act("propose_compensation", STAFF_AGENT, remedy="goodwill", amount=Decimal(120))
    await case.act("decide_approval", SUPERVISOR, proposal=1, approve=True)
    await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
    await case.act("close", SUPERVISOR)
    await case.result()


async def published(case: Case) -> None:
    """Decisions published to webhooks (``cases-reach-helpdesks``): assigned, escalated with a
    hand-off, the acknowledgement bounced and sent by letter, breached, resolved, closed.

    The worker has no receiver: each publication is taken by none, which the history records
    as it records any activity's answer."""
    contacts = {"email": "ana@example.org", "postal_address": "1 High Street, Leeds LS1 1AA"}
    events = sorted(set(EVENT_TYPES.values()))
    await case.submit(make_complaint(id="G-WH-1", customer={"contacts": contacts}), publish=events)
    await case.act("assign", STAFF_AGENT, assignee="alice")
    await case.act("escalate", STAFF_AGENT, summary="The fee was charged twice; needs a refund.")
    assert case.handle is not None
    for _ in range(100):
        sent = await case.handle.query(names.MESSAGES_QUERY)
        ack = [m for m in sent if m["send"]["template"] == "acknowledgement"]
        if ack:
            break
        await asyncio.sleep(0.05)
    report = {"key": ack[0]["send"]["key"], "status": "bounced", "reason": "550 5.1.1 user unknown"}
    await case.handle.signal(names.DELIVERY_SIGNAL, report)
    await case.log_entry("message bounced")
    await case.skip(100 * DAY)
    await case.act("resolve", SUPERVISOR, justified=True, root_cause="fee rule")
    await case.skip(3 * DAY)
    await case.act("survey_answer", CUSTOMER, score=4)
    await case.result()


SCENARIOS: dict[str, Callable[[Case], Awaitable[None]]] = {
    "financial-full-path": financial_full_path,
    "financial-refused": refused,
    "financial-breach-and-delay": breach_and_delay,
    "retail-full-path": retail_full_path,
    "b2b-full-path": b2b_full_path,
    "financial-entered-late": entered_late,
    "financial-searchable": searchable,
    "financial-published": published,
}
#: Scenarios recorded on a dev server (with search attributes) rather than the time-skipping one.
ON_DEV_SERVER = frozenset({"financial-searchable"})
#: Scenarios that record the histories of a customer's ledgers and aliases as well as the last
#: complaint's (``<name>-ledger.json``, ``<name>-merged-ledger.json``, ``<name>-alias.json``).
LEDGER_SCENARIOS: dict[str, Callable[[Case], Awaitable[dict[str, WorkflowHistory]]]] = {
    "retail-repeat-customer": ledger_five_complaints,
    "financial-one-customer": ledgers_of_one_customer,
}
MANIFEST = HERE / "MANIFEST"


def manifest_line(path: Path) -> str:
    return f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(HERE).as_posix()}\n"


async def record(version: str) -> None:
    target = HERE / version
    target.mkdir(parents=True, exist_ok=True)
    store = HERE / "store"
    names = [*SCENARIOS, *LEDGER_SCENARIOS]
    for name in names:
        destination = target / f"{name}.json"
        if destination.exists():
            print(f"kept {destination} (goldens are write-once)")
            continue
        written = [destination]
        with tempfile.TemporaryDirectory() as home:
            server = local_server if name in ON_DEV_SERVER else time_skipping
            async with server() as env, running_case(env, Path(home)) as case:
                if name in LEDGER_SCENARIOS:
                    for suffix, kept in (await LEDGER_SCENARIOS[name](case)).items():
                        written.append(target / f"{name}-{suffix}.json")
                        written[-1].write_text(kept.to_json(), "utf-8")
                else:
                    await SCENARIOS[name](case)
                assert case.handle is not None
                history = await case.handle.fetch_history()
                destination.write_text(history.to_json(), "utf-8")
            for file in (Path(home) / "store").glob("*/*.json"):
                kept = store / file.parent.name / file.name
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, kept)
        with MANIFEST.open("a", encoding="utf-8") as manifest:
            for path in written:
                manifest.write(manifest_line(path))
                print(f"recorded {path}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else "v1"))
