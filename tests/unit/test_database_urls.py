"""Database URLs as users type them (issue 12.15) and psycopg's own log lines (issue 12.10)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from modelog.registry.errors import StorageError
from modelog.registry.urls import normalise_url


@pytest.mark.parametrize("given", ["postgres://u@h:5432/db", "postgresql://u@h:5432/db"])
def test_postgres_aliases_mean_the_psycopg_driver(given: str) -> None:
    assert normalise_url(given) == "postgresql+psycopg://u@h:5432/db"


@pytest.mark.parametrize(("given", "message"), [
    ("not a url", "cannot parse the database URL"),
    ("postgresql+psycopg://u@h:port/db", "cannot parse the database URL"),
    ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
    ("postgresql+psycopg2://u@h/db", "unsupported PostgreSQL driver 'psycopg2'"),
])
def test_unusable_urls_are_refused_on_one_line(given: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as refused:
        normalise_url(given)
    assert "\n" not in str(refused.value)


def test_a_missing_driver_names_the_extra_to_install() -> None:
    code = ("import sys; sys.modules['psycopg'] = None\n"
            "from modelog.registry.urls import normalise_url\n"
            "try:\n    normalise_url('postgresql+psycopg://u@h/db')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown == ("StorageError PostgreSQL support is not installed; "
                     "install it with: pip install 'modelog[postgres]'\n")


def test_psycopg_log_lines_never_reach_stderr_of_an_unconfigured_program() -> None:
    code = ("import logging\nfrom modelog.registry.urls import normalise_url\n"
            "normalise_url('postgresql+psycopg://u@h/db')\n"
            "logging.getLogger('psycopg').warning('error ignored terminating <psycopg.Pipeline [BAD]>: boom')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    unquieted = subprocess.run([sys.executable, "-c", code.replace("normalise_url('postgresql+psycopg://u@h/db')",
                                                                   "")], capture_output=True, text=True)
    assert "error ignored terminating" in unquieted.stderr  # what the last-resort handler did before


def test_a_configured_program_still_receives_them(caplog: pytest.LogCaptureFixture) -> None:
    normalise_url("postgresql+psycopg://u@h/db")
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        logging.getLogger("psycopg").warning("error ignored terminating")
    assert "error ignored terminating" in caplog.text
