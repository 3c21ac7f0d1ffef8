"""The package's loggers (structlog), configured by the program running us before their first use.

Importing structlog costs more than a read command's own work (it loads asyncio), so nothing
imports it until some module asks for a logger. A program (the CLI) hands its configuration
to :func:`configure_when_used`: it is applied now if structlog is loaded already, else the first
time :func:`get_logger` runs. Every module that logs gets its logger here, at import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_pending: Callable[[], None] | None = None


def configure_when_used(configure: Callable[[], None]) -> None:
    """Run ``configure`` (which sets up structlog) now if structlog is loaded, else before the first logger."""
    global _pending
    _pending = configure
    if "structlog" in sys.modules:
        _apply_pending()


def _apply_pending() -> None:
    global _pending
    configure, _pending = _pending, None
    if configure is not None:
        configure()


def get_logger(name: str) -> Any:
    """A structlog logger named ``name`` (a lazy proxy: it renders with the configuration of its first call)."""
    import structlog

    _apply_pending()
    return structlog.get_logger(name)
