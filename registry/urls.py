"""Database URLs as users write them: checked, normalised, and refused on one line when they cannot work.

``postgres://`` and ``postgresql://`` (the forms libpq, Heroku and most tools print) mean the
psycopg driver this package installs with its ``postgres`` extra. A URL that cannot be parsed,
names a backend modelog does not support, or needs a driver that is not installed is refused
before anything connects.
"""

from __future__ import annotations

import importlib.util
import logging

from modelog.registry.errors import StorageError

_POSTGRES_ALIASES = ("postgres://", "postgresql://")
_DRIVER = "postgresql+psycopg://"
_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"


def normalise_url(url: str) -> str:
    """``url`` with ``postgres://`` / ``postgresql://`` meaning psycopg; refuses a URL modelog cannot use."""
    for alias in _POSTGRES_ALIASES:
        if url.startswith(alias):
            url = _DRIVER + url[len(alias):]
    _check_parsable(url)
    if url.startswith("sqlite"):
        return url
    if not url.startswith(_DRIVER):
        scheme = url.split("://", 1)[0]
        if scheme.startswith("postgresql+"):
            raise StorageError(f"unsupported PostgreSQL driver {scheme.split('+', 1)[1]!r}; modelog talks to "
                               f"PostgreSQL through psycopg: use {_DRIVER}... (pip install 'modelog[postgres]')")
        raise StorageError(f"unsupported database URL scheme {scheme!r}; use {_FORMS}")
    if importlib.util.find_spec("psycopg") is None:
        raise StorageError("PostgreSQL support is not installed; install it with: pip install 'modelog[postgres]'")
    quiet_driver_logs()
    return url


def _check_parsable(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        _ = parsed.port  # a non-numeric port is only noticed here
    except (ArgumentError, ValueError, TypeError):
        raise StorageError(f"cannot parse the database URL; expected {_FORMS}") from None


def quiet_driver_logs() -> None:
    """Keep psycopg's own log lines (``error ignored terminating <psycopg.Pipeline ...>``) off the user's stderr.

    psycopg logs a secondary error while it unwinds a failed pipeline; the primary error reaches
    the user as a ``StorageError``. With no handler anywhere, Python's last-resort handler would
    print the secondary one raw; a NullHandler on psycopg's logger keeps it out of the way of a
    program that has not configured logging, and one that has still receives it.
    """
    logger = logging.getLogger("psycopg")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
