"""A queue picks its calendar: calendar selectors see the complaint's classification."""

from __future__ import annotations

from pathlib import Path

from ombuds.engine.policy.compile import instantiate

from .workflow_support import make_complaint, policy_variant

FRAUD_TEAM_CALENDAR = """calendar_selectors:
  regional:
    - when: case.queue == "fraud-team"
      calendar: fraud-desk
"""
FRAUD_DESK = """calendars:
  fraud-desk:
    timezone: Europe/London
    hours:
      mon: ["08:00-20:00"]
      tue: ["08:00-20:00"]
      wed: ["08:00-20:00"]
      thu: ["08:00-20:00"]
      fri: ["08:00-20:00"]
      sat: ["09:00-13:00"]
"""


def test_fraud_queue_uses_the_fraud_desk_calendar(tmp_path: Path) -> None:
    (policy,) = policy_variant(
        tmp_path,
        "financial-services.yaml",
        [("calendar_selectors:\n  regional:\n", FRAUD_TEAM_CALENDAR), ("calendars:\n", FRAUD_DESK)],
    )
    fraud = make_complaint(description="Unauthorised card payments were taken from my account.")
    plain = make_complaint()
    assert instantiate(policy, fraud.received_at, fraud).selected == {"regional": "fraud-desk"}
    assert instantiate(policy, plain.received_at, plain).selected == {"regional": "england"}
