"""One customer, one ledger: identifiers normalised, keyed-hashed, and ledgers merged."""

from __future__ import annotations

import hashlib
import multiprocessing
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ombuds.engine import identity
from ombuds.workflows import ledger

SECRET = b"a secret of the tests"


@pytest.mark.parametrize(
    ("kind", "spellings", "expected"),
    [
        (
            "email",
            ["ana@example.org", "ANA@Example.ORG", "  ana@example.org\t", "ana @example.org"],
            "ana@example.org",
        ),
        ("id", ["CUST-1", "cust-1", " Cust-1 "], "cust-1"),
        ("phone", ["+44 20 7946 0000", "020 7946 0000", "+442079460000", "(020) 7946-0000"], "+442079460000"),
        ("account", ["9988 7766", "99887766", " 99887766 "], "99887766"),
    ],
)
def test_every_spelling_of_an_identifier_is_one(kind: str, spellings: list[str], expected: str) -> None:
    assert {identity.normalised(kind, s, "GB-ENG") for s in spellings} == {expected}


def test_a_phone_number_is_read_in_the_customers_region() -> None:
    assert identity.normalised("phone", "030 901820", "DE") == "+4930901820"
    assert identity.normalised("phone", "030 901820", "GB-ENG") != "+4930901820"
    assert identity.normalised("phone", "+49 30 901820", "GB-ENG") == "+4930901820"


def test_nothing_left_is_no_identifier() -> None:
    assert identity.identifiers({"id": "  ", "email": "", "phone": "-- --"}) == {}


def test_the_same_person_by_id_email_and_capitals_shares_a_key() -> None:
    by_id = identity.keys(SECRET, {"id": "CUST-1", "email": "ana@example.org"})
    by_email = identity.keys(SECRET, {"email": "ana@example.org"})
    shouting = identity.keys(SECRET, {"email": " ANA@EXAMPLE.ORG "})
    assert by_email == shouting and by_email[0] in by_id


def test_a_ledger_id_is_a_keyed_hash_nobody_can_recompute_by_guessing() -> None:
    email = "ana@example.org"
    key = identity.keys(SECRET, {"email": email})[0]
    guesses = {
        hashlib.sha256(text.encode()).hexdigest()[: len(key)]
        for text in (email, f"email:{email}", f"financial-services|{email}")
    }
    assert key not in guesses
    assert identity.keys(b"another secret", {"email": email})[0] != key
    assert "ana" not in key


@given(st.text(max_size=40), st.sampled_from(identity.KINDS), st.sampled_from([None, "GB", "DE-BE", ""]))
@example("0:1", "phone", "DE-BE")  # found: "01" the first time, "+4901" the second
def test_normalising_twice_changes_nothing(value: str, kind: str, region: str | None) -> None:
    once = identity.normalised(kind, value, region)
    if once is not None:
        assert identity.normalised(kind, once, region) == once


def _make_key(home: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(identity.ledger_key(None, Path(home)))


def test_workers_sharing_a_home_make_one_ledger_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [context.Process(target=_make_key, args=(str(tmp_path), out)) for _ in range(6)]
    for process in processes:
        process.start()
    made = {out.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)
    assert made == {(tmp_path / "ledger.key").read_bytes()}
    assert (tmp_path / "ledger.key").stat().st_mode & 0o077 == 0  # only its owner reads it
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.key"]


def test_a_configured_key_is_used_as_given(tmp_path: Path) -> None:
    assert identity.ledger_key("s3cret", tmp_path) == b"s3cret"
    assert not (tmp_path / "ledger.key").exists()


YEAR = 365 * 86_400


def _reserve(state: ledger.LedgerState, complaint: str, amount: int, now: int, policy: str | None) -> bool:
    request = ledger.Reservation(
        complaint_id=complaint,
        proposal=1,
        amount=Decimal(amount),
        at=now,
        period=YEAR,
        cap=Decimal(60_000),
        policy=policy,
    )
    return ledger.reserve(state, request, now).granted


def test_merged_ledgers_count_every_reservation_once() -> None:
    now = 1_800_000_000
    one, other = ledger.LedgerState(), ledger.LedgerState()
    assert _reserve(one, "A", 40_000, now, "fs")
    assert _reserve(other, "B", 15_000, now, "fs")
    ledger.merge(one, other)
    ledger.merge(one, other)  # handed over twice: still once
    assert sum(e.amount for e in one.entries) == 55_000
    assert not _reserve(one, "C", 10_000, now + 1, "fs")
    assert _reserve(one, "C", 5_000, now + 2, "fs")


def test_a_cap_counts_its_own_policys_grants_and_repeats_count_its_own_complaints() -> None:
    """One ledger per customer across policies; each policy's cap (in its own currency) and
    repeat count see that policy's complaints; a grant recorded before policies were kept
    apart counts for every policy."""
    now = 1_800_000_000
    state = ledger.LedgerState()
    assert _reserve(state, "F-1", 50_000, now, "fs")
    assert _reserve(state, "R-1", 50_000, now, "retail")  # retail's cap is its own
    assert not _reserve(state, "F-2", 20_000, now, "fs")
    state.entries.append(ledger.Entry(complaint_id="OLD", proposal=1, amount=Decimal(9_000), at=now))
    assert not _reserve(state, "R-2", 2_000, now, "retail")

    def register(cid: str, policy: str) -> int:
        return ledger.register(
            state, ledger.Registration(complaint_id=cid, at=now, window=YEAR, policy=policy)
        )

    assert register("F-1", "fs") == 0
    assert register("R-1", "retail") == 0
    assert register("F-2", "fs") == 1
