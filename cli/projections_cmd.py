"""``modelog projections rebuild|verify``: the read models derived from the log."""

from __future__ import annotations

import sys

import click


@click.group("projections")
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
    from modelog.cli.common import open_reads
    from modelog.projections.rebuild import rebuild as rebuild_views

    with open_reads(for_writing=True) as reader:
        total = reader.store.head()
        with click.progressbar(length=total, label="Replaying events", file=sys.stderr) as bar:
            report = rebuild_views(reader.engine, reader.store, progress=lambda done, _: bar.update(done - bar.pos))
    rate = f"{report.rate:,.0f} events/s" if report.events else "nothing to replay"
    click.echo(f"Rebuilt the read models from {report.events} events in {report.seconds:.2f}s ({rate}).")


@projections.command("verify")
def verify() -> None:
    """Replay the log into a scratch database and compare it with the read models; exit 1 on any difference.

    \b
    Example:
      modelog projections verify
    """
    from modelog.cli.common import open_reads
    from modelog.projections.rebuild import verify as verify_views

    with open_reads() as reader:
        report = verify_views(reader.engine, reader.store)
    if not report.ok:
        for difference in report.differences:
            click.echo(difference, err=True)
        raise click.ClickException(f"read models differ from a fresh replay of the log ({len(report.differences)} "
                                   "difference(s) above); run 'modelog projections rebuild'")
    click.echo(f"Read models match a fresh replay of the log (up to position {report.checked_position}).")
