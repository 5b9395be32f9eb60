"""Record the golden histories of this interpreter version (run by hand, never by the tests).

    .venv/bin/python -m tests.golden.record v1

writes ``tests/golden/<version>/<scenario>.json`` (histories as ``temporal
workflow show -o json`` writes them) and the snapshots they name into
``tests/golden/store``.  A change to the workflow that alters the commands an
old history expects must use ``workflow.patched``; new goldens go beside the old.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from ..workflow_support import (
    CUSTOMER,
    MANAGEMENT,
    STAFF_AGENT,
    SUPERVISOR,
    Case,
    make_complaint,
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


SCENARIOS: dict[str, Callable[[Case], Awaitable[None]]] = {
    "financial-full-path": financial_full_path,
    "financial-refused": refused,
    "financial-breach-and-delay": breach_and_delay,
}


async def record(version: str) -> None:
    target = HERE / version
    target.mkdir(parents=True, exist_ok=True)
    store = HERE / "store"
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as home:
            async with time_skipping() as env, running_case(env, Path(home)) as case:
                await scenario(case)
                assert case.handle is not None
                history = await case.handle.fetch_history()
                (target / f"{name}.json").write_text(history.to_json(), "utf-8")
            for file in (Path(home) / "store").glob("*/*.json"):
                destination = store / file.parent.name / file.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, destination)
        print(f"recorded {target / name}.json")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1] if len(sys.argv) > 1 else "v1"))
