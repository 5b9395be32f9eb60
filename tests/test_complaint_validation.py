"""A complaint file gets every problem at once, each at its line and column."""

from __future__ import annotations

import pytest

from ombuds.engine.policy.loader import load_text
from ombuds.engine.policy.validate import validate_complaint_data

GOOD = """\
id: C-1
received_at: 2026-11-21T18:45:00+01:00
channel: email
customer: {id: K-1, name: Ana, contacts: {email: ana@example.org}}
amount: 12.50
currency: EUR
"""


def problems(text: str) -> list[tuple[int, int, str, str]]:
    complaint, found = validate_complaint_data(load_text(text, "c.yaml", collect=True))
    assert (complaint is None) == bool(found)
    return sorted((p.line, p.col, p.path, p.message) for p in found)


def test_a_good_complaint_has_no_problem() -> None:
    assert problems(GOOD) == []


def test_schema_and_model_problems_come_together() -> None:
    text = (
        GOOD.replace("2026-11-21T18:45:00+01:00", "2026-11-21 18:45")
        .replace("channel: email", "channel: fax")
        .replace("amount: 12.50", "amount: -5")
    )
    found = problems(text)
    assert [(line, path) for line, _, path, _ in found] == [(2, "received_at"), (3, "channel"), (5, "amount")]
    assert found[0][3] == "has no UTC offset"
    assert found[2][3] == "must be at least 0.0, found -5"


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("amount: 12.50", "amount: -5", "amount", "must be at least 0.0, found -5"),
        ("amount: 12.50", "amount: [5]", "amount", "expected"),
        ("id: C-1\n", "id: C-1\nid: C-2\n", "id", 'duplicate key "id"'),
        ("channel: email", "chanel: email", "chanel", 'unknown key "chanel"'),
    ],
)
def test_one_mistake_one_message(old: str, new: str, path: str, message: str) -> None:
    (found,) = problems(GOOD.replace(old, new, 1))
    assert found[2] == path and message in found[3], found


def test_a_missing_key_is_one_message() -> None:
    assert problems(GOOD.replace("channel: email\n", "")) == [(1, 1, "", 'missing required key "channel"')]
