"""Deadline computations: ``CaseCalendar.due`` on a policy with three calendars.

    .venv/bin/python bench/bench_deadlines.py [--count N] [--rounds N] [--seed N]

The policy is policies/financial-services.yaml (calendars england and scotland, Europe/London,
with their public holidays) plus a third calendar, new-york (America/New_York, a lunch break,
US holidays), validated and compiled, then instantiated for one complaint the way intake does
(``instantiate``: working time as UTC intervals over the horizon). The bench draws ``--count``
computations: a calendar, a start instant within 75 days of receipt (in and out of hours,
weekends, holidays, across Christmas), a duration (business days, hours and minutes, calendar
days, weeks and months, elapsed hours and minutes) and a counting convention (receipt day
excluded/included, close of business/working hours, next opening/as received, end of day or
wall-clock time). After one untimed pass over all of them it times ``--rounds`` passes and
prints µs per computation, then the spread of single calls and the cost per kind of duration.

Target: at most 50 µs per computation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ombuds.engine.policy.business_time import CaseCalendar, CountingRules
from ombuds.engine.policy.compile import compile_validated, instantiate
from ombuds.engine.policy.durations import Duration, parse_duration
from ombuds.engine.policy.validate import validate_text

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
BASE_POLICY = POLICIES / "financial-services.yaml"
TARGET_US = 50.0
RECEIVED = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
SPREAD_DAYS = 75
HORIZON_DAYS = 400

THIRD_CALENDAR = """\
  new-york:
    timezone: America/New_York
    hours:
      mon: ["08:00-12:00", "13:00-18:00"]
      tue: ["08:00-12:00", "13:00-18:00"]
      wed: ["08:00-12:00", "13:00-18:00"]
      thu: ["08:00-12:00", "13:00-18:00"]
      fri: ["08:00-12:00", "13:00-18:00"]
    holidays:
      - country: US
    closed: [2026-11-27, 2026-12-24]
"""

# (duration, weight): what policies write, business time most often
DURATIONS = [
    ("1 business day", 3),
    ("2 business days", 2),
    ("5 business days", 4),
    ("10 business days", 2),
    ("15 business days", 4),
    ("35 business days", 2),
    ("1 business hour", 1),
    ("4 business hours", 2),
    ("8 business hours", 2),
    ("24 business hours", 1),
    ("30 business minutes", 1),
    ("90 business minutes", 1),
    ("1 day", 1),
    ("14 days", 2),
    ("30 days", 1),
    ("8 weeks", 2),
    ("1 month", 1),
    ("2 months", 2),
    ("3 months", 2),
    ("6 months", 1),
    ("10 hours", 1),
    ("90 minutes", 1),
]

CONVENTIONS = [
    CountingRules(receipt_day=r, business_days=b, out_of_hours=o, end_of_day=e)
    for r, b, o, e in itertools.product(
        ("excluded", "included"),
        ("close_of_business", "working_hours"),
        ("next_opening", "as_received"),
        (True, False),
    )
]

Case = tuple[CaseCalendar, int, Duration, CountingRules]


def three_calendars() -> dict[str, CaseCalendar]:
    """The base policy plus new-york, compiled and instantiated for one complaint."""
    text = BASE_POLICY.read_text(encoding="utf-8").replace("calendars:\n", "calendars:\n" + THIRD_CALENDAR, 1)
    validated = validate_text(text, "financial-services-3-calendars.yaml", base_dir=POLICIES)
    if not validated.ok:
        problems = "\n".join(f"  {problem}" for problem in validated.report.problems)
        raise SystemExit(f"the three-calendar policy is not valid:\n{problems}")
    compiled = compile_validated(validated)
    names = sorted(compiled.policy.calendars)
    if len(names) != 3:
        raise SystemExit(f"expected three calendars, got {names}")
    instance = instantiate(compiled, RECEIVED, days=HORIZON_DAYS)
    return {name: instance.calendar(name) for name in names}


def kind(duration: Duration) -> str:
    if duration.unit == "business_days":
        return "business days"
    if duration.is_business:
        return "business hours/minutes"
    if duration.unit in ("minutes", "hours"):
        return "elapsed hours/minutes"
    return "calendar days/weeks/months"


def draw(calendars: dict[str, CaseCalendar], count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    durations = [parse_duration(text) for text, _ in DURATIONS]
    weights = [weight for _, weight in DURATIONS]
    start = int(RECEIVED.timestamp())
    cals = list(calendars.values())
    return [
        (
            rng.choice(cals),
            start + rng.randrange(SPREAD_DAYS * 86_400),
            rng.choices(durations, weights)[0],
            rng.choice(CONVENTIONS),
        )
        for _ in range(count)
    ]


def run(cases: list[Case]) -> float:
    """Seconds for one pass over all cases."""
    begin = time.perf_counter()
    for calendar, t, duration, rules in cases:
        calendar.due(t, duration, rules)
    return time.perf_counter() - begin


def singles(cases: list[Case], clock: Callable[[], int] = time.perf_counter_ns) -> list[float]:
    """µs of each call, timed one by one (includes the timer's own cost)."""
    out = []
    for calendar, t, duration, rules in cases:
        begin = clock()
        calendar.due(t, duration, rules)
        out.append((clock() - begin) / 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="deadline computations per pass")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    begin = time.perf_counter()
    calendars = three_calendars()
    setup = time.perf_counter() - begin
    print(
        f"policy {BASE_POLICY.name} + new-york: calendars {', '.join(calendars)}; "
        f"validated, compiled and instantiated for {HORIZON_DAYS} days in {setup * 1000:.0f} ms"
    )
    for name, calendar in calendars.items():
        print(f"  {name:<9} {calendar.timezone:<17} {len(calendar.intervals):>4} working intervals")

    cases = draw(calendars, args.count, args.seed)
    run(cases)  # warm-up: builds each calendar's indexes, warms the interpreter
    passes = [run(cases) for _ in range(args.rounds)]
    per_call = [elapsed / args.count * 1e6 for elapsed in passes]
    median = statistics.median(per_call)

    print()
    print(
        f"{args.count:,} deadline computations (CaseCalendar.due), {args.rounds} timed passes after warm-up"
    )
    print(
        f"  {median:.2f} µs per computation (median pass; best {min(per_call):.2f}, "
        f"worst {max(per_call):.2f}); {statistics.median(passes) * 1000:.1f} ms per pass"
    )

    timed = singles(cases)
    print()
    print("single calls, each timed on its own (the timer adds a little)")
    print(
        f"  median {statistics.median(timed):.2f} µs, p95 {percentile(timed, 0.95):.2f} µs, "
        f"p99 {percentile(timed, 0.99):.2f} µs, max {max(timed):.1f} µs"
    )
    by_kind: dict[str, list[float]] = defaultdict(list)
    for (_, _, duration, _), micros in zip(cases, timed, strict=True):
        by_kind[kind(duration)].append(micros)
    for name, values in sorted(by_kind.items()):
        print(
            f"  {name:<27} {len(values):>6} calls, median {statistics.median(values):6.2f} µs, "
            f"p95 {percentile(values, 0.95):6.2f} µs"
        )

    print()
    print("target")
    print(
        f"  ≤ {TARGET_US:.0f} µs per computation: {median:.2f} µs  "
        f"({'met' if median <= TARGET_US else 'NOT met'})"
    )


if __name__ == "__main__":
    sys.exit(main())
