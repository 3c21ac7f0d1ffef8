"""``modelog projections rebuild|verify``: the read models derived from the log."""

from __future__ import annotations

import sys

import click
from modelog.cli.common import output_option, registry_api
from modelog.cli.output import echo, echo_json
from modelog.cli.strict import StrictGroup


@click.group(cls=StrictGroup, name="projections")
def projections() -> None:
    """Rebuild or verify the read models (model, version and artifact views) from the log.

    \b
    Example:
      modelog projections verify
    """


@projections.command("rebuild")
@output_option
def rebuild(output: str) -> None:
    """Drop the read models and replay the whole log into them (readers see old or new, never half).

    JSON: {"events", "seconds", "rate"} (rate: events per second, null when nothing was replayed).

    \b
    Example:
      modelog projections rebuild
    """
    with registry_api(writable=True) as api:
        total = api.log_head().position
        with click.progressbar(length=total, label="Replaying events", file=sys.stderr) as bar:
            report = api.rebuild_projections(progress=lambda done, _: bar.update(done - bar.pos))
    if output == "json":
        echo_json({"events": report.events, "seconds": report.seconds,
                   "rate": report.rate if report.events else None})
        return
    rate = f"{report.rate:,.0f} events/s" if report.events else "nothing to replay"
    echo(f"Rebuilt the read models from {report.events} events in {report.seconds:.2f}s ({rate}).")


@projections.command("verify")
@output_option
def verify(output: str) -> None:
    """Replay the log into a scratch database and compare it with the read models; exit 1 on any difference.

    JSON (printed whether or not they match): {"checked_position", "differences", "ok"}.

    \b
    Example:
      modelog projections verify
    """
    with registry_api() as api:
        report = api.verify_projections()
    if output == "json":
        echo_json({"checked_position": report.checked_position, "differences": list(report.differences),
                   "ok": report.ok})
    elif not report.ok:
        for difference in report.differences:
            echo(difference, err=True)
    if not report.ok:
        raise click.ClickException(f"read models differ from a fresh replay of the log ({len(report.differences)} "
                                   "difference(s) above); run 'modelog projections rebuild'")
    if output != "json":
        echo(f"Read models match a fresh replay of the log (up to position {report.checked_position}).")
