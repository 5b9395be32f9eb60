"""Finding, classifying and reading the files a user points the CLI at."""

from __future__ import annotations

from pathlib import Path

import typer

from .policy.loader import LoadFailed, load_file
from .policy.model import Complaint
from .policy.validate import validate_complaint_data

COMPLAINT_SUFFIXES = (".yaml", ".yml", ".json")


def expand(paths: list[Path], suffixes: tuple[str, ...] = COMPLAINT_SUFFIXES) -> list[Path]:
    """Files named directly, plus matching files directly inside named folders; each file once."""
    out: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        found = (
            sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
            if path.is_dir()
            else [path]
        )
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                out.append(file)
    return out


def kind_of(data: object) -> str:
    """``policy`` or ``complaint`` from a loaded document's top-level keys."""
    if isinstance(data, dict) and "ombuds" not in data and ("received_at" in data or "channel" in data):
        return "complaint"
    return "policy"


def load_complaint(path: Path) -> Complaint:
    """A complaint file, or its located problems on standard error and exit status 1."""
    try:
        doc = load_file(path, collect=True)
    except LoadFailed as exc:
        typer.echo(exc.problem.render(), err=True)
        raise typer.Exit(1) from None
    complaint, problems = validate_complaint_data(doc)
    if complaint is None:
        for problem in problems:
            typer.echo(problem.render(), err=True)
        raise typer.Exit(1)
    return complaint
