"""``modelog keys``: Ed25519 signing keys for the log (they never enter the registry)."""

from __future__ import annotations

from pathlib import Path

import click
from modelog.application.keys import configured_public_key, generate_signing_key
from modelog.cli.common import output_option
from modelog.cli.output import echo, echo_json
from modelog.cli.strict import StrictGroup


@click.group(cls=StrictGroup)
def keys() -> None:
    """Make and show Ed25519 keys that sign the log (MODELOG_SIGNING_KEY).

    \b
    Example:
      modelog keys generate --out /etc/modelog/signing-key.pem
    """


@keys.command("generate")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Private key file to write (mode 0600; the public key goes to FILE.pub). "
                   "[default: $MODELOG_HOME/signing-key.pem]")
@output_option
def generate(out: Path | None, output: str) -> None:
    """Write a new private signing key and its public key; never overwrites a file.

    Give the private key file to whoever appends (the server: MODELOG_SIGNING_KEY=FILE); keep it
    out of the database and off its backups. Give the public key (FILE.pub) to auditors:
    'modelog log verify --public-key FILE.pub'.
    JSON: {"private_key_file", "public_key_file", "key_id", "public_key"}.

    \b
    Example:
      modelog keys generate --out signing-key.pem
    """
    made = generate_signing_key(out)
    if output == "json":
        echo_json({"private_key_file": str(made.private_key_file), "public_key_file": str(made.public_key_file),
                   "key_id": made.public_key.key_id, "public_key": made.public_key.pem()})
        return
    echo(f"Private key written to {made.private_key_file} (mode 0600): set MODELOG_SIGNING_KEY={made.private_key_file} "
         "where events are appended.")
    echo(f"Public key (key id {made.public_key.key_id}) written to {made.public_key_file}:")
    for line in made.public_key.pem().splitlines():
        echo(line)


@keys.command("public")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@output_option
def public(file: Path | None, output: str) -> None:
    """Print the public key (and key id) of a private key file (default: $MODELOG_SIGNING_KEY).

    JSON: {"private_key_file", "key_id", "public_key"}.

    \b
    Example:
      modelog keys public signing-key.pem > signing-key.pub
    """
    path, key = configured_public_key(file)
    if output == "json":
        echo_json({"private_key_file": str(path), "key_id": key.key_id, "public_key": key.pem()})
        return
    for line in key.pem().splitlines():
        echo(line)
