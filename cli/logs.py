"""Logging set-up for the CLI: structlog on stderr, quiet unless ``-v``, console or JSON lines."""

from __future__ import annotations

import logging
import sys

from modelog.registry.logs import configure_when_used, get_logger

_verbose = False


def configure_logging(*, verbose: bool, fmt: str) -> None:
    """Warnings and errors only by default; everything with ``verbose``; ``fmt`` is console or json.

    Applied when something first asks for a logger (``registry.logs``): a read that logs nothing
    never imports structlog.
    """
    global _verbose
    _verbose = verbose
    configure_when_used(lambda: _configure(verbose, fmt))


def _configure(verbose: bool, fmt: str) -> None:
    import structlog

    level = logging.DEBUG if verbose else logging.WARNING
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    processors: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if fmt == "json" else structlog.processors.StackInfoRenderer(),
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def log_traceback(error: BaseException) -> None:
    """Log ``error`` with its traceback at debug level (shown only with ``-v``)."""
    if _verbose:  # a debug message: without -v it would be dropped, so do not load structlog for it
        get_logger("modelog.cli").debug("command failed", error_type=type(error).__name__, exc_info=error)
