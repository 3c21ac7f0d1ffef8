"""``modelog projections rebuild|verify``: the read models derived from the log."""

from __future__ import annotations

import sys

import click
from modelog.cli.common import registry_api
from modelog.cli.strict import StrictGroup


@click.group(cls=StrictGroup, name="projections")
def projections() -> None:
    """Rebuild or verify the read models (model, version and artifact views) from the log.

    \b
    Example:
      modelog projections verify
    """


@projections.command("rebuild")
def rebuild() -> None:
    """Drop the read models and replay the whole log into them (readers see old or new, never half).

    \b
    Example:
      modelog projections rebuild
    """
    with registry_api(writable=True) as api:
        total = api.log_head().position
        with click.progressbar(length=total, label="Replaying events", file=sys.stderr) as bar:
            report = api.rebuild_projections(progress=lambda done, _: bar.update(done - bar.pos))
    rate = f"{report.rate:,.0f} events/s" if report.events else "nothing to replay"
    click.echo(f"Rebuilt the read models from {report.events} events in {report.seconds:.2f}s ({rate}).")


@projections.command("verify")
def verify() -> None:
    """Replay the log into a scratch database and compare it with the read models; exit 1 on any difference.

    \b
    Example:
      modelog projections verify
    """
    with registry_api() as api:
        report = api.verify_projections()
    if not report.ok:
        for difference in report.differences:
            click.echo(difference, err=True)
        raise click.ClickException(f"read models differ from a fresh replay of the log ({len(report.differences)} "
                                   "difference(s) above); run 'modelog projections rebuild'")
    click.echo(f"Read models match a fresh replay of the log (up to position {report.checked_position}).")
