"""The staff console (its pages come next)."""

from __future__ import annotations

from fastapi import FastAPI

from .pages import Desk


def routes(app: FastAPI, desk: Desk) -> None:
    """The console's pages."""
