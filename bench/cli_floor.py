"""The floor of any SQLAlchemy-based CLI: import sqlalchemy and click, create an engine, run one SELECT.

Usage: python bench/cli_floor.py SQLITE_FILE
"""

import sys

import click
import sqlalchemy


@click.command()
@click.argument("path")
def main(path: str) -> None:
    """Run one SELECT against the file."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        click.echo(conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one())


if __name__ == "__main__":
    main(sys.argv[1:])
