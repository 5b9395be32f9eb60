"""``ombuds test [PATH...]``: run the policies' test suites and say which expectations broke."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated
from xml.etree import ElementTree

import typer

from .settings import Settings
from .suites import Outcome, Suite, discover, load_suite, run_case


def _run(job: tuple[str, str, int]) -> Outcome:
    path, text, index = job
    suite = Suite.model_validate_json(text)
    return run_case(Path(path), suite, suite.cases[index])


def register(app: typer.Typer) -> None:
    @app.command("test")
    def test_command(
        paths: Annotated[
            list[Path] | None,
            typer.Argument(help="Suites (*.test.yaml) or folders of them; else <policies>/tests."),
        ] = None,
        format: Annotated[str, typer.Option("--format", "-f", help="text, json or junit")] = "text",
        jobs: Annotated[int, typer.Option(help="Cases run at once (processes); 1: in this process.")] = 2,
    ) -> None:
        """Run policy test suites on the pure core: each case's complaint and timed events, then its
        expectations (decisions, messages, deadlines, breaches, answers, final state, and what must
        never happen).  A failure shows expected and actual and the policy line involved; exit 1 on
        any failure, 2 when a suite cannot be read."""
        s = Settings()
        suites = discover(paths or [], s.policies)
        if not suites:
            typer.echo(
                f"no suites (*.test.yaml) in {', '.join(map(str, paths or [s.policies / 'tests']))}", err=True
            )
            raise typer.Exit(2)
        work: list[tuple[str, str, int]] = []
        unreadable = False
        for path in suites:
            suite, problems = load_suite(path)
            if suite is None:
                unreadable = True
                for problem in problems:
                    typer.echo(problem.render(), err=True)
                continue
            work += [(str(path), suite.model_dump_json(), i) for i in range(len(suite.cases))]
        started = time.perf_counter()
        outcomes: list[Outcome] = []
        progress = sys.stderr.isatty() and format == "text"
        if jobs > 1 and len(work) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for outcome in pool.map(_run, work):
                    outcomes.append(outcome)
                    _tick(outcome, progress, len(outcomes), len(work))
        else:
            for job in work:
                outcomes.append(_run(job))
                _tick(outcomes[-1], progress, len(outcomes), len(work))
        seconds = time.perf_counter() - started
        failed = [o for o in outcomes if not o.passed]
        if format == "json":
            typer.echo(json.dumps([o.model_dump() for o in outcomes], indent=2))
        elif format == "junit":
            typer.echo(junit(outcomes, seconds))
        else:
            for outcome in failed:
                typer.echo(f"FAILED {outcome.suite}: {outcome.case}")
                for failure in outcome.failures:
                    typer.echo(f"  expected: {failure.expected}")
                    typer.echo(f"  actual:   {failure.actual}")
                    if failure.where:
                        typer.echo(f"  policy:   {failure.where}")
            typer.echo(
                f"{len(outcomes) - len(failed)} passed, {len(failed)} failed in {len(suites)} suite(s), {seconds:.1f} s"
            )
        raise typer.Exit(2 if unreadable else 1 if failed else 0)


def _tick(outcome: Outcome, progress: bool, done: int, total: int) -> None:
    if progress:
        sys.stderr.write(f"\r{done}/{total} {'.' if outcome.passed else 'F'} {outcome.case[:60]:<60}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def junit(outcomes: list[Outcome], seconds: float) -> str:
    """The outcomes as JUnit XML, one testsuite per suite file."""
    root = ElementTree.Element("testsuites", tests=str(len(outcomes)), time=f"{seconds:.3f}")
    by_suite: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_suite.setdefault(outcome.suite, []).append(outcome)
    for name, cases in by_suite.items():
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(sum(not c.passed for c in cases)),
        )
        for case in cases:
            element = ElementTree.SubElement(
                suite, "testcase", classname=name, name=case.case, time=f"{case.seconds:.3f}"
            )
            for failure in case.failures:
                node = ElementTree.SubElement(element, "failure", message=f"expected {failure.expected}")
                node.text = f"expected: {failure.expected}\nactual: {failure.actual}\npolicy: {failure.where}"
    return ElementTree.tostring(root, encoding="unicode")
