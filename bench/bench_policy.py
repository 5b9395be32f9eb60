"""Validate + compile: each shipped policy after warm-up, then 1,000 generated policies.

    .venv/bin/python bench/bench_policy.py [--warmup N] [--rounds N] [--count N]

Part 1 times ``validate_file`` + ``compile_validated`` of each ``policies/*.yaml`` (after
``--warmup`` untimed runs, ``--rounds`` timed runs) and prints ms per policy, median and p95.
Part 2 writes ``--count`` variants of the shipped policies to a temporary folder (each with
its own policy id and shifted clock targets, the templates folder linked beside them) and
times validating and compiling all of them, one after the other, in this process.

Targets: at most 20 ms per policy after warm-up; 1,000 policies in at most 10 s.

``--quick-check`` adds part 3: the quick yes/no schema check alone (``schema_check.py``), per
document, on the shipped and the generated policies, against jsonschema-rs when it is
installed (it is not in the lock: ``pip install jsonschema-rs``), in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ombuds.engine.policy.compile import compile_validated
from ombuds.engine.policy.snapshot import CompiledPolicy
from ombuds.engine.policy.validate import validate_file

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
TARGET_MS_PER_POLICY = 20.0
TARGET_S_PER_1000 = 10.0

# `  id: x` at two spaces is the policy id (policy.id); list items are `  - id:`.
POLICY_ID = re.compile(r"^(  id: )(\S+)$", re.MULTILINE)
# clock targets in days or hours (months stay as they are: a hard limit of 3 months is law)
TARGET = re.compile(r"^(\s+target: )(\d+)( (?:(?:business|working) )?(?:days?|hours?))$", re.MULTILINE)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def validate_and_compile(path: Path) -> CompiledPolicy:
    validated = validate_file(path)
    if not validated.ok:
        problems = "\n".join(f"  {problem}" for problem in validated.report.problems)
        raise SystemExit(f"{path} is not valid:\n{problems}")
    return compile_validated(validated)


def per_policy(paths: list[Path], warmup: int, rounds: int) -> list[float]:
    print(f"validate + compile, one policy at a time ({warmup} warm-up runs, then {rounds} timed runs each)")
    print(f"  {'policy':<28} {'median ms':>10} {'p95 ms':>8} {'min ms':>8}")
    pooled: list[float] = []
    for path in paths:
        for _ in range(warmup):
            validate_and_compile(path)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            validate_and_compile(path)
            samples.append((time.perf_counter() - start) * 1000)
        pooled += samples
        print(
            f"  {path.name:<28} {statistics.median(samples):>10.1f} {p95(samples):>8.1f} {min(samples):>8.1f}"
        )
    print(
        f"  {'all shipped policies':<28} {statistics.median(pooled):>10.1f} {p95(pooled):>8.1f} {min(pooled):>8.1f}"
    )
    return pooled


def variant(text: str, number: int) -> str:
    """The shipped policy with its own id and clock targets moved by 0-2 units."""
    text, ids = POLICY_ID.subn(lambda m: f"{m[1]}{m[2]}-v{number:04d}", text, count=1)
    if ids != 1:
        raise SystemExit("no policy id found to vary")
    shift = number % 3
    return TARGET.sub(lambda m: f"{m[1]}{int(m[2]) + shift}{m[3]}", text)


def write_variants(sources: list[Path], count: int, folder: Path) -> list[Path]:
    templates = folder / "templates"
    try:
        templates.symlink_to(POLICIES / "templates", target_is_directory=True)
    except OSError:
        shutil.copytree(POLICIES / "templates", templates)
    texts = [(path.stem, path.read_text(encoding="utf-8")) for path in sources]
    paths = []
    for number in range(count):
        stem, text = texts[number % len(texts)]
        path = folder / f"{stem}-v{number:04d}.yaml"
        path.write_text(variant(text, number), encoding="utf-8")
        paths.append(path)
    return paths


def many(sources: list[Path], count: int) -> float:
    with tempfile.TemporaryDirectory(prefix="ombuds-bench-") as tmp:
        paths = write_variants(sources, count, Path(tmp))
        start = time.perf_counter()
        # keep what a batch check keeps (id and snapshot sha), not 1,000 snapshots in memory
        results = [(policy.id, policy.sha256) for policy in map(validate_and_compile, paths)]
        elapsed = time.perf_counter() - start
    ids = {policy_id for policy_id, _ in results}
    shas = {sha for _, sha in results}
    if len(ids) != count or len(shas) != count:
        raise SystemExit(f"expected {count} distinct policies, got {len(ids)} ids and {len(shas)} snapshots")
    print()
    print(f"validate + compile of {count:,} generated policies (distinct ids and snapshots), one process")
    print(f"  total {elapsed:.2f} s, {elapsed / count * 1000:.1f} ms per policy")
    return elapsed


def quick_checks(sources: list[Path], count: int, rounds: int) -> None:
    """The quick schema check alone, per loaded document: the hand-written one and jsonschema-rs."""
    from ombuds.engine.policy.loader import load_file
    from ombuds.engine.policy.schema import quick_check, validator

    hand = quick_check("policy")
    if hand is None:
        raise SystemExit("the policy schema is beyond the hand-written quick check")
    checks = {"hand-written": hand}
    try:
        from importlib.metadata import version

        import jsonschema_rs
    except ImportError:
        print("\njsonschema-rs is not installed (pip install jsonschema-rs): the hand-written check alone")
    else:
        rs = jsonschema_rs.Draft202012Validator(validator("policy").schema, validate_formats=True)
        checks[f"jsonschema-rs {version('jsonschema-rs')}"] = rs.is_valid
    shipped = [load_file(path).data for path in sources]
    with tempfile.TemporaryDirectory(prefix="ombuds-bench-") as tmp:
        generated = [load_file(path).data for path in write_variants(sources, count, Path(tmp))]
    for name, check in checks.items():
        if not all(map(check, shipped + generated)):
            raise SystemExit(f"{name} calls a valid policy invalid")

    def per_document(documents: list[object]) -> dict[str, float]:
        """µs per document, median of ``rounds`` passes over all of them, the checks taking turns."""
        samples: dict[str, list[float]] = {name: [] for name in checks}
        for _ in range(rounds):
            for name, check in checks.items():
                start = time.perf_counter()
                for document in documents:
                    check(document)
                samples[name].append((time.perf_counter() - start) * 1e6 / len(documents))
        return {name: statistics.median(values) for name, values in samples.items()}

    per_document(shipped)  # warm-up
    print()
    print(f"the quick schema check alone, µs per document (median of {rounds} passes; the whole call)")
    print(f"  {'documents':<28} " + " ".join(f"{name:>22}" for name in checks) + f" {'ratio':>7}")
    for label, documents in (
        (f"{len(shipped)} shipped policies", shipped),
        (f"{count:,} generated", generated),
    ):
        times = per_document(documents)
        figures = list(times.values())
        ratio = f"{figures[0] / figures[1]:>6.1f}x" if len(figures) == 2 else ""
        print(f"  {label:<28} " + " ".join(f"{value:>22.1f}" for value in figures) + f" {ratio:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs per policy first")
    parser.add_argument("--rounds", type=int, default=30, help="timed runs per policy")
    parser.add_argument("--count", type=int, default=1000, help="generated policies in part 2")
    parser.add_argument(
        "--quick-check", action="store_true", help="also time the quick schema check alone (part 3)"
    )
    args = parser.parse_args()

    sources = sorted(POLICIES.glob("*.yaml"))
    if not sources:
        raise SystemExit(f"no policies in {POLICIES}")
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{len(sources)} shipped policies\n"
    )
    pooled = per_policy(sources, args.warmup, args.rounds)
    elapsed = many(sources, args.count)
    per_1000 = elapsed * 1000 / args.count

    median = statistics.median(pooled)
    print()
    print("targets")
    print(
        f"  per policy after warm-up  ≤ {TARGET_MS_PER_POLICY:.0f} ms: median {median:.1f} ms, "
        f"p95 {p95(pooled):.1f} ms  ({'met' if median <= TARGET_MS_PER_POLICY else 'NOT met'} by the median)"
    )
    print(
        f"  1,000 policies            ≤ {TARGET_S_PER_1000:.0f} s: {per_1000:.2f} s"
        f"{' (scaled from ' + format(args.count, ',') + ')' if args.count != 1000 else ''}  "
        f"({'met' if per_1000 <= TARGET_S_PER_1000 else 'NOT met'})"
    )
    if args.quick_check:
        quick_checks(sources, args.count, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
