"""Worker log lines: one per message delivered, as text or JSON lines (``OMBUDS_LOG_FORMAT``).

Only activity and command code logs; workflow code never does (it replays).
"""

from __future__ import annotations

import sys
from typing import Any, Literal, TextIO

import structlog


def configure(fmt: Literal["console", "json"], stream: TextIO | None = None) -> None:
    """Send log lines to ``stream`` (standard error by default) as ``console`` text or ``json``."""
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
