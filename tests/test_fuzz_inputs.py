"""Fuzzing that stays: whatever validates also runs, and nothing that comes in raises a traceback.

* Policies: a shipped policy, changed at random (as in ``test_policy_mutations_property``), that
  still validates must compile, give every deadline for a complaint (``ombuds deadline``) and
  take a complaint at intake (``ombuds submit`` up to the workflow's start, with the pure core's
  intake run as the workflow will run it).
* Complaints: an example complaint, changed at random, gives located problems or a complaint
  that every shipped policy's deadlines and intake take.
* Events: random ``--data`` and actors through ``ombuds event``'s parsing give a clean refusal
  (exit status 2 with a message) or an event within bounds.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import typing
from typing import Any

import pytest
import typer
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ombuds.engine.deadlines import deadlines
from ombuds.engine.intake import Intake, IntakeError
from ombuds.engine.policy.compile import compile_validated
from ombuds.engine.policy.durations import Unit
from ombuds.engine.policy.loader import load_file, load_text
from ombuds.engine.policy.model import Complaint
from ombuds.engine.policy.validate import _walk, duration_keys, validate_complaint_data, validate_text
from ombuds.engine.settings import Settings
from ombuds.engine.staff_cli import check_event
from ombuds.workflows.core import bounds

from .conftest import EXAMPLES, POLICIES
from .test_policy_mutations_property import DOCUMENTS, MEANINGFUL, assert_well_formed, mutate
from .workflow_support import shipped_policies

FUZZ = settings(
    max_examples=150,
    deadline=None,
    # no explain phase: its line tracing makes a slow example minutes long
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
RECEIVED = dt.datetime(2026, 12, 24, 18, 5, tzinfo=dt.UTC)


def sample_complaint(**fields: Any) -> Complaint:
    data = {
        "id": "FUZZ-1",
        "received_at": RECEIVED.isoformat(),
        "channel": "email",
        "customer": {"id": "C-1", "name": "Ana Novak", "contacts": {"email": "ana@example.org"}},
        "product": "card",
        "description": "A fee was charged although the payment arrived on time.",
        **fields,
    }
    return Complaint.model_validate(data)


def runs(intake: Intake, complaint: Complaint) -> None:
    """What ``ombuds submit`` does before it starts the workflow, and the workflow's intake."""
    try:
        complaint, policy, workflow_input = intake.prepare(complaint, search_attributes=False, simulated=True)
    except IntakeError:
        return  # a clean refusal: no policy applies, or the complaint has something intake refuses
    intake.preview(policy, workflow_input)
    deadlines(policy, complaint.received_at, complaint)


# --------------------------------------------------------------------------- policies

UNITS = [unit.replace("_", " ") for unit in typing.get_args(Unit)]


def retime(draw: Any, policy: dict[str, Any]) -> None:
    """Set a duration or a timezone of the policy to a value from tiny to huge."""
    places = [
        loc
        for loc, value in _walk(policy)
        if isinstance(value, str) and loc[-1] in (*duration_keys(), "timezone")
    ]
    if not places:
        return
    loc = draw(st.sampled_from(places))
    node = policy
    for part in loc[:-1]:
        node = node[part]
    if loc[-1] == "timezone":
        node[loc[-1]] = draw(
            st.sampled_from(["Mars/Base", "UTC", "Pacific/Kiritimati", "America/St_Johns", "", "../UTC"])
        )
    else:
        amount = draw(
            st.one_of(
                st.integers(0, 100),
                st.integers(0, 10**7),
                st.sampled_from([120, 121, 2610, 2611, 3653, 3654]),
            )
        )
        node[loc[-1]] = f"{amount} {draw(st.sampled_from(UNITS))}"


@FUZZ
@given(st.data())
def test_a_changed_policy_that_validates_also_runs(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(DOCUMENTS)), label="policy")
    policy = copy.deepcopy(DOCUMENTS[name].data)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="changes")):
        if data.draw(st.booleans(), label="a duration or timezone"):
            retime(data.draw, policy)
        else:
            mutate(data.draw, policy)
    text = yaml.safe_dump(policy, sort_keys=False, allow_unicode=True)
    result = validate_text(text, "fuzzed.yaml", base_dir=POLICIES, today=dt.date(2026, 6, 1))
    assert_well_formed(result, text, "fuzzed.yaml")
    if not result.ok:
        return
    compiled = compile_validated(result)
    home = tmp_path_factory.mktemp("home")
    intake = Intake(Settings(home=home, policies=POLICIES), [compiled])
    for complaint in (
        sample_complaint(),
        sample_complaint(product="mortgage", amount="5000", currency="GBP"),
    ):
        deadlines(compiled, complaint.received_at, complaint)
        runs(intake, complaint)


# --------------------------------------------------------------------------- complaints

COMPLAINTS = {
    path.name: load_file(path) for path in sorted(EXAMPLES.glob("*")) if path.suffix in (".json", ".yaml")
}
ODD_VALUES = [
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "Mars/Base",
    "Europe/London",
    "../../etc/passwd",
    "ana@example.org\r\nBcc: evil@example.org",
    "+44 20 7946 0000",
    "0",
    "\u202eevil",
    "\x1b[31m",
    "\x00",
    "a" * 300,
    "-1e400",
    "NaN",
    "1e400",
]
complaint_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(ODD_VALUES + MEANINGFUL),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
)


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Intake:
    return Intake(Settings(home=tmp_path_factory.mktemp("home"), policies=POLICIES), shipped_policies())


@FUZZ
@given(st.data())
def test_a_changed_complaint_gives_located_problems_or_runs(intake: Intake, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(COMPLAINTS)), label="complaint")
    complaint = copy.deepcopy(COMPLAINTS[name].data)
    assert isinstance(complaint, dict)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="changes")):
        where = data.draw(
            st.sampled_from(
                [
                    ("received_at",),
                    ("incident_date",),
                    ("amount",),
                    ("customer", "name"),
                    ("customer", "timezone"),
                    ("customer", "locale"),
                    ("customer", "region"),
                    ("customer", "contacts", "email"),
                    ("customer", "contacts", "phone"),
                    ("description",),
                    ("subject",),
                    ("custom", "x"),
                    ("channel",),
                    ("order_ids",),
                ]
            ),
            label="field",
        )
        node = complaint
        for part in where[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[where[-1]] = data.draw(complaint_values, label="value")
    text = json.dumps(complaint, default=str, allow_nan=True)
    doc = load_text(text, "fuzzed.json", collect=True)
    built, found = validate_complaint_data(doc)
    for problem in found:
        assert problem.line >= 1 and problem.col >= 1 and problem.message, problem
    if built is None:
        assert found, "no complaint and no problem"
        return
    runs(intake, built)


# --------------------------------------------------------------------------- events

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(allow_nan=False),
        st.text(max_size=40),
        st.sampled_from(["2026-12-24T10:00:00+00:00", "9999-12-31T23:59:59Z", "1e999", "x" * 60_000]),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
EVENT_FIELDS = [
    "reason",
    "text",
    "at",
    "amount",
    "remedy",
    "proposal",
    "approve",
    "score",
    "stage",
    "to",
    "justified",
    "root_cause",
    "actions",
    "target",
    "note",
    "option",
]
KINDS = [
    "withdraw",
    "customer_message",
    "request_callback",
    "propose_compensation",
    "decide_approval",
    "survey_answer",
    "resolve",
    "escalate",
    "extend",
    "nonsense",
]
#: What a command-line option can carry: text (lone surrogates too, from bytes that are not
#: UTF-8), a whole number, a decimal, a flag, repeated text.
option_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["2026-12-24T10:00:00+00:00", "2027-03-01T10:00", "1e999", "-1", "0.001", "x" * 60_000]),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=20), max_size=4),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    fields=st.dictionaries(
        st.one_of(st.sampled_from(EVENT_FIELDS), st.text(max_size=8)), option_values, max_size=5
    ),
)
def test_event_options_give_a_clean_refusal_or_an_event_within_bounds(
    kind: str, fields: dict[str, Any]
) -> None:
    """Whatever the options of ``ombuds event`` carry, the check before sending either refuses
    them with exit 2 and the reason, or lets through an event within bounds."""
    from ombuds.workflows.core import Event

    try:
        check_event(kind, fields)
    except typer.Exit as exc:
        assert exc.exit_code == 2
        return
    event = Event.model_validate(
        {**fields, "kind": kind, "actor": {"kind": "staff", "id": "a", "level": "b"}}
    )
    bounds.check_event(event)  # what it lets through is within bounds
