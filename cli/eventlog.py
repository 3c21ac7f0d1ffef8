"""``modelog log show|verify`` and ``modelog export|import``: the event log itself."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from modelog.application.bundle import export_to_path, import_from_path
from modelog.application.keys import load_checkpoint, save_checkpoint
from modelog.application.results import event_record
from modelog.cli.common import output_option, point_in_time, read_options, registry_api
from modelog.cli.output import echo, echo_json, echo_table, when
from modelog.cli.strict import StrictCommand, StrictGroup
from modelog.projections.history import describe
from modelog.registry.anchors import Anchor, parse_anchor
from modelog.registry.errors import InvalidInputError
from modelog.registry.signing import PublicKey, read_public_key

LOG_COLUMNS = ("POSITION", "TIME", "STREAM", "EVENT", "ACTOR", "SUMMARY")


@click.group(cls=StrictGroup, name="log")
def log() -> None:
    """Show and verify the append-only, hash-chained event log.

    \b
    Example:
      modelog log verify
    """


@log.command("show")
@click.option("--stream", "streams", multiple=True, metavar="STREAM",
              help="Only events of this stream, e.g. model-<id> or name-<name> (repeatable).")
@click.option("--from-position", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="First log position to show.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, metavar="N",
              help="Most events to show.")
@read_options
def show(streams: tuple[str, ...], from_position: int, limit: int, as_of: datetime | None, at_position: int | None,
         output: str) -> None:
    """Show events of the log in position order.

    JSON: a list of {"position", "stream_id", "stream_version", "event_type", "schema_version", "data", "meta",
    "recorded_at", "prev_hash", "hash"}.

    \b
    Example:
      modelog log show --from-position 10 --limit 5 -o json
    """
    with registry_api() as api:
        found = api.log_events(from_position=from_position, limit=limit, streams=streams,
                               **point_in_time(as_of, at_position, whole_commands=False))
    if output == "json":
        echo_json([event_record(e) for e in found])
        return
    rows = [(e.position, when(e.recorded_at), e.stream_id, e.event_type, e.meta.get("actor"), describe(e).summary)
            for e in found]
    echo_table(LOG_COLUMNS, rows, "No events found.", wide=("STREAM", "SUMMARY"))


class AnchorType(click.ParamType[Anchor]):
    """``POSITION:HASH`` as printed by ``modelog log head``; anything else is a usage error."""

    name = "anchor"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Anchor:
        """Parse ``value`` into a registry Anchor."""
        try:
            return parse_anchor(value)
        except InvalidInputError as error:
            self.fail(str(error), param, ctx)


@log.command("head")
@read_options
def head(as_of: datetime | None, at_position: int | None, output: str) -> None:
    """Show the last log position and its hash: an anchor to record for later audits.

    Keep the printed POSITION:HASH somewhere the registry's operators cannot edit; later
    'modelog log verify --anchor POSITION:HASH' fails if the log was truncated or rewritten since.
    JSON: {"position", "hash", "anchor"}.

    \b
    Example:
      modelog log head -o json
    """
    with registry_api() as api:
        anchor = api.log_head(**point_in_time(as_of, at_position, whole_commands=False))
    if output == "json":
        echo_json({"position": anchor.position, "hash": anchor.hash, "anchor": str(anchor)})
        return
    echo(f"Log head: position {anchor.position}, hash {anchor.hash}")
    echo(f"Anchor: {anchor}")


@log.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the checkpoint to FILE (never over an existing file) instead of printing it.")
def checkpoint(out: Path | None) -> None:
    """Print a signed checkpoint of the log: its last position and hash, the time and the key id, as JSON.

    Signed with MODELOG_SIGNING_KEY (through a server: with the server's key). Store it where the
    registry's operators cannot write; later 'modelog log verify --checkpoint FILE' fails if the log
    was truncated below that position or rewritten (hashes recomputed) since, and refuses a
    checkpoint of another registry. JSON: {"format", "position", "hash", "first_hash", "time",
    "key_id", "public_key", "signature"}.

    \b
    Example:
      modelog log checkpoint --out checkpoint-2026-12-03.json
    """
    if out is not None and (out.exists() or out.is_symlink()):
        raise click.ClickException(f"{str(out)!r} already exists; a checkpoint file is never overwritten")
    with registry_api() as api:
        made = api.log_checkpoint()
    if out is None:
        echo_json(made.as_dict())
        return
    save_checkpoint(made, out)
    echo(f"Checkpoint of position {made.position} (key {made.key_id}) written to {out}.")


@log.command("verify")
@click.option("--anchor", "anchors", multiple=True, type=AnchorType(), metavar="POSITION:HASH",
              help="Also require the log to hold HASH at POSITION, as 'modelog log head' printed it (repeatable).")
@click.option("--public-key", "key_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Also prove that every event since signing began is signed by this key "
                                   "(a public key file from 'modelog keys generate'; repeatable: any of them).")
@click.option("--checkpoint", "checkpoint_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Also check a signed checkpoint from 'modelog log checkpoint' (repeatable).")
@click.option("--rules", is_flag=True,
              help="Also replay the log through the domain's rules and report the first event a command could never "
                   "have appended (a forged or unchecked import); about as long again as the chain check.")
@output_option
def verify(anchors: tuple[Anchor, ...], key_files: tuple[Path, ...], checkpoint_files: tuple[Path, ...], rules: bool,
           output: str) -> None:
    """Verify the hash chain of the whole log; exit 1 naming the first bad position if it is broken.

    A missing position (a deleted event), an edited event or a broken link all fail the check.
    With --anchor, a log truncated or rewritten (hashes recomputed) since the anchor was taken fails too.
    With --public-key, every event from the first one validly signed by the key on must be signed
    by it: each unsigned, foreign-signed or badly signed position is named on a line of its own
    (an event appended by someone without the key, e.g. straight into the database).
    With --checkpoint, the checkpoint's signature is checked (against --public-key when given,
    else the key it names), and a log truncated or rewritten since it was made fails.
    With --rules, an event the domain would have refused (a stream version gap, two production
    holders, a version number that is not a number...) fails too, naming its position.

    JSON (printed whether or not the check passes): {"checked", "first_bad_position", "problem",
    "anchors_checked", "anchor_problem", "tampering", "rules_checked",
    "rule_position", "rule_problem", "signatures_checked", "signed_from", "unsigned_before",
    "signature_failures", "signature_problems", "signature_problem", "signature_summary",
    "checkpoints_checked", "checkpoint_problem", "ok", "summary"}.

    \b
    Example:
      modelog log verify
      modelog log verify --rules
      modelog log verify --public-key signing-key.pem.pub --checkpoint checkpoint.json
      modelog log verify --anchor 42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    """
    public_keys: list[PublicKey] = [read_public_key(path) for path in key_files]
    checkpoints = [load_checkpoint(path) for path in checkpoint_files]
    with registry_api() as api:
        report = api.verify_log(anchors, rules=rules, public_keys=public_keys, checkpoints=checkpoints)
    if output == "json":
        echo_json({**asdict(report), "ok": report.ok, "summary": report.describe()})
    if not report.ok:
        if output != "json":
            for line in report.signature_problems:
                echo(line, err=True)
        raise click.ClickException(report.describe())
    if output != "json":
        echo(report.describe())


@click.command(cls=StrictCommand, name="export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.option("--log-only", is_flag=True,
              help="Write only the log as JSON Lines (one event per line), without the artifact files.")
def export(file: Path, force: bool, log_only: bool) -> None:
    """Export the registry to FILE: its events and every artifact file they refer to (--log-only: JSON Lines).

    By default FILE is a bundle (a tar file) of the log and its artifact files; each artifact file
    is hashed while it is copied and must match the log. With --log-only, FILE holds only the log
    as JSON Lines (one event per line, in position order, then an end record). A signed event's
    line carries its signature, so an import still passes 'log verify --public-key'. FILE is
    written whole or not at all.

    \b
    Example:
      modelog export registry-backup.tar
      modelog export --log-only registry-log.jsonl
    """
    if file.exists() and not force:
        raise click.ClickException(f"{file} already exists; pass --force to overwrite it")
    with registry_api() as api:
        done = export_to_path(api, file, log_only=log_only)
    if done.bundle:
        echo(f"Exported {done.events} events and {done.artifacts} artifact files to {file}.")
    else:
        echo(f"Exported {done.events} events to {file} (log only: no artifact files).")


@click.command(cls=StrictCommand, name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(file: Path) -> None:
    """Import a bundle or JSON Lines file written by 'modelog export' into an empty registry.

    The hash chain is verified, and every artifact file of a bundle is hashed while it is copied into
    the artifact store. All or nothing: a truncated or edited file leaves the registry and the store as
    they were.

    \b
    Example:
      modelog import registry-backup.tar
    """
    with registry_api(writable=True) as api:
        done = import_from_path(api, file)
    if done.bundle:
        echo(f"Imported {done.events} events and {done.artifacts} artifact files from {file}; hash chain "
                   "and artifact hashes verified.")
    else:
        echo(f"Imported {done.events} events from {file}; hash chain verified.")
