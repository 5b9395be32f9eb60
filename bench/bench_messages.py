"""Rendering messages: every message of the shipped policies' full paths, as the delivery renders it.

    .venv/bin/python bench/bench_messages.py [--rounds N]

Each shipped policy runs a full path on the pure driver in both of its languages (the scenarios
of tests/test_messages_read.py); every message it decided is rendered the way the delivery
activity renders it (``compose``: the typed values worded with Babel in the reader's locale and
timezone, then the template in the sandbox).  The floor is the same templates rendered with the
values already written as text (what a message cost before values were worded at delivery), in
the same run.  Prints µs per message for both and their ratio.

Target: at most 2 ms per message (a channel's own send costs more: an SMTP exchange is tens of ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scenarios of the tests package

from ombuds.activities.plugin import OutboundMessage  # noqa: E402
from ombuds.engine.activities import compose, printable  # noqa: E402
from ombuds.engine.policy.messages import localise  # noqa: E402
from ombuds.engine.policy.snapshot import CompiledPolicy  # noqa: E402
from ombuds.engine.policy.templates import render  # noqa: E402
from tests.test_messages_read import LANGUAGES, driver, full_path  # noqa: E402


async def messages() -> list[tuple[CompiledPolicy, OutboundMessage]]:
    out = []
    for policy, locale in LANGUAGES:
        with tempfile.TemporaryDirectory() as home:
            case = driver(Path(home))
            await full_path(case, policy, locale)
            compiled = case.case.compiled
            out += [(compiled, OutboundMessage.model_validate(s.model_dump())) for s in case.delivered]
    return out


def as_text(policy: CompiledPolicy, message: OutboundMessage) -> tuple[Any, Any, dict[str, Any]]:
    """The message's template and its values already worded, as plain text (the floor)."""
    locale, template = policy.template(message.template, message.locale)
    worded = localise(printable(message.context), policy.policy, locale, to=message.to)
    return template.subject, template.body, _plain(worded)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def timed(call: Any, items: list[Any], rounds: int) -> list[float]:
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            call(*item)
        per_round.append((time.perf_counter() - start) / len(items) * 1e6)
    return per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    found = asyncio.run(messages())
    floors = [as_text(policy, message) for policy, message in found]
    for policy, message in found:  # one untimed pass: compiled templates, Babel's locale data
        compose(policy, message)
    for subject, body, values in floors:
        render(subject, body, values)
    worded = timed(compose, found, args.rounds)
    floor = timed(render, floors, args.rounds)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"messages: {len(found)} (3 policies x 2 languages, full paths), {args.rounds} rounds")
    print(
        f"rendered as delivered (values worded with Babel): median {statistics.median(worded):.0f} µs/message"
    )
    print(
        f"floor (same templates, values as text):           median {statistics.median(floor):.0f} µs/message"
    )
    print(f"ratio: {statistics.median(worded) / statistics.median(floor):.2f}")
    print(f"target: at most 2000 µs/message: {'met' if statistics.median(worded) <= 2000 else 'missed'}")


if __name__ == "__main__":
    main()
