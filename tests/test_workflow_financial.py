"""The financial-services procedure run end to end on the time-skipping server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from ombuds.engine.policy.loader import load_file
from ombuds.engine.policy.validate import validate_complaint_data

from .workflow_support import CUSTOMER, ROOT, STAFF_AGENT, SUPERVISOR, running_case, time_skipping

pytestmark = pytest.mark.workflow


def complaint(name: str):  # type: ignore[no-untyped-def]
    found, problems = validate_complaint_data(load_file(ROOT / "examples" / "complaints" / name))
    assert found is not None, problems
    return found


async def test_card_fee_case_runs_to_close_with_escalated_approval(tmp_path: Path) -> None:
    async with time_skipping() as env, running_case(env, tmp_path) as case:
        await case.submit(complaint("fs-card-fee.yaml"))
        status = await case.status()
        assert status.policy_id == "financial-services"
        assert status.stage == "received"
        ack = next(c for c in status.clocks if c.id == "acknowledge")
        assert ack.status == "stopped"  # the written acknowledgement went out at intake
        final = next(c for c in status.clocks if c.id == "final-response")
        # received Thu 24 Dec 2026 18:05 (Scotland): 15 working days from Tue 29 Dec
        assert final.due == "2027-01-21T17:30:00Z"

        answer = await case.act("propose_compensation", STAFF_AGENT, remedy="goodwill", amount=Decimal(100))
        assert answer.status == "needs_approval"
        assert answer.detail["approval_level"] == "supervisor"
        assert (await case.status()).level == "supervisor"

        answer = await case.act("decide_approval", SUPERVISOR, proposal=1, approve=True)
        assert answer.status == "accepted"

        await case.act(
            "resolve",
            SUPERVISOR,
            justified=True,
            root_cause="payment posted late",
            corrective_actions=["fix batch"],
        )
        await case.skip(dt.timedelta(days=3))
        answer = await case.act("survey_answer", CUSTOMER, score=5)
        assert answer.status == "recorded"
        result = await case.result()
        assert result.status == "closed"
        actions = [e.action for e in result.log]
        assert "escalated" in actions and "compensation granted" in actions and "survey sent" in actions
        assert all(e.policy_sha == status.policy_sha for e in result.log)
        assert all(
            e.source.startswith("financial-services.yaml:") for e in result.log if e.rule not in ("input",)
        )
        templates = [m["template"] for m in case.outbox()]
        assert templates.count("received") == 1
        assert "acknowledgement" in templates and "final-response" in templates and "survey" in templates
