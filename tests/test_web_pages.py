"""What every page shares: enough contrast for every text colour on its background (WCAG AA,
4.5:1), worked out from the stylesheet's own colours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "engine" / "web" / "static" / "ombuds.css"


def colours() -> dict[str, str]:
    root = re.search(r":root\s*{([^}]*)}", CSS.read_text())
    assert root is not None
    return {name: value for name, value in re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root.group(1))}


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


#: (text, background) pairs the stylesheet puts together.
PAIRS = [
    ("ink", "bg"),
    ("ink", "soft"),
    ("muted", "bg"),
    ("muted", "soft"),
    ("accent", "bg"),
    ("accent", "soft"),
    ("#ffffff", "accent"),
    ("#ffffff", "bad"),
    ("#ffffff", "warn"),
    ("#ffffff", "good"),
    ("bad", "bad-bg"),
    ("ink", "bad-bg"),
    ("ink", "warn-bg"),
    ("ink", "good-bg"),
]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_has_enough_contrast(text: str, background: str) -> None:
    named = colours()
    ratio = contrast(named.get(text, text), named.get(background, background))
    assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f}:1"
