"""Money: amounts in a currency's major units, with at most the currency's decimals (ISO 4217).

A limit of 50 in a GBP policy is 50 pounds; 49.99 is fine, 49.999 is not.  An
amount comes in as text (``"49.99"``), a whole number, or a ``Decimal``; a number
with decimals written as a JSON or YAML float may already have lost digits
(``49.9999999999999999`` reads as 50), so it is refused with a hint to write it
as text.  ``1_0``, ``1E-30``, signs, spaces and anything else that is not plain
digits with an optional decimal point are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

#: Currencies without minor units (ISO 4217 exponent 0).
NO_DECIMALS = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
#: Currencies with three decimals (ISO 4217 exponent 3); every other currency has two.
THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
#: Currencies with four decimals (units of account).
FOUR_DECIMALS = frozenset({"CLF", "UYW"})

_PLAIN = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,30})?$")
#: The largest amount accepted anywhere: far above any real limit, far below what overflows.
MAXIMUM = Decimal(10) ** 15


def decimals(currency: str) -> int:
    """How many decimals amounts in ``currency`` may have."""
    if currency in NO_DECIMALS:
        return 0
    if currency in THREE_DECIMALS:
        return 3
    if currency in FOUR_DECIMALS:
        return 4
    return 2


def places(amount: Decimal) -> int:
    """The decimals an amount is written with (``49.90`` has 2)."""
    exponent = amount.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def problem(amount: Decimal, currency: str) -> str | None:
    """Why an amount is not an amount of ``currency``, or None."""
    allowed = decimals(currency)
    if places(amount) > allowed and amount != amount.quantize(Decimal(1).scaleb(-allowed)):
        written = "no decimals" if allowed == 0 else f"at most {allowed} decimal{'s' if allowed > 1 else ''}"
        return f"{amount} has {places(amount)} decimals; {currency} amounts have {written} (ISO 4217)"
    return None


def parse(value: Any) -> Decimal:
    """An amount as written: plain text, a whole number or a Decimal, never a float, never an
    exponent; raises ValueError saying what is wrong (the currency's decimals are :func:`problem`)."""
    amount = _amount(value)
    if not isinstance(amount, Decimal):
        raise ValueError(f"{value!r} is not an amount")
    return amount


def _amount(value: Any) -> Any:
    """Plain text, a whole number or a Decimal; never a float, never an exponent."""
    if isinstance(value, bool):
        raise ValueError("an amount is a number, not true or false")
    if isinstance(value, float):
        raise ValueError(
            f'write the amount as text ("{value!r}"): a number with decimals may already have lost digits'
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("an amount is a finite number")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value
    else:
        return value  # the Decimal validator words the type error
    if not _PLAIN.match(text):
        raise ValueError(
            f'"{text}" is not an amount: write digits with an optional decimal point, e.g. "49.99"'
        )
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f'"{text}" is not an amount') from None
    if amount > MAXIMUM:
        raise ValueError(f"{text} is above the largest amount, {MAXIMUM}")
    return amount
