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


def test_a_clock_bar_shows_the_working_time_used_and_a_paused_clock_hatched(tmp_path: Path) -> None:
    """Three of the fifteen business days of the final-response clock gone: the bar is 20 % used;
    paused there, the rest is drawn as paused; breached, all over."""
    import datetime as dt
    from types import SimpleNamespace

    from ombuds.engine.policy.store import Store
    from ombuds.engine.web.console import _bar
    from ombuds.workflows.core.status import status_view

    from .workflow_support import core_after_intake, make_complaint, run_until

    complaint = make_complaint(received_at=dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC))  # a Monday
    core, t0 = core_after_intake("financial-services", complaint)
    store = Store(tmp_path)
    store.put_policy(core.compiled)
    desk = SimpleNamespace(store=store)
    wednesday_evening = t0 + 2 * 86_400 + 9 * 3600  # Wednesday 18:00: three working days gone
    run_until(core, wednesday_evening)
    view = status_view(core, wednesday_evening, False).model_dump(mode="json")
    view["log"] = [e.model_dump(mode="json") for e in core.state.log]
    view["calendar_sha"] = store.put_instance(core.instance)
    clock = next(c for c in view["clocks"] if c["id"] == "final-response")
    assert clock["status"] == "running", clock
    bar = _bar(desk, view, clock)  # type: ignore[arg-type]
    assert bar is not None and bar["elapsed"] == 20 and bar["paused"] == 0, (bar, clock)
    assert _bar(desk, view, {**clock, "status": "breached"}) == {"elapsed": 0, "paused": 0, "over": 100}
    paused = _bar(desk, view, {**clock, "status": "paused"})  # type: ignore[arg-type]
    assert paused is not None and paused["paused"] == 100 - paused["elapsed"]
