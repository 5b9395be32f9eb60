"""The effects a case asks of the world, which its host carries out and answers back:
a longer case calendar, the customer's ledger counting a complaint or reserving a grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .state import CapCheck


@dataclass(frozen=True)
class ExtendCalendar:
    """Effect: the case outlives its calendar; ask for a longer one (activity ``extend_calendar``)."""

    policy_sha: str
    calendar_sha: str
    now: int


@dataclass(frozen=True)
class RegisterComplaint:
    """Effect: count the customer's earlier complaints (activity ``ledger_register``)."""

    customer: str | dict[str, str]
    registration: dict[str, Any]


@dataclass(frozen=True)
class ReserveCompensation:
    """Effect: reserve a compensation under the customer's cap (activity ``ledger_reserve``)."""

    customer: str | dict[str, str]
    check: CapCheck
    #: The policy whose cap this is (``money-within-limits``: a ledger holds every policy).
    policy: str | None = None

    def request(self, complaint_id: str) -> dict[str, Any]:
        policy = {"policy": self.policy} if self.policy is not None else {}
        return {"complaint_id": complaint_id, **self.check.model_dump(mode="json"), **policy}


class NeedsLongerCalendar(Exception):
    """An input or a deadline needs the case calendar past its horizon: the host extends the
    calendar to ``needed`` (effect :class:`ExtendCalendar`) and tries again.  Nothing was applied."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"the case calendar must reach {needed}")
        self.needed = needed
